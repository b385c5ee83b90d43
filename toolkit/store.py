"""The work folder, every file a run prepares named once and written atomically; and the national store.

A run leaves its clean episodes, the cleaning logs, every prepared statistics
table, the findings and the run parameters in one folder (default
``data/processed``); report notebooks read them back in their own kernels, and
researchers open them in JupyterLab. The folder holds pseudonymised
record-level data: it is never published and never committed.

:class:`WorkFolder` is the one owner of that folder's files: nothing else names
one. A prepared table ``name`` is always ``name.parquet``; the other files are
declared in :data:`FILES`; the executed notebooks go in :attr:`WorkFolder.executed`,
named by the force they are about. Every write
goes through a temporary file in the same folder and a rename, so a reader
sees the old file or the whole new one, never a part.

Examples
--------
>>> import tempfile, pandas as pd
>>> work = WorkFolder(tempfile.mkdtemp())
>>> work.write_table("repeats", pd.DataFrame({"force_code": ["E23000014"], "episodes": [3]}))
>>> work.read_table("repeats")["episodes"].tolist(), work.file("repeats").name
([3], 'repeats.parquet')
>>> try:
...     work.require(["repeats", "findings"])
... except ToolkitError as error:
...     print(str(error).split("(")[1].split(")")[0])
findings.json missing

The national store
------------------
:class:`NationalStore` is the system of record across runs: one DuckDB file
(default ``data/store.duckdb``; embedded, no server) holding every load of
every force's exports, declared in :data:`TABLES` beside :data:`FILES`. Each
row of a load's tables carries the load it came from, and nothing is ever
deleted: a new export for a force and months already loaded supersedes the
earlier load for those months only, and a read *as at* a moment sees the store
as it stood then. For each (force, calendar month) the effective load as at
``T`` is the latest load made at or before ``T`` that covers that month; an
episode belongs to the month of its ``reported_at``. Cleaning and loading an
export is :mod:`toolkit.ingest.load`, above this module.

>>> Period.parse("2024-03..2024-05").months()[-1], str(Period.parse("2024"))
(datetime.date(2024, 5, 1), '2024-01..2024-12')
>>> parse_as_at("2025-02-01"), parse_as_at("2025-02-01T10:30+01:00")
(datetime.datetime(2025, 2, 1, 23, 59, 59, 999999), datetime.datetime(2025, 2, 1, 9, 30))
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.config import DATA_DIR
from toolkit.errors import ToolkitError
from toolkit.folders import staged_folders
from toolkit.forces import list_forces

__all__ = [
    "DEFAULT_STORE",
    "FILES",
    "LOAD_ROWS",
    "TABLES",
    "NationalStore",
    "Period",
    "StoreRead",
    "StoreTable",
    "WorkFolder",
    "describe_months",
    "file_sha256",
    "format_json",
    "format_status",
    "format_moment",
    "neutralise_formulas",
    "parse_as_at",
    "write_atomically",
    "write_csv_for_people",
]

# The files of the work folder that are not prepared statistics tables: name -> file.
FILES = {
    "episodes": "episodes.parquet",  # the clean episodes, typed as the contract says
    "quarantine": "quarantine.csv",  # rows set aside, each with a reason code and a sentence
    "changes": "changes.csv",  # every corrected value: row, column, before, after, rule
    "translations": "translations.csv",  # what the mapping translated, counted per spelling
    "merged": "merged.csv",  # exact duplicate rows and the row each was merged into
    "cleaning_counts": "cleaning.json",  # rows in, clean, quarantined (by reason) and merged
    "findings": "findings.json",  # every force's findings, before disclosure control
    "history": "history.json",  # what became of a previous run's findings (empty without --previous)
    "run": "run_parameters.json",  # the parameters of the run that prepared the folder
    "provenance": "run.json",  # the run's full provenance, counts included (the published run.json has none)
    # Linkage of children across forces, once a run (toolkit.runner.link_national_children): the national tables
    "distinct_children": "distinct_children.parquet",  # one England and Wales row: distinct children, interval
    "cross_border": "cross_border.parquet",  # per force: its children missing in another force too, or placed
    # and the record-level results, person ids and tokens: never published
    "linkage_children": "linkage_children.parquet",  # one row per force's child, its most frequent tokens
    "linkage_clusters": "linkage_clusters.parquet",  # every force's child and its national child id
    "linkage_predictions": "linkage_predictions.parquet",  # candidate links with their match probabilities
    "linkage_model": "linkage_model.json",  # Splink's trained model (settings, every m and u)
}
EXECUTED = "_executed"  # executed notebooks, kept for inspecting a failed force
_TABLE_NAME = re.compile(r"[a-z][a-z0-9_]*")


def write_atomically(path: Path, content: str | bytes) -> None:
    """Write text (UTF-8) or bytes to ``path`` through a temporary file in the same folder, then rename.

    Readers see the old file or the whole new one, never a part.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "index.html"
    >>> write_atomically(target, "<p>ok</p>"); target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('<p>ok</p>', ['index.html'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; reports are for reading
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def format_json(value) -> str:
    """Strict JSON, as every JSON file the toolkit writes: no bare ``NaN`` or ``Infinity``, which JSON lacks.

    Dates and other values become text. A non-finite number is a fault upstream, refused here rather
    than written as a file other programs cannot read.

    Examples
    --------
    >>> print(format_json({"a": 1}), end="")
    {
      "a": 1
    }
    >>> try:
    ...     format_json({"threshold": float("nan")})
    ... except ValueError as error:
    ...     print(str(error).split(":")[0])
    Out of range float values are not JSON compliant
    """
    return json.dumps(value, indent=2, default=str, allow_nan=False) + "\n"


# A cell a spreadsheet would run as a formula starts with one of these (OWASP, "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'`` so that it shows them as text.

    For the CSV files people open in a spreadsheet to inspect bad rows: their
    values come from the input, and ``=HYPERLINK(...)`` or ``+cmd|' /C calc'!A0``
    would otherwise run when the file is opened. A plain signed number
    (``-1``) is left as it is.

    Examples
    --------
    >>> t = pd.DataFrame({"value": ["=HYPERLINK(1)", "@SUM(1)", "-1", "ok"], "row": [2, 3, 4, 5]})
    >>> neutralise_formulas(t)["value"].tolist()
    ["'=HYPERLINK(1)", "'@SUM(1)", '-1', 'ok']
    """
    out = table.copy()
    for column in out.columns:
        if out[column].dtype != object and not pd.api.types.is_string_dtype(out[column]):
            continue  # numbers and dates cannot start a formula
        text = out[column].astype("string")
        risky = text.str.startswith(_FORMULA_STARTS).fillna(False) & ~text.str.fullmatch(_PLAIN_NUMBER).fillna(False)
        if risky.any():
            out[column] = out[column].astype(object)
            out.loc[risky, column] = "'" + text[risky].astype(object)
    return out


def write_csv_for_people(path: Path, table: pd.DataFrame) -> None:
    """Write a CSV file meant to be opened in a spreadsheet, formulas neutralised, atomically."""
    write_atomically(path, neutralise_formulas(table).to_csv(index=False))


class WorkFolder:
    """One run's work folder: prepared tables (Parquet), the cleaning logs, findings and parameters.

    Parameters
    ----------
    path : path-like
        The folder; made on the first write.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"WorkFolder({str(self.path)!r})"

    @property
    def executed(self) -> Path:
        """Where executed notebooks are kept."""
        return self.path / EXECUTED

    def file(self, name: str) -> Path:
        """The path of a declared file (:data:`FILES`) or of the prepared table ``name``.

        Raises
        ------
        ToolkitError
            ``name`` is neither (a table name is lower-case letters, digits and ``_``).
        """
        if name in FILES:
            return self.path / FILES[name]
        if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
            raise ToolkitError(f"{name!r} is not a prepared table of the work folder")
        return self.path / f"{name}.parquet"

    def require(self, names: Iterable[str]) -> None:
        """Check that the folder holds every named file; one message lists what is missing."""
        missing = [self.file(name).name for name in names if not self.file(name).is_file()]
        if missing:
            raise ToolkitError(
                f"{self.path} does not hold the prepared tables ({', '.join(missing)} missing); "
                "run `python -m toolkit run` first"
            )

    def write_table(self, name: str, table: pd.DataFrame) -> None:
        """Write a table as Parquet (without its index), atomically."""
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        write_atomically(self.file(name), buffer.getvalue())

    def read_table(self, name: str) -> pd.DataFrame:
        """Read a Parquet table of the folder."""
        return pd.read_parquet(self.file(name))

    def write_csv(self, name: str, table: pd.DataFrame) -> None:
        """Write a declared CSV file (a cleaning log, which people open in a spreadsheet), atomically."""
        write_csv_for_people(self.file(name), table)

    def write_json(self, name: str, value) -> None:
        """Write a declared JSON file, atomically: strict JSON (:func:`format_json`)."""
        write_atomically(self.file(name), format_json(value))

    def read_json(self, name: str):
        """Read a declared JSON file."""
        return json.loads(self.file(name).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------------------------------------
# The national store: every load of every force's exports, in one DuckDB file.

DEFAULT_STORE = DATA_DIR / "store.duckdb"  # record-level data: never committed (.gitignore), never published
WAIT_SECONDS = 30.0  # how long a command waits for another process to finish with the store before it refuses
# Test-only: names a file that a load writes, then waits for, inside its transaction (see _pause_for_tests).
PAUSE_FOR_TESTS = "TOOLKIT_STORE_TEST_PAUSE"
# DuckDB may fetch an extension it lacks when a query needs one; the store uses only what is built in, and says so.
_DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


@dataclass(frozen=True)
class StoreTable:
    """A table of the national store: what it holds and its columns (name -> DuckDB type), in order.

    ``clean_table`` marks the table whose columns go on with those of the clean table cleaning makes
    (``source_row``, the contract's columns, ``duration_hours``). The contract is the ingest stage's
    (:mod:`toolkit.ingest.schema`), above this module, so those columns are given by it when a store is
    made (:meth:`NationalStore.open`), never written out here a second time.
    """

    holds: str
    columns: dict[str, str]
    clean_table: bool = False


# The tables of the national store: name -> declaration. Every row of a load's tables carries its load_id; where a
# row belongs to a (force, month) its `month` (the first day of the month) says which, and a blank month marks a row
# of the load as a whole (a row set aside with no known force or readable month in the load's period).
TABLES = {
    "loads": StoreTable(
        "one row per load: the file and its SHA-256, the mapping, extract date, forces and period, rows, version, time",
        {
            "load_id": "INTEGER PRIMARY KEY",
            "loaded_at": "TIMESTAMP NOT NULL",  # UTC; later than every earlier load's
            "file": "VARCHAR NOT NULL",  # as it was given to `load`
            "sha256": "VARCHAR NOT NULL UNIQUE",  # a file is loaded once
            "mapping": "VARCHAR NOT NULL",  # the mapping's name
            "mapping_sha256": "VARCHAR NOT NULL",
            "extract_date": "DATE NOT NULL",
            "forces": "VARCHAR NOT NULL",  # the forces covered: ONS codes, ';'-separated
            "period_from": "DATE NOT NULL",  # the first month covered (its first day)
            "period_to": "DATE NOT NULL",  # the last month covered (its first day)
            "rows_in": "BIGINT NOT NULL",  # = rows_clean + rows_quarantined + rows_merged, checked before commit
            "rows_clean": "BIGINT NOT NULL",
            "rows_quarantined": "BIGINT NOT NULL",
            "rows_merged": "BIGINT NOT NULL",
            "export_columns": "VARCHAR NOT NULL",  # the export's columns in order, as a JSON list
            "toolkit_version": "VARCHAR NOT NULL",
            "provenance": "VARCHAR NOT NULL",  # the file's provenance record as JSON ('null' when it has none)
        },
    ),
    "coverage": StoreTable(
        "every (force, month) a load covers, with episodes or none: the cells it supersedes earlier loads in",
        {"load_id": "INTEGER NOT NULL", "force_code": "VARCHAR NOT NULL", "month": "DATE NOT NULL"},
    ),
    "episodes": StoreTable(
        "the clean episodes, typed as the contract says, each with its load and the month it was reported in",
        {"load_id": "INTEGER NOT NULL", "month": "DATE NOT NULL"},
        clean_table=True,
    ),
    "quarantine": StoreTable(
        "rows set aside, each with its reason and the export's own values",
        {
            "load_id": "INTEGER NOT NULL",
            "month": "DATE",
            "source_row": "BIGINT NOT NULL",
            "reason_code": "VARCHAR NOT NULL",
            "reason": "VARCHAR NOT NULL",
            "all_reasons": "VARCHAR NOT NULL",
            "force_code": "VARCHAR",  # as cleaned: may be no known force
            "export_values": "VARCHAR NOT NULL",  # the export's own values, a JSON object in the export's order
        },
    ),
    "changes": StoreTable(
        "every corrected value: row, column, before, after, rule",
        {
            "load_id": "INTEGER NOT NULL",
            "position": "BIGINT NOT NULL",  # its place in the load's change log
            "force_code": "VARCHAR",  # the (force, month) of the row it corrected
            "month": "DATE",
            "source_row": "BIGINT NOT NULL",
            "column": "VARCHAR NOT NULL",
            "before": "VARCHAR",  # as the change log's CSV shows it
            "after": "VARCHAR",
            "rule": "VARCHAR NOT NULL",
        },
    ),
    "translations": StoreTable(
        "what the mapping translated, counted per spelling over the load's whole file",
        {
            "load_id": "INTEGER NOT NULL",
            "position": "BIGINT NOT NULL",
            "column": "VARCHAR NOT NULL",
            "before": "VARCHAR",
            "after": "VARCHAR",
            "count": "BIGINT NOT NULL",
            "rule": "VARCHAR NOT NULL",
        },
    ),
    "merged": StoreTable(
        "exact duplicate rows and the row each was merged into",
        {
            "load_id": "INTEGER NOT NULL",
            "position": "BIGINT NOT NULL",
            "force_code": "VARCHAR",  # the (force, month) of the row kept
            "month": "DATE",
            "source_row": "BIGINT NOT NULL",
            "kept_row": "BIGINT NOT NULL",
        },
    ),
}
# The tables of a load's rows, as cleaning names them (CleanResult's attributes), in the order they are written.
LOAD_ROWS = ("episodes", "quarantine", "changes", "translations", "merged")
# Each row table's order within a load: the order cleaning wrote it in.
_ROW_ORDER = {"episodes": "source_row", "quarantine": "source_row"}


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file, read in blocks: a load's identity.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "e.csv"; _ = path.write_text("x")
    >>> file_sha256(path)[:12]
    '2d711642b726'
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise ToolkitError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ToolkitError(f"{path}: is a folder, not a file") from None
    return digest.hexdigest()


_MONTH_TEXT = re.compile(r"(\d{4})(?:-(\d{2}))?")


@dataclass(frozen=True, order=True)
class Period:
    """Calendar months from ``first`` to ``last``, both included; each is the first day of its month.

    The store's grain: a load covers forces over a period, and each (force, month) is read from the
    latest load covering it. Written ``FROM..TO`` with months ``YYYY-MM`` or years ``YYYY`` (a year
    starts in January as FROM and ends in December as TO); a month or year alone is that span.

    Examples
    --------
    >>> [str(Period.parse(t)) for t in ("2024-01..2024-06", "2024", "2023..2024-02", "2024-07")]
    ['2024-01..2024-06', '2024-01..2024-12', '2023-01..2024-02', '2024-07']
    >>> len(Period.parse("2023-11..2024-02").months()), date(2024, 3, 1) in Period.parse("2024")
    (4, True)
    >>> Period.parse("2024-06..2024-01")
    Traceback (most recent call last):
    ...
    toolkit.errors.ToolkitError: period '2024-06..2024-01' ends before it starts
    """

    first: date
    last: date

    @classmethod
    def parse(cls, text: str) -> Period:
        """A period from ``FROM..TO`` (or one month or year).

        Raises
        ------
        ToolkitError
            The text is not a period, a month is not 01 to 12, or it ends before it starts.
        """
        parts = str(text).strip().split("..")
        ends = [_MONTH_TEXT.fullmatch(part.strip()) for part in parts]
        if len(parts) > 2 or not all(ends) or any(m.group(2) and not 1 <= int(m.group(2)) <= 12 for m in ends):
            raise ToolkitError(
                f"period {text!r} is not FROM..TO in months or years, such as 2024-01..2024-12 or 2023..2024"
            )
        start, end = ends[0], ends[-1]
        first = date(int(start.group(1)), int(start.group(2) or 1), 1)
        last = date(int(end.group(1)), int(end.group(2) or 12), 1)
        if last < first:
            raise ToolkitError(f"period {text!r} ends before it starts")
        return cls(first, last)

    @classmethod
    def spanning(cls, months: Iterable) -> Period:
        """The shortest period holding every given month (dates or timestamps; any day of the month).

        Examples
        --------
        >>> str(Period.spanning([pd.Timestamp("2024-05-09"), date(2023, 12, 31)]))
        '2023-12..2024-05'
        """
        days = [pd.Timestamp(m) for m in months]
        if not days:
            raise ValueError("a period spans at least one month")
        return cls(_month_of(min(days)), _month_of(max(days)))

    def months(self) -> list[date]:
        """Every month of the period (the first day of each), in order."""
        count = (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1
        return [
            date(self.first.year + (self.first.month - 1 + i) // 12, (self.first.month - 1 + i) % 12 + 1, 1)
            for i in range(count)
        ]

    def __contains__(self, month) -> bool:
        return self.first <= _month_of(pd.Timestamp(month)) <= self.last

    def year_before(self) -> Period:
        """The same months a year earlier.

        Examples
        --------
        >>> str(Period.parse("2024-03..2025-02").year_before())
        '2023-03..2024-02'
        """
        return Period(self.first.replace(year=self.first.year - 1), self.last.replace(year=self.last.year - 1))

    def __str__(self) -> str:
        return f"{self.first:%Y-%m}" if self.first == self.last else f"{self.first:%Y-%m}..{self.last:%Y-%m}"


def _month_of(stamp: pd.Timestamp) -> date:
    return date(stamp.year, stamp.month, 1)


def describe_months(months: Iterable) -> str:
    """Months as short runs of consecutive months, for a message.

    Examples
    --------
    >>> describe_months([date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1), date(2024, 6, 1)])
    '2024-01..2024-03, 2024-06'
    """
    runs: list[list[date]] = []
    for month in sorted({_month_of(pd.Timestamp(m)) for m in months}):
        if runs and Period(runs[-1][-1], month).months() == [runs[-1][-1], month]:
            runs[-1].append(month)
        else:
            runs.append([month])
    return ", ".join(str(Period(r[0], r[-1])) for r in runs)


def parse_as_at(value: str | date | datetime | None) -> datetime:
    """The moment a read sees the store as it stood: UTC, without a time zone, as the store records loads.

    ``None`` is now. An ISO 8601 date is the end of that day (as the extract date is); a date and time
    is that moment, in UTC unless it names its offset (``+01:00`` in British Summer Time, or ``Z``).

    Raises
    ------
    ToolkitError
        The text is neither an ISO 8601 date nor a date and time.

    Examples
    --------
    >>> parse_as_at("2025-03-01T10:00"), parse_as_at("2025-03-01 10:00:00Z")
    (datetime.datetime(2025, 3, 1, 10, 0), datetime.datetime(2025, 3, 1, 10, 0))
    >>> parse_as_at("May")
    Traceback (most recent call last):
    ...
    toolkit.errors.ToolkitError: --as-at 'May' is not an ISO 8601 date (2025-03-01) or date and time (2025-03-01T10:00)
    """
    if value is None:
        return _utc_now()
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text) if ("T" in text or " " in text) else date.fromisoformat(text)
        except ValueError:
            raise ToolkitError(
                f"--as-at {value!r} is not an ISO 8601 date (2025-03-01) or date and time (2025-03-01T10:00)"
            ) from None
    if not isinstance(value, datetime):
        return datetime.combine(value, dt_time.max)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def format_moment(moment: datetime) -> str:
    """A moment of the store (UTC), as messages show it.

    Examples
    --------
    >>> format_moment(datetime(2025, 3, 1, 10, 0, 5, 120))
    '2025-03-01 10:00:05 UTC'
    """
    return f"{pd.Timestamp(moment):%Y-%m-%d %H:%M:%S} UTC"


def _pause_for_tests() -> None:
    """Test-only: hold a load inside its transaction, its rows written but not committed, while a file exists.

    When the environment variable :data:`PAUSE_FOR_TESTS` names a file, the load writes that file and
    waits (two minutes at most) until it is removed: a test can then kill the process at a known point
    of the transaction, or start a second load against the held store (``tests/test_national_store.py``).
    Unset, as it is outside the tests, this does nothing.
    """
    marker = os.environ.get(PAUSE_FOR_TESTS)
    if not marker:
        return
    Path(marker).write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while Path(marker).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _is_duckdb_file(path: Path) -> bool:
    """Whether a file starts as a DuckDB database does (its magic bytes, 8 to 12)."""
    try:
        with open(path, "rb") as stream:
            return stream.read(12)[8:] == b"DUCK"
    except OSError:
        return False


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _holder(error: Exception) -> str:
    """The process DuckDB names as holding the file's lock, for the message."""
    found = re.search(r"PID (\d+)", str(error))
    return f" (process {found.group(1)})" if found else ""


class NationalStore:
    """The national store: one DuckDB file of every load of every force's exports; nothing is ever deleted.

    Open it with :meth:`open`, a context manager. DuckDB lets one process write a file, and no other
    process open it meanwhile: a command that finds the store in use waits for it (``wait`` seconds),
    then says so and stops. A load is one transaction (:meth:`add_load`): a load that fails, or whose
    process is killed, leaves the store exactly as it was.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "store.duckdb"
    >>> with NationalStore.open(path, write=True, clean_columns={"source_row": "BIGINT"}) as store:
    ...     store.loaded_period(), len(store.read_loads())
    (None, 0)
    """

    def __init__(self, path: Path, connection):
        self.path = Path(path)
        self._db = connection

    def __repr__(self) -> str:
        return f"NationalStore({str(self.path)!r})"

    @classmethod
    @contextmanager
    def open(
        cls,
        path: str | Path | None = None,
        *,
        write: bool = False,
        clean_columns: dict[str, str] | None = None,
        wait: float = WAIT_SECONDS,
    ) -> Iterator[NationalStore]:
        """Open the store at ``path`` (default :data:`DEFAULT_STORE`) for reading, or for writing.

        Parameters
        ----------
        path : path-like, optional
        write : bool
            Open to write: the store is made, with every table of :data:`TABLES`, if it does not exist.
        clean_columns : dict of str to str, optional
            The clean table's columns (name -> DuckDB type), as the ingest stage declares them from the
            contract: needed to make a store, and checked against an existing one.
        wait : float
            Seconds to wait for another process to finish with the store.

        Raises
        ------
        ToolkitError
            To read, there is no store at ``path``; the file is not a DuckDB database; another process
            still has it open after ``wait`` seconds; or the store's episodes are not the given columns.
        """
        import duckdb  # here, not at the top: notebooks' kernels import the work folder and never need DuckDB

        path = Path(path or DEFAULT_STORE)
        if not write and not path.exists():
            raise ToolkitError(f"there is no national store at {path}: load an export first (python -m toolkit load)")
        if path.exists() and not _is_duckdb_file(path):
            raise ToolkitError(f"{path} is not a national store: it is not a DuckDB database file")
        if write:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise ToolkitError(f"cannot make the store {path}: {error.strerror}") from None
        deadline = time.monotonic() + wait
        while True:
            try:
                connection = duckdb.connect(str(path), read_only=not write, config=_DUCKDB_CONFIG)
                break
            except duckdb.IOException as error:
                if "lock" not in str(error).lower():
                    raise ToolkitError(f"cannot open the store {path}: {str(error).splitlines()[0]}") from None
                if time.monotonic() >= deadline:
                    raise ToolkitError(
                        f"the store {path} is in use by another process{_holder(error)}, a load or a reader; "
                        f"try again when it has finished (waited {wait:g} s)"
                    ) from None
                time.sleep(0.2)
            except duckdb.Error as error:
                raise ToolkitError(f"cannot open the store {path}: {str(error).splitlines()[0]}") from None
        store = cls(path, connection)
        try:
            if write:
                store._make_tables(clean_columns)
            elif not store._has_tables():
                raise ToolkitError(f"{path} is not a national store: it lacks the store's tables")
            yield store
        finally:
            connection.close()

    def _has_tables(self) -> bool:
        names = {row[0] for row in self._db.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        return set(TABLES) <= names

    def _columns(self, name: str, clean_columns: dict[str, str]) -> dict[str, str]:
        table = TABLES[name]
        return {**table.columns, **(clean_columns if table.clean_table else {})}

    def _make_tables(self, clean_columns: dict[str, str] | None) -> None:
        """Make every table of a new store in one transaction; check an existing store's episodes."""
        if self._has_tables():
            if clean_columns is not None:
                self._check_clean_columns(clean_columns)
            return
        if clean_columns is None:
            raise ValueError("a new store needs the clean table's columns (clean_columns)")
        with self._transaction():
            for name in TABLES:
                columns = ", ".join(f"{_quote(c)} {kind}" for c, kind in self._columns(name, clean_columns).items())
                self._db.execute(f"CREATE TABLE {_quote(name)} ({columns})")

    def _check_clean_columns(self, clean_columns: dict[str, str]) -> None:
        """Check a store's episodes against the contract's columns; add the contract's later optional columns.

        A store made under an earlier version of the contract lacks the columns a later version added, all
        optional (version 2's linkage columns): they are added, empty (nullable), so that its earlier loads
        read as episodes that did not give them. Any other difference refuses the store.
        """
        rows = self._db.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'episodes' ORDER BY column_index"
        ).fetchall()
        held = {name for name, _ in rows}
        added = {c: kind for c, kind in clean_columns.items() if c not in held and "NOT NULL" not in kind}
        if added:
            with self._transaction():
                for column, kind in added.items():
                    self._db.execute(f"ALTER TABLE episodes ADD COLUMN {_quote(column)} {kind}")
            rows += [(column, kind) for column, kind in added.items()]
        found = [name for name, _ in rows][len(TABLES["episodes"].columns) :]
        types = {name: kind for name, kind in rows}
        wanted = [(c, kind.split()[0]) for c, kind in clean_columns.items()]
        if sorted(found) != sorted(clean_columns) or any(types[c] != kind for c, kind in wanted):
            raise ToolkitError(
                f"the store {self.path} holds episodes of another version of the extract contract "
                f"(columns {', '.join(found)}); load into a new store"
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _one(self, sql: str, parameters: dict | None = None) -> tuple:
        """The one row of a query (fetched whole: DuckDB refuses other work on a result left part-read)."""
        (row,) = self._db.execute(sql, parameters or {}).fetchall()
        return row

    def _frame(self, sql: str, parameters: dict | None = None) -> pd.DataFrame:
        """A query's rows: through Arrow, which is several times faster than DuckDB's own pandas conversion.

        Text comes as pandas' Arrow strings, dates (``DATE``) as :class:`datetime.date`.
        """
        return self._db.sql(sql, params=parameters or {}).to_arrow_table().to_pandas()

    # Loads ----------------------------------------------------------------------------------------------------

    def read_loads(self) -> pd.DataFrame:
        """The load log: one row per load, in the order they were made."""
        return self._frame("SELECT * FROM loads ORDER BY load_id")

    def loaded_hashes(self) -> set[str]:
        """The SHA-256 of every file loaded (effective or superseded)."""
        return set(self._frame("SELECT DISTINCT sha256 FROM loads")["sha256"])

    def find_load(self, sha256: str) -> dict | None:
        """The load of the file with this SHA-256 (effective or superseded), or ``None``."""
        found = self._frame("SELECT * FROM loads WHERE sha256 = $sha", {"sha": sha256})
        return found.iloc[0].to_dict() if len(found) else None

    def loaded_period(self, as_at: datetime | None = None) -> Period | None:
        """The months from the first to the last any load made by ``as_at`` (default now) covers; ``None`` if none."""
        first, last = self._one(
            "SELECT min(month), max(month) FROM coverage JOIN loads USING (load_id) WHERE loaded_at <= $as_at",
            {"as_at": parse_as_at(as_at)},
        )
        return Period(first, last) if first is not None else None

    def add_load(
        self,
        load: dict,
        cells: pd.DataFrame,
        rows: dict[str, pd.DataFrame],
        loaded_at: datetime | None = None,
    ) -> tuple[dict, bool]:
        """Add one load, whole, in one transaction; or nothing, if its file is loaded already.

        Parameters
        ----------
        load : dict
            The load log's columns (:data:`TABLES` ``loads``) but ``load_id`` and ``loaded_at``.
        cells : pandas.DataFrame
            ``force_code`` and ``month``: every (force, month) the load covers.
        rows : dict of str to pandas.DataFrame
            The rows of each table of :data:`LOAD_ROWS`, with the table's columns but ``load_id``.
        loaded_at : datetime, optional
            When the load is made (UTC; default now). It must be later than every earlier load's and not
            in the future, so that what a read as at a past moment saw never changes.

        Returns
        -------
        load : dict
            The load log's row: the new load's, or that of the load that already holds the file.
        added : bool
            Whether this call added it.

        Raises
        ------
        ToolkitError
            ``loaded_at`` is not after the last load's; or the rows do not add up (clean, quarantined
            and merged are the rows in; every row of a force and month lies in the load's cells). The
            store is then left exactly as it was.
        """
        with self._transaction():
            existing = self.find_load(load["sha256"])
            if existing is not None:  # within the transaction: a second process with the same file sees the first's
                return existing, False
            now = _utc_now()
            loaded_at = now if loaded_at is None else loaded_at
            latest, last_id = self._one("SELECT max(loaded_at), max(load_id) FROM loads")
            if loaded_at > now or (latest is not None and loaded_at <= latest):
                raise ToolkitError(
                    f"a load's time ({format_moment(loaded_at)}) must be after the last load's "
                    f"({format_moment(latest) if latest else 'none'}) and not in the future; nothing was loaded"
                )
            load_id = (last_id or 0) + 1
            record = {"load_id": load_id, "loaded_at": loaded_at, **load}
            if list(record) != list(TABLES["loads"].columns):
                raise ValueError(f"a load records {list(TABLES['loads'].columns)}, not {list(record)}")
            marks = ", ".join(f"${name}" for name in record)
            self._db.execute(f"INSERT INTO loads VALUES ({marks})", record)
            self._insert("coverage", load_id, cells[["force_code", "month"]])
            for name in LOAD_ROWS:
                self._insert(name, load_id, rows[name])
            _pause_for_tests()
            self._check_load(record, len(cells))
        return self.find_load(load["sha256"]), True

    def _insert(self, name: str, load_id: int, frame: pd.DataFrame) -> None:
        columns = [c for c in self._table_columns(name) if c != "load_id"]
        if sorted(frame.columns) != sorted(columns):
            raise ValueError(f"rows for {name} must have the columns {columns}, not {list(frame.columns)}")
        listed = ", ".join(map(_quote, columns))
        self._db.register("incoming", frame)
        try:
            self._db.execute(
                f"INSERT INTO {_quote(name)} (load_id, {listed}) SELECT $load_id, {listed} FROM incoming",
                {"load_id": load_id},
            )
        finally:
            self._db.unregister("incoming")

    def _table_columns(self, name: str) -> list[str]:
        rows = self._db.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = $name ORDER BY column_index", {"name": name}
        ).fetchall()
        return [row[0] for row in rows]

    def _check_load(self, record: dict, cells: int) -> None:
        """Before commit: the rows in are clean, quarantined and merged; each placed row lies in the load's cells."""
        counted = {}
        for name in ("episodes", "quarantine", "merged", "coverage"):
            counted[name] = self._one(f"SELECT count(*) FROM {name} WHERE load_id = $id", {"id": record["load_id"]})[0]
        expected = {
            "episodes": record["rows_clean"],
            "quarantine": record["rows_quarantined"],
            "merged": record["rows_merged"],
            "coverage": cells,
        }
        outside = 0
        for name in ("episodes", "quarantine", "changes", "merged"):
            outside += self._one(
                f"SELECT count(*) FROM {name} t WHERE t.load_id = $id AND t.month IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM coverage c WHERE c.load_id = t.load_id AND c.force_code = t.force_code "
                "AND c.month = t.month)",
                {"id": record["load_id"]},
            )[0]
        total = record["rows_clean"] + record["rows_quarantined"] + record["rows_merged"]
        if counted != expected or total != record["rows_in"] or outside:
            raise ToolkitError(
                f"the load of {record['file']} does not add up ({record['rows_in']:,} rows in; stored "
                f"{counted['episodes']:,} clean, {counted['quarantine']:,} quarantined, {counted['merged']:,} merged; "
                f"{outside:,} outside the forces and months it covers); nothing was loaded"
            )

    def superseded_by(self, load_id: int) -> pd.DataFrame:
        """The cells a load took over: ``force_code``, ``month`` and the ``load_id`` read there before it."""
        return self._frame(
            "SELECT c.force_code, c.month, max(p.load_id) AS load_id FROM coverage c JOIN coverage p "
            "ON p.force_code = c.force_code AND p.month = c.month AND p.load_id < c.load_id "
            "WHERE c.load_id = $id GROUP BY c.force_code, c.month ORDER BY c.force_code, c.month",
            {"id": load_id},
        )

    # Reads ------------------------------------------------------------------------------------------------------

    def _select_cells(self, period: Period | None, as_at: datetime | None) -> tuple[Period | None, datetime]:
        """Fill the temporary table ``cells``: every covered (force, month) of the period as at the moment.

        ``rank`` 1 is the effective load of the cell; higher ranks are the loads it superseded.
        """
        as_at = parse_as_at(as_at)
        period = period or self.loaded_period(as_at)
        first, last = (period.first, period.last) if period else (date.max, date.min)
        self._db.execute(
            "CREATE OR REPLACE TEMP TABLE cells AS SELECT c.force_code, c.month, c.load_id, "
            "row_number() OVER (PARTITION BY c.force_code, c.month ORDER BY l.loaded_at DESC, l.load_id DESC) AS rank "
            "FROM coverage c JOIN loads l USING (load_id) "
            "WHERE l.loaded_at <= $as_at AND c.month BETWEEN $first AND $last",
            {"as_at": as_at, "first": first, "last": last},
        )
        return period, as_at

    def read(self, period: Period | None = None, as_at: str | datetime | None = None) -> StoreRead:
        """Every table's rows for a period as at a moment: for each (force, month), those of its effective load.

        A row of a load as a whole (no force or month of its own) is read with its load, when the load
        is effective for any cell of the period; translations, counted over a load's whole file, likewise.
        Rows come in load order, each load's in the order cleaning wrote them.

        Parameters
        ----------
        period : Period, optional
            Default: every month any load covers.
        as_at : str or datetime, optional
            As :func:`parse_as_at`; default now.
        """
        period, as_at = self._select_cells(period, as_at)
        used = "SELECT DISTINCT load_id FROM cells WHERE rank = 1"
        tables = {}
        for name in LOAD_ROWS:
            order = _ROW_ORDER.get(name, "position")
            if name == "translations":
                where = f"t.load_id IN ({used})"
            elif name == "episodes":
                where = "f.load_id IS NOT NULL"
            else:
                where = (
                    f"(t.month IS NOT NULL AND f.load_id IS NOT NULL) OR (t.month IS NULL AND t.load_id IN ({used}))"
                )
            join = (
                ""
                if name == "translations"
                else "LEFT JOIN (SELECT * FROM cells WHERE rank = 1) f "
                "ON f.load_id = t.load_id AND f.force_code = t.force_code AND f.month = t.month"
            )
            tables[name] = self._frame(
                f"SELECT t.* FROM {_quote(name)} t {join} WHERE {where} ORDER BY t.load_id, t.{order}"
            )
        return StoreRead(
            period=period,
            as_at=as_at,
            cells=self._frame("SELECT force_code, month, load_id FROM cells WHERE rank = 1 ORDER BY force_code, month"),
            loads=self._frame(f"SELECT * FROM loads WHERE load_id IN ({used}) ORDER BY load_id"),
            **tables,
        )

    def status(self, period: Period | None = None, as_at: str | datetime | None = None) -> pd.DataFrame:
        """What the store holds for every force of England and Wales, month by month, as runs of months.

        Returns
        -------
        pandas.DataFrame
            One row per run of consecutive months of a force in one state: ``force_code``, ``state``
            (``loaded``: its effective load; ``superseded``: an earlier load, no longer read; ``missing``:
            no load covers it), ``first_month``, ``last_month``, ``months``, ``load_id``, ``loaded_at``,
            ``file``, ``episodes`` (the load's episodes of the force in those months) and
            ``superseded_by`` (the load read there instead). Forces in code order; empty without a period
            (an empty store, and none given).
        """
        period, as_at = self._select_cells(period, as_at)
        columns = ["force_code", "state", "first_month", "last_month", "months", "load_id", "loaded_at", "file"]
        columns += ["episodes", "superseded_by"]
        if period is None:
            return pd.DataFrame(columns=columns)
        cells = self._frame(
            "SELECT c.force_code, c.month, c.load_id, c.rank, l.loaded_at, l.file, "
            "coalesce(n.episodes, 0) AS episodes, e.load_id AS superseded_by "
            "FROM cells c JOIN loads l USING (load_id) "
            "JOIN (SELECT force_code, month, load_id FROM cells WHERE rank = 1) e USING (force_code, month) "
            "LEFT JOIN (SELECT load_id, force_code, month, count(*) AS episodes FROM episodes "
            "GROUP BY load_id, force_code, month) n USING (load_id, force_code, month)"
        )
        cells["state"] = np.where(cells["rank"] == 1, "loaded", "superseded")
        cells.loc[cells["rank"] == 1, "superseded_by"] = np.nan
        grid = pd.MultiIndex.from_product(
            [[f.code for f in list_forces()], pd.to_datetime(period.months())], names=["force_code", "month"]
        ).to_frame(index=False)
        cells["month"] = pd.to_datetime(cells["month"])
        missing = grid.merge(cells[["force_code", "month"]].drop_duplicates(), how="left", indicator=True)
        missing = missing[missing["_merge"] == "left_only"].drop(columns="_merge").assign(state="missing")
        every = pd.concat([cells, missing], ignore_index=True)
        every["load_id"] = every["load_id"].astype("Int64")
        every["superseded_by"] = every["superseded_by"].astype("Int64")
        every["episodes"] = every["episodes"].astype("Int64")
        order = {code: i for i, code in enumerate(f.code for f in list_forces())}
        states = {"loaded": 0, "superseded": 1, "missing": 2}
        every = every.sort_values(
            ["force_code", "state", "load_id", "month"],
            key=lambda s: s.map(order) if s.name == "force_code" else s.map(states) if s.name == "state" else s,
        )
        keys = ["force_code", "state", "load_id", "superseded_by"]
        step = every["month"].dt.year * 12 + every["month"].dt.month
        same = (every[keys].fillna(-1) == every[keys].fillna(-1).shift()).all(axis=1) & (step - step.shift() == 1)
        every["run"] = (~same).cumsum()
        spans = every.groupby("run", sort=False).agg(
            force_code=("force_code", "first"),
            state=("state", "first"),
            first_month=("month", "min"),
            last_month=("month", "max"),
            months=("month", "size"),
            load_id=("load_id", "first"),
            loaded_at=("loaded_at", "first"),
            file=("file", "first"),
            episodes=("episodes", "sum"),
            superseded_by=("superseded_by", "first"),
        )
        spans["episodes"] = spans["episodes"].where(spans["state"] != "missing")
        spans = spans.sort_values(
            ["force_code", "state", "first_month"],
            key=lambda s: s.map(order) if s.name == "force_code" else s.map(states) if s.name == "state" else s,
            kind="stable",
        )
        return spans.reset_index(drop=True)[columns]

    def export(self, out: str | Path, period: Period | None = None, as_at: str | datetime | None = None) -> dict:
        """Write the clean episodes read for a period as at a moment as a Parquet dataset, by force and year.

        ``out/force_code=E23000014/year=2024/data_0.parquet``: Hive-style partitions, which Dask, Spark,
        pyarrow and DuckDB read directly (the partition columns come back from the folder names), beside
        ``out/_export.json`` (what was written: the period, the moment, the loads read, rows per
        partition; a name starting ``_`` is skipped by those readers). The folder is written aside and
        swapped in whole (:func:`toolkit.folders.staged_folders`): a reader sees the last export or the
        new one, never a part.

        Returns
        -------
        dict
            What ``_export.json`` holds.
        """
        period, as_at = self._select_cells(period, as_at)
        manifest = {
            "store": str(self.path),
            "period": str(period) if period else None,
            "as_at": format_moment(as_at),
            "partitioned_by": ["force_code", "year"],
            "loads": [],
            "partitions": [],
            "rows": 0,
        }
        clean = [c for c in self._table_columns("episodes") if c not in ("month", "force_code")]
        query = (
            f"SELECT e.force_code, year(e.month) AS year, {', '.join('e.' + _quote(c) for c in clean)} "
            "FROM episodes e JOIN cells f ON f.rank = 1 AND f.load_id = e.load_id AND f.force_code = e.force_code "
            "AND f.month = e.month ORDER BY e.force_code, year, e.load_id, e.source_row"
        )
        loads = self._frame(
            "SELECT load_id, file, sha256, loaded_at FROM loads WHERE load_id IN "
            "(SELECT load_id FROM cells WHERE rank = 1) ORDER BY load_id"
        )
        counts = self._frame(f"SELECT force_code, year, count(*) AS rows FROM ({query}) GROUP BY ALL ORDER BY ALL")
        manifest["loads"] = [{**row, "loaded_at": format_moment(row["loaded_at"])} for row in loads.to_dict("records")]
        manifest["partitions"] = counts.to_dict("records")
        manifest["rows"] = int(counts["rows"].sum())
        with staged_folders([(Path(out), "export folder")]) as (folder,):
            if manifest["rows"]:
                target = str(folder.staging).replace("'", "''")
                self._db.execute(
                    f"COPY ({query}) TO '{target}' (FORMAT parquet, PARTITION_BY (force_code, year), "
                    "OVERWRITE_OR_IGNORE true)"
                )
            write_atomically(folder.staging / "_export.json", format_json(manifest))
        return manifest


def format_status(status: pd.DataFrame, path: Path, loads: pd.DataFrame, as_at: datetime | None = None) -> str:
    """:meth:`NationalStore.status` for a terminal: each force's runs of months, then which forces are missing.

    Examples
    --------
    >>> status = pd.DataFrame({"force_code": ["E23000014", "E23000014", "W15000004"],
    ...     "state": ["loaded", "superseded", "missing"], "first_month": pd.to_datetime(["2024-01-01"] * 3),
    ...     "last_month": pd.to_datetime(["2024-12-01"] * 3), "months": [12, 12, 12], "load_id": [2, 1, None],
    ...     "loaded_at": pd.to_datetime(["2025-03-01 10:00", "2025-02-01 09:00", None]),
    ...     "file": ["wm.csv", "all.csv", None], "episodes": [90, 88, None], "superseded_by": [None, 2, None]})
    >>> loads = status.loc[:1, ["load_id", "loaded_at"]]
    >>> print(format_status(status, Path("store.duckdb"), loads, datetime(2025, 3, 2)))
    national store store.duckdb as at 2025-03-02 00:00:00 UTC: 2 load(s); months 2024-01..2024-12
    force     name          months           state                load loaded                  episodes file
    E23000014 West Midlands 2024-01..2024-12 loaded                  2 2025-03-01 10:00:00 UTC       90 wm.csv
    E23000014 West Midlands 2024-01..2024-12 superseded by load 2    1 2025-02-01 09:00:00 UTC       88 all.csv
    W15000004 Dyfed-Powys   2024-01..2024-12 missing
    1 of 43 forces loaded for every month
    1 missing for some month:
      W15000004 Dyfed-Powys: 2024-01..2024-12
    """
    as_at = parse_as_at(as_at)
    moment = format_moment(as_at)
    made = int((pd.to_datetime(loads["loaded_at"]) <= as_at).sum()) if len(loads) else 0
    if status.empty:
        return f"national store {path} as at {moment}: no load made by then; every force is missing"
    names = {f.code: f.name for f in list_forces()}
    first, last = status["first_month"].min(), status["last_month"].max()
    heading = f"national store {path} as at {moment}: {made} load(s); months {Period.spanning([first, last])}"

    def months(row) -> str:
        return str(Period.spanning([row.first_month, row.last_month]))

    def number(value) -> str:
        return f"{int(value):,}" if pd.notna(value) else ""

    rows = [
        (
            row.force_code,
            names[row.force_code],
            months(row),
            f"superseded by load {number(row.superseded_by)}" if row.state == "superseded" else row.state,
            number(row.load_id),
            format_moment(row.loaded_at) if pd.notna(row.loaded_at) else "",
            number(row.episodes),
            row.file if isinstance(row.file, str) else "",
        )
        for row in status.itertuples()
    ]
    header = ("force", "name", "months", "state", "load", "loaded", "episodes", "file")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {4, 6}  # numbers

    def line(cells) -> str:
        return " ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    table = "\n".join(line(r) for r in [header, *rows])
    missing = status[status["state"] == "missing"]
    complete = sorted(set(status["force_code"]) - set(missing["force_code"]))
    summary = [f"{len(complete)} of {len(names)} forces loaded for every month"]
    if len(missing):
        gaps = missing.groupby("force_code", sort=False).apply(
            lambda g: describe_months(
                m for row in g.itertuples() for m in Period.spanning([row.first_month, row.last_month]).months()
            ),
            include_groups=False,
        )
        summary += [f"{len(gaps)} missing for some month:"]
        summary += [f"  {code} {names[code]}: {gap}" for code, gap in gaps.items()]
    return "\n".join([heading, table, *summary])


@dataclass(frozen=True)
class StoreRead:
    """What :meth:`NationalStore.read` returns: the rows of each table for a period, as at a moment.

    Attributes
    ----------
    period : Period or None
    as_at : datetime
        UTC.
    cells : pandas.DataFrame
        ``force_code``, ``month``, ``load_id``: each covered (force, month) and the load read there.
    loads : pandas.DataFrame
        The load log's rows of the loads read, in load order.
    episodes, quarantine, changes, translations, merged : pandas.DataFrame
        The stored rows (DuckDB's types), with their ``load_id``.
    """

    period: Period | None
    as_at: datetime
    cells: pd.DataFrame
    loads: pd.DataFrame
    episodes: pd.DataFrame
    quarantine: pd.DataFrame
    changes: pd.DataFrame
    translations: pd.DataFrame
    merged: pd.DataFrame
