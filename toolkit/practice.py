"""Shares that measure practice (supervision, interviews, categorisation), for every force at once.

Each measure is a share of the episodes it applies to, with a Wilson 95%
interval, placed on a proportion funnel against England and Wales (with
Spiegelhalter's adjustment when forces are over-dispersed) and against the
force's comparator group. Episodes too recent for the measure to be complete
at the extract date are left out of its denominator, so a late extract does
not look like poor practice.
"""

from __future__ import annotations

import pandas as pd

from toolkit.consistency import EXPLOITATION_FLAGS, describe_case_mix
from toolkit.forces import read_comparator_groups
from toolkit.funnel import compare_with_funnel
from toolkit.intervals import proportion_interval
from toolkit.schema import end_of_extract_day
from toolkit.summary import NATIONAL

__all__ = ["PRACTICE_MEASURES", "summarise_practice"]

# measure -> what the share is, in words a report can use
PRACTICE_MEASURES = {
    "review_within_24h": "episodes with a supervisory review of the risk grade within 24 hours of the report",
    "prevention_completed": "returned children given a police prevention interview (safe and well check)",
    "return_interview_72h": "returned children given an independent return interview within 72 hours",
    "flagged_recorded_absent": "episodes of children with exploitation flags recorded 'absent'",
}


def _measure_frame(episodes: pd.DataFrame, extract_date, case_mix: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per episode and measure it applies to: force, measure, met (bool)."""
    end = end_of_extract_day(extract_date)
    reported = episodes["reported_at"]
    returned = episodes["returned_at"]
    review_hours = (episodes["supervisor_review_at"] - reported).dt.total_seconds() / 3600
    rhi_hours = (episodes["return_interview_at"] - returned).dt.total_seconds() / 3600
    category = episodes["category"].astype("string")
    mix = case_mix if case_mix is not None else describe_case_mix(episodes)
    flagged = mix[list(EXPLOITATION_FLAGS)].any(axis=1)
    rules = {
        "review_within_24h": (reported <= end - pd.Timedelta(hours=24), review_hours.le(24)),
        "prevention_completed": (
            returned.notna(),
            episodes["prevention_interview"].astype("string").eq("completed").fillna(False),
        ),
        "return_interview_72h": (
            returned.notna() & (returned <= end - pd.Timedelta(hours=72)),
            episodes["return_interview"].astype("string").eq("completed").fillna(False) & rhi_hours.le(72),
        ),
        "flagged_recorded_absent": (flagged & category.isin(["missing", "absent"]).fillna(False), category == "absent"),
    }
    codes = episodes["force_code"].astype(str)
    frames = [
        pd.DataFrame({"force_code": codes[applies], "measure": measure, "met": met[applies].fillna(False)})
        for measure, (applies, met) in rules.items()
    ]
    return pd.concat(frames, ignore_index=True)


def summarise_practice(
    episodes: pd.DataFrame,
    extract_date,
    comparator_groups: dict[str, list[str]] | None = None,
    case_mix: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every practice share for every force and England and Wales, with intervals and funnel bands.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes.
    extract_date : date or str
        When the data were taken.
    comparator_groups : dict, optional
        Default: the shipped comparator groups.
    case_mix : pandas.DataFrame, optional
        :func:`toolkit.consistency.describe_case_mix` of ``episodes``, when already computed.

    Returns
    -------
    pandas.DataFrame
        ``force_code`` (and :data:`~toolkit.summary.NATIONAL`), ``measure``,
        ``numerator``, ``denominator``, ``value``, ``lower``, ``upper``
        (Wilson), ``band`` and ``comparator_band`` (funnel, see
        :func:`toolkit.funnel.compare_with_funnel`), ``national``, ``method``.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["E23000001"] * 2, "person_id": ["a", "b"],
    ...     "reported_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 10:00"]),
    ...     "returned_at": pd.to_datetime(["2024-01-01 12:00", None]),
    ...     "supervisor_review_at": pd.to_datetime(["2024-01-01 11:00", "2024-01-04 10:00"]),
    ...     "return_interview_at": pd.NaT, "prevention_interview": ["completed", None],
    ...     "return_interview": [None, None], "category": ["missing", "missing"],
    ...     "age": [14, 15], "looked_after": ["no", "no"], "risk_factors": [None, None]})
    >>> t = summarise_practice(e, "2024-02-01").query("measure == 'review_within_24h'")
    >>> t[["force_code", "numerator", "denominator"]].to_numpy().tolist()
    [['E23000001', 1, 2], ['england_and_wales', 1, 2]]
    """
    groups = comparator_groups if comparator_groups is not None else read_comparator_groups()
    frame = _measure_frame(episodes, extract_date, case_mix)
    counts = frame.groupby(["measure", "force_code"], sort=True).agg(
        numerator=("met", "sum"), denominator=("met", "size")
    )
    blocks = []
    for measure, table in counts.groupby(level="measure", sort=False):
        table = table.droplevel("measure").reset_index()
        national = table[["numerator", "denominator"]].sum()
        rows = pd.concat(
            [table, pd.DataFrame([{"force_code": NATIONAL, **national.to_dict()}])], ignore_index=True
        ).astype({"numerator": int, "denominator": int})
        interval = proportion_interval(rows["numerator"], rows["denominator"])
        rows[["value", "lower", "upper"]] = interval[["value", "lower", "upper"]].to_numpy()
        rows["method"] = "share with Wilson score 95% interval"
        try:
            comparison, dispersion = compare_with_funnel(
                table.rename(columns={"force_code": "unit"}), "proportion", comparator_groups=groups
            )
            bands = comparison.set_index("unit")[["band", "comparator_band", "method"]]
            bands["method"] = "Wilson score interval; " + bands["method"]
            rows = rows.set_index("force_code")
            rows.loc[bands.index, ["band", "comparator_band", "method"]] = bands
            rows = rows.reset_index()
            rows["dispersion_sentence"] = dispersion["sentence"]
        except ValueError:
            rows["band"] = rows["comparator_band"] = "not_compared"  # no events anywhere
        rows["measure"] = measure
        rows["national"] = rows.loc[rows["force_code"] == NATIONAL, "value"].iloc[0]
        blocks.append(rows)
    columns = ["force_code", "measure", "numerator", "denominator", "value", "lower", "upper"]
    columns += ["band", "comparator_band", "national", "method", "dispersion_sentence"]
    return pd.concat(blocks, ignore_index=True).reindex(columns=columns)


GRADE_ORDER = ("no_apparent_risk", "low", "medium", "high")


def tabulate_grade_mix(episodes: pd.DataFrame, comparator_groups: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """First risk grades of every force, its comparator group (pooled) and England and Wales.

    Returns
    -------
    pandas.DataFrame
        ``force_code``, ``area`` (``force``, ``comparators``, ``national``),
        ``grade`` (in :data:`GRADE_ORDER`), ``episodes`` and ``share`` of the
        graded episodes of that area.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["E23000001"] * 4, "risk_initial": ["low", "low", "high", None]})
    >>> t = tabulate_grade_mix(e, {}).query("area == 'force' and episodes > 0")
    >>> t[["grade", "episodes", "share"]].to_numpy().tolist()
    [['low', 2, 0.6666666666666666], ['high', 1, 0.3333333333333333]]
    """
    groups = comparator_groups if comparator_groups is not None else read_comparator_groups()
    grade = pd.Categorical(episodes["risk_initial"].astype("string"), categories=GRADE_ORDER)
    counts = pd.crosstab(episodes["force_code"].astype(str), grade, dropna=True).reindex(
        columns=list(GRADE_ORDER), fill_value=0
    )
    blocks = {"force": counts}
    pooled = {code: counts.reindex([p for p in peers if p in counts.index]).sum() for code, peers in groups.items()}
    blocks["comparators"] = pd.DataFrame(pooled).T.reindex(columns=list(GRADE_ORDER), fill_value=0)
    blocks["national"] = counts.sum().to_frame(NATIONAL).T
    rows = []
    for area, table in blocks.items():
        long = table.rename_axis(index="force_code", columns="grade").stack().rename("episodes").reset_index()
        totals = long.groupby("force_code")["episodes"].transform("sum")
        rows.append(long.assign(area=area, share=long["episodes"] / totals.where(totals > 0)))
    table = pd.concat(rows, ignore_index=True)
    return table[["force_code", "area", "grade", "episodes", "share"]].astype({"episodes": int})
