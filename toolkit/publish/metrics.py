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
  count can be recovered by subtracting the published forces from a total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.forces import NATIONAL
from toolkit.publish.disclosure import (
    HARM_FIGURES,
    publish_cross_border,
    publish_parts,
    publish_year_on_year,
    round_published_figures,
    suppress_tidy_figures,
    suppress_volume_summary,
    withhold_linked_counts,
)

__all__ = ["METRIC_COLUMNS", "PUBLISHED", "PublishedFigures", "collect_metrics"]

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
    PublishedFigures("profile", "night_reports", "reported_22_to_02", "share", "{method}", {**_SHARE, "band": "band"}),
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
        "{measure}",
        "{method}",
        _INTERVAL,
        force_code=NATIONAL,
    ),
)


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
    blocks = pd.concat(
        [declared.rows(linked, withheld) for declared in PUBLISHED if declared.table in linked], ignore_index=True
    )
    # A force whose children could not be linked has no cross-border figures: no row, rather than a blank one.
    uncomputed = (blocks["section"] == "cross_border") & blocks["value"].isna() & ~blocks["linked"]
    blocks = blocks[~uncomputed.to_numpy()]
    other = suppress_tidy_figures(blocks.drop(columns="linked"), threshold, withheld=blocks["linked"])
    other = other.assign(leaves_out="")
    table = round_published_figures(pd.concat([volume, other], ignore_index=True).reindex(columns=METRIC_COLUMNS))
    return table.sort_values(["section", "metric", "area", "force_code"], kind="stable").reset_index(drop=True)
