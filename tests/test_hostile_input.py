"""Input built to break the toolkit: each is a listed problem or one clear refusal, never a crash."""

import io
import os
import re
import tracemalloc
import zipfile

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from toolkit import cli
from toolkit.errors import ExtractError
from toolkit.ingest import extract
from toolkit.ingest.clean import clean_export
from toolkit.ingest.extract import read_extract_text, validate_extract
from toolkit.ingest.mapping import CANONICAL, read_mapping
from toolkit.ingest.schema import ID_TOO_LONG

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


# -- 7. a header that names a column twice ------------------------------------------------------

# A force's own export, as a small mapping describes it.
EXPORT_MAPPING = """
name: tiny_export
description: A test export with its own column names.
columns: {force_code: Force, episode_id: Ref, person_id: Child, reported_at: Reported, age: Age,
          category: Category, risk_initial: Risk, officer_id: Officer}
dates: ["%d/%m/%Y %H:%M"]
"""
EXPORT_HEADER = ["Force", "Ref", "Child", "Reported", "Age", "Category", "Risk", "Officer"]


def export_rows(n):
    """n valid rows of the export EXPORT_MAPPING describes."""
    return [["E23000014", f"R{i}", f"C{i}", "05/03/2024 21:40", "15", "missing", "low", f"PC{i}"] for i in range(n)]


EXPORT_ROWS = export_rows(3)


def write_table(path, header, rows):
    """Write rows under a header, as CSV, Parquet or Excel by the path's ending, repeated names kept."""
    if path.suffix == ".csv":
        path.write_text("\n".join(",".join(map(str, row)) for row in [header, *rows]) + "\n")
    elif path.suffix == ".parquet":
        pq.write_table(
            pa.table([pa.array([str(row[i]) for row in rows]) for i in range(len(header))], names=header), path
        )
    else:
        book = openpyxl.Workbook()
        for row in [header, *rows]:
            book.active.append(row)
        book.save(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_validate_refuses_a_canonical_extract_that_names_a_column_twice(tmp_path, capsys, suffix):
    rows = canonical_rows(["15", "12"])
    rows["age "] = ["16", "13"]  # a second age, told apart only by a space
    rows["sex"] = ["female", "male"]
    rows["sex "] = ["male", "female"]
    header = [name.strip() if name == "age " else name for name in rows.columns]
    path = write_table(tmp_path / f"twice{suffix}", header, rows.to_numpy().tolist())
    status, said = run_cli(capsys, "validate", path, "--extract-date", EXTRACT_DATE)
    assert status == cli.EXIT_PROBLEM, said
    assert f"error: {path}: the header names column(s) 'age', 'sex' more than once" in said
    assert "meet the extract contract" not in said


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_clean_refuses_a_force_export_that_names_a_column_twice(tmp_path, capsys, suffix):
    mapping = tmp_path / "tiny.yaml"
    mapping.write_text(EXPORT_MAPPING)
    header = [*EXPORT_HEADER, "Age"]
    path = write_table(tmp_path / f"export{suffix}", header, [[*row, "9"] for row in EXPORT_ROWS])
    status, said = run_cli(
        capsys, "clean", path, "--mapping", mapping, "--extract-date", EXTRACT_DATE, "--out", tmp_path / "out"
    )
    assert status == cli.EXIT_PROBLEM, said
    assert f"error: {path}: the header names column(s) 'Age' more than once" in said
    assert not (tmp_path / "out").exists()


def test_a_frame_cleaned_in_memory_that_names_a_column_twice_is_refused(tmp_path):
    mapping = tmp_path / "tiny.yaml"
    mapping.write_text(EXPORT_MAPPING)
    export = pd.DataFrame(
        [[*row, "9"] for row in EXPORT_ROWS],
        columns=[*EXPORT_HEADER, " Age"],
    )
    with pytest.raises(ExtractError, match="the export: the header names column\\(s\\) 'Age' more than once"):
        clean_export(export, read_mapping(mapping), EXTRACT_DATE)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_blank_header_cells_are_not_duplicates(tmp_path, suffix):
    """Columns without a name (notes typed beside the table) name nothing, so nothing repeats."""
    header = [*HEADER, "", ""]
    rows = [[*row, "note", "more"] for row in canonical_rows(["15", "12"]).to_numpy().tolist()]
    raw = read_extract_text(write_table(tmp_path / f"blanks{suffix}", header, rows))
    assert list(raw.columns) == [*HEADER, "Unnamed: 7", "Unnamed: 8"]
    assert validate_extract(raw, EXTRACT_DATE).empty


# -- 8. an id far longer than any reference -----------------------------------------------------


@pytest.mark.parametrize(
    "column, value",
    [("Officer", "x" * 1_000_000), ("Officer", "x" * 65), ("Ref", "R" * 65), ("Child", "C" * 1_000_000)],
    ids=["officer_id of 1 MB", "officer_id of 65", "episode_id of 65", "person_id of 1 MB"],
)
def test_a_force_export_with_an_over_long_id_has_that_row_quarantined(tmp_path, column, value):
    mapping = tmp_path / "tiny.yaml"
    mapping.write_text(EXPORT_MAPPING)
    rows = export_rows(300)
    rows[5][EXPORT_HEADER.index(column)] = value
    rows[6][EXPORT_HEADER.index(column)] = "y" * 64  # at the bound: allowed
    path = write_table(tmp_path / "export.csv", EXPORT_HEADER, rows)
    result = clean_export(read_extract_text(path), read_mapping(mapping), EXTRACT_DATE)

    assert len(result.clean) == 299 and result.rows_in == 300
    quarantined = result.quarantine.iloc[0]
    assert (len(result.quarantine), quarantined["source_row"], quarantined["reason_code"]) == (1, 7, "id_too_long")
    assert ID_TOO_LONG in quarantined["reason"]


def test_the_canonical_path_gives_the_same_reason_for_an_over_long_id():
    raw = canonical_rows(["15", "12"]).assign(officer_id=["x" * 1_000_000, "PC1"])
    problems = validate_extract(raw, EXTRACT_DATE)
    assert problems[["column", "row", "problem"]].values.tolist() == [["officer_id", 2, ID_TOO_LONG]]
    quarantine = clean_export(raw, read_mapping(CANONICAL), EXTRACT_DATE).quarantine
    assert quarantine["reason_code"].tolist() == ["id_too_long"]


# -- 9. a zip bomb named .xlsx ------------------------------------------------------------------

MIB = 1024**2


def write_workbook(path, parts):
    """A real one-sheet workbook, with ``parts`` (name: bytes or a count of MiB of zeros) added or replaced."""
    book = openpyxl.Workbook()
    book.active.append(HEADER)
    made = io.BytesIO()
    book.save(made)
    with zipfile.ZipFile(made) as real, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in real.namelist():
            if name not in parts:
                out.writestr(name, real.read(name))
        for name, content in parts.items():
            with out.open(name, "w") as part:  # written a MiB at a time: the test holds no large buffer
                for _ in range(content if isinstance(content, int) else 0):
                    part.write(bytes(MIB))
                part.write(b"" if isinstance(content, int) else content)
    return path


@pytest.fixture()
def forbid_inflating(monkeypatch):
    """Call to fail the test from then on if a workbook is read or any zip part inflated."""

    def refuse(*args, **kwargs):
        raise AssertionError("the workbook was read before it was refused")

    def forbid():
        monkeypatch.setattr(pd, "read_excel", refuse)
        monkeypatch.setattr(zipfile.ZipFile, "open", refuse)
        monkeypatch.setattr(zipfile.ZipFile, "read", refuse)

    return forbid


def test_a_zip_bomb_named_xlsx_is_refused_before_it_is_inflated(tmp_path, capsys, forbid_inflating):
    # 32 MiB of zeros compress to about 32 KiB, a ratio only filler reaches (a sheet compresses ~10 times).
    path = write_workbook(tmp_path / "bomb.xlsx", {"xl/worksheets/sheet1.xml": 32})
    assert path.stat().st_size < MIB
    forbid_inflating()
    tracemalloc.start()
    status, said = run_cli(capsys, "validate", path, "--extract-date", EXTRACT_DATE)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert status == cli.EXIT_PROBLEM, said
    assert f"error: {path}: refused before reading: its part 'xl/worksheets/sheet1.xml' would inflate to 32 MiB" in said
    assert "times its compressed size, as a zip bomb does" in said
    assert peak < 8 * MIB


def test_a_workbook_part_over_the_size_bound_is_refused_unread(tmp_path, monkeypatch, forbid_inflating):
    monkeypatch.setattr(extract, "_MAX_XLSX_PART_BYTES", 1 * MIB)
    path = write_workbook(tmp_path / "large.xlsx", {"xl/media/image1.png": os.urandom(2 * MIB)})  # ratio ~1
    forbid_inflating()
    with pytest.raises(ExtractError, match=r"large.xlsx: refused before reading: its part 'xl/media/image1.png' "
                       r"would inflate to 2 MiB, over the 1 MiB an extract can need"):  # fmt: skip
        read_extract_text(path)


def test_workbook_parts_over_the_total_bound_are_refused_unread(tmp_path, monkeypatch, forbid_inflating):
    monkeypatch.setattr(extract, "_MAX_XLSX_TOTAL_BYTES", 1 * MIB)
    parts = {f"xl/media/image{i}.png": os.urandom(MIB // 2) for i in range(4)}
    path = write_workbook(tmp_path / "many.xlsx", parts)
    forbid_inflating()
    with pytest.raises(
        ExtractError, match=r"many.xlsx: refused before reading: its parts would inflate to 2 MiB in all"
    ):
        read_extract_text(path)


def lie_about_first_part_size(archive: bytes, size: int) -> bytes:
    """The archive with its first part's declared size cut to ``size`` bytes and its CRC made to match."""
    with zipfile.ZipFile(io.BytesIO(archive)) as read:
        part = read.infolist()[0]
        crc = zipfile.crc32(read.read(part)[:size])
    patched = bytearray(archive)
    local, central = 0, archive.index(b"PK\x01\x02")  # the first local and central headers are the first part's
    for offset, crc_at, size_at in ((local, 14, 22), (central, 16, 24)):
        patched[offset + crc_at : offset + crc_at + 4] = crc.to_bytes(4, "little")
        patched[offset + size_at : offset + size_at + 4] = size.to_bytes(4, "little")
    return bytes(patched)


def test_a_part_whose_stream_runs_past_its_declared_size_is_cut_at_that_size():
    """The Excel reader inflates parts itself; it is handed them already inflated, within the checked sizes."""
    made = io.BytesIO()
    with zipfile.ZipFile(made, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", bytes(8 * MIB))  # 8 MiB of zeros, declared as 1 KiB
    crafted = lie_about_first_part_size(made.getvalue(), 1024)
    declared = zipfile.ZipFile(io.BytesIO(crafted)).infolist()[0].file_size
    with zipfile.ZipFile(io.BytesIO(extract._repack_workbook(crafted))) as repacked:
        part = repacked.infolist()[0]
        assert (declared, part.file_size, part.compress_type) == (1024, 1024, zipfile.ZIP_STORED)


def test_typed_excel_cells_read_as_the_text_openpyxl_gave(tmp_path):
    """Numbers, dates, times, booleans and blanks: the fast reader gives cleaning the text the old one did."""
    import datetime as dt

    book = openpyxl.Workbook()
    rows = [
        ["n", "x", "when", "day", "time", "flag", "text"],
        [1, 2.5, dt.datetime(2023, 1, 5, 13, 45), dt.date(2023, 2, 1), dt.time(10, 30), True, "a"],
        [None, 3.0, None, "2023-01-01", None, False, ""],
    ]
    for row in rows:
        book.active.append(row)
    path = tmp_path / "typed.xlsx"
    book.save(path)
    old = extract._as_text(pd.read_excel(path, header=None, dtype=object, engine="openpyxl").iloc[1:])
    new = read_extract_text(path)
    assert new.to_dict("list") == dict(zip(rows[0], old.T.to_numpy().tolist(), strict=True))
    assert new.iloc[0].tolist() == ["1", "2.5", "2023-01-05T13:45:00", "2023-02-01T00:00:00", "1900-01-01T10:30:00",
                                    "True", "a"]  # fmt: skip


def test_a_real_workbook_is_well_within_the_bounds(tmp_path):
    """Even a sheet of one row repeated compresses about 14 times: cell references differ on every row."""
    rows = canonical_rows([str(age % 18) for age in range(2000)])
    path = write_table(tmp_path / "real.xlsx", list(rows.columns), rows.to_numpy().tolist())
    sheet = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
    assert sheet.file_size / sheet.compress_size < extract._MAX_XLSX_RATIO / 5
    assert read_extract_text(path).shape == (2000, len(HEADER))


def zip_of(parts):
    """A zip archive in memory holding ``parts`` (name: text)."""
    made = io.BytesIO()
    with zipfile.ZipFile(made, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return made.getvalue()


@pytest.mark.parametrize(
    "parts, message",
    [
        ({"extract.csv": "force_code\n"}, "x.xlsx: a zip archive, not an Excel workbook; unzip it"),
        ({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w/>"}, "no valid workbook part"),
        (
            {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook"},
            "x.xlsx: not a readable Excel workbook (its workbook part, xl/workbook.xml, is missing or damaged)",
        ),
    ],
    ids=["plain zip", "a document, not a workbook", "broken XML"],
)
def test_a_zip_that_is_not_a_workbook_is_called_so(parts, message):
    with pytest.raises(ExtractError, match=re.escape(message)):
        read_extract_text(io.BytesIO(zip_of(parts)), name="x.xlsx")


# -- 14. text that is not UTF-8 -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("suffix", [".csv", ".txt"])
def test_a_utf16_csv_is_called_utf16_and_told_to_save_as_utf8(tmp_path, capsys, encoding, suffix):
    path = tmp_path / f"excel{suffix}"
    path.write_bytes(canonical_rows(["15", "12"]).to_csv(index=False).encode(encoding))  # utf-16: with a BOM
    status, said = run_cli(capsys, "validate", path, "--extract-date", EXTRACT_DATE)
    assert status == cli.EXIT_PROBLEM, said
    assert f"error: {path}: the file is UTF-16 text, not UTF-8; save it as CSV UTF-8" in said
    assert "binary" not in said


def test_a_utf16_file_named_parquet_is_called_utf16_text():
    with pytest.raises(ExtractError, match="x.parquet: the name says parquet but the content is UTF-16 text"):
        read_extract_text(io.BytesIO("force_code,age\n".encode("utf-16")), name="x.parquet")


def test_binary_data_is_still_called_binary():
    with pytest.raises(ExtractError, match="x.csv: the name says csv but the content is binary data"):
        read_extract_text(io.BytesIO(bytes(range(256)) * 4), name="x.csv")
