"""Every published figure in one tidy table: ``reports/metrics.csv``.

One row per force (or comparator group, or England and Wales), section and
metric, with its interval, counts, unit, funnel band and method, after
disclosure control:

- counts of 1 to ``threshold - 1``, and every figure resting on one, are
  withheld (``suppressed``), and totals leave out withheld forces (see
  :func:`toolkit.disclosure.suppress_volume_summary`);
- national figures other than volume carry no counts, and every figure that
  is not a count is rounded to 4 significant figures, so that no withheld
  count can be recovered by subtracting the published forces from a total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.disclosure import COUNT_UNITS, suppress_small_counts, suppress_volume_summary
from toolkit.summary import NATIONAL

__all__ = ["METRIC_COLUMNS", "collect_metrics"]

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
SIGNIFICANT_FIGURES = 4


def _area(codes: pd.Series) -> np.ndarray:
    return np.where(codes == NATIONAL, "national", "force")


def _rows(section: str, metric, table: pd.DataFrame, unit: str, method, **columns: str) -> pd.DataFrame:
    """Tidy rows from ``table``.

    ``unit`` is the same for every row; ``method`` is a sentence, or a Series
    of ``table`` giving each row's; every other keyword names a metric column
    and the column of ``table`` it is taken from (which must exist: a constant
    is never mistaken for a column, nor a column for a constant).
    """
    out = pd.DataFrame(
        {
            "force_code": table["force_code"].astype(str).to_numpy(),
            "area": _area(table["force_code"].astype(str)),
            "section": section,
            "metric": metric,
        }
    )
    for name, source in columns.items():
        out[name] = table[source].to_numpy()
    out["unit"] = unit
    out["method"] = method.to_numpy() if isinstance(method, pd.Series) else method
    return out


def _round(values: pd.Series) -> pd.Series:
    """Round to :data:`SIGNIFICANT_FIGURES` significant figures (missing stays missing)."""
    v = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = SIGNIFICANT_FIGURES - 1 - np.floor(np.log10(np.abs(v)))
    digits = np.where(np.isfinite(digits), digits, 0).astype(int)
    return pd.Series([round(x, d) if np.isfinite(x) else x for x, d in zip(v, digits, strict=True)], index=values.index)


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
    practice = tables["practice"]
    ttr = tables["time_to_return"]
    repeats = tables["repeats"]
    effects = tables["consistency_forces"]
    ratios = tables["standardised_practice"]
    officers = tables["officer_spread"]
    kappa = tables["grade_agreement"]
    trends = tables["trends"]
    blocks = [
        _rows(
            "practice",
            practice["measure"],
            practice,
            value="value",
            lower="lower",
            upper="upper",
            numerator="numerator",
            denominator="denominator",
            unit="share",
            band="band",
            method=practice["method"],
        )
    ]
    for key in ("median_hours", "within_8h", "within_48h", "within_168h"):
        low, high = ("median_lower", "median_upper") if key == "median_hours" else (f"{key}_lower", f"{key}_upper")
        blocks.append(
            _rows(
                "time_to_return",
                key,
                ttr,
                value=key,
                lower=low,
                upper=high,
                denominator="episodes",
                unit="hours" if key == "median_hours" else "share",
                method=ttr["method"],
            )
        )
    blocks.append(
        _rows(
            "repeats",
            "repeat_share",
            repeats,
            value="repeat_share",
            lower="repeat_share_lower",
            upper="repeat_share_upper",
            numerator="repeat_episodes",
            denominator="episodes",
            unit="share",
            method=repeats["method"],
        )
    )
    for key in ("children_2_plus", "children_3_plus", "frequently_missing"):
        blocks.append(_rows("repeats", key, repeats, value=key, unit="children", method="count of distinct children"))
    blocks.append(
        _rows(
            "trends",
            "rate_ratio_per_year",
            trends,
            value="rate_ratio_per_year",
            lower="lower",
            upper="upper",
            unit="rate ratio",
            method=trends["model"],
        )
    )
    blocks.append(
        _rows(
            "consistency",
            effects["measure"] + "_odds_ratio",
            effects,
            value="value",
            lower="lower",
            upper="upper",
            denominator="episodes",
            unit="odds ratio against the average force",
            band="band",
            method=effects["method"],
        )
    )
    blocks.append(
        _rows(
            "consistency",
            ratios["measure"] + "_standardised_ratio",
            ratios,
            value="value",
            lower="ratio_lower",
            upper="ratio_upper",
            numerator="observed",
            unit="observed / expected",
            band="band",
            method=ratios["interval_method"],
        )
    )
    blocks.append(
        _rows(
            "consistency",
            "officer_variance",
            officers,
            value="variance",
            lower="lower",
            upper="upper",
            denominator="episodes",
            unit="log-odds variance",
            band="band",
            method=officers["method"],
        )
    )
    blocks.append(
        _rows(
            "consistency",
            "kappa",
            kappa,
            value="kappa",
            lower="kappa_lower",
            upper="kappa_upper",
            denominator="pairs",
            unit="kappa",
            method=kappa["method"],
        )
    )
    variance = tables["consistency_variance"]
    blocks.append(
        pd.DataFrame(
            {
                "force_code": NATIONAL,
                "area": "national",
                "section": "consistency",
                "metric": variance["model"] + "_" + variance["measure"] + "_" + variance["level"],
                "value": variance["value"],
                "lower": variance["lower"],
                "upper": variance["upper"],
                "unit": variance["measure"],
                "method": variance["method"],
            }
        )
    )
    other = suppress_small_counts(pd.concat(blocks, ignore_index=True), threshold)
    # A total's counts, less the published forces', would give a withheld force's away: national rows
    # carry no counts, and a national count is withheld where any force's count of it is.
    national = other["area"] == "national"
    other.loc[national, ["numerator", "denominator"]] = np.nan
    withheld = other.loc[other["suppressed"] & ~national, ["section", "metric"]].drop_duplicates()
    keys = pd.MultiIndex.from_frame(other[["section", "metric"]])
    hit = national & other["unit"].isin(COUNT_UNITS) & keys.isin(pd.MultiIndex.from_frame(withheld))
    other.loc[hit, ["value", "lower", "upper"]] = np.nan
    other.loc[hit, "suppressed"] = True
    other["band"] = other["band"].where(~other["suppressed"])
    other["leaves_out"] = ""
    table = pd.concat([volume, other], ignore_index=True).reindex(columns=METRIC_COLUMNS)
    counts = table["unit"].isin(["episodes", "children"])
    for column in ("value", "lower", "upper"):
        table[column] = table[column].where(counts, _round(table[column]))
    return table.sort_values(["section", "metric", "area", "force_code"], kind="stable").reset_index(drop=True)
