"""The national store (issue #15): loads reconcile, a file loads once, corrections supersede only their force
and months, a read as at an earlier moment sees the store as it stood, status names the missing forces, a
killed load or a second writer leaves the store as it was, and the export reads back by force and year."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest
from pandas.testing import assert_frame_equal

from toolkit.cli import main
from toolkit.config import PROJECT_ROOT
from toolkit.errors import ToolkitError
from toolkit.forces import list_forces
from toolkit.ingest.clean import clean_export
from toolkit.ingest.extract import read_extract_text
from toolkit.ingest.load import CLEAN_COLUMNS, load_export, read_cleaned
from toolkit.ingest.mapping import CANONICAL, MAPPINGS_DIR, read_mapping
from toolkit.store import LOAD_ROWS, PAUSE_FOR_TESTS, TABLES, NationalStore, Period
from toolkit.synthetic import generator
from toolkit.synthetic.exports import export_dialect

EXTRACT_DATE = "2024-01-31"
WEST_MIDLANDS, ESSEX, GWENT = "E23000014", "E23000028", "W15000002"
# When the tests' loads are made (UTC): in the past, as a load's time must be.
FIRST, CORRECTED = datetime(2024, 2, 1, 9, 0), datetime(2024, 3, 1, 9, 0)


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """A small national extract of 2022 and 2023 as CSV (canonical), and the text of its rows."""
    folder = tmp_path_factory.mktemp("national")
    episodes, truth = generator.generate_extract(2022, seed=5, years=2, scale=0.006, extract_date=EXTRACT_DATE)
    path = folder / "national.csv"
    generator.write_extract(episodes, truth, path)
    return path, pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def niche(tmp_path_factory):
    """A force system's export (niche_rms) with 5% of rows damaged: every cleaning log has rows."""
    episodes, truth = generator.generate_extract(2024, seed=8, scale=0.01)
    mapping = read_mapping(MAPPINGS_DIR / "niche_rms.yaml")
    export, _ = export_dialect(episodes, mapping, truth["extract_date"], seed=8, defect_share=0.05)
    path = tmp_path_factory.mktemp("niche") / "niche.csv"
    export.to_csv(path, index=False)
    return path, mapping, truth["extract_date"]


def write_rows(rows: pd.DataFrame, path):
    rows.to_csv(path, index=False)
    return path


def counts(store) -> dict:
    """Every table's rows, and the load log, of a store: what 'exactly as it was' compares."""
    with duckdb.connect(str(store), read_only=True) as db:
        tables = {name: db.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] for name in TABLES}
        loads = db.execute("SELECT load_id, sha256, rows_in FROM loads ORDER BY load_id").fetchall()
    return {"tables": tables, "loads": loads}


def command(capsys, *args) -> subprocess.CompletedProcess:
    """A command run in this process (as ``python -m toolkit`` runs it), with what it wrote."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out, err)


def toolkit(*args, env=None, **popen):
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
    command = [sys.executable, "-m", "toolkit", *map(str, args)]
    if popen:
        return subprocess.Popen(command, env=environment, text=True, **popen)
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)


def pause_at_commit(marker, *args):
    """A load in its own process, held inside its transaction (rows written, not committed) once ``marker`` exists."""
    process = toolkit(*args, env={PAUSE_FOR_TESTS: str(marker)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"the load ended before its pause: {process.communicate()}")
        assert time.monotonic() < deadline, "the load never reached its pause"
        time.sleep(0.05)
    return process


def test_a_load_reconciles_and_reads_back_exactly_as_cleaning_made_it(niche, tmp_path):
    path, mapping, extract_date = niche
    store = tmp_path / "store.duckdb"
    outcome = load_export(path, extract_date, store=store, mapping=mapping.path)
    cleaned = clean_export(read_extract_text(path), mapping, extract_date)

    load = outcome.load
    assert outcome.added and load["load_id"] == 1 and load["mapping"] == "niche_rms"
    assert (
        load["rows_in"]
        == len(pd.read_csv(path, dtype=str))
        == load["rows_clean"] + load["rows_quarantined"] + load["rows_merged"]
    )
    assert (load["rows_clean"], load["rows_quarantined"], load["rows_merged"]) == (
        len(cleaned.clean),
        len(cleaned.quarantine),
        len(cleaned.merged),
    )
    assert counts(store)["tables"]["coverage"] == len(load["forces"].split(";")) * 12

    read = read_cleaned(store).result
    for name in ("clean", "quarantine", "changes", "translations", "merged"):
        assert len(getattr(cleaned, name)) > 0, name
        assert_frame_equal(getattr(read, name), getattr(cleaned, name), obj=name)
    assert read.counts() == cleaned.counts()

    # A row set aside is placed in the month cleaning read in its report date, or, with no known force or such
    # month, belongs to the load as a whole.
    with duckdb.connect(str(store), read_only=True) as db:
        placed = dict(
            db.execute("SELECT reason_code, bool_and(month IS NOT NULL) FROM quarantine GROUP BY ALL").fetchall()
        )
    assert placed["unknown_force"] is False and placed["bad_date"] is False
    assert placed["age_out_of_range"] is True and placed["near_duplicate"] is True


def test_the_same_file_again_loads_nothing_and_says_so(national, tmp_path, capsys):
    path, _ = national
    store = tmp_path / "store.duckdb"
    first = command(capsys, "load", path, "--extract-date", EXTRACT_DATE, "--store", store)
    assert first.returncode == 0, first.stderr
    assert "loaded as load 1" in first.stdout
    before = counts(store)
    again = command(capsys, "load", path, "--extract-date", EXTRACT_DATE, "--store", store)
    assert again.returncode == 0, again.stderr
    assert "already loaded as load 1 on " in again.stdout and again.stdout.rstrip().endswith("nothing loaded")
    assert counts(store) == before
    copied = write_rows(pd.read_csv(path, dtype=str, keep_default_na=False), tmp_path / "renamed.csv")
    assert load_export(copied, EXTRACT_DATE, store=store).added is False  # the same rows under another name


def test_a_correction_supersedes_only_its_force_and_months_and_as_at_reads_the_store_as_it_stood(national, tmp_path):
    path, rows = national
    store = tmp_path / "store.duckdb"
    load_export(path, EXTRACT_DATE, store=store, loaded_at=FIRST)
    june = rows[(rows["force_code"] == WEST_MIDLANDS) & rows["reported_at"].str.startswith("2022-06")]
    corrected = june.iloc[2:].copy()  # two episodes withdrawn, one regraded
    corrected.loc[corrected.index[0], ["category", "risk_initial"]] = ["missing", "high"]
    correction = load_export(
        write_rows(corrected, tmp_path / "wm_june.csv"),
        EXTRACT_DATE,
        store=store,
        period="2022-06",
        loaded_at=CORRECTED,
    )
    assert correction.load["forces"] == WEST_MIDLANDS and str(correction.period) == "2022-06"
    assert correction.superseded.astype(str).values.tolist() == [[WEST_MIDLANDS, "2022-06-01", "1"]]

    now = read_cleaned(store).result.clean
    wm_june = (now["force_code"] == WEST_MIDLANDS) & (now["reported_at"].dt.strftime("%Y-%m") == "2022-06")
    assert sorted(now.loc[wm_june, "episode_id"]) == sorted(corrected["episode_id"])
    assert now.loc[now["episode_id"] == corrected["episode_id"].iloc[0], "risk_initial"].tolist() == ["high"]
    original = clean_export(read_extract_text(path), read_mapping(CANONICAL), EXTRACT_DATE).clean
    untouched = ~(
        (original["force_code"] == WEST_MIDLANDS) & (original["reported_at"].dt.strftime("%Y-%m") == "2022-06")
    )
    assert len(now) == len(original) - 2
    assert sorted(now.loc[~wm_june, "episode_id"]) == sorted(original.loc[untouched, "episode_id"])

    # Nothing was deleted: as at a moment before the correction, the store is the first load, exactly.
    assert counts(store)["tables"]["episodes"] == len(original) + len(corrected)
    for moment in ("2024-02-15", "2024-03-01T08:59:59", "2024-03-01T09:59:59+01:00"):
        assert_frame_equal(read_cleaned(store, as_at=moment).result.clean, original)
    assert read_cleaned(store, as_at="2024-01-31").result.clean.empty  # before any load
    one_month = read_cleaned(store, period="2022-06", as_at="2024-02-15")
    assert set(one_month.result.clean["reported_at"].dt.strftime("%Y-%m")) == {"2022-06"}
    assert one_month.loads["load_id"].tolist() == [1]


def test_status_lists_loaded_superseded_and_missing_forces(national, tmp_path, capsys):
    path, rows = national
    store = tmp_path / "store.duckdb"
    two = rows[rows["force_code"].isin([WEST_MIDLANDS, ESSEX])]
    load_export(write_rows(two, tmp_path / "two.csv"), EXTRACT_DATE, store=store, period="2022..2023", loaded_at=FIRST)
    gwent = rows[(rows["force_code"] == GWENT) & rows["reported_at"].str.startswith("2022")]
    load_export(
        write_rows(gwent, tmp_path / "gwent.csv"), EXTRACT_DATE, store=store, period="2022", loaded_at=CORRECTED
    )
    spring = rows[(rows["force_code"] == ESSEX) & rows["reported_at"].str.match(r"2023-0[34]")]
    load_export(write_rows(spring, tmp_path / "essex.csv"), EXTRACT_DATE, store=store, period="2023-03..2023-04")

    with NationalStore.open(store) as national_store:
        status = national_store.status()
        earlier = national_store.status(as_at="2024-02-15")
    runs = {
        (
            r.force_code,
            r.state,
            str(Period.spanning([r.first_month, r.last_month])),
            None if pd.isna(r.load_id) else r.load_id,
        )
        for r in status.itertuples()
    }
    assert (WEST_MIDLANDS, "loaded", "2022-01..2023-12", 1) in runs
    assert {(ESSEX, "loaded", "2022-01..2023-02", 1), (ESSEX, "loaded", "2023-03..2023-04", 3)} <= runs
    assert (ESSEX, "loaded", "2023-05..2023-12", 1) in runs
    assert (ESSEX, "superseded", "2023-03..2023-04", 1) in runs
    assert {(GWENT, "loaded", "2022-01..2022-12", 2), (GWENT, "missing", "2023-01..2023-12", None)} <= runs
    missing = status[status["state"] == "missing"]
    assert set(missing["force_code"]) == {f.code for f in list_forces()} - {WEST_MIDLANDS, ESSEX}
    superseded = status[status["state"] == "superseded"].iloc[0]
    assert superseded["superseded_by"] == 3 and superseded["episodes"] == len(spring)
    assert earlier[earlier["force_code"] == GWENT]["state"].tolist() == ["missing"]  # its load came later

    shown = command(capsys, "status", "--store", store)
    assert shown.returncode == 0, shown.stderr
    assert "3 load(s); months 2022-01..2023-12" in shown.stdout
    assert "2 of 43 forces loaded for every month" in shown.stdout and "41 missing for some month:" in shown.stdout
    assert f"  {GWENT} Gwent: 2023-01..2023-12" in shown.stdout
    assert "superseded by load 3" in shown.stdout
    before = command(capsys, "status", "--store", store, "--as-at", "2024-02-15", "--period", "2022")
    assert "1 load(s); months 2022-01..2022-12" in before.stdout and "superseded" not in before.stdout


def test_the_rows_in_must_add_up_before_commit(niche, tmp_path):
    path, mapping, extract_date = niche
    store = tmp_path / "store.duckdb"
    load_export(path, extract_date, store=store, mapping=mapping.path)
    before = counts(store)
    with NationalStore.open(store, write=True, clean_columns=CLEAN_COLUMNS) as national_store:
        loads = national_store.read_loads()
        stored = national_store.read()
        record = loads.drop(columns=["load_id", "loaded_at"]).iloc[0].to_dict()
        record["sha256"] = "0" * 64  # another file
        record["rows_in"] += 1  # one row unaccounted for
        cells = stored.cells[["force_code", "month"]]
        rows = {name: getattr(stored, name).drop(columns="load_id") for name in LOAD_ROWS}
        with pytest.raises(ToolkitError, match="does not add up .* nothing was loaded"):
            national_store.add_load(record, cells, rows)
    assert counts(store) == before


def test_a_killed_load_leaves_the_store_exactly_as_it_was(national, tmp_path):
    path, rows = national
    store = tmp_path / "store.duckdb"
    load_export(write_rows(rows[rows["force_code"] == ESSEX], tmp_path / "essex.csv"), EXTRACT_DATE, store=store)
    before, read_before = counts(store), read_cleaned(store).result.clean
    marker = tmp_path / "paused"
    process = pause_at_commit(marker, "load", path, "--extract-date", EXTRACT_DATE, "--store", store)
    process.send_signal(signal.SIGKILL)  # midway: every row written, nothing committed
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    assert counts(store) == before
    assert_frame_equal(read_cleaned(store).result.clean, read_before)
    after = load_export(path, EXTRACT_DATE, store=store)  # and the store takes a new load
    assert after.added and after.load["load_id"] == 2
    assert counts(store)["tables"]["episodes"] == before["tables"]["episodes"] + after.load["rows_clean"]


def test_a_second_process_waits_then_refuses_with_a_clear_message_and_the_store_stays_whole(national, tmp_path, capsys):
    path, rows = national
    store = tmp_path / "store.duckdb"
    marker = tmp_path / "paused"
    first = pause_at_commit(marker, "load", path, "--extract-date", EXTRACT_DATE, "--store", store)
    try:
        other = write_rows(rows[rows["force_code"] == ESSEX].iloc[:-1], tmp_path / "essex.csv")
        second = toolkit("load", other, "--extract-date", EXTRACT_DATE, "--store", store, "--wait", "0.5")
        reader = toolkit("status", "--store", store, "--wait", "0")
    finally:
        marker.unlink()  # let the first load commit
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    for refused in (second, reader):
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.strip().splitlines() == [
            f"error: the store {store} is in use by another process (process {first.pid}), a load or a reader; "
            f"try again when it has finished (waited {'0.5' if refused is second else '0'} s)"
        ]
    assert [load[0] for load in counts(store)["loads"]] == [1]
    again = command(capsys, "load", other, "--extract-date", EXTRACT_DATE, "--store", store)
    assert again.returncode == 0, again.stderr
    assert "loaded as load 2" in again.stdout and f"supersedes load 1 for {ESSEX} (Essex)" in again.stdout


def test_export_writes_force_and_year_partitions_that_read_back_whole(national, tmp_path, capsys):
    path, rows = national
    store = tmp_path / "store.duckdb"
    load_export(path, EXTRACT_DATE, store=store, loaded_at=FIRST)
    essex = rows[(rows["force_code"] == ESSEX) & rows["reported_at"].str.startswith("2023")].iloc[5:]
    load_export(
        write_rows(essex, tmp_path / "essex.csv"), EXTRACT_DATE, store=store, period="2023", loaded_at=CORRECTED
    )
    expected = read_cleaned(store).result.clean
    out = tmp_path / "dataset"
    written = command(capsys, "export", "--store", store, "--out", out)
    assert written.returncode == 0, written.stderr
    assert f"wrote {len(expected):,} clean episodes of 2 load(s)" in written.stdout

    folders = {p.relative_to(out).parent.as_posix() for p in out.rglob("*.parquet")}
    by_force_year = expected.groupby(["force_code", expected["reported_at"].dt.year]).size()
    assert folders == {f"force_code={force}/year={year}" for force, year in by_force_year.index}
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(expected)
    assert sorted(table.column("episode_id").to_pylist()) == sorted(expected["episode_id"])
    with duckdb.connect() as db:
        read = db.execute(
            f"SELECT force_code, year, count(*) FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true) "
            "GROUP BY ALL"
        ).fetchall()
    assert {(force, int(year)): n for force, year, n in read} == by_force_year.to_dict()
    manifest = json.loads((out / "_export.json").read_text())
    assert manifest["rows"] == len(expected) and [load["load_id"] for load in manifest["loads"]] == [1, 2]

    earlier = command(capsys, "export", "--store", store, "--out", out, "--as-at", "2024-02-15", "--period", "2023")
    assert earlier.returncode == 0, earlier.stderr
    as_it_was = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert as_it_was.num_rows == (expected["reported_at"].dt.year == 2023).sum() + 5  # the folder replaced whole
    assert set(as_it_was.column("year").to_pylist()) == {2023}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["load", "missing.csv", "--extract-date", EXTRACT_DATE], "error: missing.csv: no such file"),
        (["load", "{national}", "--extract-date", EXTRACT_DATE, "--mapping", "{bad_mapping}"], "error: mapping "),
        (
            ["load", "{national}", "--extract-date", EXTRACT_DATE, "--period", "2022-13"],
            "error: period '2022-13' is not",
        ),
        (["load", "{national}", "--extract-date", EXTRACT_DATE, "--period", "2025-03"], "reported outside the period"),
        (["load", "{national}", "--extract-date", EXTRACT_DATE, "--force", "nowhere"], "unknown force code 'nowhere'"),
        (["status", "--as-at", "last week"], "error: --as-at 'last week' is not an ISO 8601 date"),
        (["export", "--out", "{tmp}/out", "--as-at", "2024-02-30"], "error: --as-at '2024-02-30' is not"),
        (["status"], "error: there is no national store at {tmp}/store.duckdb: load an export first"),
    ],
)
def test_store_commands_refuse_bad_input_in_one_line(national, tmp_path, capsys, arguments, message):
    bad_mapping = tmp_path / "bad.yaml"
    bad_mapping.write_text("name: broken\ncolumns:\n  force_code: Force\n")
    store = tmp_path / "store.duckdb"
    fill = {"national": national[0], "bad_mapping": bad_mapping, "tmp": tmp_path}
    result = command(capsys, *[a.format(**fill) for a in arguments], "--store", store)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and message.format(**fill) in result.stderr
    assert not store.exists()  # refused before the store was made


def test_the_store_is_never_committed():
    ignored = subprocess.run(
        ["git", "check-ignore", "data/store.duckdb", "data/store.duckdb.wal", "elsewhere/other.duckdb"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["data/store.duckdb", "data/store.duckdb.wal", "elsewhere/other.duckdb"]
