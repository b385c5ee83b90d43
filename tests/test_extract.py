"""Reading and validating extracts: every defect found, every bad file refused clearly."""

import io
import re

import pandas as pd
import pytest

from toolkit.errors import ExtractError, ToolkitError, ValidationError
from toolkit.ingest.extract import load_extract, read_extract_text, to_episodes, validate_extract
from toolkit.ingest.provenance import read_provenance
from toolkit.ingest.schema import COLUMNS

EXTRACT_DATE = "2025-01-31"


@pytest.fixture()
def good(small_extract):
    path, _, _ = small_extract
    return read_extract_text(path).head(200).copy()


# (data row index, column, bad value): one deliberate defect per row.
DEFECTS = [
    (3, "force_code", "E23000099"),
    (5, "reported_at", "05/03/2024 21:40"),
    (8, "reported_at", "2024-02-30T10:00:00"),
    (13, "age", "19"),
    (21, "age", "fifteen"),
    (34, "category", "Absent"),
    (55, "risk_initial", "HIGH"),
    (89, "sex", "f"),
    (90, "risk_factors", "cse;county_lines"),
    (100, "person_id", ""),
    (120, "looked_after", "Y"),
]


def test_validation_finds_every_planted_defect_and_nothing_else(good):
    broken = good.copy()
    for row, column, value in DEFECTS:
        broken.loc[row, column] = value
    # Defects across columns: returned before reported, absent graded high, a duplicate id,
    # a report after the extract date.
    broken.loc[140, "returned_at"] = "2023-01-01T00:00:00"
    broken.loc[150, ["category", "risk_initial"]] = ["absent", "high"]
    broken.loc[160, "episode_id"] = broken.loc[161, "episode_id"]
    broken.loc[161, "force_code"] = broken.loc[160, "force_code"]
    broken.loc[170, ["reported_at", "last_seen_at", "returned_at"]] = ["2025-03-01T10:00:00", "", ""]
    broken.loc[170, ["supervisor_review_at", "prevention_interview_at", "return_interview_at"]] = ""

    problems = validate_extract(broken, EXTRACT_DATE)
    found = set(zip(problems["row"] - 2, problems["column"], strict=True))
    expected = {(row, column) for row, column, _ in DEFECTS} | {
        (140, "returned_at"),
        (150, "risk_initial"),
        (160, "episode_id"),
        (161, "episode_id"),
        (170, "reported_at"),
    }
    assert found == expected
    # The value shown is the one in the file, and rows are numbered as a spreadsheet does.
    age = problems[(problems["column"] == "age") & (problems["row"] == 13 + 2)].iloc[0]
    assert age["value"] == "19" and "0 to 17" in age["problem"]
    assert problems["problem"].str.len().gt(10).all()


def test_a_valid_extract_has_no_problems(good):
    assert validate_extract(good, EXTRACT_DATE).empty


def test_missing_required_columns_are_each_named(good):
    problems = validate_extract(good.drop(columns=["age", "category"]), EXTRACT_DATE)
    missing = problems[problems["problem"] == "required column is missing"]
    assert set(missing["column"]) == {"age", "category"}


def test_optional_columns_may_be_absent(good):
    optional = [name for name, required in COLUMNS.items() if not required]
    assert validate_extract(good.drop(columns=optional), EXTRACT_DATE).empty


def test_typed_table_has_the_contract_columns_and_types(good):
    episodes = to_episodes(good)
    assert list(episodes.columns) == list(COLUMNS)
    assert pd.api.types.is_datetime64_any_dtype(episodes["reported_at"])
    assert episodes["age"].between(0, 17).all()
    assert isinstance(episodes["category"].dtype, pd.CategoricalDtype)


def test_bom_and_windows_line_ends_are_accepted(good):
    text = good.to_csv(index=False, lineterminator="\r\n")
    raw = read_extract_text(io.BytesIO(b"\xef\xbb\xbf" + text.encode()), name="x.csv")
    assert list(raw.columns)[0] == "force_code"
    pd.testing.assert_frame_equal(raw, good.reset_index(drop=True))


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("x.csv", b"", "the file is empty"),
        ("x.csv", b"   \n\n", "the file is empty"),
        ("x.csv", b"force_code,episode_id\n", "header but no episodes"),
        ("x.csv", b"\x00\x01\x02binary junk\xff", "content is binary data"),
        ("x.csv", b"PK\x03\x04rest of a zip", "Excel workbook or zip"),
        ("x.csv", b"force_code;episode_id;person_id\nE23000014;1;2\n", "separated by semicolons"),
        ("x.csv", "force_code,person\nE23000014,Zo\xeb\n".encode("latin-1"), "not UTF-8"),
        ("x.pdf", b"%PDF-1.4", "unsupported file type '.pdf'"),
        ("x.parquet", b"not parquet at all", "not a readable Parquet file"),
        ("x.xlsx", b"PK\x03\x04broken", "not a readable Excel workbook"),
    ],
)
def test_unreadable_files_are_refused_with_one_clear_message(name, content, message):
    with pytest.raises(ExtractError, match=message):
        read_extract_text(io.BytesIO(content), name=name)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ExtractError, match="no such file"):
        read_extract_text(tmp_path / "nope.csv")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(ExtractError, match="is a folder"):
        read_extract_text(folder)


def test_load_extract_refuses_an_invalid_file_with_every_problem(tmp_path, good):
    broken = good.copy()
    broken.loc[0, "age"] = "42"
    broken.loc[1, "category"] = "lost"
    path = tmp_path / "broken.csv"
    broken.to_csv(path, index=False)
    with pytest.raises(ValidationError) as caught:
        load_extract(path, EXTRACT_DATE)
    assert len(caught.value.problems) == 2
    assert "2 problem(s) in 2 row(s)" in str(caught.value)


def test_parquet_timestamps_read_as_the_text_a_csv_would_hold(tmp_path):
    """Typed Parquet columns become contract text: seconds kept, fractions dropped, missing as blank."""
    stamps = pd.to_datetime(["2024-03-05 21:40:07.900", None, "2024-12-31 23:59:59.000"]).as_unit("ms")
    frame = pd.DataFrame(
        {
            "reported_at": stamps,
            "zoned": stamps.tz_localize("Europe/London"),
            "age": pd.array([15, None, 3], dtype="Int8"),
            "sex": pd.array(["female", None, "male"], dtype="string"),
        }
    )
    path = tmp_path / "typed.parquet"
    frame.to_parquet(path)
    text = read_extract_text(path)
    assert text["reported_at"].tolist() == ["2024-03-05T21:40:07", "", "2024-12-31T23:59:59"]
    assert text["zoned"].tolist() == ["2024-03-05T21:40:07", "", "2024-12-31T23:59:59"]
    assert text["age"].tolist() == ["15", "", "3"]
    assert text["sex"].tolist() == ["female", "", "male"]
    assert all(pd.api.types.is_string_dtype(t) for t in text.dtypes)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b'{"synthetic": tru', "it is not valid JSON (Expecting value at line 1, column 15)"),
        (b'["synthetic", true]', "it must hold a JSON object, not list"),
        (b'{"seed": 7}', 'it must say "synthetic": true or false'),
        (b'{"synthetic": "true"}', "\"synthetic\" must be true or false, not 'true'"),
        (b'{"synthetic": 1}', '"synthetic" must be true or false, not 1'),
        (b'{"synthetic": true, "seed": 7.5}', '"seed" must be a whole number, not 7.5'),
        (b'{"synthetic": true, "scale": NaN}', "NaN is not a JSON number"),
        (b'{"synthetic": true, "synthetic": false}', "it gives 'synthetic' more than once"),
        (b'\xff{"synthetic": true}', "it is not UTF-8 text"),
        (b" " * 70_000, "it is larger than 64 KiB"),
    ],
)
def test_a_malformed_provenance_file_is_refused_with_one_message_naming_it(tmp_path, content, reason):
    (tmp_path / "x.csv.provenance.json").write_bytes(content)
    message = f"{tmp_path / 'x.csv.provenance.json'}: not a usable provenance file: {reason} "
    with pytest.raises(ToolkitError, match=re.escape(message)):
        read_provenance(tmp_path / "x.csv")


def test_a_provenance_file_is_read_for_its_known_fields_only(tmp_path):
    (tmp_path / "x.csv.provenance.json").write_text('\ufeff{"synthetic": false, "supplier": "<b>x</b>", "years": 2}')
    assert read_provenance(tmp_path / "x.csv") == {"synthetic": False, "years": 2}
    assert read_provenance(tmp_path / "absent.csv") is None
