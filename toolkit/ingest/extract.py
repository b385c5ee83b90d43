"""Read an episode extract (CSV, Parquet or Excel) and check it against the contract.

Reading is in two steps, so that a problem is always reported against the
value the user can see in their file:

1. :func:`read_extract_text` reads the file into a frame of strings (blanks as
   ``""``), refusing files that are not what their name says, empty, or not
   UTF-8.
2. :func:`validate_extract` checks it with the pandera schemas in
   :mod:`toolkit.ingest.schema` and returns every problem as one table; the typed
   table comes from :func:`to_episodes`.

:func:`load_extract` does both and raises :class:`~toolkit.errors.ValidationError`
with the problem table when the file breaks the contract.

Examples
--------
>>> import io
>>> text = (
...     "force_code,episode_id,person_id,reported_at,age,category,risk_initial\\n"
...     "E23000014,WM-1,P1,2024-03-05T21:40:00,15,missing,medium\\n"
...     "E23000099,WM-2,P2,05/03/2024,19,absent,high\\n"
... )
>>> raw = read_extract_text(io.BytesIO(text.encode()), name="demo.csv")
>>> problems = validate_extract(raw, extract_date="2025-01-31")
>>> print(problems[["column", "row", "value"]].to_string(index=False))
      column  row      value
  force_code    3  E23000099
 reported_at    3 05/03/2024
         age    3         19
risk_initial    3       high
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import ParseError

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
import pyarrow.parquet as pq
from python_calamine import CalamineError

from toolkit.errors import ExtractError, ValidationError
from toolkit.ingest.schema import (
    CHECK_COLUMNS,
    CODES,
    COLUMNS,
    DATETIME_COLUMNS,
    MAX_AGE,
    MIN_AGE,
    REQUIRED_COLUMNS,
    build_episode_schema,
    build_text_schema,
    parse_whole_numbers,
)

__all__ = [
    "PROBLEM_COLUMNS",
    "READERS",
    "read_extract_text",
    "refuse_duplicate_headers",
    "validate_extract",
    "to_episodes",
    "load_extract",
    "format_problems",
]

PROBLEM_COLUMNS = ["column", "row", "value", "problem"]

# What each kind of file must start with (its "magic" bytes).
_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # little- and big-endian byte-order marks
# What a sniffed kind of content is called when it is not what the file's name says.
_CONTENT_NAMES = {"parquet": "a Parquet file", "xlsx": "an Excel workbook or zip archive", "utf16": "UTF-16 text"}
READERS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "pipes"}
# Bounds on a workbook, checked against the sizes its zip directory declares, before any part is
# inflated (zipfile stops a part at its declared size, so no part can inflate past what is checked).
# A national year of episodes (about 180,000) written by openpyxl is one sheet of about 230 MB,
# compressed about 10 to 1; a zip bomb's filler (zeros) compresses 1,000 to 1.
_MAX_XLSX_PART_BYTES = 512 * 1024**2  # two national years in one sheet
_MAX_XLSX_TOTAL_BYTES = 1024**3  # all parts together, so that many parts cannot add up past one
_MAX_XLSX_RATIO = 100  # ten times what a sheet of episodes compresses by
_XLSX_RATIO_FROM_BYTES = 16 * 1024**2  # a smaller part cannot exhaust memory, whatever its ratio


def _looks_like_utf16(head: bytes) -> bool:
    """Whether the start of a file is UTF-16 text: a byte-order mark, or a NUL byte in every other position.

    Without a mark, UTF-16 gives each Latin letter a NUL byte, always on the same
    side of it (odd positions little-endian, even big-endian); other binary data
    puts its NUL bytes anywhere.

    Examples
    --------
    >>> _looks_like_utf16("force_code,age\\n".encode("utf-16")), _looks_like_utf16("force_code".encode("utf-16-be"))
    (True, True)
    >>> _looks_like_utf16(b"force_code,age\\n"), _looks_like_utf16(bytes(64))
    (False, False)
    """
    if head.startswith(_UTF16_BOMS):
        return True
    pairs = len(head) // 2
    if pairs < 4:
        return False
    shares = sorted(head[side : 2 * pairs : 2].count(0) / pairs for side in (0, 1))
    return shares[0] < 0.1 and shares[1] > 0.5


def _sniff_kind(head: bytes) -> str | None:
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.startswith(_ZIP_MAGIC):
        return "xlsx"
    if _looks_like_utf16(head):
        return "utf16"
    if b"\x00" in head:
        return "binary"
    return None


def _datetime_text(values: pd.Series) -> pd.Series:
    """Timestamps as ``YYYY-MM-DDTHH:MM:SS`` text (fractions of a second dropped), blanks as ``""``."""
    if values.dt.tz is not None:  # rare: keep the wall-clock time in the file's own zone
        text = values.dt.strftime("%Y-%m-%dT%H:%M:%S")
        return text.where(values.notna(), "").astype("str")
    # Formatted in C, without a Python string per timestamp: a third of the memory of reading an extract.
    text = pyarrow.array(np.datetime_as_string(values.to_numpy("datetime64[s]"), unit="s"))
    text = pc.if_else(pc.equal(text, "NaT"), "", text)
    return pd.Series(text.to_pandas(), index=values.index, dtype="str")


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn a typed frame (Parquet, Excel) into the all-text form CSV gives."""
    out = {}
    for name, values in frame.items():
        if pd.api.types.is_datetime64_any_dtype(values):
            out[str(name)] = _datetime_text(values)
            continue
        if values.dtype == object:
            # Excel cells of one column can mix numbers, text and timestamps.
            values = values.map(
                lambda v: (
                    v.strftime("%Y-%m-%dT%H:%M:%S")
                    if isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "strftime")
                    else v
                )
            )
        if pd.api.types.is_float_dtype(values) or values.dtype == object:
            values = values.map(lambda v: str(int(v)) if isinstance(v, float) and np.isfinite(v) and v == int(v) else v)
        # Text stays in Arrow-backed strings: no Python object per cell.
        out[str(name)] = values.astype("string").fillna("").astype("str")
    return pd.DataFrame(out, index=frame.index)


def refuse_duplicate_headers(headers: list, label: str) -> None:
    """Refuse a header that names a column more than once.

    Readers keep one copy of a repeated name and rename or drop the others
    (pandas reads a second ``age`` as ``age.1``), so the file would be judged
    on half its values. Names are compared without surrounding spaces, as a
    mapping matches them; blank names name nothing and are not compared.

    Parameters
    ----------
    headers : list
        The column names as the file gives them.
    label : str
        The file, to name in the message.

    Raises
    ------
    ExtractError
        Naming every repeated column.

    Examples
    --------
    >>> refuse_duplicate_headers(["age", "sex", "", ""], "x.csv")
    >>> refuse_duplicate_headers(["age", "sex", "age ", "sex"], "x.csv")
    Traceback (most recent call last):
    ...
    toolkit.errors.ExtractError: x.csv: the header names column(s) 'age', 'sex' more than once; ...
    """
    counts = Counter(str(h).strip() for h in headers)  # counted once: a hostile header may have 100,000 names
    repeated = sorted(name for name, count in counts.items() if name and count > 1)
    if repeated:
        raise ExtractError(
            f"{label}: the header names column(s) {', '.join(map(repr, repeated))} more than once; "
            "give every column its own name, or the values of all but one copy would be ignored"
        )


def _read_csv_header(text: str) -> list[str]:
    """The header's fields as a CSV reader splits them: the first record that is not a blank line."""
    # Lines one at a time, so the header of a large file is read without splitting all of it.
    lines = (match.group() for match in re.finditer(r"[^\n]*\n?", text))
    return next((row for row in csv.reader(lines) if row), [])


def read_extract_text(source: str | Path | IO[bytes], name: str | None = None, sheet: str | int = 0) -> pd.DataFrame:
    """Read an extract file into a frame of strings, blanks as ``""``.

    Parameters
    ----------
    source : path-like or binary file object
        The extract. Its kind comes from the file name's ending
        (``.csv``, ``.parquet``, ``.xlsx``) and is checked against its content.
    name : str, optional
        The file name, when ``source`` is a file object.
    sheet : str or int, default 0
        For Excel, the sheet to read (the first unless told).

    Returns
    -------
    pandas.DataFrame
        Columns as in the file's header, every value a string, a fresh
        ``RangeIndex`` in file order.

    Raises
    ------
    ExtractError
        The file is missing, empty, of an unsupported kind, not what its name
        says, not UTF-8 text (UTF-16 is named as such), split by another
        delimiter, names a column twice, or has no rows; or a workbook would
        inflate past sane bounds (a zip bomb), refused before it is read.
    """
    label = name or (str(source) if isinstance(source, (str, Path)) else "extract")
    suffix = Path(label).suffix.lower()
    kind = READERS.get(suffix)
    if kind is None:
        raise ExtractError(
            f"{label}: unsupported file type {suffix or '(no extension)'!r}; give a .csv, .parquet or .xlsx extract"
        )
    try:
        data = Path(source).read_bytes() if isinstance(source, (str, Path)) else source.read()
    except FileNotFoundError:
        raise ExtractError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ExtractError(f"{label}: is a folder, not an extract file") from None
    except OSError as error:
        raise ExtractError(f"{label}: cannot be read ({error.strerror})") from None
    if not data.strip():
        raise ExtractError(f"{label}: the file is empty")
    sniffed = _sniff_kind(data[:8192])
    if sniffed == "utf16" and kind == "csv":
        raise ExtractError(f"{label}: the file is UTF-16 text, not UTF-8; save it as CSV UTF-8")
    if sniffed == "binary" or (sniffed and sniffed != kind):
        what = _CONTENT_NAMES.get(sniffed, "binary data")
        raise ExtractError(f"{label}: the name says {kind} but the content is {what}")
    if kind == "csv":
        frame = _read_csv_text(data, label)
    elif kind == "parquet":
        frame = _read_parquet_text(data, label)
    else:
        frame = _read_xlsx_text(data, label, sheet)
    if frame.empty:
        raise ExtractError(f"{label}: the file has a header but no episodes")
    frame.columns = [str(c) for c in frame.columns]
    return frame.astype(str).reset_index(drop=True)  # one text dtype, whatever the reader


def _read_csv_text(data: bytes, label: str) -> pd.DataFrame:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ExtractError(f"{label}: not UTF-8 text (byte {error.start}, line {line}); save it as CSV UTF-8") from None
    header = text.splitlines()[0] if text else ""
    if "," not in header:
        found = [word for sep, word in _OTHER_DELIMITERS.items() if sep in header]
        if found:
            raise ExtractError(
                f"{label}: the header is separated by {found[0]}, not commas; save the extract as comma-separated CSV"
            )
    refuse_duplicate_headers(_read_csv_header(text), label)
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=True)
    except pd.errors.ParserError as error:
        raise ExtractError(f"{label}: not a well-formed CSV file ({error})") from None


def _read_parquet_text(data: bytes, label: str) -> pd.DataFrame:
    try:
        # The schema (the file's footer) first: pandas cannot read a file that repeats a name.
        refuse_duplicate_headers(pq.read_schema(io.BytesIO(data)).names, label)
        frame = pd.read_parquet(io.BytesIO(data))
    except ExtractError:
        raise
    except Exception as error:  # pyarrow raises many types for corrupt files
        raise ExtractError(f"{label}: not a readable Parquet file ({type(error).__name__})") from None
    return _as_text(frame)


def _check_workbook_archive(data: bytes, label: str) -> None:
    """Refuse a file that is not an Excel workbook's zip package, or whose parts would inflate past the bounds.

    Only the zip directory is read: nothing is inflated.

    Raises
    ------
    ExtractError
        The zip archive is damaged, is not an Excel workbook, or declares a
        part or a total too large or too highly compressed.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise ExtractError(f"{label}: not a readable Excel workbook (the zip archive is damaged)") from None
    names = {part.filename for part in parts}
    if "[Content_Types].xml" not in names:  # every Office Open XML package has one
        raise ExtractError(
            f"{label}: a zip archive, not an Excel workbook; unzip it, or save the extract from Excel "
            "as Excel Workbook (.xlsx) or CSV UTF-8"
        )
    if not any(name.startswith("xl/") for name in names):  # a Word or PowerPoint package has word/ or ppt/
        raise ExtractError(
            f"{label}: an Office document with no valid workbook part (no xl/ folder), not an Excel workbook; "
            "save the extract from Excel as Excel Workbook (.xlsx) or CSV UTF-8"
        )
    mib = 1024**2
    for part in parts:
        name = part.filename[:100]  # a name from the file: shown short
        inflated = (
            f"{label}: refused before reading: its part {name!r} would inflate to {part.file_size / mib:,.0f} MiB"
        )
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > _MAX_XLSX_PART_BYTES:
            raise ExtractError(
                f"{inflated}, over the {_MAX_XLSX_PART_BYTES // mib} MiB an extract can need; "
                "split the extract, or save it as CSV UTF-8"
            )
        if part.file_size > _XLSX_RATIO_FROM_BYTES and ratio > _MAX_XLSX_RATIO:
            raise ExtractError(
                f"{inflated}, {ratio:,.0f} times its compressed size, as a zip bomb does "
                "(a sheet of episodes compresses about 10 times)"
            )
    total = sum(part.file_size for part in parts)
    if total > _MAX_XLSX_TOTAL_BYTES:
        raise ExtractError(
            f"{label}: refused before reading: its parts would inflate to {total / mib:,.0f} MiB in all, over the "
            f"{_MAX_XLSX_TOTAL_BYTES // mib} MiB an extract can need; split the extract, or save it as CSV UTF-8"
        )


def _repack_workbook(data: bytes) -> bytes:
    """The workbook's parts, inflated by zipfile and stored again uncompressed.

    zipfile stops each part at the size the zip directory declares (the size
    already checked) and checks its CRC; the Excel reader then gets parts it
    cannot inflate any further, whatever a crafted archive's streams hold.

    Examples
    --------
    >>> made = io.BytesIO()
    >>> with zipfile.ZipFile(made, "w", zipfile.ZIP_DEFLATED) as archive:
    ...     archive.writestr("xl/workbook.xml", "<workbook/>")
    >>> with zipfile.ZipFile(io.BytesIO(_repack_workbook(made.getvalue()))) as archive:
    ...     [(part.filename, part.compress_type == zipfile.ZIP_STORED) for part in archive.infolist()]
    [('xl/workbook.xml', True)]
    """
    stored = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as archive, zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as out:
        for part in archive.infolist():
            out.writestr(part.filename, archive.read(part))
    return stored.getvalue()


def _read_xlsx_text(data: bytes, label: str, sheet: str | int) -> pd.DataFrame:
    _check_workbook_archive(data, label)
    try:
        # calamine (Rust) reads the cells openpyxl reads, as the same Python values, about nine
        # times faster (a 5,000-row sheet in 0.4 s, not 3.6 s), but inflates parts itself, so it
        # is given them already inflated, within the checked sizes.
        workbook = io.BytesIO(_repack_workbook(data))
        # The header is read as a row, not by pandas, which would rename a repeated name ("age.1").
        cells = pd.read_excel(workbook, sheet_name=sheet, header=None, dtype=object, engine="calamine")
    except (CalamineError, zipfile.BadZipFile, KeyError, ValueError, OSError, ParseError) as error:
        # What is missing or broken, on one short line: a part's name comes from the file and may be long.
        reason = " ".join(str(error).strip("\"'").split())[:200] or type(error).__name__
        if reason == "Cannot detect file format":  # calamine's words when it cannot parse the workbook part
            reason = "its workbook part, xl/workbook.xml, is missing or damaged"
        raise ExtractError(f"{label}: not a readable Excel workbook ({reason})") from None
    header = cells.iloc[0].tolist() if len(cells) else []
    refuse_duplicate_headers(["" if pd.isna(name) else name for name in header], label)
    frame = cells.iloc[1:]
    # Blank header cells are named as pandas names them.
    frame.columns = [f"Unnamed: {i}" if pd.isna(name) else str(name) for i, name in enumerate(header)]
    return _as_text(frame)


def _problem_rows(failure_cases: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    cases = failure_cases.copy()
    # pandera reports a check across columns once per column; keep the one it concerns.
    frame_level = (cases["schema_context"] == "DataFrameSchema") & cases["check_number"].notna()
    rule = cases["check_number"].where(frame_level).map(lambda n: schema.checks[int(n)].name if pd.notna(n) else None)
    target = rule.map(CHECK_COLUMNS)
    cases = cases[~frame_level | (cases["column"] == target)]
    problem = cases["check"].astype(str)
    problem = problem.mask(problem == "column_in_dataframe", "required column is missing")
    problem = problem.mask(problem == "not_nullable", "value is required but empty")
    is_missing = cases["check"] == "column_in_dataframe"
    column = cases["column"].where(cases["column"].notna() & ~is_missing, cases["failure_case"])
    rows = pd.to_numeric(cases["index"], errors="coerce") + 2  # header is row 1
    return pd.DataFrame(
        {
            "column": column.astype(str).to_numpy(),
            "row": rows.astype("Int64").to_numpy(),
            "value": cases["failure_case"].where(~is_missing, "").astype(str).to_numpy(),
            "problem": problem.to_numpy(),
        }
    )


def validate_extract(raw: pd.DataFrame, extract_date: date | str) -> pd.DataFrame:
    """Check an all-text extract against the contract and return every problem.

    Parameters
    ----------
    raw : pandas.DataFrame
        As returned by :func:`read_extract_text`.
    extract_date : date or str
        The date the data were taken.

    Returns
    -------
    pandas.DataFrame
        One row per problem with columns ``column``, ``row`` (as a spreadsheet
        numbers it: the header is row 1), ``value`` and ``problem``; empty when
        the extract meets the contract. Sorted by row, then column order.
    """
    problems = []
    text_schema = build_text_schema()
    try:
        text_schema.validate(raw, lazy=True)
    except pa.errors.SchemaErrors as errors:
        problems.append(_problem_rows(errors.failure_cases, text_schema))
    missing_required = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if not missing_required:
        # Values that failed as text become missing here, so they pass these checks:
        # each problem is reported once, and every row is still checked across columns.
        episodes = to_episodes(raw)
        episode_schema = build_episode_schema(extract_date)
        try:
            episode_schema.validate(episodes, lazy=True)
        except pa.errors.SchemaErrors as errors:
            cross = _problem_rows(errors.failure_cases, episode_schema)
            # Report the value as it was written in the file.
            positions = cross["row"].astype(int) - 2
            cross["value"] = [raw.at[i, c] for i, c in zip(positions, cross["column"], strict=True)]
            problems.append(cross)
    if not problems:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
    table = pd.concat(problems, ignore_index=True)
    order = {name: i for i, name in enumerate(COLUMNS)}
    table["_order"] = table["column"].map(order).fillna(len(order))
    table = table.sort_values(["row", "_order"], na_position="first", kind="stable")
    return table.drop(columns="_order").drop_duplicates().reset_index(drop=True)


def to_episodes(raw: pd.DataFrame) -> pd.DataFrame:
    """Type an all-text extract: dates, ages, codes as categories.

    Values that do not parse become missing, as do ages outside 0 to 17
    (validate first to see them).
    Optional columns absent from the file are added, empty. Extra columns
    are dropped: only the contract's columns are analysed.

    Parameters
    ----------
    raw : pandas.DataFrame
        All-text frame as read by :func:`read_extract_text`.

    Returns
    -------
    pandas.DataFrame
        The canonical episode table, columns in contract order.

    Examples
    --------
    >>> raw = pd.DataFrame({"force_code": ["E23000014"], "episode_id": ["a"], "person_id": ["p"],
    ...                     "reported_at": ["2024-03-05T21:40"], "age": ["15"],
    ...                     "category": ["missing"], "risk_initial": ["low"]})
    >>> episodes = to_episodes(raw)
    >>> episodes.loc[0, "reported_at"], int(episodes.loc[0, "age"]), episodes["returned_at"].isna().all()
    (Timestamp('2024-03-05 21:40:00'), 15, np.True_)
    """
    out = {}
    n = len(raw)
    for name in COLUMNS:
        values = raw[name] if name in raw.columns else pd.Series([""] * n, index=raw.index)
        if name in DATETIME_COLUMNS and pd.api.types.is_datetime64_any_dtype(values):
            out[name] = values.astype("datetime64[s]")  # already parsed (by the cleaning)
            continue
        values = values.astype(str).replace("", np.nan)
        if name in DATETIME_COLUMNS:
            out[name] = pd.to_datetime(values, format="ISO8601", errors="coerce").astype("datetime64[s]")
        elif name == "age":
            # An age outside the contract's range (128, 1e3) is missing like any other bad age,
            # never a failed cast to Int8: validation reports it from the text.
            number = parse_whole_numbers(values)
            out[name] = number.where(number.between(MIN_AGE, MAX_AGE)).astype("Int8")
        elif name in CODES:
            allowed = list(CODES[name])
            out[name] = pd.Categorical(values.where(values.isin(allowed)), categories=allowed)
        else:
            out[name] = values.astype("string")
    return pd.DataFrame(out, index=raw.index)


def format_problems(problems: pd.DataFrame, limit: int = 50) -> str:
    """Format the problem table for a terminal, with a count of what is not shown.

    Examples
    --------
    >>> table = pd.DataFrame({"column": ["age"], "row": [3], "value": ["19"],
    ...                       "problem": ["age must be a whole number from 0 to 17"]})
    >>> print(format_problems(table))
    column row value                                 problem
       age   3    19 age must be a whole number from 0 to 17
    """
    shown = problems.head(limit).copy()
    shown["row"] = shown["row"].astype("string").fillna("-")
    # Values come from an untrusted file: show them printable and short.
    shown["value"] = shown["value"].map(lambda v: repr(v)[1:-1][:40])
    text = shown.to_string(index=False)
    if len(problems) > limit:
        text += f"\n... and {len(problems) - limit} more problems"
    return text


def load_extract(source: str | Path, extract_date: date | str, sheet: str | int = 0) -> pd.DataFrame:
    """Read, validate and type an extract; refuse it if it breaks the contract.

    Parameters
    ----------
    source : path-like
        A ``.csv``, ``.parquet`` or ``.xlsx`` extract in the canonical form.
    extract_date : date or str
        The date the data were taken.
    sheet : str or int, default 0
        For Excel, the sheet to read.

    Returns
    -------
    pandas.DataFrame
        The typed canonical episode table.

    Raises
    ------
    ExtractError
        The file cannot be read.
    ValidationError
        The file breaks the contract; ``.problems`` holds every problem.
    """
    raw = read_extract_text(source, sheet=sheet)
    problems = validate_extract(raw, extract_date)
    if not problems.empty:
        rows = problems["row"].dropna().nunique()
        raise ValidationError(
            f"{source}: {len(problems)} problem(s) in {rows} row(s) break the extract contract",
            problems,
        )
    return to_episodes(raw)
