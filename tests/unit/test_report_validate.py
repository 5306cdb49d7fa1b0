"""Reading report.json back: the schema itself, versions, damaged files, clear errors."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from tinykit.errors import ReportError
from tinykit.report.validate import (
    SCHEMA_VERSION,
    check_report,
    load_report,
    schema,
    schema_problems,
)


def test_the_shipped_schema_is_a_valid_draft_2020_12_schema_of_this_version():
    Draft202012Validator.check_schema(schema())
    assert schema()["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    assert schema()["title"].endswith(f"schema version {SCHEMA_VERSION}")


def _write(tmp_path, text: str):
    (tmp_path / "report.json").write_text(text)
    return tmp_path


def test_another_schema_version_names_both_versions_and_the_way_out(tmp_path):
    folder = _write(tmp_path, json.dumps({"schema_version": 99, "tinykit_version": "0.9.0"}))
    with pytest.raises(ReportError) as error:
        load_report(folder)
    assert "schema version 99 (written by tinykit 0.9.0)" in error.value.message
    assert f"reads version 1 and {SCHEMA_VERSION}" in error.value.message
    assert "re-run `tinykit build`" in error.value.hint and "(0.9.0)" in error.value.hint


@pytest.mark.parametrize(("text", "words"), [
    ('{"schema_version": 1, "target": "cortex-m4",', "not valid JSON"),
    ("[1, 2]", "holds a JSON list"),
    ('{"target": "cortex-m4"}', "has no schema_version"),
    ("\udcff", "cannot read"),
])
def test_damaged_files_are_report_errors_that_say_re_run(tmp_path, text, words):
    path = tmp_path / "report.json"
    if text == "\udcff":
        path.write_bytes(b"\xff\xfe\x00garbage")
    else:
        path.write_text(text)
    with pytest.raises(ReportError) as error:
        load_report(path)
    assert words in error.value.message
    assert "re-run" in (error.value.hint or "")


def test_a_missing_report_says_which_folder_is_meant(tmp_path):
    with pytest.raises(ReportError) as error:
        load_report(tmp_path)
    assert str(tmp_path / "report.json") in error.value.message
    assert "build/<target>" in error.value.hint


def test_schema_problems_name_the_path_of_each_violation():
    problems = schema_problems({"schema_version": 1, "variants": [{"accuracy": 1.5}]},
                               limit=50)
    text = "\n".join(problems)
    assert "$: 'target' is a required property" in text
    assert "$.variants[0]: 'name' is a required property" in text
    assert "$.variants[0].accuracy: 1.5 is greater than the maximum of 1" in text
    with pytest.raises(ReportError) as error:
        check_report({"schema_version": 1}, "x/report.json")
    assert error.value.message.startswith("x/report.json does not match the report schema v1")
