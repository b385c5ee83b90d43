"""The work folder: every file a run prepares, named once, written atomically.

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
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from toolkit.errors import ToolkitError

__all__ = ["FILES", "WorkFolder", "format_json", "neutralise_formulas", "write_atomically", "write_csv_for_people"]

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
