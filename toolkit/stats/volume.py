"""Headline figures for every force, its comparator group and England and Wales, computed once.

One vectorised pass over the national episode table gives a tidy table of
figures (:func:`summarise_volume`) that the runner stores before any notebook
starts; each force report reads its own rows. Every estimate carries its
interval and the method that made it.

Examples
--------
>>> import pandas as pd
>>> episodes = pd.DataFrame({"force_code": ["E23000014"] * 3 + ["E23000002"],
...                          "person_id": ["a", "a", "b", "c"]})
>>> table = summarise_volume(episodes)
>>> row = table.query("area == 'force' and force_code == 'E23000014' and metric == 'episodes'")
>>> int(row["value"].iloc[0])
3

A force the extract covers but whose every row was set aside has zeros, and no ratio, saying why:

>>> table = summarise_volume(episodes, covered=["E23000014", "E23000002", "E23000034"])
>>> row = table.query("area == 'force' and force_code == 'E23000034' and metric == 'episodes_per_child'")
>>> row["method"].iloc[0]
'not computed: no clean episodes, so no children to divide by'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.forces import NATIONAL, read_comparator_groups, read_forces_table
from toolkit.stats.intervals import rate_interval

__all__ = ["SUMMARY_COLUMNS", "summarise_volume", "pool_volume", "compare_volume_rates"]

SUMMARY_COLUMNS = [
    "force_code",  # the force the row is about (for national rows, NATIONAL)
    "area",  # "force", "comparators" (the force's comparator group, pooled) or "national"
    "metric",
    "value",
    "lower",
    "upper",
    "numerator",
    "denominator",
    "unit",
    "method",
]

_RATE_METHOD = "{method} 95% interval, per 1,000 resident children aged 0-17 (ONS mid-2023)"


def _counts_by_force(episodes: pd.DataFrame, covered: list[str] | None = None) -> pd.DataFrame:
    forces = read_forces_table()
    if covered is not None:
        forces = forces.loc[[code for code in forces.index if code in set(covered)]]
    codes = episodes["force_code"].astype(str)
    # A child is a pseudonym within a force: the same person_id in two forces is two children.
    per_force = pd.DataFrame(
        {
            "episodes": codes.value_counts(),
            "children": episodes.assign(force_code=codes)
            .drop_duplicates(["force_code", "person_id"])["force_code"]
            .value_counts(),
        }
    )
    per_force = per_force.reindex(forces.index, fill_value=0).astype("int64")
    per_force["population"] = forces["children"]
    return per_force


def _volume_rows(counts: pd.DataFrame, area: str) -> pd.DataFrame:
    """Tidy rows of the volume figures for each row of ``counts`` (indexed by force code)."""
    rate = rate_interval(counts["episodes"], counts["population"], multiplier=1000)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_child = np.where(counts["children"] > 0, counts["episodes"] / counts["children"], np.nan)
    # A force whose every row was set aside has no children to divide by: its row says so.
    per_child_method = pd.Series("episodes divided by distinct children", index=counts.index).where(
        counts["children"] > 0, "not computed: no clean episodes, so no children to divide by"
    )
    codes = counts.index.to_numpy()
    blocks = [
        pd.DataFrame(
            {
                "force_code": codes,
                "metric": "episodes",
                "value": counts["episodes"].to_numpy(),
                "unit": "episodes",
                "method": "count of episodes reported in the extract",
            }
        ),
        pd.DataFrame(
            {
                "force_code": codes,
                "metric": "children",
                "value": counts["children"].to_numpy(),
                "unit": "children",
                "method": "count of distinct person_id within each force",
            }
        ),
        pd.DataFrame(
            {
                "force_code": codes,
                "metric": "episodes_per_child",
                "value": per_child,
                "numerator": counts["episodes"].to_numpy(),
                "denominator": counts["children"].to_numpy(),
                "unit": "episodes per child",
                "method": per_child_method.to_numpy(),
            }
        ),
        pd.DataFrame(
            {
                "force_code": codes,
                "metric": "rate_per_1000_children",
                "value": rate["value"].to_numpy(),
                "lower": rate["lower"].to_numpy(),
                "upper": rate["upper"].to_numpy(),
                "numerator": counts["episodes"].to_numpy(),
                "denominator": counts["population"].to_numpy(),
                "unit": "episodes per 1,000 children",
                "method": [_RATE_METHOD.format(method=m) for m in rate["method"]],
            }
        ),
    ]
    table = pd.concat(blocks, ignore_index=True)
    table["area"] = area
    return table.reindex(columns=SUMMARY_COLUMNS)


def summarise_volume(
    episodes: pd.DataFrame, comparator_groups: dict[str, list[str]] | None = None, covered: list[str] | None = None
) -> pd.DataFrame:
    """Episodes, distinct children and rates per 1,000 children, for every force at once.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Canonical episodes; needs ``force_code`` and ``person_id``.
    comparator_groups : dict, optional
        Force code to comparator codes; default the shipped groups.
    covered : list of str, optional
        The forces the extract covers (those that sent rows); default all 43.
        A force the extract does not cover is not counted as zero: it has no
        rows here, and no pooled figure includes it.

    Returns
    -------
    pandas.DataFrame
        Tidy, with :data:`SUMMARY_COLUMNS`: rows for each covered force
        (``area="force"``, zero where a force has no episodes), each force's
        comparator group pooled from its covered members (``area="comparators"``;
        missing figures where none is covered) and England and Wales, the
        covered forces pooled (``area="national"``, ``force_code=NATIONAL``).
    """
    groups = comparator_groups if comparator_groups is not None else read_comparator_groups()
    counts = _counts_by_force(episodes, covered)
    return pd.concat([_volume_rows(counts, "force"), pool_volume(counts, groups)], ignore_index=True)


def pool_volume(counts: pd.DataFrame, groups: dict[str, list[str]], leave_out: frozenset = frozenset()) -> pd.DataFrame:
    """Comparator-group and national rows pooled from per-force counts, leaving out some forces.

    Parameters
    ----------
    counts : pandas.DataFrame
        Indexed by force code: ``episodes``, ``children``, ``population``.
    groups : dict
        Force code to its comparator codes.
    leave_out : frozenset of str
        Forces left out of every pooled figure (those whose own figures are
        withheld: a total that included them would reveal them by subtraction).
    """
    kept = counts.loc[~counts.index.isin(leave_out), ["episodes", "children", "population"]]
    # Each comparator group pooled: sums over its members, by one matrix product.
    membership = pd.DataFrame(0, index=counts.index, columns=kept.index)
    for code, peers in groups.items():
        if code in membership.index:
            membership.loc[code, [p for p in peers if p in kept.index]] = 1
    pooled = membership @ kept
    comparator_rows = _volume_rows(pooled, "comparators")
    # A group none of whose members is in the extract (or published) has no figures, not zeros.
    empty = comparator_rows["force_code"].isin(pooled.index[pooled["population"] == 0])
    comparator_rows.loc[empty, ["value", "lower", "upper", "numerator", "denominator"]] = np.nan
    comparator_rows.loc[empty, "method"] = "no force of the comparator group is in the extract"
    national_rows = _volume_rows(kept.sum().to_frame(NATIONAL).T, "national")
    return pd.concat([comparator_rows, national_rows], ignore_index=True)


def compare_volume_rates(summary: pd.DataFrame, comparator_groups: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Every force's episodes per 1,000 children against funnel limits around England and Wales and its comparators.

    Forces with a population but no episodes take part (a zero is informative);
    the dispersion estimate and the method used are repeated on every row, so
    the stored table says how it was made.

    Returns
    -------
    pandas.DataFrame
        As :func:`toolkit.stats.funnel.compare_with_funnel` (including
        ``comparator_band``), with ``force_code`` and the dispersion (``phi``, ``tau2``, ``p_value``, ``adjusted``,
        ``dispersion_sentence``).
    """
    from toolkit.stats.funnel import MIN_FORCES_TO_COMPARE, compare_with_funnel

    rates = summary[(summary["area"] == "force") & (summary["metric"] == "rate_per_1000_children")]
    table = pd.DataFrame(
        {"unit": rates["force_code"], "numerator": rates["numerator"], "denominator": rates["denominator"]}
    )
    groups = comparator_groups if comparator_groups is not None else read_comparator_groups()
    try:
        comparison, dispersion = compare_with_funnel(
            table, "rate", multiplier=1000, comparator_groups=groups, min_units=MIN_FORCES_TO_COMPARE
        )
    except ValueError as reason:  # too few forces in the extract (or no episodes): no force is placed
        comparison = table.assign(value=np.nan, baseline=np.nan, band="not_compared", comparator_band="not_compared")
        dispersion = {"phi": np.nan, "tau2": 0.0, "p_value": np.nan, "adjusted": False, "sentence": str(reason)}
    comparison = comparison.rename(columns={"unit": "force_code"})
    for key in ("phi", "tau2", "p_value", "adjusted"):
        comparison[key] = dispersion[key]
    comparison["dispersion_sentence"] = dispersion["sentence"]
    return comparison
