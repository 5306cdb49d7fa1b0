from __future__ import annotations

import json
import subprocess
import sys

from tinykit.cli import main


def test_help_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from tinykit.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('tensorflow', 'tf_keras', 'keras', 'matplotlib')\n"
        "         if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_targets_table_and_json(capsys):
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    assert "nucleo-l4r5zi" in out and "mps2-an386" in out
    assert main(["targets", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["cortex-m4"]["qemu_machine"] == "mps2-an386"


def test_unknown_command_lists_known(capsys):
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate'" in err and "targets" in err


def test_ctx_exit_code_is_passed_on(monkeypatch):
    import click

    from tinykit import cli as cli_module

    @click.command()
    @click.pass_context
    def verdict(ctx: click.Context) -> None:
        ctx.exit(1)

    monkeypatch.setitem(cli_module.COMMANDS, "verdict", ("tests.unit.test_cli", "verdict", "x"))
    monkeypatch.setattr(cli_module.LazyGroup, "get_command", lambda self, ctx, name: verdict)
    monkeypatch.setattr(cli_module, "_available", lambda name: True)
    assert main(["verdict"]) == 1
