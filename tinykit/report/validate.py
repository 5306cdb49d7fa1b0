"""Reading report.json back: version check, then validation against the shipped schema.

`load_report(path)` is what `tinykit report` and `tinykit compare` read with; the build
validates every report it writes with `check_report` before writing it. Every problem a
user can meet is a `ReportError` that names the file and the way out: a report from
another schema version (use the tinykit that wrote it, or re-run the build), a damaged
file (not JSON, or not matching the schema: re-run the build).

Versions: this tinykit writes SCHEMA_VERSION and reads every version in READABLE_VERSIONS,
each validated against its own shipped schema (report-v<N>.json). Version 2 added the
weights in generated C (`weights`, `variants[].weight_bytes`, `layers[].weights`); the
renderers show a dash where a version 1 report has none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from tinykit import __version__
from tinykit.errors import ReportError

SCHEMA_VERSION = 2
#: Versions `load_report` accepts (older reports stay readable by `tinykit report/compare`).
READABLE_VERSIONS = (1, 2)
SCHEMA_FILE = f"report-v{SCHEMA_VERSION}.json"
REPORT_FILE = "report.json"


@lru_cache(maxsize=4)
def schema(version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON Schema of report.json version `version` (tinykit/report/schema/)."""
    name = f"report-v{version}.json"
    text = resources.files("tinykit.report").joinpath("schema", name).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@lru_cache(maxsize=4)
def _validator(version: int = SCHEMA_VERSION) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(version))


def _where(path: Any) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return "$" + text


def schema_problems(report: Mapping[str, Any], limit: int = 5) -> list[str]:
    """Up to `limit` schema violations, each as '$.path: message' (empty when valid);
    checked against the schema of the report's own version when this tinykit reads it."""
    version = report.get("schema_version")
    known = isinstance(version, int) and not isinstance(version, bool) and \
        version in READABLE_VERSIONS
    validator = _validator(version if known else SCHEMA_VERSION)
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    return [f"{_where(e.absolute_path)}: {e.message}" for e in errors[:limit]]


def check_version(report: Any, where: str) -> None:
    """ReportError unless `report` is an object of a schema version this tinykit reads."""
    if not isinstance(report, dict):
        raise ReportError(f"{where} is damaged: it holds a JSON {type(report).__name__}, "
                          "not a report object", hint="re-run `tinykit build`")
    version = report.get("schema_version")
    if version in READABLE_VERSIONS and not isinstance(version, bool):
        return
    wrote = report.get("tinykit_version")
    by = f" (written by tinykit {wrote})" if isinstance(wrote, str) else ""
    if version is None:
        raise ReportError(f"{where} has no schema_version{by}; it is not a tinykit report "
                          "or is damaged", hint="re-run `tinykit build`")
    raise ReportError(
        f"{where} has report schema version {version!r}{by}; this tinykit ({__version__}) "
        f"reads version {' and '.join(map(str, READABLE_VERSIONS))}",
        hint=f"re-run `tinykit build` with this tinykit, or read it with the tinykit "
             f"version that wrote it{' (' + wrote + ')' if isinstance(wrote, str) else ''}")


def check_report(report: Mapping[str, Any], where: str = REPORT_FILE) -> None:
    """ReportError when `report` is not a valid report of this schema version."""
    check_version(report, where)
    problems = schema_problems(report)
    if problems:
        raise ReportError(f"{where} does not match the report schema "
                          f"v{report.get('schema_version')}: "
                          + "; ".join(problems),
                          hint="the file is damaged or was edited; re-run `tinykit build`")


def report_path(location: Path) -> Path:
    """report.json inside a build folder, or the file itself."""
    return location / REPORT_FILE if location.is_dir() else location


def load_report(location: str | Path) -> dict[str, Any]:
    """The validated report of a build folder (or of a report.json path)."""
    path = report_path(Path(location))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path} does not exist",
                          hint="pass a folder `tinykit build` wrote (build/<target>), "
                               "or run the build first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read {path}: {exc}",
                          hint="re-run `tinykit build`") from exc
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path} is damaged: not valid JSON ({exc.msg} at line {exc.lineno}"
                          f", column {exc.colno})", hint="re-run `tinykit build`") from exc
    check_report(report, str(path))
    return dict(report)
