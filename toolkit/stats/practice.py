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
from toolkit.ingest.schema import RISK_FACTORS, cast_to_text
from toolkit.stats.consistency import describe_case_mix, flag_exploitation, has_no_active_response, is_graded_higher
from toolkit.stats.funnel import compare_shares
from toolkit.stats.outcomes import HARMS

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
        ``select(episodes, extract, case_mix, deadlines)`` gives two boolean
        Series: the episodes the measure applies to (its denominator) and
        those that met it. ``case_mix`` is :func:`~toolkit.stats.consistency.describe_case_mix`;
        ``deadlines`` are the run's :data:`REVIEW_DEADLINE_HOURS`.
    support : str or None
        The measure of :data:`toolkit.stats.quality.METRIC_REQUIREMENTS` whose
        fields it needs: where a force's records do not support it, the measure
        is not judged, in its finding and in its table alike.
    per_child : bool
        Count children, not episodes: a child is in the denominator when any of
        its episodes is, and meets the measure when any of those episodes does.
    """

    key: str
    label: str
    select: Callable[[pd.DataFrame, ExtractDate, pd.DataFrame, dict], tuple[pd.Series, pd.Series]]
    support: str | None = None
    per_child: bool = False


# How soon after the report a supervisor should review a missing child's risk grade, in hours, by the
# first grade (College of Policing guidance: a high-risk case at once, within hours; medium and low
# within a day). Findings thresholds of the same names change them for a run.
REVIEW_DEADLINE_HOURS = {"review_hours_high": 2.0, "review_hours_other": 24.0}


def _review_in_time(e: pd.DataFrame, extract: ExtractDate, mix: pd.DataFrame, deadlines: dict):
    """Missing episodes still open at their grade's review deadline, and those reviewed by it.

    A force that records reviews at all records them when they happen, so an episode without a review
    time was not reviewed (the support of the measure, ``supervision``, asks for reviews recorded at
    all). An episode whose child returned before the deadline needed no review in time; one whose
    deadline is after the extract date cannot be judged yet.
    """
    high = cast_to_text(e["risk_initial"]).eq("high").fillna(False)
    hours = high.map({True: deadlines["review_hours_high"], False: deadlines["review_hours_other"]})
    due = e["reported_at"] + pd.to_timedelta(hours.astype(float), unit="h")
    missing = cast_to_text(e["category"]).eq("missing").fillna(False)
    still_open = e["returned_at"].isna() | (e["returned_at"] > due)
    applies = missing & (due <= extract.end) & still_open
    return applies, e["supervisor_review_at"].notna() & (e["supervisor_review_at"] <= due)


def _reported(e: pd.DataFrame) -> pd.Series:
    return cast_to_text(e["category"]).isin(["missing", "absent"]).fillna(False)


def _no_response_if_flagged(e: pd.DataFrame, extract: ExtractDate, mix: pd.DataFrame, deadlines: dict):
    """Missing or absent episodes of children with exploitation flags, and those given no active response."""
    return flag_exploitation(mix) & _reported(e), has_no_active_response(e)


def _not_regraded(e: pd.DataFrame, extract: ExtractDate, mix: pd.DataFrame, deadlines: dict):
    """Episodes given no active response and still open 24 hours after the report, and those re-graded.

    A child recorded absent, or graded no apparent risk, who has not come back within a day is one whose
    circumstances call for a fresh look: a final grade of low, medium or high is that look. Episodes
    reported in the last day before the extract date cannot be judged yet.
    """
    due = e["reported_at"] + pd.Timedelta(hours=24)
    still_open = e["returned_at"].isna() | (e["returned_at"] > due)
    applies = has_no_active_response(e) & still_open & (due <= extract.end)
    regraded = _text(e, "risk_final").isin(["low", "medium", "high"]).fillna(False)
    return applies, regraded


def _no_response_in_group(group: Callable[[pd.DataFrame, pd.DataFrame], pd.Series]):
    """Select a group's missing or absent episodes, and those given no active response (unadjusted)."""

    def select(e: pd.DataFrame, extract: ExtractDate, mix: pd.DataFrame, deadlines: dict):
        return group(e, mix) & _reported(e), has_no_active_response(e)

    return select


def find_earlier_risks(episodes: pd.DataFrame, case_mix: pd.DataFrame) -> pd.DataFrame:
    """The risk flags recorded on each child's earlier episodes in the force (harm counts as ``previous_harm``).

    Returns
    -------
    pandas.DataFrame
        Same index, one 0/1 column per risk factor: 1 where an earlier episode of the same child (by
        ``reported_at``) recorded it.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["F"] * 3, "person_id": ["a"] * 3, "age": 15, "looked_after": "no",
    ...     "reported_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
    ...     "risk_factors": ["cse", None, None], "harm": ["none", "injury", "none"]})
    >>> earlier = find_earlier_risks(e, describe_case_mix(e))
    >>> earlier[["cse", "previous_harm"]].to_numpy().tolist()
    [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    """
    known = case_mix[list(RISK_FACTORS)].copy()
    harmed = _text(episodes, "harm").isin(HARMS).fillna(False)
    known["previous_harm"] = known["previous_harm"].where(~harmed, 1.0)
    order = episodes.sort_values("reported_at", kind="stable").index
    keys = [episodes.loc[order, "force_code"].astype(str), episodes.loc[order, "person_id"].astype(str)]
    seen = known.loc[order].groupby(keys, sort=False).cummax()
    earlier = seen.groupby(keys, sort=False).shift(1, fill_value=0.0)
    return earlier.reindex(episodes.index)


_EARLIER = [f"earlier_{factor}" for factor in RISK_FACTORS]  # columns _measure_frame adds to the case mix


def _known_risk_not_recorded(e: pd.DataFrame, extract: ExtractDate, mix: pd.DataFrame, deadlines: dict):
    """Episodes of children whose earlier episodes recorded a risk, and those that leave one of them out."""
    known = mix[_EARLIER].to_numpy() > 0
    left_out = known & (mix[list(RISK_FACTORS)].to_numpy() == 0)
    return pd.Series(known.any(axis=1), index=e.index) & _reported(e), pd.Series(left_out.any(axis=1), index=e.index)


def _known_risk_graded_low(e: pd.DataFrame, extract: ExtractDate, mix: pd.DataFrame, deadlines: dict):
    """Episodes of children whose earlier episodes recorded a risk, and those graded low or below, or absent."""
    known = pd.Series((mix[_EARLIER].to_numpy() > 0).any(axis=1), index=e.index)
    return known & _reported(e), ~is_graded_higher(e)


def _text(e: pd.DataFrame, column: str) -> pd.Series:
    """An optional column as text; all missing where the table lacks it."""
    return cast_to_text(e[column]) if column in e else pd.Series(pd.NA, index=e.index, dtype="string")


def _hours_between(start: pd.Series, end: pd.Series) -> pd.Series:
    return (end - start).dt.total_seconds() / 3600


def _completed(values: pd.Series) -> pd.Series:
    return cast_to_text(values).eq("completed").fillna(False)


def _declined(values: pd.Series) -> pd.Series:
    return cast_to_text(values).eq("declined").fillna(False)


def _offered(values: pd.Series) -> pd.Series:
    """Completed, or declined by the child: offered either way."""
    return _completed(values) | _declined(values)


def _due_72h(e: pd.DataFrame, extract: ExtractDate) -> pd.Series:
    """Returned episodes whose 72 hours for an interview had passed by the extract date."""
    return e["returned_at"].notna() & (e["returned_at"] <= extract.before(hours=72))


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
        # returns (one per episode) followed by a police prevention interview offered (safe and well check):
        # completed or declined, since a child's refusal is not the force's failure; and those who had one.
        # Returns in the last 72 hours before the extract date are not yet due.
        PracticeMeasure(
            "prevention_offered",
            "Prevention interview offered after return (completed or declined by the child)",
            lambda e, extract, mix, deadlines: (_due_72h(e, extract), _offered(e["prevention_interview"])),
            "prevention_interviews",
        ),
        PracticeMeasure(
            "prevention_completed",
            "Prevention interview completed after return",
            lambda e, extract, mix, deadlines: (_due_72h(e, extract), _completed(e["prevention_interview"])),
            "prevention_interviews",
        ),
        # returns (one per episode) followed by an independent return interview offered (a local authority's duty
        # in England) within 72 hours: completed within 72 hours, or declined by the child; and those who had one
        PracticeMeasure(
            "return_offered_72h",
            "Independent return interview within 72 hours of return (completed, or declined by the child)",
            lambda e, extract, mix, deadlines: (
                _due_72h(e, extract),
                (_completed(e["return_interview"]) & _hours_between(e["returned_at"], e["return_interview_at"]).le(72))
                | _declined(e["return_interview"]),
            ),
            "return_interviews",
        ),
        PracticeMeasure(
            "return_completed",
            "Independent return interview completed (at any time)",
            lambda e, extract, mix, deadlines: (_due_72h(e, extract), _completed(e["return_interview"])),
            "return_interviews",
        ),
        # episodes of children with exploitation flags given no active response ('absent', or graded no
        # apparent risk), and the children given none on any such episode: the risks for which guidance
        # expects an active response every time
        PracticeMeasure(
            "flagged_no_active_response",
            "Episodes of children with exploitation flags given no active response ('absent' or no apparent risk)",
            _no_response_if_flagged,
        ),
        PracticeMeasure(
            "children_flagged_no_active_response",
            "Children with exploitation flags given no active response on any of their episodes",
            _no_response_if_flagged,
            per_child=True,
        ),
        # children given no active response whose earlier episodes in the force recorded a risk: that risk
        # left out of this episode's record, or the child graded low or below (the force held the information)
        PracticeMeasure(
            "known_risk_not_recorded",
            "Episodes leaving out a risk the child's earlier episodes recorded",
            _known_risk_not_recorded,
        ),
        PracticeMeasure(
            "known_risk_graded_low",
            "Episodes of children with a risk recorded before, graded low or below, or 'absent'",
            _known_risk_graded_low,
        ),
        # episodes given no active response still open after a day, re-graded by their final grade
        PracticeMeasure(
            "absent_regraded_24h",
            "Absent or no-apparent-risk episodes still open after 24 hours that were re-graded",
            _not_regraded,
        ),
        # whole groups given no active response, unadjusted: looked-after children, and children missing from
        # residential care
        PracticeMeasure(
            "looked_after_no_active_response",
            "Episodes of looked-after children given no active response",
            _no_response_in_group(lambda e, mix: mix["looked_after"] == 1),
        ),
        PracticeMeasure(
            "residential_no_active_response",
            "Episodes of children missing from residential care given no active response",
            _no_response_in_group(lambda e, mix: _text(e, "missing_from").eq("residential_care").fillna(False)),
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
    mix = mix.join(find_earlier_risks(episodes, mix).add_prefix("earlier_"))
    codes = episodes["force_code"].astype(str)
    frames = []
    for measure in PRACTICE_MEASURES.values():
        applies, met = measure.select(episodes, extract, mix, deadlines)
        frame = pd.DataFrame({"force_code": codes[applies], "measure": measure.key, "met": met[applies].fillna(False)})
        if measure.per_child:  # one row per child of the force: met on any of its episodes
            children = episodes.loc[applies, "person_id"].astype(str)
            frame = frame.groupby(["force_code", children], sort=False)["met"].any().reset_index(level=0)
            frame = frame.assign(measure=measure.key)[["force_code", "measure", "met"]]
        frames.append(frame)
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
        :func:`toolkit.stats.funnel.compare_with_funnel`), ``comparator_baseline`` (the comparator
        group's pooled share), ``national``, ``method``.

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
    columns += ["band", "comparator_band", "comparator_baseline", "national", "method", "dispersion_sentence"]
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
    grade = pd.Categorical(cast_to_text(episodes["risk_initial"]), categories=GRADE_ORDER)
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
