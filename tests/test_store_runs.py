"""Runs read the national store (issue #15 item 4): a run from a store reports what a run from the same file
reports, a run as at a moment before a correction reads the store as it stood, and run.json names the store,
the loads read and the moment; a run given a file goes through a temporary store of its own, the same path."""

import json
import subprocess
from datetime import datetime

import pandas as pd
import pytest

from toolkit import runner
from toolkit.cli import main
from toolkit.errors import ToolkitError
from toolkit.ingest.load import load_export
from toolkit.store import file_sha256

EXTRACT_DATE = "2025-01-31"
FIRST, CORRECTED = datetime(2025, 2, 1, 9, 0), datetime(2025, 3, 1, 9, 0)
WEST_MIDLANDS = "E23000014"


def _command(capsys, *args) -> subprocess.CompletedProcess:
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out, err)


def test_a_run_from_the_store_reports_what_a_run_from_its_file_reports(run, small_extract, tmp_path):
    """The shared run read the file (through its temporary store); this one reads a store holding that file."""
    path, _, _ = small_extract
    from_file, folder = run
    store = tmp_path / "store.duckdb"
    load_export(path, EXTRACT_DATE, store=store, loaded_at=FIRST)
    forces = sorted(from_file.reports)
    from_store = runner.run_reports(
        None, None, tmp_path / "reports", store=store, forces=forces, work_dir=tmp_path / "work", progress=False
    )
    assert sorted(from_store.reports) == forces
    for name in ("findings.json", "metrics.csv", "data_quality.csv"):
        assert (tmp_path / "reports" / name).read_bytes() == (folder / "reports" / name).read_bytes(), name
    by_file = json.loads((folder / "reports" / "run.json").read_text())
    by_store = json.loads((tmp_path / "reports" / "run.json").read_text())
    assert by_file["store"] is None and by_file["input_sha256"] == file_sha256(path)
    assert by_store["store"] == "store.duckdb" and by_store["input_sha256"] is None
    [load] = by_store["store_loads"]
    assert load["file"] == path.name and load["sha256"] == file_sha256(path) and load["load_id"] == 1
    assert "rows_in" not in load  # a load's counts include withheld forces: never published
    assert by_store["as_at_utc"] and by_store["store_period"] == "2024-01..2024-12"
    assert by_store["synthetic"] is True  # from the load's provenance record, as the file's says
    assert by_store["extract_date"] == by_file["extract_date"] == EXTRACT_DATE


def test_a_run_as_at_a_moment_before_a_correction_reads_the_first_load(small_extract, tmp_path):
    path, _, _ = small_extract
    store = tmp_path / "store.duckdb"
    load_export(path, EXTRACT_DATE, store=store, loaded_at=FIRST)
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    june = rows[(rows["force_code"] == WEST_MIDLANDS) & rows["reported_at"].str.startswith("2024-06")]
    corrected = june.iloc[3:]  # three episodes withdrawn
    corrected.to_csv(tmp_path / "june.csv", index=False)
    load_export(tmp_path / "june.csv", "2025-02-28", store=store, period="2024-06", loaded_at=CORRECTED)

    def read(as_at):
        return runner.read_run_input(None, None, None, None, store=store, as_at=as_at)

    before, after = read("2025-02-15"), read(None)
    assert [load["load_id"] for load in before.description["store_loads"]] == [1]
    assert [load["load_id"] for load in after.description["store_loads"]] == [1, 2]
    assert len(before.stored.result.clean) - len(after.stored.result.clean) == 3
    assert str(before.extract) == EXTRACT_DATE and str(after.extract) == "2025-02-28"  # the latest load's
    with pytest.raises(ToolkitError, match="no clean episodes for 2023-01..2023-12 as at"):
        runner.read_run_input(None, None, None, None, store=store, period="2023-01..2023-12")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--input", "{extract}", "--extract-date", EXTRACT_DATE, "--store", "{store}"], "either --input FILE"),
        ([], "either --input FILE"),
        (["--input", "{extract}"], "--input needs --extract-date"),
        (["--store", "{tmp}/none.duckdb"], "there is no national store at"),
        (["--input", "{extract}", "--extract-date", EXTRACT_DATE, "--period", "2024-01"], "give them with --store"),
        (["--store", "{store}", "--as-at", "yesterday"], "--as-at 'yesterday' is not an ISO 8601 date"),
    ],
)
def test_run_refuses_a_wrong_choice_of_file_or_store_in_one_line(small_extract, tmp_path, capsys, arguments, message):
    fill = {"extract": small_extract[0], "store": tmp_path / "store.duckdb", "tmp": tmp_path}
    result = _command(capsys, "run", *[a.format(**fill) for a in arguments], "--out", tmp_path / "out", "--quiet")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message.format(**fill) in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()
