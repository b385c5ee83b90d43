"""Synthetic exports in the dialects of real force systems, with known defects injected.

:func:`export_dialect` writes a canonical synthetic extract the way a force
system would (its column names, spellings, date formats and blanks, as its
mapping in ``data/mappings/`` describes them) and injects defects real
exports have: duplicated rows, near-duplicates, returns before reports, ages
outside 0-17, unknown forces, dates after the extract date, overlapping
episodes, unreadable dates, stray spaces and unknown codes. Each injected
defect is recorded with the row it is on and what cleaning must do with it,
so tests can prove the cleaning recovers the clean table exactly.

Examples
--------
>>> from toolkit.synthetic.generator import generate_extract
>>> from toolkit.ingest.mapping import read_mapping, MAPPINGS_DIR
>>> episodes, truth = generate_extract(2024, seed=3, scale=0.005)
>>> export, defects = export_dialect(episodes, read_mapping(MAPPINGS_DIR / "niche_rms.yaml"),
...                                  extract_date=truth["extract_date"], seed=3)
>>> "Occurrence Ref" in export.columns, sorted(defects["defect"].unique())[:3]
(True, ['after_extract_date', 'age_out_of_range', 'bad_date'])
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.dates import ExtractDate
from toolkit.ingest.mapping import Mapping, list_dialects
from toolkit.ingest.schema import CODES, COLUMNS, DATETIME_COLUMNS, RISK_FACTORS

__all__ = ["DIALECTS", "DEFECTS", "export_dialect", "to_canonical_text", "text_array"]

DIALECTS = list_dialects()  # every dialect shipped in data/mappings/

# Defect -> what cleaning must do with the row that carries it.
DEFECTS = {
    "exact_duplicate": "merged",
    "near_duplicate": "quarantined:near_duplicate",
    "returned_before_reported": "quarantined:returned_before_reported",
    "age_out_of_range": "quarantined:age_out_of_range",
    "unknown_force": "quarantined:unknown_force",
    "after_extract_date": "quarantined:after_extract_date",
    "overlap": "quarantined:overlaps_episode",
    "bad_date": "quarantined:bad_date",
    "whitespace": "corrected:trim_whitespace",
    "unrecognised_code": "corrected:unrecognised_code",
}
_ISO = "%Y-%m-%dT%H:%M:%S"


Columns = dict[str, pa.Array]  # an extract held as text, one Arrow array per column


def to_canonical_text(episodes: pd.DataFrame) -> pd.DataFrame:
    """The canonical extract as text, as it would be written to CSV (blanks as "").

    Examples
    --------
    >>> from toolkit.synthetic.generator import generate_extract
    >>> episodes, _ = generate_extract(2024, seed=3, scale=0.002)
    >>> text = to_canonical_text(episodes)
    >>> text["reported_at"].iloc[0], text["age"].dtype
    ('2024-01-02T20:32:00', <StringDtype(na_value=nan)>)
    """
    return _to_frame(_canonical_columns(episodes))


def _canonical_columns(episodes: pd.DataFrame) -> Columns:
    """:func:`to_canonical_text` as Arrow arrays: every column a string, blanks as ""."""
    columns = {}
    for column in COLUMNS:
        values = episodes[column]
        if column in DATETIME_COLUMNS:
            # Arrow writes a time as "YYYY-MM-DD HH:MM:SS": the contract's form, but for the "T".
            stamps = pa.array(values.to_numpy(dtype="datetime64[s]")).cast(pa.string())
            columns[column] = pc.fill_null(pc.utf8_replace_slice(stamps, 10, 11, "T"), "")
        elif column == "age":
            columns[column] = pa.array(values.to_numpy(dtype=np.int64)).cast(pa.string())
        else:
            columns[column] = text_array(values)
    return columns


def text_array(values: pd.Series) -> pa.Array:
    """A column as one Arrow string array, a missing value as "" (what a blank cell reads as).

    Examples
    --------
    >>> text_array(pd.Series(["a", None, "c"])).to_pylist()
    ['a', '', 'c']
    """
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        values = values.astype(str)  # text held otherwise (Python objects, numbers): as text in Arrow
    array = pa.array(values.array)
    if isinstance(array, pa.ChunkedArray):  # a frame sliced or joined holds its text in pieces
        array = array.combine_chunks()
    return pc.fill_null(array.cast(pa.string()), "")


def _to_frame(columns: Columns) -> pd.DataFrame:
    return pa.table(columns).to_pandas()


def _spelling(mapping: Mapping, column: str) -> dict[str, str]:
    """Canonical code -> the first spelling the mapping lists for it (not a null marker)."""
    nulls = mapping.null_markers
    table = {code: code for code in CODES[column]}
    for spelling, code in reversed(list(mapping.values.get(column, {}).items())):
        if spelling.strip().lower() not in nulls:
            table[code] = spelling
    return table


def _map_distinct(values: pa.Array, spell) -> pa.Array:
    """``spell`` applied to each distinct value once (a column holds few); ``None`` from it is a null."""
    encoded = pc.dictionary_encode(values)
    spelled = pa.array([spell(value) for value in encoded.dictionary.to_pylist()], type=pa.string())
    return spelled.take(encoded.indices)


# Where each strftime field sits in ISO text (YYYY-MM-DDTHH:MM:SS): a date is written by cutting its
# ISO text, much faster than parsing it back to a time and formatting that.
_ISO_FIELDS = {"%Y": (0, 4), "%m": (5, 7), "%d": (8, 10), "%H": (11, 13), "%M": (14, 16), "%S": (17, 19)}


def _seconds(iso: pa.Array) -> np.ndarray:
    """ISO text as whole seconds since 1970, as floats (NaN for a blank)."""
    stamps = pc.strptime(pc.if_else(pc.equal(iso, ""), None, iso), format=_ISO, unit="s")
    return stamps.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(float)


def _format_dates(iso: pa.Array, fmt: str) -> pa.Array:
    """ISO text (``""`` for none) written in a mapping's date format: a strftime pattern, ``excel_serial`` or ``iso``.

    Examples
    --------
    >>> iso = pa.array(["2024-03-05T21:40:00", ""])
    >>> _format_dates(iso, "%d/%m/%Y %H:%M").to_pylist(), _format_dates(iso, "excel_serial").to_pylist()
    (['05/03/2024 21:40', ''], ['45356.9027777778', ''])
    >>> _format_dates(iso, "%a %d %b %Y").to_pylist()
    ['Tue 05 Mar 2024', '']
    """
    blank = pc.equal(iso, "")
    if fmt == "iso":
        return iso
    if fmt == "excel_serial":
        # Days since Excel's epoch to 10 decimals, rounded exactly in whole numbers, trailing zeros dropped.
        seconds = np.nan_to_num(_seconds(iso)).astype(np.int64) + 25569 * 86400  # 1899-12-30 to 1970-01-01
        days, part = np.divmod(seconds, 86400)
        tenths = (part * 10**10 * 2 + 86400) // (2 * 86400)  # the day's part in 1e-10 days, half up
        days, tenths = days + (tenths == 10**10), np.where(tenths == 10**10, 0, tenths)
        digits = pc.utf8_lpad(pa.array(tenths).cast(pa.string()), 10, "0")
        text = pc.binary_join_element_wise(pa.array(days).cast(pa.string()), digits, ".")
        return pc.if_else(blank, "", pc.utf8_rtrim(pc.utf8_rtrim(text, "0"), "."))
    pieces = [piece for piece in re.split("(%.)", fmt) if piece]
    if all(piece in _ISO_FIELDS or not piece.startswith("%") for piece in pieces):
        parts = [pc.utf8_slice_codeunits(iso, *_ISO_FIELDS[p]) if p in _ISO_FIELDS else p for p in pieces]
        formatted = pc.binary_join_element_wise(*parts, "")
    else:  # a field ISO text does not hold (a weekday, a month's name): format the time itself
        formatted = pc.strftime(pc.strptime(pc.if_else(blank, None, iso), format=_ISO, unit="s"), format=fmt)
    return pc.if_else(blank, "", formatted)


def _translate(text: Columns, mapping: Mapping, rng: np.random.Generator) -> Columns:
    """Write canonical text in the dialect: spellings, date formats, risk-factor lists, blanks."""
    out = dict(text)
    n = len(text["episode_id"])
    for column in CODES:
        table = _spelling(mapping, column)
        out[column] = _map_distinct(text[column], lambda code, table=table: table.get(code) if code else "")
    factor_names = {code: code for code in RISK_FACTORS}
    for spelling, code in reversed(list(mapping.risk_factor_codes.items())):
        factor_names[code] = spelling
    out["risk_factors"] = _map_distinct(
        text["risk_factors"],
        lambda listed: mapping.risk_factor_separator.join(factor_names[c] for c in listed.split(";") if c),
    )
    for column in DATETIME_COLUMNS:
        formats = [f for f in mapping.dates]
        first = _format_dates(text[column], formats[0])
        if len(formats) > 1:
            # Real exports mix forms (with and without seconds): use the second for some rows.
            second = _format_dates(text[column], formats[1])
            first = pc.if_else(pa.array(rng.random(n) < 0.7), first, second)
        out[column] = first
    blanks = [m for m in mapping.nulls if m.strip() != ""] or [""]
    for column in COLUMNS:
        if column in mapping.constants:
            continue
        empty = pc.fill_null(pc.equal(out[column], ""), False)
        count = pc.sum(empty).as_py() or 0
        if count:
            markers = pa.array(rng.choice(blanks + [""], size=count).tolist(), type=pa.string())
            out[column] = pc.replace_with_mask(out[column], empty, markers)
    return out


def _set_cells(columns: Columns, edits: dict[str, dict[int, str]]) -> Columns:
    """``columns`` with the cells ``{column: {row: text}}`` replaced."""
    out = dict(columns)
    for column, cells in edits.items():
        rows = sorted(cells)
        mask = np.zeros(len(out[column]), dtype=bool)
        mask[rows] = True
        out[column] = pc.replace_with_mask(out[column], pa.array(mask), pa.array([cells[r] for r in rows], pa.string()))
    return out


def export_dialect(
    episodes: pd.DataFrame,
    mapping: Mapping,
    extract_date: str,
    seed: int,
    defect_share: float = 0.01,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write an extract as a force system would, with defects injected and recorded.

    Parameters
    ----------
    episodes : pandas.DataFrame
        A valid canonical extract (e.g. from :func:`toolkit.synthetic.generator.generate_extract`).
    mapping : Mapping
        The dialect (its columns, spellings, formats, null markers).
    extract_date : str
        The extract date the defects are measured against.
    seed : int
        Random seed: same seed, same export.
    defect_share : float, default 0.01
        Rows carrying a defect, spread evenly over the kinds of defect.

    Returns
    -------
    export : pandas.DataFrame
        All text, columns named as the system names them, in export order.
    defects : pandas.DataFrame
        One row per injected defect: ``source_row`` (as a spreadsheet numbers
        the export), ``defect``, ``expected`` (``merged``,
        ``quarantined:<reason>`` or ``corrected:<rule>``), ``column``,
        ``after`` (the corrected value, for corrections) and the ``force_code``
        and ``episode_id`` of the canonical episode it touched.
    """
    return _export_columns(_canonical_columns(episodes), mapping, extract_date, seed, defect_share)


def _export_columns(
    text: Columns, mapping: Mapping, extract_date: str, seed: int, defect_share: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`export_dialect` on the canonical text (:func:`_canonical_columns`) of an extract."""
    rng = np.random.default_rng(seed)
    n = len(text["episode_id"])
    kinds = [d for d in DEFECTS if not (d == "unknown_force" and "force_code" in mapping.constants)]
    per_kind = max(1, int(round(defect_share * n / len(kinds))))
    if per_kind * len(kinds) * 2 > n:
        per_kind = 0  # too few rows to damage safely
    durations = _seconds(text["returned_at"]) - _seconds(text["reported_at"])
    victims = rng.permutation(n)
    # Overlaps need an episode long enough to fall inside; take those victims first.
    long_enough = np.nan_to_num(durations) >= 600
    overlap_victims = victims[long_enough[victims]][:per_kind]
    others = victims[~np.isin(victims, overlap_victims)]
    chosen: dict[str, list[int]] = {"overlap": overlap_victims.tolist()}
    for k, kind in enumerate(d for d in kinds if d != "overlap"):
        chosen[kind] = others[k * per_kind : (k + 1) * per_kind].tolist()

    records = []  # (row position, defect, expected, column, after, force, episode)
    added = []  # (after original row, row text, defect)
    edits: dict[str, dict[int, str]] = {}  # canonical cells the defects change: {column: {row: text}}
    limit = pd.Timestamp(ExtractDate.parse(extract_date).day) + pd.Timedelta(days=30)  # well after it
    for kind in kinds:
        for i in chosen.get(kind, []):
            row = {column: values[i].as_py() for column, values in text.items()}
            key = (row["force_code"], row["episode_id"])
            if kind == "exact_duplicate":
                added.append((i, row, kind))
                continue
            if kind == "near_duplicate":
                copy = dict(row, episode_id=row["episode_id"] + "-DUP")
                optional = [c for c, req in COLUMNS.items() if not req and row[c] != ""]
                copy[optional[0] if optional else "officer_id"] = ""
                added.append((i, copy, kind))
                continue
            if kind == "overlap":
                start = pd.Timestamp(row["reported_at"]) + pd.Timedelta(seconds=durations[i] / 2).round("min")
                end = min(start + pd.Timedelta(hours=1), pd.Timestamp(row["returned_at"]))
                copy = dict(row, episode_id=row["episode_id"] + "-OVL")
                copy["reported_at"] = start.strftime(_ISO)
                copy["returned_at"] = end.strftime(_ISO)
                for column in (
                    "last_seen_at",
                    "supervisor_review_at",
                    "prevention_interview_at",
                    "return_interview_at",
                ):
                    copy[column] = ""
                copy["prevention_interview"] = copy["return_interview"] = ""
                added.append((i, copy, kind))
                continue
            column, after, value = "", "", None
            if kind == "returned_before_reported":
                if row["returned_at"] == "":
                    continue
                column = "returned_at"
                value = (pd.Timestamp(row["reported_at"]) - pd.Timedelta(days=1)).strftime(_ISO)
            elif kind == "age_out_of_range":
                column = "age"
                value = str(rng.choice([18, 19, 21]))
            elif kind == "unknown_force":
                column, value = "force_code", "E23000099"
            elif kind == "after_extract_date":
                column, value = "reported_at", limit.strftime(_ISO)
            elif kind == "bad_date":
                column = "reported_at"
            elif kind == "whitespace":
                column = "category"
            elif kind == "unrecognised_code":
                column, after = "sex", "unknown"
            if value is not None:
                edits.setdefault(column, {})[i] = value
            records.append((i, kind, DEFECTS[kind], column, after, *key))

    export = _translate(_set_cells(text, edits), mapping, rng)
    # Damage that only makes sense in the dialect's own spelling.
    damage: dict[str, dict[int, str]] = {}
    for i, kind, _, column, _, _, _ in records:
        if kind == "bad_date":
            damage.setdefault(column, {})[i] = "31/02/2024 25:61"
        elif kind == "whitespace":
            damage.setdefault(column, {})[i] = "  " + export[column][i].as_py() + " "
        elif kind == "unrecognised_code":
            damage.setdefault(column, {})[i] = "Q?"
    export = _set_cells(export, damage)
    # The added rows follow the row each copies, in the order they were made.
    after_row = np.array([i for i, _, _ in added], dtype=np.int64)
    if added:
        extra = {column: pa.array([row[column] for _, row, _ in added], pa.string()) for column in COLUMNS}
        extra = _translate(extra, mapping, rng)
        export = {column: pa.concat_arrays([export[column], extra[column]]) for column in COLUMNS}
    original = np.r_[np.ones(n, dtype=bool), np.zeros(len(added), dtype=bool)]
    order = np.lexsort((~original, np.r_[np.arange(n), after_row]))
    export = {column: values.take(pa.array(order)) for column, values in export.items()}
    source_row = np.empty(len(order), dtype=np.int64)
    source_row[order] = np.arange(len(order)) + 2  # as a spreadsheet numbers the rows, under the header

    defects = [
        {
            "source_row": int(source_row[i]),
            "defect": kind,
            "expected": expected,
            "column": column,
            "after": after,
            "force_code": force,
            "episode_id": episode,
        }
        for i, kind, expected, column, after, force, episode in records
    ]
    for j in np.argsort(source_row[n:], kind="stable"):
        _, row, kind = added[j]
        defects.append(
            {
                "source_row": int(source_row[n + j]),
                "defect": kind,
                "expected": DEFECTS[kind],
                "column": "",
                "after": "",
                "force_code": row["force_code"],
                "episode_id": row["episode_id"],
            }
        )
    defects = pd.DataFrame(
        defects, columns=["source_row", "defect", "expected", "column", "after", "force_code", "episode_id"]
    )
    defects = defects.sort_values("source_row").reset_index(drop=True)
    named = {mapping.columns[c]: export[c] for c in COLUMNS if c in mapping.columns}
    return _to_frame(named), defects
