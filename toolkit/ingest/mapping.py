"""Mappings: how one source system's export translates into the canonical extract.

A mapping is a YAML file (see ``data/mappings/``), so a user can describe a new
force system without touching code:

.. code-block:: yaml

    name: my_system
    description: What system, which export.
    columns:            # canonical column: the export's column header
      episode_id: Occurrence Ref
      reported_at: Date Reported
    constants:          # canonical column: one value for every row (e.g. a single-force export)
      force_code: E23000014
    nulls: ["", "N/K", "NULL", "-"]     # what means blank (case-insensitive)
    dates: ["%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", excel_serial, iso]
    values:             # canonical column: {export spelling: canonical code} (case-insensitive)
      risk_initial: {H: high, Med: medium, NAR: no_apparent_risk}
    risk_factors:
      separator: ","
      codes: {CSE: cse, County Lines: cce}
    optional_columns_may_be_missing: false   # true: an optional column may be left out of the file

Canonical codes are always understood as themselves (in any case), so a
mapping lists only the spellings that differ. :func:`read_mapping` checks a
file and names every problem in it.

Examples
--------
>>> mapping = read_mapping(MAPPINGS_DIR / "niche_rms.yaml")
>>> mapping.columns["episode_id"], mapping.lookup("risk_initial")["no apparent risk"]
('Occurrence Ref', 'no_apparent_risk')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from toolkit.config import PROJECT_ROOT, read_yaml_config
from toolkit.errors import ConfigError, ToolkitError
from toolkit.forces import get_force
from toolkit.ingest.schema import CODES, COLUMNS, RISK_FACTORS

__all__ = ["MAPPINGS_DIR", "CANONICAL", "Mapping", "read_mapping", "DATE_KEYWORDS"]

MAPPINGS_DIR = PROJECT_ROOT / "data" / "mappings"


def list_dialects() -> dict[str, Path]:
    """Every export dialect shipped in ``data/mappings/``, by name: a new dialect is a new mapping file there.

    Examples
    --------
    >>> {"niche_rms", "case_xlsx", "command_csv"} <= set(list_dialects())
    True
    """
    return {path.stem: path for path in sorted(MAPPINGS_DIR.glob("*.yaml")) if path.stem != CANONICAL.stem}


CANONICAL = MAPPINGS_DIR / "canonical.yaml"
DATE_KEYWORDS = ("iso", "excel_serial")
_KEYS = {
    "name",
    "description",
    "columns",
    "constants",
    "nulls",
    "dates",
    "values",
    "risk_factors",
    "optional_columns_may_be_missing",
}


@dataclass(frozen=True)
class Mapping:
    """A checked mapping from one export dialect to the canonical extract."""

    name: str
    description: str
    columns: dict[str, str]
    constants: dict[str, str] = field(default_factory=dict)
    nulls: tuple[str, ...] = ("",)
    dates: tuple[str, ...] = ("iso",)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    risk_factor_separator: str = ";"
    risk_factor_codes: dict[str, str] = field(default_factory=dict)
    optional_columns_may_be_missing: bool = False
    path: Path | None = None

    def lookup(self, column: str) -> dict[str, str]:
        """Lower-cased export spelling -> canonical code, for one coded column.

        Canonical codes map to themselves; the mapping's own spellings are added.
        """
        table = {code.lower(): code for code in CODES[column]}
        table.update({k.strip().lower(): v for k, v in self.values.get(column, {}).items()})
        return table

    def risk_factor_lookup(self) -> dict[str, str]:
        """Lower-cased export risk-factor code -> canonical code."""
        table = {code: code for code in RISK_FACTORS}
        table.update({k.strip().lower(): v for k, v in self.risk_factor_codes.items()})
        return table

    @property
    def null_markers(self) -> frozenset[str]:
        """Lower-cased text that means blank."""
        return frozenset(n.strip().lower() for n in self.nulls) | {""}


def _problems_in(document: dict) -> list[str]:
    problems = []
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(_KEYS))}")
    if not isinstance(document.get("name"), str) or not document.get("name"):
        problems.append("'name' must be a non-empty text")
    columns = document.get("columns") or {}
    constants = document.get("constants") or {}
    if not isinstance(columns, dict) or not isinstance(constants, dict):
        return problems + ["'columns' and 'constants' must be mappings of canonical column to text"]
    for name in [*columns, *constants]:
        if name not in COLUMNS:
            problems.append(f"{name!r} is not a canonical column")
    both = sorted(set(columns) & set(constants))
    if both:
        problems.append(f"{', '.join(both)} given as both a column and a constant")
    sources = [str(v) for v in columns.values()]
    repeated = sorted({s for s in sources if sources.count(s) > 1})
    if repeated:
        problems.append(f"export column(s) {', '.join(map(repr, repeated))} mapped twice")
    missing = [c for c, required in COLUMNS.items() if required and c not in columns and c not in constants]
    if missing:
        problems.append(f"required column(s) not mapped: {', '.join(missing)}")
    if "force_code" in constants:
        try:
            get_force(str(constants["force_code"]))
        except ToolkitError as error:
            problems.append(f"constant force_code: {error}")
    dates = document.get("dates", ["iso"])
    if not isinstance(dates, list) or not dates:
        problems.append("'dates' must be a list of date formats")
    else:
        for fmt in dates:
            if fmt in DATE_KEYWORDS:
                continue
            if not isinstance(fmt, str) or "%" not in fmt:
                problems.append(f"date format {fmt!r} is neither a strftime pattern nor one of {DATE_KEYWORDS}")
                continue
            try:  # a format must read back what it writes
                example = datetime(2024, 3, 5, 21, 40, 7)
                datetime.strptime(example.strftime(fmt), fmt)
            except ValueError:
                problems.append(f"date format {fmt!r} is not a valid strftime pattern")
    nulls = document.get("nulls", [""])
    if not isinstance(nulls, list) or not all(isinstance(n, str) for n in nulls):
        problems.append("'nulls' must be a list of texts")
    values = document.get("values") or {}
    if not isinstance(values, dict):
        problems.append("'values' must map canonical columns to {spelling: code}")
        values = {}
    for column, table in values.items():
        if column not in CODES:
            problems.append(f"values: {column!r} is not a coded column ({', '.join(CODES)})")
            continue
        if not isinstance(table, dict):
            problems.append(f"values: {column} must be a mapping of spelling to code")
            continue
        for spelling, code in table.items():
            if not isinstance(spelling, str):
                problems.append(
                    f"values: {column}: spelling {spelling!r} is not text; quote it (YAML reads "
                    "yes/no/on/off/true/false unquoted as true or false)"
                )
            elif code not in CODES[column]:
                problems.append(
                    f"values: {column}: {spelling!r} maps to {code!r}, not one of {', '.join(CODES[column])}"
                )
    factors = document.get("risk_factors") or {}
    if not isinstance(factors, dict) or set(factors) - {"separator", "codes"}:
        problems.append("'risk_factors' takes 'separator' and 'codes'")
    else:
        separator = factors.get("separator", ";")
        if not isinstance(separator, str) or not separator:
            problems.append("risk_factors: separator must be a non-empty text")
        for spelling, code in (factors.get("codes") or {}).items():
            if not isinstance(spelling, str):
                problems.append(f"risk_factors: code {spelling!r} is not text; quote it")
            elif code not in RISK_FACTORS:
                problems.append(f"risk_factors: {spelling!r} maps to {code!r}, not one of {', '.join(RISK_FACTORS)}")
    return problems


def read_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file.

    Raises
    ------
    ConfigError
        The file is missing or not YAML, or names unknown columns, codes or
        date formats, or leaves a required column unmapped (every problem named).
    """
    path = Path(path)
    document = read_yaml_config(path, "mapping")
    if not isinstance(document, dict):
        raise ConfigError(f"mapping {path} must be a YAML mapping with 'name' and 'columns'")
    problems = _problems_in(document)
    if problems:
        raise ConfigError(f"mapping {path.name}: " + "; ".join(problems))
    factors = document.get("risk_factors") or {}
    return Mapping(
        name=document["name"],
        description=str(document.get("description", "")).strip(),
        columns={k: str(v) for k, v in (document.get("columns") or {}).items()},
        constants={k: str(v) for k, v in (document.get("constants") or {}).items()},
        nulls=tuple(document.get("nulls", [""])),
        dates=tuple(document.get("dates", ["iso"])),
        values={c: {str(k): v for k, v in t.items()} for c, t in (document.get("values") or {}).items()},
        risk_factor_separator=factors.get("separator", ";"),
        risk_factor_codes={str(k): v for k, v in (factors.get("codes") or {}).items()},
        optional_columns_may_be_missing=bool(document.get("optional_columns_may_be_missing", False)),
        path=path,
    )
