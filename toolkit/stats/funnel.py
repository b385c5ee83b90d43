"""Funnel-plot comparisons of forces: control limits, significance, over-dispersion.

League tables of 43 forces of very different sizes mislead; funnel plots put
each force's figure against control limits that widen as the force gets
smaller. Limits follow public-health indicator practice and are tested
against its published values (``tests/reference/phe/``):

- **proportions**: the Wilson-score inversion PHEindicatormethods uses
  (:func:`proportion_funnel_limits`);
- **rates and ratios**: exact Poisson limits around the expected count
  (:func:`ratio_funnel_limits`, :func:`rate_funnel_limits`,
  :func:`poisson_funnel_expected`).

Forces differ for reasons no indicator captures, so funnel limits drawn for
Poisson or binomial noise alone usually put many forces "outside".
Spiegelhalter's method (:func:`estimate_overdispersion`) measures that
over-dispersion from winsorised z-scores (phi, with a chi-squared test) and,
when present, widens the limits by an additive random effect (tau-squared).
:func:`compare_with_funnel` does all of this for a table of forces and says
which limits it used and why.

Examples
--------
>>> lower, upper = proportion_funnel_limits(0.8, 100, 0.95)
>>> round(float(lower), 4), round(float(upper), 4)
(0.7216, 0.8784)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.forces import NATIONAL
from toolkit.stats.intervals import poisson_count_limits, proportion_interval

__all__ = [
    "compare_shares",
    "LEVELS",
    "proportion_funnel_limits",
    "ratio_funnel_limits",
    "rate_funnel_limits",
    "funnel_limits",
    "poisson_funnel_expected",
    "assign_proportion_significance",
    "assign_ratio_significance",
    "estimate_overdispersion",
    "compare_with_funnel",
]

LEVELS = (0.95, 0.998)


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(1 - (1 - confidence) / 2))


def proportion_funnel_limits(baseline, denominator, confidence: float = 0.95):
    """Funnel limits for a proportion, by inverting the Wilson score interval (PHE's method).

    The limit at denominator N is the proportion whose Wilson interval's
    bound just reaches the baseline.

    Parameters
    ----------
    baseline : float
        The comparator proportion (0 to 1), usually pooled over all units.
    denominator : array-like
        Denominators at which to draw the limits.
    confidence : float
        0.95 or 0.998 (two-sided).

    Returns
    -------
    lower, upper : numpy.ndarray
        Proportions, clipped to [0, 1].
    """
    n = np.asarray(denominator, dtype=float)
    p = float(baseline)
    z2 = _z(confidence) ** 2
    a = 1 / z2 + 1 / n
    b = p * (n / z2 + 1)
    root = np.sqrt(np.maximum(b**2 - a * p * (p * (n + z2) ** 2 / z2 - (n + z2)), 0))
    lower = (b - root) / a / n
    upper = (b + root) / a / n
    return np.clip(lower, 0, 1), np.clip(upper, 0, 1)


def poisson_funnel_expected(observed, confidence: float = 0.95):
    """The expected counts at which an observed count sits on the exact Poisson funnel limits.

    Returns
    -------
    expected_at_lower, expected_at_upper : numpy.ndarray
        ``E`` with P(X <= O | E) = p, and ``E`` with P(X >= O | E) = p, for p
        the tail probability of ``confidence``.
    """
    o = np.asarray(observed, dtype=float)
    p = (1 - confidence) / 2
    lower = stats.chi2.ppf(1 - p, 2 * (o + 1)) / 2
    upper = np.where(o > 0, stats.chi2.ppf(p, 2 * np.maximum(o, 1e-300)) / 2, 0.0)
    return lower, upper


def ratio_funnel_limits(expected, confidence: float = 0.95):
    """Exact Poisson funnel limits for an observed/expected ratio (target 1) at each expected count.

    Examples
    --------
    >>> lower, upper = ratio_funnel_limits([15], 0.95)
    >>> round(float(lower[0]), 7), round(float(upper[0]), 6)
    (0.5596924, 1.649348)
    """
    e = np.asarray(expected, dtype=float)
    p = (1 - confidence) / 2
    lower = stats.chi2.ppf(p, 2 * e) / (2 * e)
    upper = stats.chi2.ppf(1 - p, 2 * (e + 1)) / (2 * e)
    return lower, upper


def rate_funnel_limits(baseline_rate: float, population, multiplier: float = 1000, confidence: float = 0.95):
    """Exact Poisson funnel limits for a rate per ``multiplier`` people at each population size."""
    expected = float(baseline_rate) * np.asarray(population, dtype=float) / multiplier
    lower, upper = ratio_funnel_limits(expected, confidence)
    return lower * baseline_rate, upper * baseline_rate


def funnel_limits(
    statistic: str, baseline: float, denominator, confidence: float, multiplier: float = 1, tau2: float | None = None
):
    """Funnel limits at each denominator, in the units of the figure (proportion x multiplier, or rate).

    Parameters
    ----------
    statistic : {"proportion", "rate"}
    baseline : float
        The target, in the figure's units (e.g. 12.5 for 12.5%, or 14.1 per 1,000).
    denominator : array-like
        Denominators (or populations, for rates) at which to draw the limits.
    confidence : float
    multiplier : float
        100 for percentages, 1,000 for rates per 1,000, and so on.
    tau2 : float, optional
        Additive between-unit variance. None gives the exact limits (Wilson
        inversion, exact Poisson); a value gives Spiegelhalter's random-effects
        limits on the variance-stabilised scale (arcsine square root for
        proportions, log for rates).

    Returns
    -------
    lower, upper : numpy.ndarray
    """
    n = np.asarray(denominator, dtype=float)
    if tau2 is None:
        if statistic == "proportion":
            lower, upper = proportion_funnel_limits(baseline / multiplier, n, confidence)
            return lower * multiplier, upper * multiplier
        return rate_funnel_limits(baseline, n, multiplier, confidence)
    if statistic == "proportion":
        target = np.arcsin(np.sqrt(baseline / multiplier))
        half = _z(confidence) * np.sqrt(1 / (4 * n) + tau2)
        lower = np.sin(np.clip(target - half, 0, np.pi / 2)) ** 2
        upper = np.sin(np.clip(target + half, 0, np.pi / 2)) ** 2
        return lower * multiplier, upper * multiplier
    half = _z(confidence) * np.sqrt(multiplier / (baseline * n) + tau2)
    return baseline * np.exp(-half), baseline * np.exp(half)


def _band(above_998, above_95, below_998, below_95) -> np.ndarray:
    return np.select(
        [above_998, above_95, below_998, below_95],
        ["High (0.001)", "High (0.025)", "Low (0.001)", "Low (0.025)"],
        "Not significant",
    )


def assign_proportion_significance(numerator, denominator, baseline: float | None = None) -> np.ndarray:
    """PHE significance bands of proportions against funnel limits at their own denominators.

    Returns
    -------
    numpy.ndarray of str
        ``High (0.001)``, ``High (0.025)``, ``Not significant``, ``Low (0.025)``
        or ``Low (0.001)``.
    """
    x = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    p = x.sum() / n.sum() if baseline is None else baseline
    value = x / n
    lo95, hi95 = proportion_funnel_limits(p, n, 0.95)
    lo998, hi998 = proportion_funnel_limits(p, n, 0.998)
    return _band(value > hi998, value > hi95, value < lo998, value < lo95)


def assign_ratio_significance(observed, expected) -> np.ndarray:
    """PHE significance bands of observed/expected ratios: each unit's own exact/Byar interval against 1."""
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    lo95, hi95, _ = poisson_count_limits(o, 0.95)
    lo998, hi998, _ = poisson_count_limits(o, 0.998)
    return _band(lo998 / e > 1, lo95 / e > 1, hi998 / e < 1, hi95 / e < 1)


def estimate_overdispersion(zscores, weights, trim: float = 0.1, method: str = "winsorise") -> dict:
    """Spiegelhalter's over-dispersion estimate from z-scores.

    Parameters
    ----------
    zscores : array-like
        Unadjusted z-scores of the units on the variance-stabilised scale.
    weights : array-like
        Their precisions, 1 / s_i^2.
    trim : float, default 0.1
        Share winsorised (or truncated) at each end before estimating phi, so
        that the outliers being looked for do not inflate it. Truncated units
        are left out of ``tau2`` too.
    method : {"winsorise", "truncate"}
        Winsorise (Spiegelhalter) or drop the extreme groups (the NHS SHMI variant).

    Returns
    -------
    dict
        ``phi`` (dispersion ratio), ``tau2`` (additive between-unit variance,
        DerSimonian-Laird), ``p_value`` (I * phi against chi-squared on I
        degrees of freedom), ``units`` (I) and ``overdispersed`` (p < 0.05).

    Examples
    --------
    >>> o = np.array([100, 150, 180, 80, 120, 225.]); e = np.array([108, 112, 165, 95, 100, 220.])
    >>> result = estimate_overdispersion(np.sqrt(e) * np.log(o / e), e, method="truncate")
    >>> round(result["phi"], 6), round(result["tau2"], 7)
    (2.948033, 0.0194775)
    """
    z = np.asarray(zscores, dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = np.isfinite(z) & np.isfinite(w) & (w > 0)
    z, w = z[keep], w[keep]
    units = len(z)
    if units < 2:
        return {"phi": np.nan, "tau2": 0.0, "p_value": np.nan, "units": units, "overdispersed": False}
    if method == "winsorise":
        low, high = np.quantile(z, [trim, 1 - trim])  # R's type 7, as FunnelPlotR
        used = np.clip(z, low, high)
        phi = float(np.mean(used**2))
        n_phi = units
    elif method == "truncate":
        # The units whose rank falls in the extreme groups are left out of phi and of tau2 alike
        # (FunnelPlotR, and the NHS SHMI): phi is the mean of the kept units' squared z-scores.
        groups = np.floor(stats.rankdata(z) * (1 / trim) / (units + 1))
        kept = (groups > 0) & (groups < 1 / trim - 1)
        z, w = z[kept], w[kept]
        phi = float(np.mean(z**2))
        n_phi = len(z)
    else:
        raise ValueError(f"method must be 'winsorise' or 'truncate', not {method!r}")
    if n_phi * phi <= n_phi - 1:
        tau2 = 0.0
    else:
        tau2 = max(0.0, (n_phi * phi - (n_phi - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    p_value = float(stats.chi2.sf(n_phi * phi, n_phi))
    return {"phi": phi, "tau2": float(tau2), "p_value": p_value, "units": units, "overdispersed": p_value < 0.05}


def compare_with_funnel(
    table: pd.DataFrame,
    statistic: str,
    multiplier: float = 1,
    overdispersion: str = "auto",
    comparator_groups: dict[str, list[str]] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Classify each unit (force) against funnel limits around the pooled baseline.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per unit with ``unit``, ``numerator`` and ``denominator``
        (for ``"rate"`` the denominator is the population; for ``"ratio"``
        the numerator is the observed and the denominator the expected count
        of an indirectly standardised ratio).
    statistic : {"proportion", "rate", "ratio"}
    multiplier : float
        1 for proportions (or 100 for percentages); 1,000 for rates per 1,000.
    overdispersion : {"auto", "always", "never"}
        ``auto`` widens the limits only when phi shows over-dispersion.
    comparator_groups : dict, optional
        Unit to the units it is compared with. Adds ``comparator_baseline``
        (the group's pooled figure, or the group's pooled ratio) and
        ``comparator_band``: the unit against limits around that baseline at
        its own denominator (with the same over-dispersion allowance).

    Returns
    -------
    comparison : pandas.DataFrame
        Per unit: ``value``, the limits at its denominator (``lower_95``,
        ``upper_95``, ``lower_998``, ``upper_998``), ``z`` (adjusted when
        over-dispersed), ``band`` (``above_998``, ``above_95``, ``within``,
        ``below_95``, ``below_998``) and ``method``.
    dispersion : dict
        ``baseline``, phi, tau2, its test, whether limits were adjusted, and
        the sentence the report uses to say so.
    """
    if statistic not in ("proportion", "rate", "ratio"):
        raise ValueError(f"statistic must be 'proportion', 'rate' or 'ratio', not {statistic!r}")
    if statistic == "ratio":
        # An observed/expected ratio is a rate per 1 whose "population" is the expected count; against
        # the units' own pooled standard its baseline (sum observed / sum expected) is 1.
        comparison, dispersion = compare_with_funnel(table, "rate", 1, overdispersion, comparator_groups)
        return _name_as_ratio(comparison), dispersion
    data = table[table["denominator"] > 0].copy()
    x = data["numerator"].to_numpy(dtype=float)
    n = data["denominator"].to_numpy(dtype=float)
    if len(data) == 0 or x.sum() == 0:
        raise ValueError("a funnel needs at least one unit with events and a positive denominator")
    if statistic == "proportion":
        baseline = x.sum() / n.sum()
        y = np.arcsin(np.sqrt(x / n))
        target = np.arcsin(np.sqrt(baseline))
        s2 = 1 / (4 * n)
    else:
        baseline = x.sum() / n.sum() * multiplier
        expected = baseline * n / multiplier
        with np.errstate(divide="ignore"):
            y = np.log(np.where(x > 0, x, 0.5) / expected)  # half an event stands in for zero
        target = 0.0
        s2 = 1 / expected
    z = (y - target) / np.sqrt(s2)
    dispersion = estimate_overdispersion(z, 1 / s2)
    adjust = overdispersion == "always" or (overdispersion == "auto" and dispersion["overdispersed"])
    tau2 = dispersion["tau2"] if adjust else 0.0

    figure_baseline = baseline * multiplier if statistic == "proportion" else baseline
    limits = {
        level: funnel_limits(statistic, figure_baseline, n, level, multiplier, tau2 if adjust else None)
        for level in LEVELS
    }
    value = x / n * multiplier
    band = _classify(statistic, value, x, n, baseline, multiplier, limits)
    method = (
        f"funnel limits with Spiegelhalter's additive random-effects adjustment for over-dispersion "
        f"(phi {dispersion['phi']:.2f}, tau-squared {tau2:.4g})"
        if adjust
        else ("Wilson-inversion funnel limits (PHE)" if statistic == "proportion" else "exact Poisson funnel limits")
    )
    comparison = pd.DataFrame(
        {
            "unit": data["unit"].to_numpy(),
            "numerator": x,
            "denominator": n,
            "value": value,
            "baseline": figure_baseline,
            "lower_95": limits[0.95][0],
            "upper_95": limits[0.95][1],
            "lower_998": limits[0.998][0],
            "upper_998": limits[0.998][1],
            "z": (y - target) / np.sqrt(s2 + tau2),
            "band": band,
            "method": method,
        }
    )
    if comparator_groups is not None:
        comparison = _add_comparator_bands(
            comparison, comparator_groups, statistic, multiplier, tau2 if adjust else None
        )
    p_text = "p < 0.001" if dispersion["p_value"] < 0.001 else f"p {dispersion['p_value']:.3f}"
    if adjust:
        sentence = (
            f"Forces differ more than chance allows (phi {dispersion['phi']:.2f}, {p_text}), "
            "so the limits are widened by a random effect for differences between forces (Spiegelhalter 2005)."
        )
    elif dispersion["units"] < 2:
        sentence = "Only one force: its spread against others cannot be estimated; unadjusted limits."
    elif dispersion["overdispersed"]:
        sentence = (
            f"Forces differ more than chance allows (phi {dispersion['phi']:.2f}), but the limits were not widened."
        )
    else:
        sentence = f"Forces differ no more than chance allows (phi {dispersion['phi']:.2f}): unadjusted limits."
    return comparison, {
        **dispersion,
        "baseline": comparison["baseline"].iloc[0],
        "adjusted": adjust,
        "sentence": sentence,
    }


def _classify(statistic, value, count, denominator, baseline, multiplier, limits) -> np.ndarray:
    """Band of each value against the 95% and 99.8% limits (``limits[level] = (lower, upper)``).

    For rates, continuous limits put every zero below them; a zero count is only unusual when
    P(no events | expected) is below the limit's tail probability (the exact one-sided test).
    """
    value = np.asarray(value, dtype=float)
    below = {level: value < limits[level][0] for level in LEVELS}
    if statistic == "rate":
        zero = np.asarray(count, dtype=float) == 0
        p_zero = np.exp(-baseline * np.asarray(denominator, dtype=float) / multiplier)
        below = {level: np.where(zero, p_zero < (1 - level) / 2, below[level]) for level in LEVELS}
    return np.select(
        [value > limits[0.998][1], value > limits[0.95][1], below[0.998], below[0.95]],
        ["above_998", "above_95", "below_998", "below_95"],
        "within",
    )


def _add_comparator_bands(comparison, groups, statistic, multiplier, tau2) -> pd.DataFrame:
    """Each unit against limits around its comparator group's pooled figure, at its own denominator."""
    totals = comparison.set_index("unit")[["numerator", "denominator"]]
    baselines, bands = [], []
    for unit, x, n, value in comparison[["unit", "numerator", "denominator", "value"]].itertuples(index=False):
        peers = [p for p in groups.get(unit, []) if p in totals.index and p != unit]
        pooled = totals.loc[peers].sum() if peers else None
        if pooled is None or pooled["denominator"] <= 0 or pooled["numerator"] <= 0:
            baselines.append(np.nan)
            bands.append("no_comparators")
            continue
        baseline = pooled["numerator"] / pooled["denominator"] * multiplier
        limits = {level: funnel_limits(statistic, baseline, [n], level, multiplier, tau2) for level in LEVELS}
        baselines.append(baseline)
        bands.append(_classify(statistic, [value], [x], [n], baseline, multiplier, limits).item())
    return comparison.assign(comparator_baseline=baselines, comparator_band=bands)


def _name_as_ratio(comparison: pd.DataFrame) -> pd.DataFrame:
    """Name a rate-path comparison as a ratio comparison (observed, expected)."""
    comparison = comparison.rename(columns={"numerator": "observed", "denominator": "expected"})
    comparison["method"] = comparison["method"].str.replace(
        "exact Poisson funnel limits", "exact Poisson funnel limits for an indirectly standardised ratio"
    )
    return comparison


def compare_shares(counts: pd.DataFrame, comparator_groups: dict[str, list[str]]) -> pd.DataFrame:
    """Shares of every force and of England and Wales, with Wilson intervals, on proportion funnels.

    Parameters
    ----------
    counts : pandas.DataFrame
        One row per force: ``force_code``, ``numerator``, ``denominator``.
    comparator_groups : dict
        Force code to its comparator codes.

    Returns
    -------
    pandas.DataFrame
        The forces and a :data:`~toolkit.forces.NATIONAL` row (the sums):
        ``numerator``, ``denominator``, ``value``, ``lower``, ``upper`` (Wilson
        95%), ``method``, ``band`` and ``comparator_band`` (see
        :func:`compare_with_funnel`; ``not_compared`` when there is nothing to
        compare, as when no force has an event), ``dispersion_sentence`` and
        ``national`` (England and Wales's share, on every row).

    Examples
    --------
    >>> counts = pd.DataFrame({"force_code": ["E23000001", "E23000014"], "numerator": [30, 45],
    ...                        "denominator": [100, 100]})
    >>> t = compare_shares(counts, {})
    >>> t[["force_code", "numerator", "value"]].to_numpy().tolist()
    [['E23000001', 30, 0.3], ['E23000014', 45, 0.45], ['england_and_wales', 75, 0.375]]
    >>> t["band"].tolist()[:2], float(t["national"].iloc[0])  # two forces: 30% and 45% are within chance
    (['within', 'within'], 0.375)
    """
    national = counts[["numerator", "denominator"]].sum()
    rows = pd.concat(
        [counts, pd.DataFrame([{"force_code": NATIONAL, **national.to_dict()}])], ignore_index=True
    ).astype({"numerator": int, "denominator": int})
    interval = proportion_interval(rows["numerator"], rows["denominator"])
    rows[["value", "lower", "upper"]] = interval[["value", "lower", "upper"]].to_numpy()
    rows["method"] = "share with Wilson score 95% interval"
    try:
        comparison, dispersion = compare_with_funnel(
            counts.rename(columns={"force_code": "unit"}), "proportion", comparator_groups=comparator_groups
        )
        bands = comparison.set_index("unit")[["band", "comparator_band", "method"]]
        bands["method"] = "Wilson score interval; " + bands["method"]
        rows = rows.set_index("force_code")
        rows.loc[bands.index, ["band", "comparator_band", "method"]] = bands
        rows = rows.reset_index()
        rows["dispersion_sentence"] = dispersion["sentence"]
    except ValueError:
        rows["band"] = rows["comparator_band"] = "not_compared"  # no events anywhere
    rows["national"] = rows.loc[rows["force_code"] == NATIONAL, "value"].iloc[0]
    return rows
