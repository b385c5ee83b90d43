"""Trends in episodes over time: monthly series and a count regression per force.

The rate ratio per year comes from a Poisson regression of monthly episode
counts (statsmodels GLM) with the child population as exposure and
month-of-year terms for the seasons, and a negative binomial model instead
when the counts are over-dispersed. Every fit says which model it used. With
fewer than :data:`MIN_MONTHS` months there is no yearly rate and no test: a
change over a year cannot be told apart from the seasons. The models are fitted
to the months of the extract's period
(:func:`toolkit.stats.quality.find_period_start`): an episode reported years
before the others (a mistyped year) would add years of empty months. A model
that cannot be estimated for one force says so in that force's row; it never
stops the others.

Examples
--------
>>> import pandas as pd
>>> episodes = pd.DataFrame({"force_code": ["E23000014"] * 3,
...     "reported_at": pd.to_datetime(["2024-01-05", "2024-01-20", "2024-03-02"])})
>>> count_episodes_by_period(episodes).query("force_code == 'E23000014'")["episodes"].tolist()
[2, 0, 1]
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

# The model classes themselves: statsmodels.api would also import its plotting and time-series modules,
# about 0.3 s more on every fresh kernel that renders a report.
from statsmodels.discrete.discrete_model import NegativeBinomial
from statsmodels.genmod.families import Poisson
from statsmodels.genmod.generalized_linear_model import GLM

from toolkit.forces import NATIONAL, read_forces_table
from toolkit.stats.quality import find_period_start

__all__ = [
    "compare_with_year_before",
    "count_episodes_by_period",
    "fit_trend",
    "design_effect",
    "summarise_trends",
    "OVERDISPERSION_LIMIT",
    "MIN_MONTHS",
]

OVERDISPERSION_LIMIT = 1.5  # Pearson chi-squared / df above this: negative binomial instead of Poisson
MIN_MONTHS = 24  # two full seasonal cycles: fewer cannot separate a trend from the seasons
MIN_EPISODES = 10


def count_episodes_by_period(episodes: pd.DataFrame, freq: str = "M") -> pd.DataFrame:
    """Episodes per force per calendar month (``freq="M"``) or quarter (``"Q"``), with zeros where none.

    Returns
    -------
    pandas.DataFrame
        ``force_code``, ``month`` or ``quarter`` (its first day), ``episodes``;
        England and Wales included as ``england_and_wales``.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["F", "F", "F"],
    ...     "reported_at": pd.to_datetime(["2024-01-05", "2024-03-09", "2024-05-01"])})
    >>> count_episodes_by_period(e, "Q").query("force_code == 'F'")["episodes"].tolist()
    [2, 1]
    """
    if freq not in ("M", "Q"):
        raise ValueError(f"freq must be 'M' (months) or 'Q' (quarters), not {freq!r}")
    label = {"M": "month", "Q": "quarter"}[freq]
    period = episodes["reported_at"].dt.to_period(freq)
    counts = pd.crosstab(episodes["force_code"].astype(str), period)
    periods = pd.period_range(period.min(), period.max(), freq=freq)
    counts = counts.reindex(columns=periods, fill_value=0)
    counts.loc[NATIONAL] = counts.sum()
    table = counts.stack().rename("episodes").reset_index()
    table.columns = ["force_code", label, "episodes"]
    table[label] = table[label].dt.to_timestamp()
    return table


def fit_trend(
    months: pd.Series, counts, population: float, confidence: float = 0.95, design_effect: float = 1.0
) -> dict:
    """Fit a count regression of monthly episodes with the population as exposure.

    Parameters
    ----------
    months : pandas.Series of Timestamp
        First day of each month.
    counts : array-like
        Episodes in each month.
    population : float
        Children at risk (constant exposure over the period, scaled by days in month).
    design_effect : float, default 1
        Variance inflation for episodes clustered within children (see :func:`design_effect`).

    Returns
    -------
    dict
        ``rate_ratio_per_year`` with ``lower`` and ``upper``, ``p_value``,
        ``model`` (Poisson or negative binomial, with or without seasonal terms),
        ``dispersion`` (Pearson chi-squared / df of the Poisson fit) and
        ``fitted`` (expected episodes per month). A series too short or too small to fit, or one
        the model cannot be estimated from, has no figures and says why in ``model``.

    Examples
    --------
    >>> months = pd.Series(pd.date_range("2023-01-01", periods=24, freq="MS"))
    >>> fit = fit_trend(months, [40 + i for i in range(24)], population=100_000)
    >>> fit["model"].split(" of ")[0], bool(fit["lower"] < fit["rate_ratio_per_year"] < fit["upper"])
    ('Poisson GLM', True)
    >>> fit_trend(months[:3], [1, 0, 2], population=1_000)["model"]
    'not fitted: 3 months of data, and a yearly change needs at least 24 to be told apart from seasonal variation'
    """
    y = np.asarray(counts, dtype=float)
    months = pd.Series(pd.to_datetime(months)).reset_index(drop=True)
    # Missing episodes rise and fall with the seasons: under two years of months, a yearly change cannot be
    # told apart from the season the series starts and ends in (12 flat months of the demo gave every force
    # a "trend" of -4% to -26%), so no rate or test is given.
    if len(y) < MIN_MONTHS:
        return _not_fitted(
            len(y),
            design_effect,
            f"not fitted: {len(y)} months of data, and a yearly change needs at least {MIN_MONTHS} "
            "to be told apart from seasonal variation",
        )
    if y.sum() < MIN_EPISODES:
        return _not_fitted(len(y), design_effect, f"not fitted: fewer than {MIN_EPISODES} episodes")
    years = ((months - months.iloc[0]).dt.days / 365.25).to_numpy()
    design = pd.DataFrame({"const": 1.0, "years": years})
    dummies = pd.get_dummies(months.dt.month, prefix="month", drop_first=True, dtype=float)
    design = pd.concat([design, dummies], axis=1)  # month-of-year terms: the seasons
    offset = np.log(population * months.dt.days_in_month.to_numpy() / 365.25)
    try:
        result, model, dispersion = _fit_counts(y, design, offset)
    except (ValueError, np.linalg.LinAlgError) as error:  # statsmodels' word for a fit that diverged
        return _not_fitted(
            len(y),
            design_effect,
            f"not fitted: the count model could not be estimated from these months ({str(error).rstrip('.')})",
        )
    params, bse = result.params, result.bse
    # Episodes cluster within children (a child missing 30 times in one year): the counts vary
    # more between years than any per-month model sees. Kish's design effect of episodes per child
    # widens the trend's standard error accordingly.
    beta, se = float(params["years"]), float(bse["years"]) * np.sqrt(design_effect)
    if not (np.isfinite(beta) and np.isfinite(se) and se > 0):
        return _not_fitted(
            len(y), design_effect, "not fitted: the count model gave no finite estimate of the yearly change"
        )
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    fitted = np.exp(np.asarray(design @ params[design.columns]) + offset)
    return {
        "rate_ratio_per_year": float(np.exp(beta)),
        "lower": float(np.exp(beta - z * se)),
        "upper": float(np.exp(beta + z * se)),
        "p_value": float(2 * stats.norm.sf(abs(beta / se))),
        "model": f"{model} of monthly episodes, child population as exposure" + ", month-of-year seasonality",
        "dispersion": dispersion,
        "design_effect": float(design_effect),
        "fitted": fitted,
    }


def _fit_counts(y: np.ndarray, design: pd.DataFrame, offset: np.ndarray):
    """The Poisson fit, or the negative binomial one where the counts are over-dispersed and it converges.

    Returns
    -------
    (result, model name, dispersion)

    Raises
    ------
    ValueError or numpy.linalg.LinAlgError
        The Poisson fit diverged (statsmodels: invalid weights, a singular design).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        poisson = GLM(y, design, family=Poisson(), offset=offset).fit()
        dispersion = float(poisson.pearson_chi2 / max(poisson.df_resid, 1))
        if dispersion > OVERDISPERSION_LIMIT:
            try:
                nb = NegativeBinomial(y, design, offset=offset).fit(disp=0, maxiter=200)
            except (ValueError, np.linalg.LinAlgError):
                nb = None  # as when it converges to no finite standard errors: the Poisson fit stands
            if nb is not None and np.all(np.isfinite(nb.bse)):
                return nb, "negative binomial", dispersion
    return poisson, "Poisson GLM", dispersion


def _not_fitted(months: int, design_effect: float, reason: str) -> dict:
    """What :func:`fit_trend` gives when it fits nothing: no figures, and the reason as the model."""
    return {
        "rate_ratio_per_year": np.nan,
        "lower": np.nan,
        "upper": np.nan,
        "p_value": np.nan,
        "model": reason,
        "dispersion": np.nan,
        "design_effect": float(design_effect),
        "fitted": np.full(months, np.nan),
    }


def design_effect(episodes: pd.DataFrame) -> pd.Series:
    """Kish's design effect of episodes clustered within children, per force and nationally.

    Sum of squared episodes per child over the number of episodes: 1 when every
    child has one episode, larger as repeat children dominate.
    """
    per_child = (
        episodes.assign(force_code=episodes["force_code"].astype(str)).groupby(["force_code", "person_id"]).size()
    )
    squares = (per_child**2).groupby(level="force_code").sum()
    totals = per_child.groupby(level="force_code").sum()
    effect = squares / totals
    effect[NATIONAL] = float((per_child**2).sum() / per_child.sum())
    return effect


def summarise_trends(episodes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit the trend for every force and England and Wales.

    Returns
    -------
    trends : pandas.DataFrame
        One row per force: rate ratio per year, interval, p-value, model, dispersion.
    series : pandas.DataFrame
        Monthly episodes with the fitted values, for the charts.
    """
    series = count_episodes_by_period(episodes)
    population = read_forces_table()["children"].to_dict()
    population[NATIONAL] = sum(population.values())
    effects = design_effect(episodes)
    # The series keeps every month from the first report, so that a force's months add up to its episodes;
    # the models see only the extract's period.
    start = find_period_start(episodes["reported_at"])
    in_period = series["month"] >= start.to_period("M").to_timestamp()
    rows = []
    series["fitted"] = np.nan
    for code, part in series[in_period].groupby("force_code", sort=False):
        fit = fit_trend(part["month"], part["episodes"], population[code], design_effect=effects.get(code, 1.0))
        series.loc[part.index, "fitted"] = fit.pop("fitted")
        rows.append({"force_code": code, **fit})
    return pd.DataFrame(rows), series


def compare_with_year_before(
    episodes: pd.DataFrame,
    year_before: pd.DataFrame | None,
    compared: list[str] | None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each force's episodes in the period against the same months a year before: a rate ratio with its interval.

    The child population is one mid-year estimate for both years, so the rate ratio is the ratio of the
    counts. Its log has the Poisson standard error ``sqrt(1/a + 1/b)``, widened by Kish's design effect
    of episodes clustered in children (:func:`design_effect`, the larger of the two years'), as the
    monthly trend's is. England and Wales pools the forces compared.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes of the period (``force_code``, ``person_id``).
    year_before : pandas.DataFrame or None
        Clean episodes of the same months a year before; None when there are none to read (an extract
        run, or a store without that year).
    compared : list of str or None
        The forces whose every month of both periods the data cover (a force missing a month of either
        would look like a change); None compares none.

    Returns
    -------
    pandas.DataFrame
        One row per force of ``episodes`` and one for England and Wales: ``episodes``,
        ``episodes_before``, ``rate_ratio``, ``lower``, ``upper``, ``design_effect``, ``method`` (the method,
        or why there is no figure: then the figures are missing).

    Examples
    --------
    >>> now = pd.DataFrame({"force_code": ["A"] * 120, "person_id": [f"p{i}" for i in range(120)]})
    >>> before = pd.DataFrame({"force_code": ["A"] * 100, "person_id": [f"q{i}" for i in range(100)]})
    >>> row = compare_with_year_before(now, before, ["A"]).set_index("force_code").loc["A"]
    >>> round(float(row["rate_ratio"]), 2), bool(row["lower"] < 1.2 < row["upper"])
    (1.2, True)
    >>> compare_with_year_before(now, None, None)["method"].iloc[0]
    'not computed: no episodes of the same months a year before were read'
    """
    codes = sorted(episodes["force_code"].astype(str).unique())
    now = episodes["force_code"].astype(str).value_counts()
    columns = ["force_code", "episodes", "episodes_before", "rate_ratio", "lower", "upper", "design_effect", "method"]
    if year_before is None or year_before.empty or not compared:
        reason = "not computed: no episodes of the same months a year before were read"
        rows = [(code, int(now.get(code, 0)), None, None, None, None, None, reason) for code in [*codes, NATIONAL]]
        return pd.DataFrame(rows, columns=columns)
    before = year_before["force_code"].astype(str).value_counts()
    effect_now, effect_before = design_effect(episodes), design_effect(year_before)
    chosen = [code for code in codes if code in set(compared)]
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    method = (
        "episodes against the same months a year before (one child population for both): Poisson rate ratio, "
        "standard error widened by the design effect of repeat children"
    )

    def figures(code, a, b, effect):
        if code not in chosen and code != NATIONAL:
            return (code, a, b, None, None, None, None, "not computed: the data do not cover every month of both "
                    "years for this force")  # fmt: skip
        if a == 0 or b == 0:
            return (code, a, b, None, None, None, None, "not computed: no episodes in one of the two years")
        ratio, se = a / b, np.sqrt((1 / a + 1 / b) * effect)
        return (code, a, b, ratio, ratio * np.exp(-z * se), ratio * np.exp(z * se), effect, method)

    rows = [
        figures(
            code,
            int(now.get(code, 0)),
            int(before.get(code, 0)),
            float(max(effect_now.get(code, 1.0), effect_before.get(code, 1.0))),
        )  # fmt: skip
        for code in codes
    ]
    pooled_now = episodes[episodes["force_code"].astype(str).isin(chosen)]
    pooled_before = year_before[year_before["force_code"].astype(str).isin(chosen)]
    national = max(design_effect(pooled_now).get(NATIONAL, 1.0), design_effect(pooled_before).get(NATIONAL, 1.0))
    rows.append(figures(NATIONAL, len(pooled_now), len(pooled_before), float(national)))
    return pd.DataFrame(rows, columns=columns)
