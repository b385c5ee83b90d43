"""Confidence intervals for counts, rates and proportions, as public-health indicator tools compute them.

Methods follow PHEindicatormethods (UKHSA) so that figures agree with
published indicator practice, and are tested against its published test
tables (``tests/reference/phe/``):

- **rates** (events per ``multiplier`` people): exact Poisson limits from the
  chi-squared distribution when the count is below 10, Byar's approximation
  from 10 up;
- **proportions**: the Wilson score interval (statsmodels).

Every function is vectorised: pass scalars or arrays, get a tidy
``DataFrame`` whose ``method`` column names how each row was computed.

Examples
--------
>>> rate_interval(65, 100, multiplier=100).round(4).to_dict("records")
[{'value': 65.0, 'lower': 50.1632, 'upper': 82.8491, 'method': 'Byar', 'confidence': 0.95}]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

__all__ = [
    "EXACT_BELOW",
    "byar_limits",
    "exact_poisson_limits",
    "poisson_count_limits",
    "rate_interval",
    "proportion_interval",
    "mean_interval",
    "standardised_rate",
    "standardised_ratio",
]

# Counts below this use exact Poisson limits; from it up, Byar's approximation.
EXACT_BELOW = 10

METHOD_NAMES = {
    "exact": "Exact Poisson",
    "byar": "Byar",
    "wilson": "Wilson score",
    "beta": "Clopper-Pearson exact",
    "t": "Student's t",
    "dobson": "Dobson (Byar limits for the total count)",
}


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
    return float(stats.norm.ppf(1 - (1 - confidence) / 2))


def byar_limits(count, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Byar's approximate confidence limits for a Poisson count.

    A negative lower limit (possible only for very small counts at high
    confidence), and the lower limit of a count of 0, are returned as NaN, as
    in PHEindicatormethods; use exact limits there.

    Parameters
    ----------
    count : array-like of float
        Observed counts, at least 0.
    confidence : float, default 0.95

    Returns
    -------
    lower, upper : numpy.ndarray

    Examples
    --------
    >>> lower, upper = byar_limits([65, 1045])
    >>> lower.round(6).tolist(), upper.round(6).tolist()
    ([50.163188, 982.593202], [82.849139, 1110.331213])
    """
    o = np.asarray(count, dtype=float)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
    lower = np.where(lower < 0, np.nan, lower)  # and NaN at 0, as the formula gives and PHE returns
    o1 = o + 1
    upper = o1 * (1 - 1 / (9 * o1) + z / (3 * np.sqrt(o1))) ** 3
    return lower, upper


def exact_poisson_limits(count, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence limits for a Poisson count, from chi-squared quantiles.

    Examples
    --------
    >>> lower, upper = exact_poisson_limits([0, 1, 5])
    >>> lower.round(6).tolist(), upper.round(6).tolist()
    ([0.0, 0.025318, 1.623486], [3.688879, 5.571643, 11.668332])
    """
    o = np.asarray(count, dtype=float)
    alpha = 1 - confidence
    _z(confidence)
    lower = np.where(o > 0, stats.chi2.ppf(alpha / 2, 2 * o) / 2, 0.0)
    upper = stats.chi2.ppf(1 - alpha / 2, 2 * o + 2) / 2
    return lower, upper


def poisson_count_limits(count, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Confidence limits for Poisson counts: exact below :data:`EXACT_BELOW`, Byar from it up.

    Returns
    -------
    lower, upper : numpy.ndarray
    method : numpy.ndarray of str
        ``"Exact Poisson"`` or ``"Byar"`` per count.
    """
    o = np.asarray(count, dtype=float)
    exact_lower, exact_upper = exact_poisson_limits(np.where(np.isnan(o), 0, o), confidence)
    byar_lower, byar_upper = byar_limits(np.where(np.isnan(o), 1, o), confidence)
    exact = o < EXACT_BELOW
    lower = np.where(exact, exact_lower, byar_lower)
    upper = np.where(exact, exact_upper, byar_upper)
    method = np.where(exact, METHOD_NAMES["exact"], METHOD_NAMES["byar"])
    missing = np.isnan(o)
    lower = np.where(missing, np.nan, lower)
    upper = np.where(missing, np.nan, upper)
    return lower, upper, method


def rate_interval(count, denominator, multiplier: float = 1000, confidence: float = 0.95) -> pd.DataFrame:
    """A rate per ``multiplier`` people with its confidence interval.

    Parameters
    ----------
    count : array-like
        Events (e.g. missing episodes). Must be whole and at least 0.
    denominator : array-like
        People at risk (e.g. resident children). A denominator of 0 or
        missing gives a missing rate, never an infinite one.
    multiplier : float, default 1000
        Rate per this many people.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``value``, ``lower``, ``upper``, ``method`` and ``confidence``, one row per input.

    Raises
    ------
    ValueError
        For negative or fractional counts, or a negative denominator.

    Examples
    --------
    >>> rate_interval([5, 0], [100, 0], multiplier=100).round(4)
       value   lower    upper         method  confidence
    0    5.0  1.6235  11.6683  Exact Poisson        0.95
    1    NaN     NaN      NaN  Exact Poisson        0.95
    """
    o = np.atleast_1d(np.asarray(count, dtype=float))
    n = np.atleast_1d(np.asarray(denominator, dtype=float))
    if np.any(o[~np.isnan(o)] < 0) or np.any(o[~np.isnan(o)] % 1 != 0):
        raise ValueError("counts must be whole numbers, at least 0")
    if np.any(n[~np.isnan(n)] < 0):
        raise ValueError("denominators must be at least 0")
    o, n = np.broadcast_arrays(o, n)
    lower, upper, method = poisson_count_limits(o, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(n > 0, multiplier / n, np.nan)
    return pd.DataFrame(
        {
            "value": o * scale,
            "lower": lower * scale,
            "upper": upper * scale,
            "method": method,
            "confidence": confidence,
        }
    )


def proportion_interval(
    numerator, denominator, multiplier: float = 1, confidence: float = 0.95, method: str = "wilson"
) -> pd.DataFrame:
    """A proportion with its Wilson score (default) or Clopper-Pearson confidence interval.

    Parameters
    ----------
    numerator, denominator : array-like
        Cases meeting the condition, and all cases. A denominator of 0 gives
        a missing proportion.
    multiplier : float, default 1
        1 for a proportion, 100 for a percentage.
    confidence : float, default 0.95
    method : {"wilson", "beta"}
        Wilson score (default) or Clopper-Pearson exact (``"beta"``).

    Returns
    -------
    pandas.DataFrame
        ``value``, ``lower``, ``upper``, ``method`` and ``confidence``.

    Raises
    ------
    ValueError
        When a numerator is negative or exceeds its denominator.

    Examples
    --------
    >>> proportion_interval(65, 100).round(6).to_dict("records")
    [{'value': 0.65, 'lower': 0.552544, 'upper': 0.736358, 'method': 'Wilson score', 'confidence': 0.95}]
    """
    x = np.atleast_1d(np.asarray(numerator, dtype=float))
    n = np.atleast_1d(np.asarray(denominator, dtype=float))
    x, n = np.broadcast_arrays(x, n)
    valid = ~np.isnan(x) & ~np.isnan(n)
    if np.any(x[valid] < 0) or np.any(x[valid] > n[valid]):
        raise ValueError("numerators must lie between 0 and their denominator")
    _z(confidence)
    usable = valid & (n > 0)
    lower = np.full(x.shape, np.nan)
    upper = np.full(x.shape, np.nan)
    if usable.any():
        if method not in ("wilson", "beta"):
            raise ValueError(f"method must be 'wilson' or 'beta', not {method!r}")
        lo, hi = proportion_confint(x[usable], n[usable], alpha=1 - confidence, method=method)
        lower[usable], upper[usable] = lo, hi
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(usable, x / n, np.nan)
    # At p = 0 or 1 the limit equals p in exact arithmetic; keep rounding from moving it past p.
    lower = np.fmin(lower, value)
    upper = np.fmax(upper, value)
    return pd.DataFrame(
        {
            "value": value * multiplier,
            "lower": lower * multiplier,
            "upper": upper * multiplier,
            "method": METHOD_NAMES[method],
            "confidence": confidence,
        }
    )


def mean_interval(values, confidence: float = 0.95) -> pd.DataFrame:
    """A mean with its Student's t confidence interval (statsmodels).

    Examples
    --------
    >>> mean_interval([2.0, 4.0, 6.0]).round(4).to_dict("records")
    [{'value': 4.0, 'lower': -0.9683, 'upper': 8.9683, 'count': 3, 'method': "Student's t", 'confidence': 0.95}]
    """
    from statsmodels.stats.weightstats import DescrStatsW

    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    if len(data) < 2:
        lower = upper = np.nan
    else:
        lower, upper = DescrStatsW(data).tconfint_mean(alpha=1 - confidence)
    value = data.mean() if len(data) else np.nan
    return pd.DataFrame(
        [
            {
                "value": value,
                "lower": lower,
                "upper": upper,
                "count": len(data),
                "method": METHOD_NAMES["t"],
                "confidence": confidence,
            }
        ]
    )


def standardised_rate(
    count, population, standard, multiplier: float = 100_000, confidence: float = 0.95, minimum_count: int = 10
) -> pd.DataFrame:
    """A directly standardised rate (e.g. by age band) with Dobson's confidence interval.

    Parameters
    ----------
    count, population, standard : array-like
        Per band (e.g. age group): events, population at risk, and the
        standard population's weight.
    multiplier : float
        Rate per this many people.
    confidence : float
    minimum_count : int, default 10
        Below this total count the rate is not computed (missing), as public-health practice.

    Returns
    -------
    pandas.DataFrame
        One row: ``value``, ``lower``, ``upper``, ``count``, ``method``, ``confidence``.
    """
    o = np.nan_to_num(np.asarray(count, dtype=float))
    n = np.asarray(population, dtype=float)
    w = np.asarray(standard, dtype=float)
    total = o.sum()
    if total < minimum_count or np.any(n <= 0):
        value = lower = upper = np.nan
    else:
        value = np.sum(w * o / n) / w.sum()
        variance = np.sum(o * (w / n) ** 2) / w.sum() ** 2
        o_lower, o_upper = byar_limits([total], confidence)
        lower = value + np.sqrt(variance / total) * (o_lower[0] - total)
        upper = value + np.sqrt(variance / total) * (o_upper[0] - total)
    return pd.DataFrame(
        [
            {
                "value": value * multiplier,
                "lower": lower * multiplier,
                "upper": upper * multiplier,
                "count": total,
                "method": METHOD_NAMES["dobson"],
                "confidence": confidence,
            }
        ]
    )


def standardised_ratio(
    table: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    confidence: float = 0.95,
    refvalue: float = 1,
    multiplier: float | None = None,
) -> pd.DataFrame:
    """Indirectly standardised ratios (observed / expected), or rates, per unit, with exact/Byar limits.

    The expected count of a unit applies the reference's stratum rates to the
    unit's own stratum populations: ``E = sum(ref_count / ref_population *
    population)``. The ratio is ``O / E * refvalue`` with the limits of the
    count ``O`` (exact Poisson below 10, Byar from 10, as PHEindicatormethods'
    ``calculate_ISRatio``) divided by ``E``. With ``multiplier`` it is the
    indirectly standardised rate ``O / E`` times the reference's crude rate
    per ``multiplier`` (``calculate_ISRate``).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``unit``, ``stratum``, ``count`` (events) and ``population``
        (people, or episodes, at risk); missing counts and populations are 0.
    reference : pandas.DataFrame, optional
        ``stratum``, ``count``, ``population`` of the standard. Default: all
        units together (so the units' ratios centre on 1).
    confidence : float
    refvalue : float
        1 for a ratio, 100 for a ratio in percent.
    multiplier : float, optional
        Return indirectly standardised rates per this many instead of ratios.

    Returns
    -------
    pandas.DataFrame
        Per unit: ``observed``, ``expected``, ``value``, ``lower``, ``upper``, ``method``.

    Examples
    --------
    >>> t = pd.DataFrame({"unit": ["a", "a", "b", "b"], "stratum": ["young", "old"] * 2,
    ...                   "count": [10, 30, 5, 5], "population": [100, 100, 100, 100]})
    >>> r = standardised_ratio(t)
    >>> r[["unit", "observed", "expected", "value"]].round(3).to_numpy().tolist()
    [['a', 40.0, 25.0, 1.6], ['b', 10.0, 25.0, 0.4]]
    """
    data = table.assign(
        count=pd.to_numeric(table["count"]).fillna(0).astype(float),
        population=pd.to_numeric(table["population"]).fillna(0).astype(float),
    )
    if reference is None:
        reference = data.groupby("stratum", sort=False)[["count", "population"]].sum().reset_index()
    ref = reference.assign(
        count=pd.to_numeric(reference["count"]).fillna(0).astype(float),
        population=pd.to_numeric(reference["population"]).astype(float),
    ).set_index("stratum")
    ref_rate = (ref["count"] / ref["population"].where(ref["population"] > 0)).fillna(0)
    rates = data["stratum"].map(ref_rate)
    if rates.isna().any():
        missing = sorted(map(str, data.loc[rates.isna(), "stratum"].unique()))
        raise ValueError(f"strata missing from the reference: {', '.join(missing)}")
    data["expected"] = rates * data["population"]
    units = data.groupby("unit", sort=False).agg(observed=("count", "sum"), expected=("expected", "sum"))
    o = units["observed"].to_numpy()
    e = units["expected"].to_numpy()
    lower, upper, method = poisson_count_limits(o, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio, lower, upper = o / e, lower / e, upper / e
    if multiplier is None:
        scale, label = refvalue, f"indirectly standardised ratio x {refvalue:g}"
    else:
        scale = ref["count"].sum() / ref["population"].sum() * multiplier
        label = f"indirectly standardised rate per {multiplier:g}"
    return pd.DataFrame(
        {
            "unit": units.index.to_numpy(),
            "observed": o,
            "expected": e,
            "value": ratio * scale,
            "lower": lower * scale,
            "upper": upper * scale,
            "method": [f"{label}, {m} limits of the observed count" for m in method],
            "confidence": confidence,
        }
    )
