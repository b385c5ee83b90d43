"""Shares that measure practice (supervision, interviews, categorisation), for every force at once.

Each measure is a share of the episodes it applies to, with a Wilson 95%
interval, placed on a proportion funnel against England and Wales (with
Spiegelhalter's adjustment when forces are over-dispersed) and against the
force's comparator group. Episodes too recent for the measure to be complete
at the extract date are left out of its denominator, so a late extract does
not look like poor practice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from toolkit.dates import ExtractDate
from toolkit.forces import NATIONAL, read_comparator_groups
from toolkit.stats.consistency import EXPLOITATION_FLAGS, describe_case_mix
from toolkit.stats.funnel import compare_shares

__all__ = [
    "PracticeMeasure",
    "PRACTICE_MEASURES",
    "GRADE_ORDER",
    "REVIEW_DEADLINE_HOURS",
    "summarise_practice",
    "tabulate_grade_mix",
]


@dataclass(frozen=True)
class PracticeMeasure:
    """One practice share: what it is called and which episodes it counts (the comment by each says what it is).

    Attributes
    ----------
    key : str
        The measure's name in the prepared ``practice`` table.
    label : str
        How a report's table names it.
    select : callable
        ``select(episodes, extract, flagged, deadlines)`` gives two boolean
        Series: the episodes the measure applies to (its denominator) and
        those that met it. ``flagged`` marks children with exploitation flags;
        ``deadlines`` are the run's :data:`REVIEW_DEADLINE_HOURS`.
    support : str or None
        The measure of :data:`toolkit.stats.quality.METRIC_REQUIREMENTS` whose
        fields it needs: where a force's records do not support it, the measure
        is not judged, in its finding and in its table alike.
    """

    key: str
    label: str
    select: Callable[[pd.DataFrame, ExtractDate, pd.Series, dict], tuple[pd.Series, pd.Series]]
    support: str | None = None


# How soon after the report a supervisor should review a missing child's risk grade, in hours, by the
# first grade (College of Policing guidance: a high-risk case at once, within hours; medium and low
# within a day). Findings thresholds of the same names change them for a run.
REVIEW_DEADLINE_HOURS = {"review_hours_high": 2.0, "review_hours_other": 24.0}


def _review_in_time(e: pd.DataFrame, extract: ExtractDate, flagged: pd.Series, deadlines: dict):
    """Missing episodes still open at their grade's review deadline, and those reviewed by it.

    A force that records reviews at all records them when they happen, so an episode without a review
    time was not reviewed (the support of the measure, ``supervision``, asks for reviews recorded at
    all). An episode whose child returned before the deadline needed no review in time; one whose
    deadline is after the extract date cannot be judged yet.
    """
    high = e["risk_initial"].astype("string").eq("high").fillna(False)
    hours = high.map({True: deadlines["review_hours_high"], False: deadlines["review_hours_other"]})
    due = e["reported_at"] + pd.to_timedelta(hours.astype(float), unit="h")
    missing = e["category"].astype("string").eq("missing").fillna(False)
    still_open = e["returned_at"].isna() | (e["returned_at"] > due)
    applies = missing & (due <= extract.end) & still_open
    return applies, e["supervisor_review_at"].notna() & (e["supervisor_review_at"] <= due)


def _hours_between(start: pd.Series, end: pd.Series) -> pd.Series:
    return (end - start).dt.total_seconds() / 3600


def _completed(values: pd.Series) -> pd.Series:
    return values.astype("string").eq("completed").fillna(False)


PRACTICE_MEASURES = {
    measure.key: measure
    for measure in (
        # missing episodes (absent ones get no risk grade to review) still open at their grade's deadline,
        # reviewed by a supervisor by then (high risk within hours, others within a day)
        PracticeMeasure(
            "review_in_time",
            "Supervisory review of the risk grade in time (missing episodes still open at the deadline: "
            "high risk within hours, others within a day)",
            _review_in_time,
            "supervision",
        ),
        # returned children given a police prevention interview (safe and well check)
        PracticeMeasure(
            "prevention_completed",
            "Prevention interview given after return",
            lambda e, extract, flagged, deadlines: (e["returned_at"].notna(), _completed(e["prevention_interview"])),
            "prevention_interviews",
        ),
        # returned children given an independent return interview within 72 hours
        PracticeMeasure(
            "return_interview_72h",
            "Independent return interview within 72 hours of return",
            lambda e, extract, flagged, deadlines: (
                e["returned_at"].notna() & (e["returned_at"] <= extract.before(hours=72)),
                _completed(e["return_interview"]) & _hours_between(e["returned_at"], e["return_interview_at"]).le(72),
            ),
            "return_interviews",
        ),
        # episodes of children with exploitation flags recorded 'absent'
        PracticeMeasure(
            "flagged_recorded_absent",
            "Children with exploitation flags recorded 'absent'",
            lambda e, extract, flagged, deadlines: (
                flagged & e["category"].astype("string").isin(["missing", "absent"]).fillna(False),
                e["category"].astype("string") == "absent",
            ),
        ),
    )
}


def _measure_frame(
    episodes: pd.DataFrame, extract_date, case_mix: pd.DataFrame | None = None, deadlines: dict | None = None
) -> pd.DataFrame:
    """One row per episode and measure it applies to: force, measure, met (bool)."""
    extract = ExtractDate.parse(extract_date)
    deadlines = {**REVIEW_DEADLINE_HOURS, **{k: v for k, v in (deadlines or {}).items() if k in REVIEW_DEADLINE_HOURS}}
    mix = case_mix if case_mix is not None else describe_case_mix(episodes)
    flagged = mix[list(EXPLOITATION_FLAGS)].any(axis=1)
    codes = episodes["force_code"].astype(str)
    frames = []
    for measure in PRACTICE_MEASURES.values():
        applies, met = measure.select(episodes, extract, flagged, deadlines)
        frames.append(
            pd.DataFrame({"force_code": codes[applies], "measure": measure.key, "met": met[applies].fillna(False)})
        )
    return pd.concat(frames, ignore_index=True)


def summarise_practice(
    episodes: pd.DataFrame,
    extract_date,
    comparator_groups: dict[str, list[str]] | None = None,
    case_mix: pd.DataFrame | None = None,
    deadlines: dict | None = None,
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
        :func:`toolkit.stats.consistency.describe_case_mix` of ``episodes``, when already computed.
    deadlines : dict, optional
        The run's thresholds; its :data:`REVIEW_DEADLINE_HOURS` keys set the review deadlines.

    Returns
    -------
    pandas.DataFrame
        ``force_code`` (and :data:`~toolkit.stats.volume.NATIONAL`), ``measure``,
        ``numerator``, ``denominator``, ``value``, ``lower``, ``upper``
        (Wilson), ``band`` and ``comparator_band`` (funnel, see
        :func:`toolkit.stats.funnel.compare_with_funnel`), ``national``, ``method``.

    Examples
    --------
    A high-risk child reviewed after 3 hours (late: due within 2), a medium-risk child reviewed after 20
    (in time), one never reviewed (not done), and one home within the hour (no review was due):

    >>> e = pd.DataFrame({"force_code": ["E23000001"] * 4, "person_id": list("abcd"),
    ...     "reported_at": pd.to_datetime(["2024-01-01 10:00"] * 4),
    ...     "returned_at": pd.to_datetime([None, None, None, "2024-01-01 11:00"]),
    ...     "supervisor_review_at": pd.to_datetime(["2024-01-01 13:00", "2024-01-02 06:00", None, None]),
    ...     "risk_initial": ["high", "medium", "low", "low"], "category": ["missing"] * 4,
    ...     "return_interview_at": pd.NaT, "prevention_interview": None, "return_interview": None,
    ...     "age": 14, "looked_after": "no", "risk_factors": None})
    >>> t = summarise_practice(e, "2024-02-01", {}).query("measure == 'review_in_time'")
    >>> t[["force_code", "numerator", "denominator"]].to_numpy().tolist()
    [['E23000001', 1, 3], ['england_and_wales', 1, 3]]
    """
    groups = comparator_groups if comparator_groups is not None else read_comparator_groups()
    frame = _measure_frame(episodes, extract_date, case_mix, deadlines)
    counts = frame.groupby(["measure", "force_code"], sort=True).agg(
        numerator=("met", "sum"), denominator=("met", "size")
    )
    blocks = [
        compare_shares(table.droplevel("measure").reset_index(), groups).assign(measure=measure)
        for measure, table in counts.groupby(level="measure", sort=False)
    ]
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
