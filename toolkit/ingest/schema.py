"""The episode extract contract (version 2), as data and as pandera schemas.

The contract is in ``docs/episode-extract.md``: one row per missing or absent
episode of a child. Version 2 adds optional columns for linking children across
forces (:data:`LINKAGE_COLUMNS`: keyed hashes made at the force, and the
responsible local authority); a version 1 extract, without them, is as valid as
ever. Two pandera schemas check it, lazily, so that every
problem in a file is found in one pass:

- :func:`build_text_schema` checks each value as text, exactly as it was in
  the file (required values present, codes allowed, dates in ISO 8601, ages
  whole numbers from 0 to 17). Checking text, not parsed values, lets the
  problem table show the value the user typed.
- :func:`build_episode_schema` checks the typed table across columns (returned
  after reported, last seen before reported, nothing after the extract date,
  absent episodes graded no apparent risk, episode ids unique in a force).

Examples
--------
>>> REQUIRED_COLUMNS
('force_code', 'episode_id', 'person_id', 'reported_at', 'age', 'category', 'risk_initial')
>>> CODES["category"]
('missing', 'absent')
>>> LINKAGE_TOKENS[:2], all(not COLUMNS[c] for c in LINKAGE_COLUMNS)
(('link_national_key', 'link_dob'), True)
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow

from toolkit.dates import ExtractDate
from toolkit.forces import list_forces

if TYPE_CHECKING:
    import pandera

__all__ = [
    "cast_to_text",
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "DATETIME_COLUMNS",
    "CODES",
    "RISK_FACTORS",
    "RISK_GRADES",
    "CHECK_COLUMNS",
    "build_text_schema",
    "build_episode_schema",
    "format_iso_datetimes",
    "MIN_AGE",
    "MAX_AGE",
    "parse_whole_numbers",
    "ID_COLUMNS",
    "MAX_ID_LENGTH",
    "ID_TOO_LONG",
    "is_within_id_length",
    "LINKAGE_TOKENS",
    "LINKAGE_COLUMNS",
    "NOT_A_TOKEN",
    "NOT_AN_LA_CODE",
    "is_linkage_token",
    "is_la_code",
]

RISK_GRADES = ("no_apparent_risk", "low", "medium", "high")
RISK_FACTORS = (
    "cse",
    "cce",
    "trafficking",
    "self_harm",
    "mental_health",
    "substance_misuse",
    "out_of_area_placement",
    "previous_harm",
)

# Allowed values of each coded column, in the contract's order.
CODES: dict[str, tuple[str, ...]] = {
    "sex": ("female", "male", "other", "unknown"),
    "ethnicity": ("asian", "black", "mixed", "white", "other", "unknown"),
    "looked_after": ("yes", "no", "unknown"),
    "missing_from": (
        "home",
        "foster_care",
        "residential_care",
        "other_care",
        "school",
        "hospital",
        "other",
        "unknown",
    ),
    "category": ("missing", "absent"),
    "risk_initial": RISK_GRADES,
    "risk_final": RISK_GRADES,
    "found_by": ("returned_self", "police", "family_carer", "other_agency", "other", "unknown"),
    "harm": ("none", "injury", "sexual_offence", "other_crime_victim", "died", "unknown"),
    "prevention_interview": ("completed", "declined", "not_completed", "unknown"),
    "return_interview": ("completed", "declined", "not_offered", "unknown"),
}

DATETIME_COLUMNS = (
    "reported_at",
    "last_seen_at",
    "returned_at",
    "supervisor_review_at",
    "prevention_interview_at",
    "return_interview_at",
)

# Version 2: the linkage tokens, each a keyed hash (hex HMAC-SHA256) made at the force by `toolkit pseudonymise`
# (toolkit.ingest.pseudonymise says how), then the child's responsible local authority, plain. All optional, and
# all attributes of the child: the same on every episode of a child within a force.
LINKAGE_TOKENS = (
    "link_national_key",
    "link_dob",
    "link_dob_year",
    "link_dob_month",
    "link_dob_day",
    "link_forename",
    "link_surname",
    "link_forename_phonetic",
    "link_surname_phonetic",
    "link_forename_initial",
    "link_surname_initial",
)
LINKAGE_COLUMNS = (*LINKAGE_TOKENS, "responsible_la")

# Every column of the contract, in order, with whether it is required.
COLUMNS: dict[str, bool] = {
    "force_code": True,
    "episode_id": True,
    "person_id": True,
    "reported_at": True,
    "last_seen_at": False,
    "returned_at": False,
    "age": True,
    "sex": False,
    "ethnicity": False,
    "looked_after": False,
    "missing_from": False,
    "category": True,
    "risk_initial": True,
    "risk_final": False,
    "supervisor_review_at": False,
    "risk_factors": False,
    "found_by": False,
    "harm": False,
    "prevention_interview": False,
    "prevention_interview_at": False,
    "return_interview": False,
    "return_interview_at": False,
    "officer_id": False,
    **{name: False for name in LINKAGE_COLUMNS},
}
REQUIRED_COLUMNS = tuple(name for name, required in COLUMNS.items() if required)

# ISO 8601 local date-time, minutes or seconds, 'T' or space between date and time.
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
# An id is a reference, not text: the bound keeps one pasted cell (10 MB) from costing gigabytes in
# every table and comparison built from the episodes.
ID_COLUMNS = ("episode_id", "person_id", "officer_id")
MAX_ID_LENGTH = 64
ID_TOO_LONG = f"longer than {MAX_ID_LENGTH} characters"
# The contract's ages: children, 0 to 17 at the report.
MIN_AGE, MAX_AGE = 0, 17

# A token is 64 lowercase hexadecimal digits; anything else in a token column (a name pasted in, a hash cut short
# by a spreadsheet) is not one. An ONS code of a local authority: E06 unitary, E07 district, E08 metropolitan
# district, E09 London borough, E10 county, W06 Welsh principal area, then six digits.
_TOKEN_LENGTH = 64
_HEX_BYTE = np.zeros(256, dtype=bool)
_HEX_BYTE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = True
_LA_CODE = re.compile(r"^(E0[6-9]|E10|W06)\d{6}$")
NOT_A_TOKEN = "not a linkage token (64 lowercase hexadecimal digits, as toolkit pseudonymise writes)"
NOT_AN_LA_CODE = "not an ONS local authority code such as E08000025 (E06-E10 or W06, then six digits)"

# For checks across columns, the column a problem is reported against.
CHECK_COLUMNS: dict[str, str] = {
    "returned_after_reported": "returned_at",
    "last_seen_not_after_reported": "last_seen_at",
    "reported_by_extract_date": "reported_at",
    "returned_by_extract_date": "returned_at",
    "absent_is_no_apparent_risk": "risk_initial",
    "episode_id_unique_in_force": "episode_id",
}


def cast_to_text(values: pd.Series) -> pd.Series:
    """``values`` as pandas strings (missing as ``<NA>``), as ``values.astype("string")`` gives codes.

    The same for categories of text (every code column): categories of numbers or dates are written as
    their own index writes them (``1``, not ``1.0``, where ``astype`` sees a missing value among them).

    A clean column of codes is categorical: its few categories are converted and taken by code, where
    ``astype`` converts every value (a fifth of a second a column at five national years, and the
    statistics read the same columns as text dozens of times).

    Examples
    --------
    >>> grades = pd.Series(["low", None, "high"], dtype="category")
    >>> cast_to_text(grades).tolist(), cast_to_text(grades).dtype == "string"
    (['low', <NA>, 'high'], True)
    >>> cast_to_text(grades).equals(grades.astype("string"))
    True
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("string")
    categories = pd.array(values.cat.categories.astype("string"), dtype="string")
    taken = categories.take(values.cat.codes.to_numpy(), allow_fill=True)
    return pd.Series(taken, index=values.index, name=values.name)


def format_iso_datetimes(stamps: pd.Series) -> pd.Series:
    """Datetimes as the contract writes them (``YYYY-MM-DDTHH:MM:SS``), blanks for missing.

    Vectorised in numpy, fast on millions of values.

    Examples
    --------
    >>> format_iso_datetimes(pd.Series(pd.to_datetime(["2024-03-05 21:40", None]))).tolist()
    ['2024-03-05T21:40:00', '']
    """
    values = pd.to_datetime(stamps).to_numpy(dtype="datetime64[s]")
    text = np.datetime_as_string(values, unit="s")
    return pd.Series(np.where(np.isnat(values), "", text), index=stamps.index).astype(str)


def parse_whole_numbers(values: pd.Series) -> pd.Series:
    """Read text as whole numbers (``15.0`` and ``1e1`` count); anything else is missing.

    The result is float, so that a value of any size (``300``, ``1e30``) is kept
    for the caller to judge against a range rather than overflowing a cast.

    Examples
    --------
    >>> parse_whole_numbers(pd.Series(["15", "15.0", "15.5", "1e3", "inf", "fifteen", ""])).tolist()
    [15.0, 15.0, nan, 1000.0, nan, nan, nan]
    """
    number = pd.to_numeric(values, errors="coerce").astype("float64")
    # An infinity equals its own floor; it is no whole number.
    return number.where(np.isfinite(number) & (number == np.floor(number)))


def is_within_id_length(values: pd.Series) -> pd.Series:
    """Whether each id (text) is at most :data:`MAX_ID_LENGTH` characters: the contract's one bound on ids.

    Examples
    --------
    >>> is_within_id_length(pd.Series(["WM-1", "", "x" * 65])).tolist()
    [True, True, False]
    """
    return values.str.len() <= MAX_ID_LENGTH


def is_linkage_token(values: pd.Series) -> pd.Series:
    """Whether each value (text) is a linkage token or blank: the contract's one form of a token.

    Every token column of an extract is checked twice, by the contract and by the cleaning, so this reads
    the text's bytes at once (a lookup of each byte, then the rows that hold a byte that is no lowercase
    hexadecimal digit) rather than matching a regular expression per value: at ten years (11 token columns
    of 2 million rows) the expression took about 20 s of the cleaning's CPU.

    Examples
    --------
    >>> is_linkage_token(pd.Series(["a" * 64, "", "A" * 64, "SMITH", "a" * 63, "é" * 32])).tolist()
    [True, True, False, False, False, False]
    """
    text = pyarrow.array(values.astype("string[pyarrow]"), type=pyarrow.large_string(), from_pandas=True)
    chunks = text.chunks if isinstance(text, pyarrow.ChunkedArray) else [text]
    found = [_find_tokens(chunk) for chunk in chunks]
    return pd.Series(np.concatenate(found) if found else np.zeros(0, dtype=bool), index=values.index)


def _find_tokens(text: pyarrow.LargeStringArray) -> np.ndarray:
    """Whether each value of one Arrow array is a token or blank (see :func:`is_linkage_token`)."""
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)[first:last] if last > first else np.empty(0, np.uint8)
    # A byte of UTF-8 that is no hexadecimal digit (upper case, a letter past f, any non-ASCII byte) spoils its
    # value: the row that holds it is the last one whose offset is at or before it.
    spoilt = np.zeros(len(text), dtype=bool)
    spoilt[np.searchsorted(offsets, np.flatnonzero(~_HEX_BYTE[data]) + first, side="right") - 1] = True
    lengths = np.diff(offsets)
    valid = text.is_valid().to_numpy(zero_copy_only=False)
    return valid & ((lengths == 0) | ((lengths == _TOKEN_LENGTH) & ~spoilt))


def is_la_code(values: pd.Series) -> pd.Series:
    """Whether each value (text) is an ONS local authority code or blank.

    Examples
    --------
    >>> is_la_code(pd.Series(["E08000025", "W06000015", "", "E23000014", "Birmingham"])).tolist()
    [True, True, True, False, False]
    """
    return (values == "") | values.str.fullmatch(_LA_CODE).fillna(False).astype(bool)


def _is_iso_datetime(values: pd.Series) -> pd.Series:
    text = values.astype("string")
    shaped = text.str.match(_ISO_DATETIME).fillna(False).astype(bool)
    parsed = pd.to_datetime(text.where(shaped), format="ISO8601", errors="coerce")
    return (text == "") | (shaped & parsed.notna())


def _has_known_risk_factors(values: pd.Series) -> pd.Series:
    allowed = set(RISK_FACTORS)
    return values.map(lambda v: v == "" or set(v.split(";")) <= allowed).astype(bool)


def _text_column(name: str, required: bool) -> pandera.Column:
    import pandera.pandas as pa  # only here: the constants of this module reach every report's kernel without it

    checks = []
    if required:
        checks.append(pa.Check(lambda s: s != "", error="value is required but empty"))
    if name == "force_code":
        codes = [f.code for f in list_forces()]
        checks.append(
            pa.Check(
                lambda s: s.isin(codes) | (s == ""),
                error="not a territorial force code of England and Wales (E23000001..E23000039, W15000001..W15000004)",
            )
        )
    elif name in ID_COLUMNS:
        checks.append(pa.Check(is_within_id_length, error=ID_TOO_LONG))
    elif name in DATETIME_COLUMNS:
        checks.append(
            pa.Check(
                _is_iso_datetime,
                error="not an ISO 8601 date-time such as 2024-03-05T21:40:00",
            )
        )
    elif name in LINKAGE_TOKENS:
        checks.append(pa.Check(is_linkage_token, error=NOT_A_TOKEN))
    elif name == "responsible_la":
        checks.append(pa.Check(is_la_code, error=NOT_AN_LA_CODE))
    elif name == "age":
        checks.append(
            pa.Check(
                lambda s: (s == "") | s.isin([str(a) for a in range(MIN_AGE, MAX_AGE + 1)]),
                error=f"age must be a whole number from {MIN_AGE} to {MAX_AGE}",
            )
        )
    elif name == "risk_factors":
        checks.append(
            pa.Check(
                _has_known_risk_factors,
                error="risk factors must be ';'-separated codes from: " + ", ".join(RISK_FACTORS),
            )
        )
    elif name in CODES:
        allowed = list(CODES[name])
        checks.append(
            pa.Check(
                lambda s, allowed=allowed: s.isin(allowed) | (s == ""),
                error="not one of: " + ", ".join(allowed),
            )
        )
    return pa.Column(str, checks=checks, required=required, nullable=False)


def build_text_schema() -> pandera.DataFrameSchema:
    """Build the schema that checks every value of the extract as text.

    The frame it checks has every cell as a string, blanks as ``""``.
    Required columns must be present; optional columns may be absent.

    Returns
    -------
    pandera.DataFrameSchema

    Examples
    --------
    >>> schema = build_text_schema()
    >>> schema.columns["age"].required, schema.columns["sex"].required
    (True, False)
    """
    import pandera.pandas as pa  # see _text_column

    return pa.DataFrameSchema(
        {name: _text_column(name, required) for name, required in COLUMNS.items()},
        strict=False,
        name="episode extract (text)",
    )


def build_episode_schema(extract_date: ExtractDate | date | str) -> pandera.DataFrameSchema:
    """Build the schema that checks the typed episode table across columns.

    Parameters
    ----------
    extract_date : date or str
        The date the data were taken; nothing may happen after it.

    Returns
    -------
    pandera.DataFrameSchema
        Its checks are named by the keys of :data:`CHECK_COLUMNS`.

    Examples
    --------
    >>> sorted(c.name for c in build_episode_schema("2025-01-31").checks)[:2]
    ['absent_is_no_apparent_risk', 'episode_id_unique_in_force']
    """
    extract = ExtractDate.parse(extract_date)
    limit, day = extract.end, extract.isoformat()

    def returned_after_reported(d: pd.DataFrame) -> pd.Series:
        return d["returned_at"].isna() | d["reported_at"].isna() | (d["returned_at"] > d["reported_at"])

    def last_seen_not_after_reported(d: pd.DataFrame) -> pd.Series:
        return d["last_seen_at"].isna() | d["reported_at"].isna() | (d["last_seen_at"] <= d["reported_at"])

    def reported_by_extract_date(d: pd.DataFrame) -> pd.Series:
        return d["reported_at"].isna() | (d["reported_at"] <= limit)

    def returned_by_extract_date(d: pd.DataFrame) -> pd.Series:
        return d["returned_at"].isna() | (d["returned_at"] <= limit)

    def absent_is_no_apparent_risk(d: pd.DataFrame) -> pd.Series:
        return (d["category"] != "absent") | (d["risk_initial"] == "no_apparent_risk")

    def episode_id_unique_in_force(d: pd.DataFrame) -> pd.Series:
        return ~d.duplicated(["force_code", "episode_id"], keep=False)

    checks = [
        (returned_after_reported, "returned_at is not after reported_at"),
        (last_seen_not_after_reported, "last_seen_at is after reported_at"),
        (reported_by_extract_date, f"reported after the extract date ({day})"),
        (returned_by_extract_date, f"returned after the extract date ({day})"),
        (absent_is_no_apparent_risk, "an absent episode must be graded no_apparent_risk"),
        (episode_id_unique_in_force, "episode_id is not unique within the force"),
    ]
    import pandera.pandas as pa  # see _text_column

    return pa.DataFrameSchema(
        checks=[pa.Check(fn, name=fn.__name__, error=error) for fn, error in checks],
        name="episode extract (typed)",
    )
