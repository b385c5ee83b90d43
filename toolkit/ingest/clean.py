"""Clean a force's export into the canonical extract, losing nothing.

:func:`clean_export` runs small, pure steps in order; each takes the working
table and returns a new one, recording what it did in a ledger:

1. :func:`map_columns` - rename the export's columns (and fill constants);
2. :func:`trim_whitespace` - a *correction*, logged per value;
3. :func:`blank_null_markers`, :func:`recode_values`, :func:`recode_risk_factors`,
   :func:`parse_dates`, :func:`parse_ages` - *translations* declared by the
   mapping (``HIGH`` to ``high``, ``05/03/2024 21:40`` to ISO), counted per
   distinct spelling; a value the mapping does not know is blanked (optional
   columns, a logged correction) or sends the row to quarantine (required);
4. :func:`check_rows` - row checks: unknown force, required value missing, an
   id over 64 characters, age outside 0-17, reported after the extract date,
   returned before reported, an "absent" episode with a risk grade; dates after
   the extract date and "last seen" after the report are blanked (logged
   corrections);
   :func:`check_linkage_columns` - a linkage token that is not 64 lowercase
   hexadecimal digits, or a responsible local authority that is no ONS code,
   is blanked (a logged correction; the change log withholds a bad token's
   value, which may be a name pasted into the wrong column);
5. :func:`merge_exact_duplicates` - identical rows merged into one, counted;
6. :func:`resolve_duplicates` - the same episode id with different content, or
   the same child reported at the same time under two ids: the most complete
   row is kept, the others quarantined;
7. :func:`detect_overlaps` - an episode reported while the same child's
   previous episode was still open: quarantined.

Every input row ends in exactly one place: the clean table, the quarantine
(with a reason code and a sentence) or merged into an identical row:
``rows_in == clean + quarantined + merged`` (checked on every run).

Examples
--------
>>> import pandas as pd
>>> from toolkit.ingest.mapping import read_mapping, CANONICAL
>>> raw = pd.DataFrame({
...     "force_code": ["E23000014", "E23000014", "E23000099"], "episode_id": ["a", "a", "b"],
...     "person_id": ["p", "p", "q"], "reported_at": ["2024-03-05T21:40:00"] * 3,
...     "age": [" 15", " 15", "12"], "category": ["missing"] * 3, "risk_initial": ["low"] * 3})
>>> result = clean_export(raw, read_mapping(CANONICAL), extract_date="2025-01-31")
>>> len(result.clean), len(result.quarantine), len(result.merged)
(1, 1, 1)
>>> result.quarantine["reason_code"].tolist(), result.changes["rule"].unique().tolist()
(['unknown_force'], ['trim_whitespace'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.dates import ExtractDate
from toolkit.errors import ConfigError, ToolkitError
from toolkit.forces import read_forces_table
from toolkit.ingest.extract import refuse_duplicate_headers, to_episodes
from toolkit.ingest.mapping import Mapping
from toolkit.ingest.schema import (
    CODES,
    COLUMNS,
    DATETIME_COLUMNS,
    ID_COLUMNS,
    ID_TOO_LONG,
    LINKAGE_COLUMNS,
    LINKAGE_TOKENS,
    MAX_AGE,
    MIN_AGE,
    RISK_FACTORS,
    format_iso_datetimes,
    is_la_code,
    is_linkage_token,
    is_within_id_length,
    parse_whole_numbers,
)
from toolkit.store import WorkFolder

__all__ = [
    "QUARANTINE_REASONS",
    "CORRECTION_RULES",
    "CleanResult",
    "clean_export",
    "map_columns",
    "trim_whitespace",
    "blank_null_markers",
    "recode_values",
    "recode_risk_factors",
    "parse_dates",
    "parse_ages",
    "check_rows",
    "check_linkage_columns",
    "merge_exact_duplicates",
    "resolve_duplicates",
    "detect_overlaps",
    "write_cleaning_outputs",
]

# Reason codes, in the order a row's main reason is chosen, with the sentence for each.
QUARANTINE_REASONS = {
    "unknown_force": "force code is not one of the 43 territorial forces",
    "missing_required": "a required value is blank",
    "id_too_long": f"an id (episode_id, person_id or officer_id) is {ID_TOO_LONG}",
    "bad_date": "reported_at is not a date in any format the mapping allows",
    "bad_age": "age is not a whole number",
    "age_out_of_range": "age is outside 0 to 17: not a child",
    "bad_code": "a required code (category or risk grade) is not one the mapping knows",
    "after_extract_date": "reported after the extract date",
    "returned_before_reported": "returned_at is not after reported_at",
    "absent_with_risk_grade": "an 'absent' episode carries a risk grade other than no_apparent_risk",
    "duplicate_episode_id": "another row has the same episode id with different content; the most complete was kept",
    "near_duplicate": "the same child was reported at the same time under another episode id, which was kept",
    "overlaps_episode": "reported while the same child's previous episode was still open",
}
# Corrections made to single values, each logged with the row, before and after.
CORRECTION_RULES = {
    "trim_whitespace": "leading or trailing spaces removed",
    "unrecognised_code": "an optional code the mapping does not know: set to unknown (or blank)",
    "unrecognised_risk_factor": "a risk factor the mapping does not know: dropped from the list",
    "unparseable_date": "an optional date in no allowed format: blanked",
    "date_after_extract": "an optional date after the extract date: blanked",
    "last_seen_after_reported": "last seen after the report: blanked",
    "bad_linkage_token": "a linkage token that is not 64 lowercase hexadecimal digits: blanked (its value withheld)",
    "unrecognised_la_code": "a responsible local authority that is not an ONS code: blanked",
}
# What the change log shows for a bad token instead of its value, which may be a name or a date of birth.
WITHHELD_TOKEN = "[withheld: not a token]"
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_REQUIRED_CODES = ("category", "risk_initial")


@dataclass
class _Ledger:
    """What the steps did: corrections, translations, reasons to quarantine, merges."""

    changes: list[pd.DataFrame] = field(default_factory=list)
    translations: list[pd.DataFrame] = field(default_factory=list)
    reasons: dict[str, pd.Series] = field(default_factory=dict)
    merged: list[pd.DataFrame] = field(default_factory=list)

    def change(self, frame: pd.DataFrame, mask: pd.Series, column: str, after: pd.Series, rule: str) -> None:
        if mask.any():
            self.changes.append(
                pd.DataFrame(
                    {
                        "source_row": frame.loc[mask, "source_row"].to_numpy(),
                        "column": column,
                        "before": frame.loc[mask, column].to_numpy(),
                        "after": after[mask].to_numpy(),
                        "rule": rule,
                    }
                )
            )

    def translate(self, before: pd.Series, after: pd.Series, column: str, rule: str) -> None:
        changed = before != after
        if changed.any():
            pairs = pd.DataFrame({"before": before[changed], "after": after[changed]})
            counts = pairs.value_counts().rename("count").reset_index()
            counts.insert(0, "column", column)
            counts["rule"] = rule
            self.translations.append(counts)

    def quarantine(self, reason: str, mask: pd.Series) -> None:
        previous = self.reasons.get(reason)
        self.reasons[reason] = mask if previous is None else (previous | mask.reindex(previous.index, fill_value=False))


@dataclass
class CleanResult:
    """The outcome of cleaning one export.

    Attributes
    ----------
    clean : pandas.DataFrame
        Canonical episode table (typed), with ``source_row`` (the row in the
        export, numbered as a spreadsheet does) and ``duration_hours``.
    quarantine : pandas.DataFrame
        Rows that could not be made valid: ``source_row``, ``reason_code``,
        ``reason`` (a sentence), ``all_reasons``, ``force_code`` (as cleaned),
        then the export's own values (``export: <column>``).
    changes : pandas.DataFrame
        Every correction to a value: ``source_row``, ``column``, ``before``,
        ``after``, ``rule``.
    translations : pandas.DataFrame
        Every mapping translation, counted: ``column``, ``before``, ``after``,
        ``count``, ``rule``.
    merged : pandas.DataFrame
        Exact duplicates merged: ``source_row`` and the ``kept_row`` it repeated.
    rows_in : int
    mapping : str
    """

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    changes: pd.DataFrame
    translations: pd.DataFrame
    merged: pd.DataFrame
    rows_in: int
    mapping: str

    def covered_forces(self) -> list[str]:
        """The forces the export covers: every known force with a row in it, clean or set aside.

        A force that sent nothing is not in the data, and is never counted as sending zero.
        """
        known = set(read_forces_table().index)
        quarantined = set(self.quarantine["force_code"].dropna().astype(str)) & known
        return sorted(set(self.clean["force_code"].astype(str)) | quarantined)

    def counts(self) -> dict:
        """Rows in, clean, quarantined (by reason), merged, and corrections by rule."""
        return {
            "mapping": self.mapping,
            "rows_in": self.rows_in,
            "rows_clean": len(self.clean),
            "rows_quarantined": len(self.quarantine),
            "rows_merged": len(self.merged),
            "quarantined_by_reason": self.quarantine["reason_code"].value_counts().sort_index().to_dict(),
            "corrections_by_rule": self.changes["rule"].value_counts().sort_index().to_dict(),
        }


def map_columns(raw: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    """Rename the export's columns to canonical names; add constants and blanks for the unmapped.

    Raises
    ------
    ConfigError
        When the mapping names a column that is not in the export.
    ExtractError
        When the export names a column twice (as a file is refused when read).
    """
    refuse_duplicate_headers(list(raw.columns), "the export")  # else the last of the copies would be used
    headers = {str(c).strip(): c for c in raw.columns}
    # A linkage column (contract version 2) may always be missing: an export without them is version 1.
    missing = [
        source
        for column, source in mapping.columns.items()
        if source.strip() not in headers
        and (COLUMNS[column] or not mapping.optional_columns_may_be_missing)
        and column not in LINKAGE_COLUMNS
    ]
    if missing:
        shown = ", ".join(map(repr, list(headers)[:30]))
        raise ConfigError(
            f"mapping {mapping.name} names column(s) {', '.join(map(repr, missing))} "
            f"that the export does not have; its columns are: {shown}"
        )
    out = {}
    for column in COLUMNS:
        if column in mapping.columns and mapping.columns[column].strip() in headers:
            out[column] = raw[headers[mapping.columns[column].strip()]].astype(str)
        elif column in mapping.constants:
            out[column] = pd.Series(mapping.constants[column], index=raw.index, dtype=object).astype(str)
        else:
            out[column] = pd.Series("", index=raw.index, dtype=object).astype(str)
    frame = pd.DataFrame(out, index=raw.index)
    frame.insert(0, "source_row", np.arange(len(raw)) + 2)  # as a spreadsheet numbers rows
    return frame


def trim_whitespace(frame: pd.DataFrame, ledger: _Ledger) -> pd.DataFrame:
    """Remove leading and trailing spaces from every value (a logged correction)."""
    out = frame.copy()
    for column in COLUMNS:
        stripped = frame[column].str.strip()
        mask = stripped != frame[column]
        if mask.any():  # else keep the column as it was: a stripped copy of every column doubles the memory
            ledger.change(frame, mask, column, stripped, "trim_whitespace")
            out[column] = stripped
    return out


def blank_null_markers(frame: pd.DataFrame, ledger: _Ledger, mapping: Mapping) -> pd.DataFrame:
    """Turn the mapping's markers for 'not known' (``N/K``, ``NULL``, ``-``) into blanks."""
    out = frame.copy()
    markers = list(mapping.null_markers - {""})
    if not markers:
        return out
    for column in COLUMNS:
        hit = frame[column].str.lower().isin(markers)
        if hit.any():
            after = frame[column].mask(hit, "")
            ledger.translate(frame[column], after, column, "null_marker")
            out[column] = after
    return out


def recode_values(frame: pd.DataFrame, ledger: _Ledger, mapping: Mapping) -> pd.DataFrame:
    """Translate each coded column's spellings into canonical codes.

    An unknown spelling in a required column (category, risk grade) sends the
    row to quarantine; in an optional column it becomes ``unknown`` where the
    column has that code, else blank (a logged correction).
    """
    out = frame.copy()
    out["force_code"] = frame["force_code"].str.upper()
    ledger.translate(frame["force_code"], out["force_code"], "force_code", "force_code_case")
    for column in CODES:
        values = frame[column]
        lookup = mapping.lookup(column)
        # A coded column holds a handful of spellings: translate each once, then spread back by position.
        positions, spellings = pd.factorize(values)
        translated = pd.Index(spellings, dtype=object).str.lower().map(lookup).to_numpy(dtype=object)
        mapped = pd.Series(pd.array(translated, dtype="str").take(positions), index=values.index)
        known = mapped.notna() | (values == "")
        mapped = mapped.fillna(values)
        ledger.translate(values[known], mapped[known], column, "recode")
        if column in _REQUIRED_CODES:
            ledger.quarantine("bad_code", ~known)
        else:
            fallback = "unknown" if "unknown" in CODES[column] else ""
            corrected = mapped.mask(~known, fallback)
            ledger.change(frame, ~known, column, corrected, "unrecognised_code")
            mapped = corrected
        out[column] = mapped
    return out


def _canonical_factor_list(text: str, separator: str, lookup: dict[str, str]) -> tuple[str, bool]:
    """One export risk-factor list -> (canonical ';'-list in contract order, had an unknown code)."""
    order = {code: i for i, code in enumerate(RISK_FACTORS)}
    codes, unknown = set(), False
    for item in text.split(separator):
        item = item.strip().lower()
        if not item:
            continue
        if item in lookup:
            codes.add(lookup[item])
        else:
            unknown = True
    return ";".join(sorted(codes, key=order.__getitem__)), unknown


def recode_risk_factors(frame: pd.DataFrame, ledger: _Ledger, mapping: Mapping) -> pd.DataFrame:
    """Translate the list of risk factors into canonical codes, ``;``-separated, in contract order.

    Lists repeat across episodes, so each distinct list is translated once.
    """
    out = frame.copy()
    values = frame["risk_factors"]
    lookup = mapping.risk_factor_lookup()
    distinct = pd.unique(values[values != ""])
    if len(distinct) == 0:
        return out
    translated = {v: _canonical_factor_list(v, mapping.risk_factor_separator, lookup) for v in distinct}
    after = values.map(lambda v: translated[v][0] if v else "")
    unknown = values.map(lambda v: translated[v][1] if v else False).astype(bool)
    ledger.change(frame, unknown, "risk_factors", after, "unrecognised_risk_factor")
    ledger.translate(values[~unknown], after[~unknown], "risk_factors", "recode")
    out["risk_factors"] = after
    return out


def _parse_one_format(text: pd.Series, fmt: str) -> pd.Series:
    if fmt == "iso":
        return pd.to_datetime(text, format="ISO8601", errors="coerce")
    if fmt == "excel_serial":
        numbers = pd.to_numeric(text.where(text.str.fullmatch(r"\d+(\.\d+)?")), errors="coerce")
        numbers = numbers.where((numbers >= 1) & (numbers < 2958466))
        stamps = _EXCEL_EPOCH + pd.to_timedelta(numbers * 86400, unit="s")
        return stamps.dt.round("s")
    # pyarrow's strptime is strict (the whole value must match) and far faster than pandas' here.
    parsed = pc.strptime(
        pa.array(text.to_numpy(dtype=object), type=pa.string()), format=fmt, unit="s", error_is_null=True
    )
    return pd.Series(parsed.to_numpy(zero_copy_only=False), index=text.index).astype("datetime64[s]")


def parse_dates(frame: pd.DataFrame, ledger: _Ledger, mapping: Mapping) -> pd.DataFrame:
    """Parse each date column with the mapping's formats, in order, into datetimes.

    An unparseable ``reported_at`` sends the row to quarantine; any other
    unparseable date is blanked (a logged correction). The columns hold
    datetimes (missing as NaT) from this step on.
    """
    out = frame.copy()
    for column in DATETIME_COLUMNS:
        text = frame[column]
        present = text != ""
        values = text.reset_index(drop=True)  # Arrow strings, taken by position below (no Python objects)
        parsed = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[s]")
        left = present.to_numpy().copy()
        used = {}
        for fmt in mapping.dates:  # positions, not labels: this loop runs over millions of values
            where = np.flatnonzero(left)
            if not len(where):
                break
            attempt = _parse_one_format(values.take(where).reset_index(drop=True), fmt).to_numpy(dtype="datetime64[s]")
            ok = ~np.isnat(attempt)
            parsed[where[ok]] = attempt[ok]
            left[where[ok]] = False
            used[fmt] = where[ok]
        remaining = pd.Series(left, index=text.index)
        stamps = pd.Series(parsed, index=text.index)
        for fmt, where in used.items():
            # Dates are nearly all distinct: translations are counted by the format they were in.
            # Text already in the contract's form (ISO with seconds) is not a translation.
            already = values.take(where).str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d").to_numpy(dtype=bool)
            rewritten = int((~already).sum())
            if rewritten:
                ledger.translations.append(
                    pd.DataFrame(
                        {
                            "column": [column],
                            "before": [fmt],
                            "after": ["ISO 8601"],
                            "count": [rewritten],
                            "rule": ["date_format"],
                        }
                    )
                )
        if column == "reported_at":
            ledger.quarantine("bad_date", remaining)
        else:
            ledger.change(frame, remaining, column, pd.Series("", index=text.index), "unparseable_date")
        out[column] = stamps  # from here on dates are datetimes, not text
    return out


def parse_ages(frame: pd.DataFrame, ledger: _Ledger) -> pd.DataFrame:
    """Read ages as whole numbers (``15.0`` from a spreadsheet is 15); quarantine the rest.

    An age that is not a whole number, or is one outside 0 to 17, keeps the text
    it had in the export, for the quarantine to show.
    """
    out = frame.copy()
    text = frame["age"]
    number = parse_whole_numbers(text)
    whole = number.notna()
    in_range = number.between(MIN_AGE, MAX_AGE)
    present = text != ""
    ledger.quarantine("bad_age", present & ~whole)
    ledger.quarantine("age_out_of_range", whole & ~in_range)
    # Only ages in range are cast: 1e30 or 300 would not fit the integer type.
    canonical = number.where(in_range).astype("Int64").astype(str).where(in_range, text)
    ledger.translate(text[in_range], canonical[in_range], "age", "whole_number")
    out["age"] = canonical
    return out


def check_rows(frame: pd.DataFrame, ledger: _Ledger, extract_date: date | str) -> pd.DataFrame:
    """Row checks against the registry, the extract date and the order of events."""
    out = frame.copy()
    codes = set(read_forces_table().index)
    ledger.quarantine("unknown_force", (frame["force_code"] != "") & ~frame["force_code"].isin(codes))
    required = frame[[c for c, needed in COLUMNS.items() if needed and c not in DATETIME_COLUMNS]]
    # reported_at is a datetime by now: NaT is blank unless it was an unreadable date (bad_date).
    unreadable = ledger.reasons.get("bad_date", pd.Series(False, index=frame.index)).reindex(
        frame.index, fill_value=False
    )
    blank_date = frame["reported_at"].isna() & ~unreadable
    ledger.quarantine("missing_required", (required == "").any(axis=1) | blank_date)
    # The canonical contract's bound, so an export's id is held to what a canonical extract's is.
    too_long = pd.Series(False, index=frame.index)
    for column in ID_COLUMNS:
        too_long |= ~is_within_id_length(frame[column])
    ledger.quarantine("id_too_long", too_long)

    limit = ExtractDate.parse(extract_date).end
    ledger.quarantine("after_extract_date", frame["reported_at"] > limit)
    for column in DATETIME_COLUMNS:
        if column == "reported_at":
            continue
        late = frame[column] > limit
        ledger.change(frame, late, column, out[column].mask(late), "date_after_extract")
        out[column] = out[column].mask(late)
    ledger.quarantine("returned_before_reported", out["returned_at"] <= out["reported_at"])
    seen_late = out["last_seen_at"] > out["reported_at"]
    ledger.change(out, seen_late, "last_seen_at", out["last_seen_at"].mask(seen_late), "last_seen_after_reported")
    out["last_seen_at"] = out["last_seen_at"].mask(seen_late)
    graded = (frame["category"] == "absent") & frame["risk_initial"].isin(["low", "medium", "high"])
    ledger.quarantine("absent_with_risk_grade", graded)
    return out


def check_linkage_columns(frame: pd.DataFrame, ledger: _Ledger) -> pd.DataFrame:
    """Blank a linkage token that is not one, and a responsible local authority that is no ONS code.

    The linkage columns are optional attributes of the child: a bad one costs the
    episode nothing but its part in linking, so the episode is kept and the value
    blanked (a logged correction), as cleaning does with other optional values. A
    token column holds only hashes, so whatever else is in one may be a raw
    identifier: the change log names the row and column but withholds the value.
    An LA code in lower case is upper-cased (a translation). The tokens of a
    child's episodes are kept as sent, even where they differ: the linkage takes
    each child's most frequent token (:mod:`toolkit.linkage`).

    Examples
    --------
    >>> frame = pd.DataFrame({"source_row": [2, 3], "link_dob": ["a" * 64, "2009-03-07"],
    ...                       "responsible_la": ["e08000025", "Birmingham"]})
    >>> for column in LINKAGE_TOKENS[:1] + LINKAGE_TOKENS[2:]:
    ...     frame[column] = ""
    >>> ledger = _Ledger()
    >>> out = check_linkage_columns(frame, ledger)
    >>> (out["link_dob"] == "").tolist(), out["responsible_la"].tolist()
    ([False, True], ['E08000025', ''])
    >>> for change in pd.concat(ledger.changes)[["source_row", "column", "before", "rule"]].values.tolist():
    ...     print(change)
    [3, 'link_dob', '[withheld: not a token]', 'bad_linkage_token']
    [3, 'responsible_la', 'Birmingham', 'unrecognised_la_code']
    """
    out = frame.copy()
    for column in LINKAGE_TOKENS:
        bad = ~is_linkage_token(frame[column])
        if bad.any():
            blank = pd.Series("", index=frame.index)
            withheld = frame.assign(**{column: frame[column].mask(bad, WITHHELD_TOKEN)})
            ledger.change(withheld, bad, column, blank, "bad_linkage_token")
            out[column] = frame[column].mask(bad, "")
    upper = frame["responsible_la"].str.upper()
    ledger.translate(frame["responsible_la"], upper, "responsible_la", "la_code_case")
    bad = ~is_la_code(upper)
    ledger.change(frame, bad, "responsible_la", pd.Series("", index=frame.index), "unrecognised_la_code")
    out["responsible_la"] = upper.mask(bad, "")
    return out


def _quarantined(ledger: _Ledger, index: pd.Index) -> pd.Series:
    flagged = pd.Series(False, index=index)
    for mask in ledger.reasons.values():
        flagged |= mask.reindex(index, fill_value=False)
    return flagged


def merge_exact_duplicates(frame: pd.DataFrame, ledger: _Ledger) -> pd.DataFrame:
    """Merge rows identical in every canonical value into the first of them (counted)."""
    columns = list(COLUMNS)
    # Identical rows share their force and episode id: compare whole rows only among those.
    candidates = frame[frame.duplicated(["force_code", "episode_id"], keep=False)]
    if candidates.empty:
        return frame
    repeated = candidates.duplicated(columns, keep="first")
    if not repeated.any():
        return frame
    first_row = candidates.groupby(columns, sort=False, dropna=False)["source_row"].transform("first")
    ledger.merged.append(
        pd.DataFrame(
            {
                "source_row": candidates.loc[repeated, "source_row"].to_numpy(),
                "kept_row": first_row[repeated].to_numpy(),
            }
        )
    )
    return frame.drop(index=repeated[repeated].index)


def _completeness(frame: pd.DataFrame) -> pd.Series:
    """How many of the contract's columns each row fills (column by column: no copy of the frame)."""
    filled = np.zeros(len(frame), dtype=np.int64)
    for column in COLUMNS:
        values = frame[column]
        filled += (values.notna() & (values != "")).to_numpy(dtype=bool)
    return pd.Series(filled, index=frame.index)


def resolve_duplicates(frame: pd.DataFrame, ledger: _Ledger) -> pd.DataFrame:
    """Among valid rows, keep the most complete of each duplicated episode; quarantine the rest.

    Two kinds: the same force and episode id with different content; and the
    same force, child and report time under different episode ids.
    """
    keys = ["force_code", "episode_id", "person_id", "reported_at", "source_row"]
    valid = ~_quarantined(ledger, frame.index)
    ranked = (
        frame.loc[valid, keys]  # only the columns compared: a copy of every column costs a third of the memory
        .assign(_filled=_completeness(frame)[valid])
        .sort_values(["_filled", "source_row"], ascending=[False, True], kind="stable")
    )
    same_id = ranked.duplicated(["force_code", "episode_id"], keep="first")
    ledger.quarantine("duplicate_episode_id", same_id.reindex(frame.index, fill_value=False))
    remaining = ranked[~same_id]
    same_time = remaining.duplicated(["force_code", "person_id", "reported_at"], keep="first")
    ledger.quarantine("near_duplicate", same_time.reindex(frame.index, fill_value=False))
    return frame


def detect_overlaps(frame: pd.DataFrame, ledger: _Ledger) -> pd.DataFrame:
    """Quarantine an episode reported before the same child's earlier episode had ended."""
    valid = frame.loc[~_quarantined(ledger, frame.index), ["force_code", "person_id", "reported_at", "returned_at"]]
    if valid.empty:
        return frame
    times = pd.DataFrame(
        {
            "force_code": valid["force_code"],
            "person_id": valid["person_id"],
            "reported": valid["reported_at"],
            "returned": valid["returned_at"],
        }
    ).sort_values(["force_code", "person_id", "reported"], kind="stable")
    child = times.groupby(["force_code", "person_id"], sort=False)
    previous_end = child["returned"].shift()
    # The latest return of all earlier episodes of the child (an episode may end after later ones).
    times["latest_end"] = previous_end
    latest = times.groupby(["force_code", "person_id"], sort=False)["latest_end"].cummax()
    overlap = times["reported"] < latest
    ledger.quarantine("overlaps_episode", overlap.reindex(frame.index, fill_value=False))
    return frame


def _reason_sentences(codes: pd.Series, frame: pd.DataFrame) -> pd.Series:
    detail = {
        "unknown_force": ("force_code", "force_code"),
        "bad_age": ("age", "age"),
        "age_out_of_range": ("age", "age"),
        "after_extract_date": ("reported_at", "reported_at"),
        "returned_before_reported": ("returned_at", "returned_at"),
        "absent_with_risk_grade": ("risk_initial", "risk_initial"),
        "duplicate_episode_id": ("episode_id", "episode_id"),
    }
    sentences = codes.map(QUARANTINE_REASONS)
    for code, (column, label) in detail.items():
        hit = codes == code
        if hit.any():
            values = frame.loc[hit, column]
            if pd.api.types.is_datetime64_any_dtype(values):
                values = format_iso_datetimes(values)
            values = values.astype(str).str.slice(0, 40)
            sentences[hit] = sentences[hit] + f" ({label} '" + values + "')"
    return sentences


def clean_export(raw: pd.DataFrame, mapping: Mapping, extract_date: date | str) -> CleanResult:
    """Clean an export (all text, as read by :func:`toolkit.ingest.extract.read_extract_text`).

    Parameters
    ----------
    raw : pandas.DataFrame
        The export as text, in file order.
    mapping : Mapping
        How the export's columns and values translate (see :mod:`toolkit.ingest.mapping`).
    extract_date : date or str
        When the data were taken.

    Returns
    -------
    CleanResult

    Raises
    ------
    ConfigError
        The mapping names a column the export does not have.
    ToolkitError
        Rows were lost or double-counted (a fault: the run stops rather than
        publish from data that do not add up).
    """
    extract = ExtractDate.parse(extract_date)
    ledger = _Ledger()
    frame = map_columns(raw.reset_index(drop=True), mapping)
    frame = trim_whitespace(frame, ledger)
    frame = blank_null_markers(frame, ledger, mapping)
    frame = recode_values(frame, ledger, mapping)
    frame = recode_risk_factors(frame, ledger, mapping)
    frame = parse_dates(frame, ledger, mapping)
    frame = parse_ages(frame, ledger)
    frame = check_rows(frame, ledger, extract)
    frame = check_linkage_columns(frame, ledger)
    frame = merge_exact_duplicates(frame, ledger)
    frame = resolve_duplicates(frame, ledger)
    frame = detect_overlaps(frame, ledger)

    flagged = _quarantined(ledger, frame.index)
    reasons = pd.DataFrame(
        {
            code: ledger.reasons[code].reindex(frame.index, fill_value=False)
            for code in QUARANTINE_REASONS
            if code in ledger.reasons
        }
    )
    bad = frame[flagged]
    if len(bad):
        reason_frame = reasons.loc[flagged]
        primary = reason_frame.idxmax(axis=1)  # first true, in QUARANTINE_REASONS order
        listed = reason_frame.apply(lambda flags: flags.map({True: flags.name + ";", False: ""}))
        all_reasons = listed.sum(axis=1).str.rstrip(";")
    else:
        primary = all_reasons = pd.Series(dtype=object)
    raw_rows = raw.reset_index(drop=True).loc[bad.index].astype(str)
    quarantine = pd.concat(
        [
            pd.DataFrame(
                {
                    "source_row": bad["source_row"].to_numpy(),
                    "reason_code": primary.to_numpy(),
                    "reason": _reason_sentences(primary, bad).to_numpy(),
                    "all_reasons": all_reasons.to_numpy(),
                    "force_code": bad["force_code"].to_numpy(),  # as cleaned, to attribute the row
                },
                index=bad.index,
            ),
            raw_rows.add_prefix("export: "),
        ],
        axis=1,
    ).reset_index(drop=True)

    good = frame.loc[~flagged, ["source_row", *COLUMNS]]
    clean = to_episodes(good)  # the contract's columns, typed
    clean.insert(0, "source_row", good["source_row"].to_numpy())
    clean["duration_hours"] = (clean["returned_at"] - clean["reported_at"]).dt.total_seconds() / 3600
    clean = clean.reset_index(drop=True)

    def stack(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)

    result = CleanResult(
        clean=clean,
        quarantine=quarantine,
        changes=stack(ledger.changes, ["source_row", "column", "before", "after", "rule"]),
        translations=stack(ledger.translations, ["column", "before", "after", "count", "rule"]),
        merged=stack(ledger.merged, ["source_row", "kept_row"]),
        rows_in=len(raw),
        mapping=mapping.name,
    )
    accounted = len(result.clean) + len(result.quarantine) + len(result.merged)
    if accounted != result.rows_in:
        raise ToolkitError(f"cleaning lost track of rows: {result.rows_in} in, {accounted} accounted for")
    return result


def write_cleaning_outputs(result: CleanResult, folder) -> dict[str, Path]:
    """Write the clean table (Parquet), quarantine, change log, translations and counts.

    These hold pseudonymised record-level data: write them to a work folder
    (:class:`toolkit.store.WorkFolder`, which names the files), never to the
    published reports.

    Returns
    -------
    dict
        What was written: names of :data:`toolkit.store.FILES` to paths.
    """
    work = WorkFolder(folder)
    logs = ("quarantine", "changes", "translations", "merged")
    work.write_table("episodes", result.clean)
    for kind in logs:
        work.write_csv(kind, getattr(result, kind))
    work.write_json("cleaning_counts", result.counts())
    return {name: work.file(name) for name in ("episodes", *logs, "cleaning_counts")}
