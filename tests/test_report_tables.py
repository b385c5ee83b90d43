"""What a report reads from the work folder: published once per folder, read again whenever a file changes."""

import pandas as pd
import pytest

from toolkit.forces import NATIONAL
from toolkit.publish import report
from toolkit.store import WorkFolder

FORCE = "E23000014"


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A work folder of one table, and a list that grows each time the tables are published."""
    work = WorkFolder(tmp_path)
    work.write_json("run", {"suppression_threshold": 5})
    work.write_json("findings", [])
    work.write_table("repeats", _repeats(12))
    published = []
    publish = report.publish_tables
    monkeypatch.setattr(report, "publish_tables", lambda tables, run: published.append(run) or publish(tables, run))
    return work, published


def _repeats(frequently_missing: int) -> pd.DataFrame:
    """A repeats table of the force and England and Wales, the force's frequently missing children given."""
    return pd.DataFrame(
        {
            "force_code": [FORCE, NATIONAL],
            "children_2_plus": [40, 400],
            "children_3_plus": [20, 200],
            "frequently_missing": [frequently_missing, 120],
        }
    )


def _frequently_missing(work: WorkFolder) -> list:
    """Frequently missing children of the force and England and Wales, as a report reads them."""
    return report.load_prepared(work.path, ["repeats"])[2]["repeats"]["frequently_missing"].tolist()


def test_a_folder_is_published_once_and_no_report_changes_what_the_next_one_reads(folder):
    work, published = folder
    first = report.load_prepared(work.path, ["repeats"])[2]["repeats"]
    first.loc[0, "frequently_missing"] = 999  # what one report does to its tables
    assert _frequently_missing(work) == [12, 120]
    assert _frequently_missing(work) == [12, 120]
    assert len(published) == 1  # read and published once, for the three reads


def test_a_table_rewritten_since_is_read_again_so_no_report_shows_a_stale_figure(folder):
    work, published = folder
    assert _frequently_missing(work) == [12, 120]
    size = work.file("repeats").stat().st_size
    work.write_table("repeats", _repeats(13))
    assert work.file("repeats").stat().st_size == size  # only what the file is, not its size, tells them apart
    assert _frequently_missing(work) == [13, 120]
    assert len(published) == 2


def test_new_run_parameters_publish_the_tables_again(folder):
    """The threshold and comparator groups are the run's: tables published under the old ones are not reused."""
    work, published = folder
    _frequently_missing(work)
    work.write_json("run", {"suppression_threshold": 10})
    _frequently_missing(work)
    assert [run["suppression_threshold"] for run in published] == [5, 10]


def test_a_small_count_is_withheld_in_the_tables_read_again(folder):
    """Disclosure control runs on the new figures: a rewritten count of 3 is withheld nationally too."""
    work, _ = folder
    assert _frequently_missing(work) == [12, 120]
    work.write_table("repeats", _repeats(3))
    assert pd.isna(_frequently_missing(work)[1])  # England and Wales's, withheld since the force's is small


def test_the_tables_hold_text_as_python_strings_so_picking_a_forces_rows_is_cheap(folder):
    """A report picks rows out of its tables some hundred times; held in Arrow, each pick was a call into Arrow
    per text column, nearly half of the report's own work. The values are the same."""
    work, _ = folder
    repeats = report.load_prepared(work.path, ["repeats"])[2]["repeats"]
    assert repeats["force_code"].dtype == object
    assert repeats["force_code"].tolist() == [FORCE, NATIONAL]
    assert repeats.loc[repeats["force_code"] == NATIONAL, "frequently_missing"].tolist() == [120]
