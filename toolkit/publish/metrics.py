"""Every published figure in one tidy table: ``reports/metrics.csv``.

One row per force (or comparator group, or England and Wales), section and
metric, with its interval, counts, unit, funnel band and method, after
disclosure control:

- counts of 1 to ``threshold - 1``, and every figure resting on one, are
  withheld (``suppressed``), and totals leave out withheld forces (see
  :func:`toolkit.publish.disclosure.suppress_volume_summary`);
- a count that is part of another published count of the force is withheld
  when their difference is small (the register
  :data:`toolkit.publish.disclosure.LINKED_COUNTS`);
- national figures other than volume carry no counts, and every figure that
  is not a count is rounded to 4 significant figures, so that no withheld
  count can be recovered by subtracting the published forces from a total;
- the problem profile (:func:`collect_profile`) carries the marks of the
  disclosure control its report reads, as they are, and England and Wales's
  shares and rates to the precision the report prints them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.forces import NATIONAL
from toolkit.publish.disclosure import (
    HARM_FIGURES,
    SHARE_PRECISION,
    SHOWN_NATIONALLY,
    publish_cross_border,
    publish_parts,
    publish_tables,
    publish_year_on_year,
    rests_on_small_count,
    round_published_figures,
    round_share_as_shown,
    suppress_tidy_figures,
    suppress_volume_summary,
    withhold_linked_counts,
)
from toolkit.stats.profile import NOT_KNOWN, REFERENCE_ETHNICITY, RESPONSE_OUTCOMES

__all__ = ["METRIC_COLUMNS", "PROFILE_TABLES", "PUBLISHED", "PublishedFigures", "collect_metrics", "collect_profile"]

METRIC_COLUMNS = [
    "force_code",
    "area",
    "section",
    "metric",
    "value",
    "lower",
    "upper",
    "numerator",
    "denominator",
    "unit",
    "band",
    "method",
    "suppressed",
    "leaves_out",
]


@dataclass(frozen=True)
class PublishedFigures:
    """How one prepared table becomes rows of ``metrics.csv``.

    ``force_code``, ``metric``, ``unit`` and ``method`` are templates:
    ``{column}`` is that column's value on each row, and text outside braces
    is taken as it is (so a constant is never mistaken for a column, nor a
    column for a constant). ``columns`` maps each
    figure of ``metrics.csv`` (``value``, ``lower``, ...) to the column of the
    table it is taken from, which must exist.
    """

    section: str
    table: str
    metric: str
    unit: str
    method: str
    columns: dict[str, str]
    force_code: str = "{force_code}"

    def rows(self, tables: dict[str, pd.DataFrame], withheld=frozenset()) -> pd.DataFrame:
        """The tidy rows of this table; ``withheld`` (table, force, column) cells mark theirs ``suppressed``."""
        table = tables[self.table]
        codes = pd.Series(_fill(self.force_code, table)).astype(str).to_numpy()
        out = pd.DataFrame(
            {
                "force_code": codes,
                "area": np.where(codes == NATIONAL, "national", "force"),
                "section": self.section,
                "metric": _fill(self.metric, table),
            }
        )
        for name, source in self.columns.items():
            out[name] = table[source].to_numpy()
        out["unit"] = _fill(self.unit, table)
        out["method"] = _fill(self.method, table)
        sources = set(self.columns.values())
        hit = {code for name, code, column in withheld if name == self.table and column in sources}
        out["linked"] = out["force_code"].isin(hit)
        if "withheld" in table:  # rows a table's own disclosure control withheld (:func:`publish_parts`)
            out["linked"] |= table["withheld"].to_numpy(dtype=bool)
        return out


def _fill(template: str, table: pd.DataFrame) -> np.ndarray:
    """``template`` on every row of ``table``: each ``{column}`` replaced by that row's value."""
    parts = re.split(r"\{(\w+)\}", template)
    if len(parts) == 3 and parts[0] == parts[2] == "":
        return table[parts[1]].to_numpy()  # one column, as it is (a missing method stays missing)
    text = pd.Series(parts[0], index=table.index, dtype=object)
    for i, part in enumerate(parts[1:]):
        text = text + (table[part].astype(str) if i % 2 == 0 else part)
    return text.to_numpy()


_INTERVAL = {"value": "value", "lower": "lower", "upper": "upper"}
_SHARE = {**_INTERVAL, "numerator": "numerator", "denominator": "denominator"}

_DISTINCT = {"value": "distinct", "lower": "lower", "upper": "upper"}
_CROSS_BORDER = (
    (
        "missing_in_another_force_too",
        "missing_elsewhere",
        "children of the force linked to a child with records in another force",
    ),
    (
        "placed_from_another_force_area",
        "placed_from_elsewhere",
        "children of the force whose responsible local authority is in another force's area (an authority's area: "
        "the ONS lookup of April 2023 boundaries, or for a code not in it the force that reports most of its "
        "children not in care)",
    ),
    (
        "cross_border_children",
        "cross_border",
        "children of the force missing in another force too or placed from another force's area",
    ),
    (
        "known_at_risk_by_another_force",
        "known_elsewhere",
        "children missing in another force too whom another force had recorded at risk before this force's first "
        "episode of them (an exploitation or previous-harm flag, harm, or a medium or high grade)",
    ),
)

# Every published figure beyond volume (volume has its own secondary suppression), one declaration per table.
PUBLISHED = (
    PublishedFigures("practice", "practice", "{measure}", "share", "{method}", {**_SHARE, "band": "band"}),
    PublishedFigures(
        "time_to_return",
        "time_to_return",
        "median_hours",
        "hours",
        "{method}",
        {"value": "median_hours", "lower": "median_lower", "upper": "median_upper", "denominator": "episodes"},
    ),
    *(
        PublishedFigures(
            "time_to_return",
            "time_to_return",
            key,
            "share",
            "{method}",
            {"value": key, "lower": f"{key}_lower", "upper": f"{key}_upper", "denominator": "episodes"},
        )
        for key in ("within_8h", "within_48h", "within_168h")
    ),
    PublishedFigures(
        "repeats",
        "repeats",
        "repeat_share",
        "share",
        "{method}",
        {
            "value": "repeat_share",
            "lower": "repeat_share_lower",
            "upper": "repeat_share_upper",
            "numerator": "repeat_episodes",
            "denominator": "episodes",
        },
    ),
    *(
        PublishedFigures("repeats", "repeats", key, "children", "count of distinct children", {"value": key})
        for key in ("children_2_plus", "children_3_plus", "frequently_missing")
    ),
    PublishedFigures(
        "trends",
        "trends",
        "rate_ratio_per_year",
        "rate ratio",
        "{model}",
        {"value": "rate_ratio_per_year", "lower": "lower", "upper": "upper"},
    ),
    PublishedFigures(
        "trends",
        "year_on_year",
        "year_on_year_rate_ratio",
        "rate ratio",
        "{method}",
        {"value": "rate_ratio", "lower": "lower", "upper": "upper", "denominator": "episodes_before"},
    ),
    PublishedFigures(
        "consistency",
        "consistency_forces",
        "{measure}_odds_ratio",
        "odds ratio against the average force",
        "{method}",
        {**_INTERVAL, "denominator": "episodes", "band": "band"},
    ),
    PublishedFigures(
        "consistency",
        "standardised_practice",
        "{measure}_standardised_ratio",
        "observed / expected",
        "{interval_method}",
        {"value": "value", "lower": "ratio_lower", "upper": "ratio_upper", "numerator": "observed", "band": "band"},
    ),
    PublishedFigures(
        "consistency",
        "officer_spread",
        "officer_variance",
        "log-odds variance",
        "{method}",
        {"value": "variance", "lower": "lower", "upper": "upper", "denominator": "episodes", "band": "band"},
    ),
    PublishedFigures(
        "consistency",
        "grade_agreement",
        "kappa",
        "kappa",
        "{method}",
        {"value": "kappa", "lower": "kappa_lower", "upper": "kappa_upper", "denominator": "pairs"},
    ),
    PublishedFigures(
        "consistency",
        "flag_grading",
        "exploitation_flag_grade_odds_ratio",
        "odds ratio, flagged against other children",
        "{method}",
        {**_INTERVAL, "numerator": "flagged_higher", "denominator": "flagged_episodes", "band": "band"},
    ),
    PublishedFigures(
        "outcomes",
        "harm_discrimination",
        "harm_c_statistic",
        "c-statistic",
        "{method}",
        {"value": "c_statistic", "lower": "lower", "upper": "upper", "numerator": "harmed", "denominator": "episodes"},
    ),
    PublishedFigures(
        "outcomes",
        "harm_by_grade",
        "harm_share_after_{response}",
        "share",
        "{method}",
        {
            "value": "share",
            "lower": "share_lower",
            "upper": "share_upper",
            "numerator": "harmed",
            "denominator": "episodes",
        },
    ),
    # Children across force borders (toolkit.runner.link_national_children): the England and Wales count of
    # distinct children linked across forces, those in more than one force, and each force's cross-border children.
    PublishedFigures(
        "cross_border", "distinct_children", "distinct_children_linked", "children", "{method}", _DISTINCT
    ),
    PublishedFigures(
        "cross_border",
        "distinct_children",
        "children_in_more_than_one_force",
        "children",
        "{method}",
        {
            "value": "in_more_than_one_force",
            "lower": "in_more_than_one_force_lower",
            "upper": "in_more_than_one_force_upper",
        },
    ),
    *(
        PublishedFigures("cross_border", "cross_border", metric, "children", method, {"value": column})
        for metric, column, method in _CROSS_BORDER
    ),
    PublishedFigures(
        "cross_border",
        "cross_border",
        "graded_low_after_another_force_knew",
        "share",
        "{method}",
        {
            "value": "graded_low_share",
            "lower": "graded_low_share_lower",
            "upper": "graded_low_share_upper",
            "numerator": "graded_low_here",
            "denominator": "known_elsewhere",
        },
    ),
    PublishedFigures(
        "consistency",
        "consistency_variance",
        "{model}_{measure}_{level}",
        "{unit}",
        "{method}",
        _INTERVAL,
        force_code=NATIONAL,
    ),
)

# The problem profile's prepared tables (toolkit.stats.profile): metrics.csv publishes them as each force's report
# shows them (toolkit.publish.report.show_problem_profile), with the marks of the same disclosure control.
PROFILE_TABLES = (
    "profile_shares",
    "profile_rates",
    "profile_concentration",
    "profile_delay",
    "profile_ethnicity",
    "night_reports",
)

_RATE_PRECISION = "whole from 10, one decimal from 1, two significant figures below"


def _show_rate(value: float) -> float:
    """A rate per 1,000 to the precision the report prints it (``49``, ``3.1``, ``0.036``), as a number.

    Examples
    --------
    >>> _show_rate(48.93), _show_rate(3.14159), _show_rate(0.0363)
    (49.0, 3.1, 0.036)
    """
    if pd.isna(value):
        return np.nan
    return float(f"{value:.0f}" if value >= 10 else (f"{value:.1f}" if value >= 1 else f"{value:.2g}"))


def _text(column: pd.Series) -> pd.Series:
    return column.fillna("").astype(str).astype(object)


def _profile_rows(table: pd.DataFrame, metric, unit, figures: dict, withheld, method) -> pd.DataFrame:
    """Tidy rows of one profile table: ``figures`` (metrics.csv column -> values, NaN where not shown)."""
    codes = table["force_code"].astype(str).to_numpy(dtype=object)
    rows = len(codes)
    columns = {
        "force_code": codes,
        "area": np.where(codes == NATIONAL, "national", "force").astype(object),
        "section": np.full(rows, "profile", dtype=object),
        "metric": np.asarray(metric, dtype=object),
        "unit": np.broadcast_to(np.asarray(unit, dtype=object), rows),
    }
    for column in ("value", "lower", "upper", "numerator", "denominator"):
        values = figures.get(column)
        columns[column] = np.full(rows, np.nan) if values is None else np.asarray(values, dtype=float)
    band = figures.get("band")
    columns["band"] = np.full(rows, np.nan, dtype=object) if band is None else np.asarray(band, dtype=object)
    columns["method"] = np.asarray(method, dtype=object)
    columns["suppressed"] = np.asarray(withheld, dtype=bool)
    # Built at once (a column added to a frame of Arrow-string columns copies them all).
    return pd.DataFrame(columns)


def _profile_shares(shares: pd.DataFrame) -> pd.DataFrame:
    """The shares (where children go missing from, looked after, flags, harm, found by, ethnicity, ...).

    A force's share, interval, band, count and denominator are published where the report shows its share
    (``figure_withheld``: :func:`~toolkit.publish.disclosure.publish_profile`); England and Wales's share as the
    report prints it.
    """
    force = (shares["force_code"] != NATIONAL).to_numpy()
    withheld = shares["figure_withheld"].to_numpy(dtype=bool) & force
    reason = _text(shares["reason"]).to_numpy()
    computed = ~withheld & (reason == "")
    shown = computed & force
    value = shares["value"].to_numpy(dtype=float)
    national = np.array([round_share_as_shown(v) for v in value[~force]])
    value = np.where(shown, value, np.nan)
    value[~force] = np.where(computed[~force], national, np.nan)
    counted = force & ~withheld
    definition = _text(shares["definition"]).to_numpy()
    method = np.where(
        force,
        definition + "; " + _text(shares["method"]).to_numpy(),
        definition + "; " + SHOWN_NATIONALLY.format(precision=SHARE_PRECISION),
    )
    figures = {
        "value": value,
        "lower": shares["lower"].where(shown),
        "upper": shares["upper"].where(shown),
        "numerator": shares["numerator"].astype(float).where(counted),
        "denominator": shares["denominator"].astype(float).where(counted),
        "band": shares["band"].astype(object).where(shown),
    }
    key = _text(shares["measure"]) + "_" + _text(shares["category"])
    rows = _profile_rows(
        shares, (key + "_share").to_numpy(), "share", figures, withheld, np.where(reason == "", method, reason)
    )
    # A partition's cells (episodes by where they went missing from, children by ethnicity, ...) have a count of
    # their own, shown where its complementary suppression leaves it even when the share beside it is withheld.
    cells = force & (_text(shares["partition"]) != "").to_numpy()
    counts = shares[cells]
    hidden = counts["count_withheld"].to_numpy(dtype=bool)
    units = _text(counts["unit"]).to_numpy()
    count_rows = _profile_rows(
        counts,
        (key[cells] + "_" + _text(counts["unit"])).to_numpy(),
        units,
        {"value": counts["numerator"].astype(float).where(~hidden)},
        hidden,
        "count of the force's " + units + " in this category of " + _text(counts["measure"]).to_numpy() + "; the "
        "categories add up to the force's " + units + ", so their counts get complementary suppression",
    )
    return pd.concat([rows, count_rows], ignore_index=True)


def _profile_night(night: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """The share reported 22:00 to 02:00, withheld where the report withholds it (a small count or complement)."""
    force = (night["force_code"] != NATIONAL).to_numpy()
    withheld = force & np.asarray(rests_on_small_count(night["numerator"], night["denominator"], threshold), bool)
    shown = force & ~withheld
    value = night["value"].to_numpy(dtype=float)
    # The report prints England and Wales's night share to a whole per cent.
    national = [np.nan if pd.isna(v) else round(float(f"{v:.0%}"[:-1]) / 100, 2) for v in value[~force]]
    value = np.where(shown, value, np.nan)
    value[~force] = national
    method = np.where(
        force,
        _text(night["method"]).to_numpy(),
        "share of episodes reported 22:00 to 02:00; " + SHOWN_NATIONALLY.format(precision="whole per cent"),
    )
    figures = {
        "value": value,
        "lower": night["lower"].where(shown),
        "upper": night["upper"].where(shown),
        "numerator": night["numerator"].astype(float).where(shown),
        "denominator": night["denominator"].astype(float).where(shown),
        "band": night["band"].astype(object).where(shown),
    }
    return _profile_rows(night, ["reported_22_to_02"] * len(night), "share", figures, withheld, method)


def _profile_rates(rates: pd.DataFrame) -> pd.DataFrame:
    """Distinct children by age band and sex per 1,000 resident children
    (:func:`~toolkit.publish.disclosure.publish_profile_rates`); England and Wales's rate as the report prints it."""
    force = (rates["force_code"] != NATIONAL).to_numpy()
    withheld = rates["figure_withheld"].to_numpy(dtype=bool) & force
    reason = _text(rates["reason"]).to_numpy()
    computed = ~withheld & (reason == "")
    shown = computed & force
    value = rates["value"].to_numpy(dtype=float)
    national = np.array([_show_rate(v) for v in value[~force]])
    value = np.where(shown, value, np.nan)
    value[~force] = np.where(computed[~force], national, np.nan)
    counted = force & ~rates["count_withheld"].to_numpy(dtype=bool)
    method = np.where(
        force,
        _text(rates["method"]).to_numpy(),
        _text(rates["method"]).to_numpy() + "; " + SHOWN_NATIONALLY.format(precision=_RATE_PRECISION),
    )
    figures = {
        "value": value,
        "lower": rates["lower"].where(shown),
        "upper": rates["upper"].where(shown),
        "numerator": rates["children"].astype(float).where(counted),
        "denominator": rates["population"].astype(float).where(shown),
        "band": rates["band"].astype(object).where(shown),
    }
    metric = (_text(rates["measure"]) + "_" + _text(rates["category"]) + "_per_1000_children").to_numpy()
    unit = "children per 1,000 resident children"
    return _profile_rows(rates, metric, unit, figures, withheld, np.where(reason == "", method, reason))


def _mark_counted(table: pd.DataFrame, count: str):
    """A profile table's rows of England and Wales or a force, withheld, shown (not withheld, and ``count`` above
    zero) and their method (with the reason where there is one; the reason alone where nothing was counted)."""
    force = (table["force_code"] != NATIONAL).to_numpy()
    withheld = table["withheld"].to_numpy(dtype=bool)
    counted = (table[count] > 0).to_numpy()
    reason = _text(table["reason"]).to_numpy()
    method = _text(table["method"]).to_numpy()
    method = np.where(counted, np.where(reason == "", method, method + "; " + reason), reason)
    return force, withheld, ~withheld & counted, method


def _profile_concentration(table: pd.DataFrame) -> pd.DataFrame:
    """The share of episodes of the 10% of children most often missing, and how many children they are
    (:func:`~toolkit.publish.disclosure.publish_concentration`)."""
    force, withheld, shown, method = _mark_counted(table, "children")
    share = _profile_rows(
        table,
        ["top_tenth_of_children_episode_share"] * len(table),
        "share",
        {
            "value": table["value"].where(shown),
            "lower": table["lower"].where(shown),
            "upper": table["upper"].where(shown),
        },
        withheld,
        method,
    )
    mine = table[force]
    children = _profile_rows(
        mine,
        ["top_tenth_of_children"] * len(mine),
        "children",
        {
            "value": mine["top_children"].astype(float).where(~withheld[force]),
            "denominator": mine["children"].astype(float).where(~withheld[force]),
        },
        withheld[force],
        [
            "distinct children in the 10% of the force's children most often missing (rounded up to whole children, "
            "at least one), of the force's distinct children"
        ]
        * len(mine),
    )
    return pd.concat([share, children], ignore_index=True)


def _profile_delay(table: pd.DataFrame) -> pd.DataFrame:
    """The median hours from last seen to report, over the episodes that record it
    (:func:`~toolkit.publish.disclosure.publish_delay`)."""
    force, withheld, shown, method = _mark_counted(table, "recorded")
    figures = {
        "value": table["median_hours"].where(shown),
        "lower": table["median_lower"].where(shown),
        "upper": table["median_upper"].where(shown),
        "denominator": table["recorded"].astype(float).where(~withheld & force),
    }
    return _profile_rows(table, ["median_hours_last_seen_to_report"] * len(table), "hours", figures, withheld, method)


def _profile_response_odds(table: pd.DataFrame) -> pd.DataFrame:
    """The first response by ethnicity (:func:`~toolkit.publish.disclosure.publish_response_odds`): each group's
    episodes with a first response, and its odds ratios against White children's episodes after case mix.

    The report gives a reason where an odds ratio is not computed (before any mark of withholding), ``1
    (reference)`` for White children and ``not compared`` for ethnicity not known: those two have no row.
    """
    force = (table["force_code"] != NATIONAL).to_numpy()
    first = table[force & (table["measure"] == next(iter(RESPONSE_OUTCOMES))).to_numpy()]
    counts = _profile_rows(
        first,
        ("first_response_episodes_" + _text(first["group"])).to_numpy(),
        "episodes",
        {"value": first["episodes"].astype(float).where(~first["count_withheld"].astype(bool))},
        first["count_withheld"],
        [
            "count of the group's episodes with a first response (a risk grade or 'absent'), by the child's first "
            "known ethnicity"
        ]
        * len(first),
    )
    compared = table[~table["group"].isin([REFERENCE_ETHNICITY, NOT_KNOWN]).to_numpy()]
    reason = _text(compared["reason"]).to_numpy()
    withheld = compared["odds_withheld"].to_numpy(dtype=bool) & (reason == "")
    shown = ~withheld & (reason == "")
    national = (compared["force_code"] == NATIONAL).to_numpy()
    figures = {
        "value": compared["value"].where(shown),
        "lower": compared["lower"].where(shown),
        "upper": compared["upper"].where(shown),
        "band": compared["band"].astype(object).where(shown & ~national),
    }
    odds = _profile_rows(
        compared,
        (_text(compared["measure"]) + "_odds_ratio_" + _text(compared["group"])).to_numpy(),
        "odds ratio against White children's episodes",
        figures,
        withheld,
        np.where(reason == "", _text(compared["method"]).to_numpy(), reason),
    )
    return pd.concat([counts, odds], ignore_index=True)


def collect_profile(tables: dict[str, pd.DataFrame], threshold: int) -> pd.DataFrame:
    """The problem profile's figures as each force's report shows them, and England and Wales's.

    The tables pass the disclosure control the reports read (:func:`toolkit.publish.disclosure.publish_tables`:
    ``publish_profile``, ``publish_profile_rates``, ``publish_concentration``, ``publish_delay`` and
    ``publish_response_odds``), and a row is withheld (``suppressed``, no figure) where the report shows
    ``[c]`` for it: its marks are used as they are, never suppressed again. A force's share publishes its count
    and denominator only beside its share. England and Wales's shares and rates are given as the reports print
    them, without counts; its concentration, delay and odds ratios with their intervals, as the reports show them.
    The hour-by-weekday cells are not published here: see the README (metrics.csv).

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The prepared tables; those of :data:`PROFILE_TABLES` that are present are used.
    threshold : int
        Smallest count that may be published (0 or 1: no suppression).

    Returns
    -------
    pandas.DataFrame
        :data:`METRIC_COLUMNS` but ``leaves_out``, section ``profile``.
    """
    present = {name: tables[name] for name in PROFILE_TABLES if name in tables}
    published = publish_tables(present, {"suppression_threshold": threshold})
    parts = []
    if "night_reports" in published:
        parts.append(_profile_night(published["night_reports"], threshold))
    builders = {
        "profile_shares": _profile_shares,
        "profile_rates": _profile_rates,
        "profile_concentration": _profile_concentration,
        "profile_delay": _profile_delay,
        "profile_ethnicity": _profile_response_odds,
    }
    parts += [build(published[name]) for name, build in builders.items() if name in published]
    columns = [column for column in METRIC_COLUMNS if column != "leaves_out"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def collect_metrics(tables: dict[str, pd.DataFrame], comparator_groups: dict, threshold: int) -> pd.DataFrame:
    """Every published figure, tidy, after disclosure control.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The prepared tables (see :func:`toolkit.runner.prepare_tables`).
    comparator_groups : dict
        The groups the run used.
    threshold : int
        Smallest count that may be published (0 or 1: no suppression).

    Returns
    -------
    pandas.DataFrame
        :data:`METRIC_COLUMNS`.
    """
    volume = suppress_volume_summary(tables["summary"], comparator_groups, threshold).assign(section="volume")
    tables = dict(tables)
    if "harm_by_grade" in tables:  # its parts add up to the c-statistic's counts: withheld together
        tables["harm_by_grade"] = publish_parts(tables["harm_by_grade"], "harmed", "episodes", HARM_FIGURES, threshold)
    if "year_on_year" in tables:  # a rate ratio over a small count of either year gives it back
        tables["year_on_year"] = publish_year_on_year(tables["year_on_year"], threshold)
    crossing = set()
    if "distinct_children" in tables:  # a version 1 extract cannot be counted: the overview says why, no row here
        tables["distinct_children"] = tables["distinct_children"][tables["distinct_children"]["countable"]]
    if "cross_border" in tables:  # its parts overlap: withheld where the overlap is small
        tables["cross_border"], crossing = publish_cross_border(tables["cross_border"], threshold)
    linked, withheld = withhold_linked_counts(tables, threshold)
    withheld |= crossing
    declared_rows = [declared.rows(linked, withheld) for declared in PUBLISHED if declared.table in linked]
    columns = [column for column in METRIC_COLUMNS if column not in ("suppressed", "leaves_out")]
    blocks = (
        pd.concat(declared_rows, ignore_index=True) if declared_rows else pd.DataFrame(columns=[*columns, "linked"])
    )
    # A force whose children could not be linked has no cross-border figures: no row, rather than a blank one.
    uncomputed = (blocks["section"] == "cross_border") & blocks["value"].isna() & ~blocks["linked"]
    blocks = blocks[~uncomputed.to_numpy()]
    other = suppress_tidy_figures(blocks.drop(columns="linked"), threshold, withheld=blocks["linked"])
    # The problem profile carries the marks of the disclosure control its report reads, not a second one.
    profile = collect_profile(tables, threshold)
    other = pd.concat([other, profile], ignore_index=True).assign(leaves_out="")
    table = round_published_figures(pd.concat([volume, other], ignore_index=True).reindex(columns=METRIC_COLUMNS))
    return table.sort_values(["section", "metric", "area", "force_code"], kind="stable").reset_index(drop=True)
