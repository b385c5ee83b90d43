"""Input built to break the toolkit: each is a listed problem or one clear refusal, never a crash."""

import pandas as pd
import pytest

from toolkit import cli
from toolkit.ingest.clean import clean_export
from toolkit.ingest.extract import read_extract_text, validate_extract
from toolkit.ingest.mapping import CANONICAL, read_mapping

EXTRACT_DATE = "2025-01-31"
HEADER = ["force_code", "episode_id", "person_id", "reported_at", "age", "category", "risk_initial"]


def canonical_rows(ages) -> pd.DataFrame:
    """A valid canonical extract, one episode per age given."""
    n = len(ages)
    return pd.DataFrame(
        {
            "force_code": ["E23000014"] * n,
            "episode_id": [f"WM-{i}" for i in range(n)],
            "person_id": [f"P{i}" for i in range(n)],
            "reported_at": ["2024-03-05T21:40:00"] * n,
            "age": ages,
            "category": ["missing"] * n,
            "risk_initial": ["medium"] * n,
        }
    )


def run_cli(capsys, *args) -> tuple[int, str]:
    status = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


# -- 5. ages that are not children's ages -------------------------------------------------------

BAD_AGES = ["15.5", "127", "128", "300", "1e3", "1e30", "inf", "-1"]


@pytest.mark.parametrize("age", BAD_AGES)
def test_validate_lists_an_age_out_of_range_or_not_whole_as_a_problem(tmp_path, capsys, age):
    path = tmp_path / "ages.csv"
    canonical_rows(["15", age]).to_csv(path, index=False)
    status, said = run_cli(capsys, "validate", path, "--extract-date", EXTRACT_DATE)
    assert status == cli.EXIT_PROBLEM, said
    assert "internal error" not in said
    assert "1 problem(s) in 1 of 2 row(s)" in said
    assert f"age 3 {age} age must be a whole number from 0 to 17" in " ".join(said.split())


def test_run_refuses_an_extract_with_bad_ages_listing_each(tmp_path, capsys):
    path = tmp_path / "ages.csv"
    canonical_rows(["15", *BAD_AGES]).to_csv(path, index=False)
    status, said = run_cli(
        capsys, "run", "--input", path, "--extract-date", EXTRACT_DATE, "--out", tmp_path / "reports",
        "--work", tmp_path / "work", "--quiet",
    )  # fmt: skip
    assert status == cli.EXIT_PROBLEM, said
    assert "internal error" not in said
    assert f"{len(BAD_AGES)} problem(s) in {len(BAD_AGES)} row(s) break the extract contract" in said


def test_float_ages_in_parquet_are_problems_and_quarantined(tmp_path):
    ages = [15.0, 15.5, 127.0, 128.0, 300.0, 1e3, 1e30, float("inf"), None]
    path = tmp_path / "ages.parquet"
    canonical_rows(ages).to_parquet(path)
    raw = read_extract_text(path)

    problems = validate_extract(raw, EXTRACT_DATE)
    assert problems["row"].tolist() == list(range(3, 3 + 7)) + [10]  # every age but the first (15.0)
    assert set(problems["column"]) == {"age"}

    result = clean_export(raw, read_mapping(CANONICAL), EXTRACT_DATE)
    assert result.clean["age"].tolist() == [15]
    reasons = dict(zip(result.quarantine["export: age"], result.quarantine["reason_code"], strict=True))
    assert reasons == {
        "15.5": "bad_age",
        "127": "age_out_of_range",
        "128": "age_out_of_range",
        "300": "age_out_of_range",
        "1000": "age_out_of_range",
        "1000000000000000019884624838656": "age_out_of_range",
        "inf": "bad_age",
        "": "missing_required",
    }
    assert result.rows_in == len(result.clean) + len(result.quarantine)
