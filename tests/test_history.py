"""Since the last inspection (#14 item 15): a previous run's findings, read as untrusted input, and compared."""

import json
import subprocess
import sys

import pytest

from toolkit.errors import ToolkitError
from toolkit.findings.history import compare_with_previous, read_previous_findings


def _finding(code, rule, judgement, statement="..."):
    return {"force_code": code, "rule": rule, "judgement": judgement, "statement": statement}


def test_findings_are_marked_new_or_enduring_and_old_ones_resolved_or_not_judged():
    now = [
        _finding("E23000014", "supervisory_review", "cause_of_concern"),
        _finding("E23000014", "volume_rate", "observation"),
        _finding("E23000028", "return_interviews_72h", "observation") | {"judged": False},
        _finding("E23000028", "prevention_interviews", "area_for_improvement"),
    ]
    before = [
        _finding("E23000014", "supervisory_review", "area_for_improvement"),
        _finding("E23000014", "categorisation_flagged_absent", "cause_of_concern", "Then it was 45%."),
        _finding("E23000028", "return_interviews_72h", "cause_of_concern"),
        _finding("E23000028", "volume_rate", "observation"),  # an observation is not followed up
    ]
    marked, earlier = compare_with_previous(now, before)
    assert [f.get("since_previous") for f in marked] == ["enduring", None, None, "new"]
    status = {(e["force_code"], e["rule"]): (e["status"], e["now"]) for e in earlier}
    assert status == {
        ("E23000014", "supervisory_review"): ("enduring", "cause_of_concern"),
        ("E23000014", "categorisation_flagged_absent"): ("resolved", None),
        ("E23000028", "return_interviews_72h"): ("not_judged_now", "observation"),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not a JSON findings file"),
        ('{"a": 1}', "a findings file is a list of findings"),
        ("[1]", "entry 1 is not a finding"),
        ('[{"force_code": "E23000014", "rule": "x", "judgement": "observation"}]', "entry 1 names no rule"),
        ('[{"force_code": "E99", "rule": "volume_rate", "judgement": "observation"}]', "entry 1 names no force"),
        ('[{"force_code": "E23000014", "rule": "volume_rate", "judgement": "bad"}]', "no judgement of the vocabulary"),
    ],
)
def test_a_bad_previous_file_is_one_message_naming_it(tmp_path, text, message):
    path = tmp_path / "findings.json"
    path.write_text(text)
    with pytest.raises(ToolkitError, match=message) as raised:
        read_previous_findings(path)
    assert str(path) in str(raised.value)


def test_a_previous_statement_is_kept_as_text_and_cut_to_a_sane_length(tmp_path):
    path = tmp_path / "findings.json"
    entry = _finding("E23000020", "volume_rate", "cause_of_concern", "<script>x</script>" + "a" * 10_000)
    path.write_text(json.dumps([entry, _finding("E23000020", "volume_rate", "observation", 42)]))
    read = read_previous_findings(path)
    assert read[0]["force_code"] == "E23000020" and len(read[0]["statement"]) == 2_000
    assert read[1]["statement"] == ""


def test_run_refuses_a_missing_previous_file_before_reading_the_extract(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "toolkit",
            "run",
            "--input",
            str(tmp_path / "none.csv"),
            "--extract-date",
            "2025-01-31",
            "--out",
            str(tmp_path / "reports"),
            "--work",
            str(tmp_path / "work"),
            "--previous",
            str(tmp_path / "old.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1
    assert completed.stderr.strip() == f"error: previous findings {tmp_path / 'old.json'}: no such file"
    assert not (tmp_path / "reports").exists() and not (tmp_path / "work").exists()
