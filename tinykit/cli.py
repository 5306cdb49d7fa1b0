"""The `tinykit` command line: a click group whose commands are imported only when run.

Each command lives in `tinykit/commands/<name>.py` as a thin click wrapper: it parses
options, builds a frozen options dataclass and calls one stage function. Importing a
command module must stay cheap (no TensorFlow), so that `tinykit --help` is instant.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback

import click

from tinykit import __version__
from tinykit.errors import TinykitError

# name -> (module, attribute, one-line help shown by `tinykit --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "targets": ("tinykit.commands.targets", "targets", "List the targets and boards."),
    "build": ("tinykit.commands.build", "build", "Train, compress, convert and report."),
    "arrays": ("tinykit.commands.arrays", "arrays", "Write a .tflite as C arrays."),
    "analyze": ("tinykit.commands.analyze", "analyze", "Ops, MACs, arena plan and fit."),
    "codegen": ("tinykit.commands.codegen", "codegen", "Generate integer-only C."),
    "verify": ("tinykit.commands.verify", "verify", "Check generated C against TFLite."),
    "bench": ("tinykit.commands.bench", "bench", "Run a model on the target core."),
    "flash": ("tinykit.commands.flash", "flash", "Write firmware to a board."),
    "monitor": ("tinykit.commands.monitor", "monitor", "Open a serial console."),
    "report": ("tinykit.commands.report", "report", "Render a build's report again."),
    "compare": ("tinykit.commands.compare", "compare", "Put several builds side by side."),
}


class LazyGroup(click.Group):
    """A group that lists commands from `COMMANDS` and imports one only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None or not _available(cmd_name):
            return None
        module_name, attribute, _ = entry
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help comes from the table, so `--help` imports no command module.
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in self.list_commands(ctx):
            known = ", ".join(self.list_commands(ctx))
            raise click.UsageError(f"unknown command '{name}'; known: {known}", ctx)
        return super().resolve_command(ctx, args)


def _available(name: str) -> bool:
    """True when the command's module is part of this installation."""
    module_name = COMMANDS[name][0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tinykit")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and debug output.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """tinykit: from data to a verified int8 model on a Cortex-M microcontroller."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a `TinykitError` becomes a message, a hint and exit code 2."""
    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args or bool(os.environ.get("TINYKIT_DEBUG"))
    try:
        # Without standalone mode click returns what a command returned, or the code
        # of a ctx.exit(code) (e.g. 1 for "does not fit"): pass that code on.
        result = cli.main(args=args, prog_name="tinykit", standalone_mode=False)
    except TinykitError as exc:
        if verbose:
            traceback.print_exc()
        click.secho(f"error: {exc.message}", fg="red", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
