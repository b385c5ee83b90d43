"""Funnel-plot comparisons of forces: control limits, significance, over-dispersion.

League tables of 43 forces of very different sizes mislead; funnel plots put
each force's figure against control limits that widen as the force gets
smaller. Limits follow public-health indicator practice and are tested
against its published values (``tests/reference/phe/``):

- **proportions**: the Wilson-score inversion PHEindicatormethods uses
  (:func:`proportion_funnel_limits`);
- **rates and ratios**: the limits of the exact Poisson test around the
  expected count (:func:`ratio_funnel_limits`, :func:`rate_funnel_limits`,
  :func:`poisson_funnel_expected`).

One convention for rates and ratios: the exact test
---------------------------------------------------
At an expected count ``E`` the lower limit is the observed count ``O`` at
which P(X <= O | E) = p and the upper limit the ``O`` at which
P(X >= O | E) = p, for p the tail probability (0.025 for the 95% limits,
0.001 for the 99.8%), with ``O`` treated as continuous (the regularised
incomplete gamma function, equal to the Poisson distribution at whole
counts). PHEindicatormethods' funnel tables are these limits: its
``*_exp_events`` are the ``E`` at which a whole count lies on them
(:func:`poisson_funnel_expected`). The same limits classify:
:func:`assign_ratio_significance` and :func:`compare_with_funnel` compare a
unit's figure with the limits drawn at its own expected count, so a unit is
drawn outside a limit exactly when it is classified beyond it. (PHE's
``assign_funnel_significance`` approximates the test by Byar's method from 10
observed events, which puts a unit lying close to a limit on the other side
of it: within 0.17% of the expected count at 10 events and 95%, 1.5% at
99.8%, less at more events. On PHE's 300 published units the bands are the
same.)

Where even no events are not unusual (P(X = 0 | E) = exp(-E) >= p, that is
E <= -ln p: 3.69 expected at 95%, 6.91 at 99.8%) no count lies below the
lower limit, which is then 0; a zero count is below it, and is called low,
exactly when exp(-E) < p.

FunnelPlotR draws, instead, the confidence interval of a mean observed to be
``E``: ``qchisq(p, 2E) / 2E`` and ``qchisq(1 - p, 2(E + 1)) / 2E``. Its
limits lie about one event higher (at E = 15: 0.560 and 1.649 against the
exact test's 0.495 and 1.568), so a unit such as 8 observed against 15
expected (P(X <= 8 | 15) = 0.037) lies outside its 95% limits although the
test does not call it low. :func:`calculate_funnelplotr_ratio_limits` keeps
that convention only to check the toolkit against FunnelPlotR's published
values; nothing in the pipeline uses it.

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
>>> lower, upper = ratio_funnel_limits([15], 0.95)  # the exact test's limits
>>> round(float(lower[0]), 4), round(float(upper[0]), 4)
(0.4953, 1.5685)
>>> assign_ratio_significance([8], [15]).tolist()  # 8 lies within them: P(X <= 8 | 15) = 0.037
['Not significant']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from toolkit.forces import NATIONAL
from toolkit.stats.intervals import proportion_interval

__all__ = [
    "compare_shares",
    "LEVELS",
    "proportion_funnel_limits",
    "ratio_funnel_limits",
    "calculate_funnelplotr_ratio_limits",
    "rate_funnel_limits",
    "funnel_limits",
    "poisson_funnel_expected",
    "assign_proportion_significance",
    "assign_ratio_significance",
    "estimate_overdispersion",
    "compare_with_funnel",
    "MIN_FORCES_TO_COMPARE",
    "describe_too_few_forces",
]

LEVELS = (0.95, 0.998)
# Fewer forces than this and no force is compared with the others: the baseline would be little more than
# the force itself (one force is its own England and Wales), and over-dispersion cannot be estimated.
MIN_FORCES_TO_COMPARE = 5


def describe_too_few_forces(forces: int, needed: int = MIN_FORCES_TO_COMPARE) -> str:
    """Why no comparison is made, in a sentence a report prints.

    Examples
    --------
    >>> print(describe_too_few_forces(1))  # doctest: +NORMALIZE_WHITESPACE
    Only 1 force is in the extract: a force is compared with others only when at least 5 are, so no
    comparison is made.
    """
    verb = "force is" if forces == 1 else "forces are"
    return (
        f"Only {forces} {verb} in the extract: a force is compared with others only when at least {needed} are, "
        "so no comparison is made."
    )


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

    The inverse, in ``E``, of the counts :func:`ratio_funnel_limits` draws:
    PHEindicatormethods tabulates the funnel this way round (its
    ``lower_exp_events`` and ``upper_exp_events``).

    Returns
    -------
    expected_at_lower, expected_at_upper : numpy.ndarray
        ``E`` with P(X <= O | E) = p, and ``E`` with P(X >= O | E) = p, for p
        the tail probability of ``confidence`` (0 for no events: nothing is
        below no events).

    Examples
    --------
    >>> at_lower, at_upper = poisson_funnel_expected([10], 0.95)
    >>> round(float(at_lower[0]), 6), round(float(at_upper[0]), 6)
    (18.390356, 4.795389)
    >>> lower, upper = ratio_funnel_limits([at_lower[0], at_upper[0]], 0.95)
    >>> round(float(lower[0] * at_lower[0]), 9), round(float(upper[1] * at_upper[0]), 9)
    (10.0, 10.0)
    """
    o = np.asarray(observed, dtype=float)
    p = (1 - confidence) / 2
    lower = stats.chi2.ppf(1 - p, 2 * (o + 1)) / 2
    upper = np.where(o > 0, stats.chi2.ppf(p, 2 * np.maximum(o, 1e-300)) / 2, 0.0)
    return lower, upper


def _count_funnel_limits(expected, confidence: float):
    """Counts on the exact test's limits at each expected count: P(X <= O | E) = p and P(X >= O | E) = p.

    P(X <= O | E) is the chi-squared survival function at 2E on 2(O + 1) degrees of freedom, and
    P(X >= O | E) its distribution function on 2O; ``chdtriv`` inverts those in the degrees of
    freedom, so the limits are solved for all ``E`` at once, with ``O`` continuous. Checked against
    root-finding on the incomplete gamma function to about 1e-15 for tail probabilities from 1e-5 up
    and ``E`` to 1e9; ``chdtriv`` loses accuracy (to about 1e-6) only for tails below 1e-6 at
    millions of expected events, far beyond the 99.8% limits.
    """
    e = np.asarray(expected, dtype=float)
    p = (1 - confidence) / 2
    e = np.where(e > 0, e, np.nan)  # nothing expected: no limits (and no ratio)
    lower = special.chdtriv(1 - p, 2 * e) / 2 - 1
    upper = special.chdtriv(p, 2 * e) / 2
    # Below 0 no count qualifies (even 0 events are not unusual): the limit is 0, and a zero count,
    # not being below it, is not low; above it a zero count is below, exactly when exp(-E) < p.
    return np.where(lower < 0, 0.0, lower), upper


def ratio_funnel_limits(expected, confidence: float = 0.95):
    """Exact Poisson test funnel limits for an observed/expected ratio (target 1) at each expected count.

    The count ``O`` at which P(X <= O | E) = p (lower) or P(X >= O | E) = p
    (upper), divided by ``E``; see the module docstring for the convention,
    and why it is not FunnelPlotR's.

    Parameters
    ----------
    expected : array-like
        Expected counts ``E``, above 0 (0 or missing gives missing limits).
    confidence : float
        0.95 or 0.998 (two-sided: p = 0.025 or 0.001 in each tail).

    Returns
    -------
    lower, upper : numpy.ndarray
        Ratios. The lower limit is 0 where no count is unusually low
        (``E <= -ln p``).

    Examples
    --------
    >>> lower, upper = ratio_funnel_limits([2, 15], 0.95)
    >>> lower.round(7).tolist(), upper.round(6).tolist()
    ([0.0, 0.4952524], [2.829168, 1.568498])
    """
    e = np.asarray(expected, dtype=float)
    lower, upper = _count_funnel_limits(e, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        return lower / e, upper / e


def calculate_funnelplotr_ratio_limits(expected, confidence: float = 0.95):
    """FunnelPlotR's unadjusted Poisson limits for a ratio: the interval of a mean observed to be ``E``.

    Kept only to compare the toolkit with FunnelPlotR's published values; the
    pipeline draws and classifies by the exact test
    (:func:`ratio_funnel_limits`), whose limits both lie about one event
    below these.

    Examples
    --------
    >>> lower, upper = calculate_funnelplotr_ratio_limits([15], 0.95)
    >>> round(float(lower[0]), 7), round(float(upper[0]), 6)
    (0.5596924, 1.649348)
    """
    e = np.asarray(expected, dtype=float)
    p = (1 - confidence) / 2
    lower = stats.chi2.ppf(p, 2 * e) / (2 * e)
    upper = stats.chi2.ppf(1 - p, 2 * (e + 1)) / (2 * e)
    return lower, upper


def rate_funnel_limits(baseline_rate: float, population, multiplier: float = 1000, confidence: float = 0.95):
    """Exact Poisson test funnel limits for a rate per ``multiplier`` people at each population size.

    The ratio limits of :func:`ratio_funnel_limits` at the expected count
    ``baseline_rate * population / multiplier``, times the baseline rate.

    Examples
    --------
    >>> lower, upper = rate_funnel_limits(15.0, [1000], multiplier=1000)  # 15 events expected
    >>> round(float(lower[0]), 4), round(float(upper[0]), 4)
    (7.4288, 23.5275)
    """
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
        inversion; the exact Poisson test, :func:`ratio_funnel_limits`); a value gives Spiegelhalter's random-effects
        limits on the variance-stabilised scale (arcsine square root for
        proportions, log for rates).

    Returns
    -------
    lower, upper : numpy.ndarray
    """
    n = np.asarray(denominator, dtype=float)
    if statistic == "proportion":
        lower, upper = proportion_funnel_limits(baseline / multiplier, n, confidence)
        exact = lower * multiplier, upper * multiplier
    else:
        exact = rate_funnel_limits(baseline, n, multiplier, confidence)
    if tau2 is None:
        return exact
    if statistic == "proportion":
        target = np.arcsin(np.sqrt(baseline / multiplier))
        half = _z(confidence) * np.sqrt(1 / (4 * n) + tau2)
        lower = np.sin(np.clip(target - half, 0, np.pi / 2)) ** 2 * multiplier
        upper = np.sin(np.clip(target + half, 0, np.pi / 2)) ** 2 * multiplier
    else:
        half = _z(confidence) * np.sqrt(multiplier / (baseline * n) + tau2)
        lower, upper = baseline * np.exp(-half), baseline * np.exp(half)
    # A random effect only widens the limits. At small denominators the variance-stabilised limits can
    # fall inside the exact ones (for rates a lower limit above 0 where a zero count is no surprise),
    # and a point would be drawn beyond a limit it is not classified beyond: the wider of the two is drawn.
    return np.fmin(lower, exact[0]), np.fmax(upper, exact[1])


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
    """PHE significance bands of observed/expected ratios, by the exact Poisson test.

    Each ratio is compared with the funnel limits of :func:`ratio_funnel_limits`
    at its own expected count, the limits a funnel plot draws, so a unit is
    outside a drawn limit exactly when it is in the band beyond it: above the
    95% upper limit exactly when P(X >= O | E) < 0.025, and so on. PHE's
    ``assign_funnel_significance`` uses Byar's approximation of the test from
    10 observed events, which differs close to a limit (10 observed against
    4.79 expected: P(X >= 10 | 4.79) = 0.0248, High here, not significant by
    Byar); its 300 published units get the same bands.

    Parameters
    ----------
    observed, expected : array-like
        Observed counts and their expected counts (above 0; otherwise not significant).

    Returns
    -------
    numpy.ndarray of str
        ``High (0.001)``, ``High (0.025)``, ``Not significant``, ``Low (0.025)``
        or ``Low (0.001)``.

    Examples
    --------
    >>> assign_ratio_significance([8, 10, 0, 0], [15, 4.79, 3, 5]).tolist()  # exp(-3) = 0.050, exp(-5) = 0.0067
    ['Not significant', 'High (0.025)', 'Not significant', 'Low (0.025)']
    """
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = o / e
    lo95, hi95 = ratio_funnel_limits(e, 0.95)
    lo998, hi998 = ratio_funnel_limits(e, 0.998)
    return _band(ratio > hi998, ratio > hi95, ratio < lo998, ratio < lo95)


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
    min_units: int = 1,
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
    min_units : int, default 1
        Fewest units with a positive denominator to compare at all; fewer raise
        ``ValueError`` with the sentence :func:`describe_too_few_forces` gives.
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
        comparison, dispersion = compare_with_funnel(table, "rate", 1, overdispersion, comparator_groups, min_units)
        return _name_as_ratio(comparison), dispersion
    data = table[table["denominator"] > 0].copy()
    x = data["numerator"].to_numpy(dtype=float)
    n = data["denominator"].to_numpy(dtype=float)
    if len(data) < min_units:
        raise ValueError(describe_too_few_forces(len(data), min_units))
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
    band = _classify(value, limits)
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


def _classify(value, limits) -> np.ndarray:
    """Band of each value against the 95% and 99.8% limits (``limits[level] = (lower, upper)``).

    The drawn limits are the classification, so that a point's place on the chart and its band always
    agree: the exact test's, or the random-effects limits widened to contain them
    (:func:`funnel_limits`). A zero count is below a lower limit exactly when P(no events | expected)
    is below the tail probability.
    """
    value = np.asarray(value, dtype=float)
    below = {level: value < limits[level][0] for level in LEVELS}
    return np.select(
        [value > limits[0.998][1], value > limits[0.95][1], below[0.998], below[0.95]],
        ["above_998", "above_95", "below_998", "below_95"],
        "within",
    )


def _add_comparator_bands(comparison, groups, statistic, multiplier, tau2) -> pd.DataFrame:
    """Each unit against limits around its comparator group's pooled figure, at its own denominator."""
    totals = comparison.set_index("unit")[["numerator", "denominator"]]
    baselines, bands = [], []
    for unit, n, value in comparison[["unit", "denominator", "value"]].itertuples(index=False):
        peers = [p for p in groups.get(unit, []) if p in totals.index and p != unit]
        pooled = totals.loc[peers].sum() if peers else None
        if pooled is None or pooled["denominator"] <= 0 or pooled["numerator"] <= 0:
            baselines.append(np.nan)
            bands.append("no_comparators")
            continue
        baseline = pooled["numerator"] / pooled["denominator"] * multiplier
        limits = {level: funnel_limits(statistic, baseline, [n], level, multiplier, tau2) for level in LEVELS}
        baselines.append(baseline)
        bands.append(_classify([value], limits).item())
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
        95%), ``method``, ``band``, ``comparator_band`` and ``comparator_baseline`` (the group's pooled share; see
        :func:`compare_with_funnel`; ``not_compared`` when there is nothing to
        compare: fewer than :data:`MIN_FORCES_TO_COMPARE` forces, or no force
        with an event), ``dispersion_sentence`` (or why nothing is compared) and
        ``national`` (England and Wales's share, on every row).

    Examples
    --------
    >>> counts = pd.DataFrame({"force_code": ["E23000001", "E23000014"], "numerator": [30, 45],
    ...                        "denominator": [100, 100]})
    >>> t = compare_shares(counts, {})
    >>> t[["force_code", "numerator", "value"]].to_numpy().tolist()
    [['E23000001', 30, 0.3], ['E23000014', 45, 0.45], ['england_and_wales', 75, 0.375]]
    >>> t["band"].tolist()[:2], float(t["national"].iloc[0])  # two forces are too few to compare
    (['not_compared', 'not_compared'], 0.375)
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
            counts.rename(columns={"force_code": "unit"}),
            "proportion",
            comparator_groups=comparator_groups,
            min_units=MIN_FORCES_TO_COMPARE,
        )
        bands = comparison.set_index("unit")[["band", "comparator_band", "comparator_baseline", "method"]]
        bands["method"] = "Wilson score interval; " + bands["method"]
        rows = rows.set_index("force_code")
        rows.loc[bands.index, ["band", "comparator_band", "comparator_baseline", "method"]] = bands
        rows = rows.reset_index()
        rows["dispersion_sentence"] = dispersion["sentence"]
    except ValueError as reason:  # too few forces, or no events anywhere: nothing to compare
        rows["band"] = rows["comparator_band"] = "not_compared"
        rows["comparator_baseline"] = float("nan")
        rows["dispersion_sentence"] = str(reason)
    rows["national"] = rows.loc[rows["force_code"] == NATIONAL, "value"].iloc[0]
    return rows
