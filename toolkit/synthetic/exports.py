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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.dates import ExtractDate
from toolkit.ingest.mapping import Mapping, list_dialects
from toolkit.ingest.schema import CODES, COLUMNS, DATETIME_COLUMNS, RISK_FACTORS, format_iso_datetimes

__all__ = ["DIALECTS", "DEFECTS", "export_dialect", "to_canonical_text"]

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


def to_canonical_text(episodes: pd.DataFrame) -> pd.DataFrame:
    """The canonical extract as text, as it would be written to CSV (blanks as "")."""
    out = episodes[list(COLUMNS)].copy()
    for column in DATETIME_COLUMNS:
        out[column] = format_iso_datetimes(out[column])
    out["age"] = out["age"].astype(int).astype(str)
    return out.astype(object).fillna("").astype(str)


def _spelling(mapping: Mapping, column: str) -> dict[str, str]:
    """Canonical code -> the first spelling the mapping lists for it (not a null marker)."""
    nulls = mapping.null_markers
    table = {code: code for code in CODES[column]}
    for spelling, code in reversed(list(mapping.values.get(column, {}).items())):
        if spelling.strip().lower() not in nulls:
            table[code] = spelling
    return table


def _format_dates(values: pd.Series, fmt: str) -> pd.Series:
    stamps = pd.to_datetime(values.where(values != ""), format=_ISO)
    if fmt == "excel_serial":
        days = (stamps - pd.Timestamp("1899-12-30")).dt.total_seconds() / 86400
        text = days.map(lambda d: f"{d:.10f}".rstrip("0").rstrip(".") if pd.notna(d) else "")
    else:
        array = pa.array(stamps.to_numpy(dtype="datetime64[s]"), type=pa.timestamp("s"), from_pandas=True)
        formatted = pc.strftime(array, format=_ISO if fmt == "iso" else fmt)
        text = pd.Series(formatted.to_numpy(zero_copy_only=False), index=values.index)
    return text.fillna("").astype(str)


def _translate(text: pd.DataFrame, mapping: Mapping, rng: np.random.Generator) -> pd.DataFrame:
    """Write canonical text in the dialect: spellings, date formats, risk-factor lists, blanks."""
    out = text.copy()
    for column in CODES:
        out[column] = text[column].map(_spelling(mapping, column)).where(text[column] != "", "")
    factor_names = {code: code for code in RISK_FACTORS}
    for spelling, code in reversed(list(mapping.risk_factor_codes.items())):
        factor_names[code] = spelling
    lists = text["risk_factors"].str.split(";")
    out["risk_factors"] = lists.map(
        lambda codes: mapping.risk_factor_separator.join(factor_names[c] for c in codes if c)
    )
    for column in DATETIME_COLUMNS:
        formats = [f for f in mapping.dates]
        first = _format_dates(text[column], formats[0])
        if len(formats) > 1:
            # Real exports mix forms (with and without seconds): use the second for some rows.
            second = _format_dates(text[column], formats[1])
            first = first.where(rng.random(len(text)) < 0.7, second)
        out[column] = first
    blanks = [m for m in mapping.nulls if m.strip() != ""] or [""]
    for column in COLUMNS:
        if column in mapping.constants:
            continue
        empty = out[column] == ""
        if empty.any():
            out.loc[empty, column] = rng.choice(blanks + [""], size=int(empty.sum()))
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
    rng = np.random.default_rng(seed)
    text = to_canonical_text(episodes).reset_index(drop=True)
    n = len(text)
    kinds = [d for d in DEFECTS if not (d == "unknown_force" and "force_code" in mapping.constants)]
    per_kind = max(1, int(round(defect_share * n / len(kinds))))
    if per_kind * len(kinds) * 2 > n:
        per_kind = 0  # too few rows to damage safely
    returned = text["returned_at"] != ""
    durations = (
        pd.to_datetime(text["returned_at"].where(returned), format=_ISO)
        - pd.to_datetime(text["reported_at"], format=_ISO)
    ).dt.total_seconds()
    victims = rng.permutation(n)
    # Overlaps need an episode long enough to fall inside; take those victims first.
    long_enough = durations.fillna(0).to_numpy() >= 600
    overlap_victims = victims[long_enough[victims]][:per_kind]
    others = victims[~np.isin(victims, overlap_victims)]
    chosen: dict[str, list[int]] = {"overlap": overlap_victims.tolist()}
    for k, kind in enumerate(d for d in kinds if d != "overlap"):
        chosen[kind] = others[k * per_kind : (k + 1) * per_kind].tolist()

    records = []  # (row position, defect, expected, column, after, force, episode)
    added = []  # (after original index, row text)
    limit = pd.Timestamp(ExtractDate.parse(extract_date).day) + pd.Timedelta(days=30)  # well after it
    for kind in kinds:
        for i in chosen.get(kind, []):
            row = text.loc[i].copy()
            key = (row["force_code"], row["episode_id"])
            if kind == "exact_duplicate":
                added.append((i, row, kind, "", ""))
                continue
            if kind == "near_duplicate":
                copy = row.copy()
                copy["episode_id"] = row["episode_id"] + "-DUP"
                optional = [c for c, req in COLUMNS.items() if not req and row[c] != ""]
                copy[optional[0] if optional else "officer_id"] = ""
                added.append((i, copy, kind, "", ""))
                continue
            if kind == "overlap":
                start = pd.Timestamp(row["reported_at"]) + pd.Timedelta(seconds=durations[i] / 2).round("min")
                end = min(start + pd.Timedelta(hours=1), pd.Timestamp(row["returned_at"]))
                copy = row.copy()
                copy["episode_id"] = row["episode_id"] + "-OVL"
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
                added.append((i, copy, kind, "", ""))
                continue
            column, after = "", ""
            if kind == "returned_before_reported":
                if text.at[i, "returned_at"] == "":
                    continue
                column = "returned_at"
                text.at[i, column] = (pd.Timestamp(row["reported_at"]) - pd.Timedelta(days=1)).strftime(_ISO)
            elif kind == "age_out_of_range":
                column = "age"
                text.at[i, column] = str(rng.choice([18, 19, 21]))
            elif kind == "unknown_force":
                column = "force_code"
                text.at[i, column] = "E23000099"
            elif kind == "after_extract_date":
                column = "reported_at"
                text.at[i, column] = limit.strftime(_ISO)
            elif kind == "bad_date":
                column = "reported_at"
            elif kind == "whitespace":
                column = "category"
            elif kind == "unrecognised_code":
                column, after = "sex", "unknown"
            records.append((i, kind, DEFECTS[kind], column, after, *key))

    export = _translate(text, mapping, rng)
    # Damage that only makes sense in the dialect's own spelling.
    for i, kind, _, column, _, _, _ in records:
        if kind == "bad_date":
            export.at[i, column] = "31/02/2024 25:61"
        elif kind == "whitespace":
            export.at[i, column] = "  " + export.at[i, column] + " "
        elif kind == "unrecognised_code":
            export.at[i, column] = "Q?"
    export = export.assign(_order=np.arange(n), _sub=0, _kind="", _key_force="", _key_episode="")
    if added:
        rows = pd.DataFrame([row for _, row, _, _, _ in added]).reset_index(drop=True)
        extra = _translate(rows, mapping, rng).assign(
            _order=[i for i, *_ in added],
            _sub=1,
            _kind=[kind for _, _, kind, _, _ in added],
            _key_force=rows["force_code"].to_numpy(),
            _key_episode=rows["episode_id"].to_numpy(),
        )
        export = pd.concat([export, extra], ignore_index=True)
    export = export.sort_values(["_order", "_sub"], kind="stable").reset_index(drop=True)
    export["_source_row"] = np.arange(len(export)) + 2

    defects = []
    position = dict(
        zip(export.loc[export["_sub"] == 0, "_order"], export.loc[export["_sub"] == 0, "_source_row"], strict=True)
    )
    for i, kind, expected, column, after, force, episode in records:
        defects.append(
            {
                "source_row": position[i],
                "defect": kind,
                "expected": expected,
                "column": column,
                "after": after,
                "force_code": force,
                "episode_id": episode,
            }
        )
    for _, row in export[export["_sub"] == 1].iterrows():
        defects.append(
            {
                "source_row": row["_source_row"],
                "defect": row["_kind"],
                "expected": DEFECTS[row["_kind"]],
                "column": "",
                "after": "",
                "force_code": row["_key_force"],
                "episode_id": row["_key_episode"],
            }
        )
    defects = pd.DataFrame(
        defects, columns=["source_row", "defect", "expected", "column", "after", "force_code", "episode_id"]
    )
    defects = defects.sort_values("source_row").reset_index(drop=True)

    export = export.drop(columns=["_order", "_sub", "_kind", "_key_force", "_key_episode", "_source_row"])
    renamed = {c: mapping.columns[c] for c in COLUMNS if c in mapping.columns}
    export = export[[c for c in COLUMNS if c in mapping.columns]].rename(columns=renamed)
    return export, defects
