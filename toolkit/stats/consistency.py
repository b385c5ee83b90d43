"""Consistency of risk assessment and categorisation between and within forces.

The inspection's principal finding was inconsistency: similar children graded
differently from force to force, and from officer to officer in one force. This
module measures it with multilevel (mixed-effects) logistic models fitted by
maximum likelihood with the Laplace approximation (the method of R's ``lme4``),
using the GPBoost library, which fits a national year in seconds where
statsmodels' variational Bayes takes minutes.

Models
------
Risk grading
    Every first response a child received: "missing" episodes with any of the
    four grades, and "absent" episodes (no active response).
    ``logit P(graded medium or high) = case mix + force``, with a normal random
    intercept for force, gives each force's shrunken grading tendency (odds
    ratio against the average force) with its interval; a force that moves
    children to "absent" or "no apparent risk" is counted as grading them low,
    not left out. Among the graded "missing" episodes with an officer
    recorded, the same model with an officer-within-force intercept gives the
    variance of each level, the intraclass correlations and the median odds
    ratios. A force that sends
    no officer ids keeps its force-level estimate.
Officer spread
    Per force, the variance of officers' grading tendencies, fitted on the
    force's own episodes with the national case-mix coefficients held as an
    offset, compared with the national within-force variance.
Categorisation
    Among episodes of children with exploitation flags (``cse``, ``cce``,
    ``trafficking``): ``logit P(no active response) = flags and age + force``,
    where no active response is category "absent" or grade "no apparent
    risk"; each force's shrunken odds ratio against the average force. Being
    looked after (or placed out of area) and earlier episodes are not adjusted
    for: treating those children as absent is the practice the inspection
    criticised, so adjusting for them would hide it.
Agreement
    Cohen's kappa (and linearly weighted kappa) between ``risk_initial`` and
    ``risk_final`` of the same episode (statsmodels).

Case mix is the child's recorded risk factors, whether under 12, whether looked
after, and how many earlier episodes the child has in the extract (1, 2 or more).
Blank risk factors count as absent: a force that records few flags is adjusted
for fewer; the data-quality findings say when that is so.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.errors import ToolkitError
from toolkit.forces import NATIONAL as NATIONAL_CODE
from toolkit.ingest.schema import RISK_FACTORS, cast_to_text

LOGGER = logging.getLogger(__name__)
EXPLOITATION_FLAGS = ("cse", "cce", "trafficking")
HIGHER_GRADES = ("medium", "high")
GRADES = ("no_apparent_risk", "low", "medium", "high")
# Case-mix columns the categorisation model leaves out: care status and a child's history are what a
# force that classes whole groups absent, or stops looking for a child who keeps going, acts on.
NOT_ADJUSTED_FOR_RESPONSE = ("looked_after", "out_of_area_placement", "previous_1", "previous_2plus")
LATENT_VARIANCE = np.pi**2 / 3  # variance of the standard logistic: the level-1 variance on the logit scale
# The optimiser's default stopping rule ends on a flat likelihood before the between-force
# variance (43 groups) has converged; a tighter rule costs a few seconds and finds the maximum.
FIT_PARAMS = {"delta_rel_conv": 1e-10, "maxit": 2000}
MIN_EPISODES = 20  # fewer modelled episodes than this: no model is fitted for the unit
INTERVAL_DRAWS = 10_000
METHOD_GLMM = (
    "multilevel logistic regression, maximum likelihood with the Laplace approximation (GPBoost); "
    "shrunken (empirical Bayes) estimates with conditional-variance intervals"
)


@dataclass(frozen=True)
class Fit:
    """A fitted random-intercept logistic model, reduced to what is reported."""

    coefficients: pd.DataFrame  # term, estimate (log odds ratio; their standard errors cost seconds, unused)
    variances: pd.DataFrame  # level, variance, std_error
    effects: dict[str, pd.DataFrame]  # level -> group, effect, std_error, episodes
    episodes: int


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def describe_case_mix(episodes: pd.DataFrame) -> pd.DataFrame:
    """The case-mix covariates of each episode, as 0/1 columns.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes with ``force_code``, ``person_id``, ``reported_at``,
        ``age``, ``looked_after`` and ``risk_factors``.

    Returns
    -------
    pandas.DataFrame
        Same index: one column per risk factor, ``under_12``, ``looked_after``,
        ``previous_1`` (one earlier episode of the child) and ``previous_2plus``.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["F", "F"], "person_id": ["a", "a"],
    ...     "reported_at": pd.to_datetime(["2024-01-01", "2024-02-01"]), "age": [15, 15],
    ...     "looked_after": ["yes", "yes"], "risk_factors": ["cse;self_harm", None]})
    >>> describe_case_mix(e)[["cse", "self_harm", "looked_after", "previous_1"]].to_numpy().tolist()
    [[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]]
    """
    factors = cast_to_text(episodes["risk_factors"]).fillna("")
    mix = pd.DataFrame(index=episodes.index)
    for factor in RISK_FACTORS:
        mix[factor] = factors.str.contains(rf"(?:^|;)\s*{re.escape(factor)}\s*(?:;|$)", regex=True).astype(float)
    mix["under_12"] = (episodes["age"].astype("float") < 12).astype(float)
    mix["looked_after"] = (cast_to_text(episodes["looked_after"]) == "yes").fillna(False).astype(float)
    order = episodes.sort_values("reported_at", kind="stable")
    earlier = order.groupby(["force_code", "person_id"], sort=False, observed=True).cumcount().reindex(episodes.index)
    mix["previous_1"] = (earlier == 1).astype(float)
    mix["previous_2plus"] = (earlier >= 2).astype(float)
    return mix


def _import_gpboost():
    """GPBoost, with its native messages sent to this module's logger rather than printed."""
    import gpboost  # imported here: only the consistency models need it

    gpboost.register_logger(LOGGER)
    return gpboost


def _fit_binomial(y: np.ndarray, X: pd.DataFrame, levels: dict, offset=None):
    """Fit ``logit P(y) = X b + offset + one random intercept per level`` on cells of identical rows.

    Episodes that share every covariate, group and offset value have the same
    linear predictor, so their 0/1 outcomes enter the likelihood only through
    the count of successes: a binomial fit to those cells is the same model as
    the Bernoulli fit to the episodes (tested), on fewer rows. The Laplace
    approximation uses an exact sparse Cholesky factorisation; GPBoost's
    default for many groups, conjugate gradients with stochastic traces, is
    slower here and only approximates the likelihood.

    Parameters
    ----------
    levels : dict
        Each level's group of every row: an array, Series or MultiIndex of labels (anything
        :func:`pandas.factorize` takes).

    Returns
    -------
    (model, cells) : the fitted ``gpboost.GPModel`` and the cells (``trials``
    episodes each; ``group_<level>`` the group's number, ``level_<level>`` its label).
    """
    gpboost = _import_gpboost()
    cells = pd.DataFrame(X.to_numpy(dtype=float), columns=[f"x{i}" for i in range(X.shape[1])])
    labels = {}
    for name, groups in levels.items():
        # GPBoost turns its group data into a fixed-width string array (every cell as wide as the longest
        # label: one officer id of 10 MB in 300 rows took 12 GB), so it is given each group's number
        # instead, in the labels' sorted order, and the labels are put back on the cells afterwards.
        codes, uniques = pd.factorize(groups, sort=True)
        cells[f"group_{name}"] = codes
        labels[name] = np.asarray(pd.Index(uniques).to_numpy(), dtype=object)
    if offset is not None:
        cells["offset"] = np.asarray(offset, dtype=float)
    cells["y"] = y
    keys = [c for c in cells.columns if c != "y"]
    grouped = cells.groupby(keys, sort=False)["y"]
    cells = pd.concat([grouped.sum().rename("successes"), grouped.size().rename("trials")], axis=1).reset_index()
    for name in levels:
        cells[f"level_{name}"] = labels[name][cells[f"group_{name}"].to_numpy()]
    trials = cells["trials"].to_numpy(dtype=float)
    model = gpboost.GPModel(
        group_data=cells[[f"group_{name}" for name in levels]].to_numpy(),
        likelihood="binomial_logit",
        weights=trials,
        matrix_inversion_method="cholesky",
        # One thread: the same estimates on every machine (parallel sums round differently), and the
        # run fits the models beside its other tables rather than competing with them for cores.
        num_parallel_threads=1,
    )
    model.fit(
        y=cells["successes"].to_numpy(dtype=float) / trials,
        X=cells[[f"x{i}" for i in range(X.shape[1])]].to_numpy(),
        offset=cells["offset"].to_numpy() if offset is not None else None,
        params=FIT_PARAMS,
    )
    return model, cells


def _fit_glmm(y: np.ndarray, X: pd.DataFrame, levels: dict, offset=None) -> Fit:
    """Fit ``logit P(y) = X b + offset + one random intercept per level`` (levels nested, outer first)."""
    X = X.loc[:, (X != 0).any()]  # a factor nobody has cannot be estimated
    model, cells = _fit_binomial(y, X, levels, offset)
    cov = model.get_cov_pars(std_err=True)
    coef = model.get_coef()
    predicted = model.predict_training_data_random_effects(predict_var=True)
    effects = {}
    for i, level in enumerate(levels):
        table = pd.DataFrame(
            {
                "group": cells[f"level_{level}"].to_numpy(),
                "effect": predicted.iloc[:, i].to_numpy(),
                "std_error": np.sqrt(predicted.iloc[:, len(levels) + i].to_numpy()),
                "trials": cells["trials"].to_numpy(),
            }
        )
        effects[level] = table.groupby("group", sort=True).agg(
            effect=("effect", "first"), std_error=("std_error", "first"), episodes=("trials", "sum")
        )
    return Fit(
        coefficients=pd.DataFrame({"term": list(X.columns), "estimate": coef.iloc[0].to_numpy()}),
        variances=pd.DataFrame(
            {"level": list(levels), "variance": cov.iloc[0].to_numpy(), "std_error": cov.iloc[1].to_numpy()}
        ),
        effects=effects,
        episodes=len(y),
    )


def variance_interval(variance: float, std_error: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wald interval for a variance on the log scale (so it stays positive).

    At or near the boundary (an estimate of essentially zero, or a standard
    error many times the estimate) the log scale fails; the lower limit is
    then 0 and the upper the Wald limit on the natural scale.

    Examples
    --------
    >>> [round(float(v), 4) for v in variance_interval(0.36, 0.0144)]
    [0.3329, 0.3894]
    """
    z = _z(confidence)
    if not np.isfinite(variance) or not np.isfinite(std_error):
        return (np.nan, np.nan)
    spread = z * std_error / max(variance, 1e-12)
    if variance < 1e-6 or spread > 5:
        return (0.0, variance + z * std_error)
    return (variance * np.exp(-spread), variance * np.exp(spread))


def median_odds_ratio(variance):
    """Median odds ratio (Merlo 2006): the median, over random pairs of units, of the larger odds over the smaller.

    Examples
    --------
    >>> round(float(median_odds_ratio(0.36)), 4)
    1.7724
    """
    return np.exp(np.sqrt(2 * np.asarray(variance, dtype=float)) * stats.norm.ppf(0.75))


# What each measure of a model's variation is counted in, in words (metrics.csv's unit).
VARIANCE_UNITS = {
    "variance": "log-odds variance",
    "intraclass_correlation": "share of the latent variance",
    "median_odds_ratio": "odds ratio (median, between two units alike)",
}


def _summarise_variances(fit: Fit, model: str, confidence: float) -> pd.DataFrame:
    """Tidy rows: each level's variance, its ICC and median odds ratio, with intervals."""
    var = fit.variances.set_index("level")
    rows = []
    rng = np.random.default_rng(20160101)  # fixed: the same fit always gives the same intervals
    draws = {}
    for level, row in var.iterrows():
        v, se = float(row["variance"]), float(row["std_error"])
        low, high = variance_interval(v, se, confidence)
        if v >= 1e-6 and np.isfinite(se):
            draws[level] = v * np.exp(rng.normal(0, se / v, INTERVAL_DRAWS))
        else:
            draws[level] = np.abs(rng.normal(v, se if np.isfinite(se) else 0, INTERVAL_DRAWS))
        rows.append((model, "variance", level, v, low, high))
        rows.append((model, "median_odds_ratio", level, *median_odds_ratio([v, low, high]).tolist()))
    total = sum(draws.values()) + LATENT_VARIANCE
    point_total = float(var["variance"].sum()) + LATENT_VARIANCE
    cumulative_point, cumulative_draws = 0.0, 0.0
    q = [(1 - confidence) / 2, (1 + confidence) / 2]
    for level in var.index:
        # Latent-scale ICC: the share of variation at this level and above (Snijders and Bosker).
        cumulative_point += float(var.loc[level, "variance"])
        cumulative_draws = cumulative_draws + draws[level]
        low, high = np.quantile(cumulative_draws / total, q)
        rows.append((model, "intraclass_correlation", level, cumulative_point / point_total, low, high))
    table = pd.DataFrame(rows, columns=["model", "measure", "level", "value", "lower", "upper"])
    table["episodes"] = fit.episodes
    table["unit"] = table["measure"].map(VARIANCE_UNITS)
    table["method"] = (
        METHOD_GLMM + f"; variance intervals Wald on the log scale; ICC on the latent scale (level-1 variance "
        f"pi^2/3) with intervals from {INTERVAL_DRAWS:,} draws; median odds ratio (Merlo 2006)"
    )
    return table


def _band(z: np.ndarray) -> np.ndarray:
    return np.select(
        [z > _z(0.998), z > _z(0.95), z < -_z(0.998), z < -_z(0.95)],
        ["above_998", "above_95", "below_998", "below_95"],
        "within",
    )


def _force_rows(effects: pd.DataFrame, measure: str, confidence: float, method: str) -> pd.DataFrame:
    z_int = _z(confidence)
    table = effects.rename_axis("force_code").reset_index()
    se = table["std_error"].to_numpy()
    eff = table["effect"].to_numpy()
    return pd.DataFrame(
        {
            "force_code": table["force_code"].astype(str),
            "measure": measure,
            "episodes": table["episodes"].astype(int),
            "log_odds": eff,
            "std_error": se,
            "value": np.exp(eff),
            "lower": np.exp(eff - z_int * se),
            "upper": np.exp(eff + z_int * se),
            "band": _band(eff / se),
            "method": method,
        }
    )


def select_first_responses(episodes: pd.DataFrame) -> pd.DataFrame:
    """Every episode whose first response is known: "missing" with one of the four grades, or "absent".

    The episodes every grading comparison counts, here and in the problem profile.

    Examples
    --------
    >>> e = pd.DataFrame({"category": ["missing", "missing", "absent", None],
    ...     "risk_initial": ["low", None, None, "high"]})
    >>> select_first_responses(e).index.tolist()
    [0, 2]
    """
    category = cast_to_text(episodes["category"])
    graded = category.eq("missing").fillna(False) & cast_to_text(episodes["risk_initial"]).isin(GRADES).fillna(False)
    return episodes[graded | category.eq("absent").fillna(False)]


def is_graded_higher(episodes: pd.DataFrame) -> pd.Series:
    """Whether each episode's first response was an active one graded medium or high.

    An "absent" episode is no active response, whatever grade it carries.

    Examples
    --------
    >>> e = pd.DataFrame({"category": ["missing", "missing", "absent", None],
    ...     "risk_initial": ["high", "low", "high", "high"]})
    >>> is_graded_higher(e).tolist()
    [True, False, False, False]
    """
    missing = cast_to_text(episodes["category"]).eq("missing").fillna(False)
    return missing & cast_to_text(episodes["risk_initial"]).isin(HIGHER_GRADES).fillna(False)


def is_graded_high(episodes: pd.DataFrame) -> pd.Series:
    """Whether each episode's first response was an active one graded high.

    The top grade on its own: a force that grades too many children high moves them from medium,
    which leaves its share graded medium or high (:func:`is_graded_higher`) almost as it was.

    Examples
    --------
    >>> e = pd.DataFrame({"category": ["missing", "missing", "absent"], "risk_initial": ["high", "medium", "high"]})
    >>> is_graded_high(e).tolist()
    [True, False, False]
    """
    missing = cast_to_text(episodes["category"]).eq("missing").fillna(False)
    return missing & cast_to_text(episodes["risk_initial"]).eq("high").fillna(False)


def has_no_active_response(episodes: pd.DataFrame) -> pd.Series:
    """Whether each episode got no active response: category "absent", or grade "no apparent risk".

    Since 2017 "absent" survives as the grade "no apparent risk (absent)", so a force may record the same
    practice either way.

    Examples
    --------
    >>> e = pd.DataFrame({"category": ["absent", "missing", "missing", None],
    ...     "risk_initial": [None, "no_apparent_risk", "low", "no_apparent_risk"]})
    >>> has_no_active_response(e).tolist()
    [True, True, False, True]
    """
    absent = cast_to_text(episodes["category"]).eq("absent").fillna(False)
    return absent | cast_to_text(episodes["risk_initial"]).eq("no_apparent_risk").fillna(False)


def _has_officers(episodes: pd.DataFrame) -> pd.Series:
    officer = cast_to_text(episodes["officer_id"]).str.strip()
    return (officer.notna() & (officer != "")).fillna(False)


def fit_grading_model(
    episodes: pd.DataFrame, confidence: float = 0.95, case_mix: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Between-force and within-force variation in risk grading, after case mix.

    Every first response counts (:func:`select_first_responses`): a "missing" episode graded no apparent
    risk or low, and an "absent" one, are responses below medium, so a force that moves children out of
    "missing" cannot look like a high grader. Each force's tendency comes from a model of force alone
    over all those episodes, so a force that records no officer keeps it; the variance between
    officers, and the intraclass correlations, from the model with officers within forces, over the
    graded "missing" episodes with an officer recorded (the grades the officers gave).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes of one or more forces.
    confidence : float, default 0.95

    Returns
    -------
    dict of str to pandas.DataFrame
        ``variance``: tidy rows (``model``, ``measure``, ``level``, ``value``,
        ``lower``, ``upper``) of each level's variance, median odds ratio and
        intraclass correlation. ``forces``: each force's shrunken grading
        tendency as an odds ratio against the average force, with interval and
        ``band``: measure ``risk_grading`` (medium or high) and ``high_grading``
        (high). ``coefficients``: case-mix log odds ratios. ``officers``:
        :func:`estimate_officer_spread`.

    Raises
    ------
    ToolkitError
        Too few episodes with a known first response, every one graded alike, or one force and no
        officers to compare.
    """
    data = select_first_responses(episodes)
    if len(data) < MIN_EPISODES:
        raise ToolkitError(
            f"the risk-grading model needs at least {MIN_EPISODES} episodes with a first response recorded "
            f"(a risk grade, or 'absent'); there are {len(data)}"
        )
    y = is_graded_higher(data).to_numpy(dtype=float)
    if y.min() == y.max():
        raise ToolkitError("every modelled episode has the same risk grade, so grading cannot be modelled")
    # Case mix of the whole extract, then the modelled rows: a child's earlier episodes count whatever
    # their category or grade.
    X = (case_mix if case_mix is not None else describe_case_mix(episodes)).loc[data.index].copy()
    X.insert(0, "intercept", 1.0)
    forces = data["force_code"].astype(str)
    # Officers are compared on the grades they gave: "missing" episodes with a grade and an officer recorded.
    graded = cast_to_text(data["category"]).eq("missing").fillna(False)
    with_officer = (_has_officers(data) & graded).to_numpy()
    use_officers = with_officer.sum() >= MIN_EPISODES and 0 < y[with_officer].mean() < 1
    if forces.nunique() < 2 and not use_officers:
        raise ToolkitError("one force and no officer recorded: there is no variation between units to model")
    force_fit = _fit_glmm(y, X, {"force": forces}) if forces.nunique() > 1 else None
    officer_fit = None
    if use_officers:
        levels = {}
        if forces[with_officer].nunique() > 1:
            levels["force"] = forces[with_officer]
        # An officer is one of a force: the pair, never one string made of both.
        officer_ids = cast_to_text(data.loc[with_officer, "officer_id"]).str.strip()
        levels["officer"] = pd.MultiIndex.from_arrays([forces[with_officer], officer_ids])
        officer_fit = _fit_glmm(y[with_officer], X[with_officer], levels)
    summary_fit = officer_fit if officer_fit is not None else force_fit
    method = (
        "first response graded medium or high (of every episode graded, or recorded 'absent', which counts "
        "as no active response), odds against the average force; " + METHOD_GLMM
    )
    forces_rows = [_empty_force_rows()]
    if force_fit is not None:
        forces_rows = [_force_rows(force_fit.effects["force"], "risk_grading", confidence, method)]
        # The top grade on its own, by the same force-level model: over-grading moves children from medium to
        # high, which the medium-or-high model barely sees. Together the two are the cumulative logits of the
        # ordinal grade at its two upper cut points.
        high = is_graded_high(data).to_numpy(dtype=float)
        if 0 < high.mean() < 1:
            high_fit = _fit_glmm(high, X, {"force": forces})
            high_method = (
                "first response graded high (of every episode graded, or recorded 'absent'), odds against the "
                "average force; " + METHOD_GLMM
            )
            forces_rows.append(_force_rows(high_fit.effects["force"], "high_grading", confidence, high_method))
    return {
        "variance": _summarise_variances(summary_fit, "risk_grading", confidence),
        "coefficients": (force_fit or officer_fit).coefficients.assign(model="risk_grading"),
        "forces": pd.concat(forces_rows, ignore_index=True) if len(forces_rows) > 1 else forces_rows[0],
        "officers": (
            estimate_officer_spread(data[with_officer], y[with_officer], X[with_officer], officer_fit, confidence)
            if officer_fit is not None
            else _empty_officer_rows()
        ),
    }


def _empty_force_rows() -> pd.DataFrame:
    columns = [
        "force_code",
        "measure",
        "episodes",
        "log_odds",
        "std_error",
        "value",
        "lower",
        "upper",
        "band",
        "method",
    ]
    return pd.DataFrame(columns=columns)


def _empty_officer_rows() -> pd.DataFrame:
    columns = [
        "force_code",
        "officers",
        "episodes",
        "variance",
        "lower",
        "upper",
        "sd",
        "national_variance",
        "z",
        "band",
    ]
    return pd.DataFrame(columns=columns + ["method"])


def estimate_officer_spread(data, y, X, fit: Fit, confidence: float = 0.95) -> pd.DataFrame:
    """Each force's variance between officers, against the national within-force variance.

    The force's own officers are fitted with the national case-mix coefficients
    held fixed (an offset), so only the force's level and its officers'
    variance are estimated. ``z`` compares the log variances (Wald).
    """
    coef = fit.coefficients.set_index("term")["estimate"]
    offset = X[[t for t in coef.index if t != "intercept"]].to_numpy() @ coef.drop("intercept").to_numpy()
    national = fit.variances.set_index("level").loc["officer"]
    nat_v, nat_se = float(national["variance"]), float(national["std_error"])
    rows = []
    # Officers by number: their ids are text of any length, and each force's model needs only which is which.
    officers = pd.factorize(cast_to_text(data["officer_id"]).str.strip())[0]
    forces = data["force_code"].astype(str).reset_index(drop=True)
    for code, idx in forces.groupby(forces).indices.items():
        n_officers = len(np.unique(officers[idx]))
        v = se = np.nan
        reason = _officer_spread_unfitted(len(idx), n_officers, y[idx])
        if reason is None:
            ones = pd.DataFrame({"intercept": np.ones(len(idx))})
            model, _ = _fit_binomial(y[idx], ones, {"officer": officers[idx]}, offset[idx])
            cov = model.get_cov_pars(std_err=True)
            v, se = float(cov.iloc[0, 0]), float(cov.iloc[1, 0])
            reason = None if np.isfinite(v) else "not estimated: the model gave no finite variance"
        low, high = variance_interval(v, se, confidence)
        if np.isfinite(v) and v >= 1e-6 and nat_v >= 1e-6:
            z = (np.log(v) - np.log(nat_v)) / np.hypot(se / v, nat_se / nat_v)
        else:
            z = np.nan
        rows.append((code, n_officers, len(idx), v, low, high, np.sqrt(v), nat_v, z, reason))
    columns = ["force_code", "officers", "episodes", "variance", "lower", "upper", "sd", "national_variance", "z"]
    table = pd.DataFrame(rows, columns=[*columns, "reason"])
    table["band"] = np.where(table["z"].isna(), "not_estimable", _band(table["z"].fillna(0).to_numpy()))
    method = (
        "variance between officers in the force (random-intercept logistic model of the force's episodes "
        "with the national case-mix coefficients as an offset, GPBoost), Wald test of its log against the "
        "national within-force variance"
    )
    table["method"] = table.pop("reason").fillna(method).astype(str)
    return table


def _officer_spread_unfitted(episodes: int, officers: int, y: np.ndarray) -> str | None:
    """Why a force's variance between officers is not estimated, or None when it is.

    The reason names no count: it is published beside the force's figures.

    Examples
    --------
    >>> _officer_spread_unfitted(40, 2, np.array([0.0, 1.0]))
    'not estimated: fewer than 3 officers grade its episodes'
    >>> _officer_spread_unfitted(40, 5, np.array([0.0, 1.0])) is None
    True
    """
    if episodes < MIN_EPISODES:
        return f"not estimated: fewer than {MIN_EPISODES} graded episodes with an officer recorded"
    if officers < 3:
        return "not estimated: fewer than 3 officers grade its episodes"
    if not 0 < y.mean() < 1:
        return "not estimated: every episode is graded alike"
    return None


def flag_exploitation(case_mix: pd.DataFrame) -> pd.Series:
    """Whether each episode's child carries an exploitation flag (:data:`EXPLOITATION_FLAGS`)."""
    return case_mix[list(EXPLOITATION_FLAGS)].any(axis=1)


def select_flagged_responses(episodes: pd.DataFrame, case_mix: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """The episodes the categorisation model counts, and its covariates for them.

    Episodes of children with an exploitation flag recorded "missing" or "absent", and their case mix
    without what the model leaves out (:data:`NOT_ADJUSTED_FOR_RESPONSE`).

    Examples
    --------
    >>> e = pd.DataFrame({"category": ["missing", "absent", None, "missing"]})
    >>> mix = pd.DataFrame({"cse": [1, 1, 1, 0], "cce": 0, "trafficking": 0, "looked_after": [1, 0, 0, 0]})
    >>> keep, X = select_flagged_responses(e, mix)
    >>> keep.tolist(), X.columns.tolist()
    ([True, True, False, False], ['cse', 'cce', 'trafficking'])
    """
    keep = flag_exploitation(case_mix) & cast_to_text(episodes["category"]).isin(["missing", "absent"]).fillna(False)
    return keep, case_mix.loc[keep, [c for c in case_mix.columns if c not in NOT_ADJUSTED_FOR_RESPONSE]]


def fit_response_model(
    episodes: pd.DataFrame, confidence: float = 0.95, case_mix: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Each force's adjusted odds of giving a child with exploitation flags no active response.

    No active response is category "absent" or grade "no apparent risk" (:func:`has_no_active_response`).
    The model adjusts for the child's recorded flags and age only (see :data:`NOT_ADJUSTED_FOR_RESPONSE`).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``variance`` (between-force variance, ICC, median odds ratio) and
        ``forces``: shrunken odds ratio against the average force with interval
        and ``band``, among episodes of children flagged ``cse``, ``cce`` or
        ``trafficking``; measure ``no_response_if_flagged``.

    Raises
    ------
    ToolkitError
        Too few flagged episodes, fewer than two forces, or no variation.
    """
    mix = case_mix if case_mix is not None else describe_case_mix(episodes)
    keep, X = select_flagged_responses(episodes, mix)
    data = episodes[keep]
    y = has_no_active_response(data).to_numpy(dtype=float)
    forces = data["force_code"].astype(str)
    if len(data) < MIN_EPISODES:
        raise ToolkitError(
            f"the categorisation model needs at least {MIN_EPISODES} flagged episodes; there are {len(data)}"
        )
    if forces.nunique() < 2:
        raise ToolkitError("the categorisation model compares forces, so it needs at least two")
    if y.min() == y.max():
        raise ToolkitError("every flagged episode got the same response, so categorisation cannot be modelled")
    X = X.copy()
    X.insert(0, "intercept", 1.0)
    fit = _fit_glmm(y, X, {"force": forces})
    method = (
        "no active response ('absent', or graded no apparent risk) among episodes of children with exploitation "
        "flags, odds against the average force after the flags and age (not care status or history); " + METHOD_GLMM
    )
    return {
        "variance": _summarise_variances(fit, "no_response_if_flagged", confidence),
        "coefficients": fit.coefficients.assign(model="no_response_if_flagged"),
        "forces": _force_rows(fit.effects["force"], "no_response_if_flagged", confidence, method),
    }


def measure_grade_agreement(episodes: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Agreement between the first and final risk grade of the same episode (Cohen's kappa).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes with ``force_code``, ``risk_initial`` and ``risk_final``.

    Returns
    -------
    pandas.DataFrame
        Per force and for ``england_and_wales``: ``pairs`` (episodes with both
        grades), ``agreement`` (share identical), ``kappa`` and linearly
        ``weighted_kappa`` with asymptotic intervals (statsmodels
        ``cohens_kappa``) and ``method``. Fewer than :data:`MIN_EPISODES` pairs, or
        all in one grade: no kappa, and ``method`` says why.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["F"] * 40 + ["G"],
    ...     "risk_initial": ["low"] * 20 + ["high"] * 21, "risk_final": ["low"] * 18 + ["high"] * 22 + [None]})
    >>> t = measure_grade_agreement(e).set_index("force_code")
    >>> round(float(t.loc["F", "kappa"]), 4), int(t.loc["G", "pairs"]), t.loc["G", "method"]
    (0.9, 0, 'not computed: no episode has both a first and a final risk grade')
    """
    from statsmodels.stats.inter_rater import cohens_kappa

    from toolkit.forces import NATIONAL

    first = cast_to_text(episodes["risk_initial"])
    final = cast_to_text(episodes["risk_final"])
    both = first.isin(GRADES).fillna(False) & final.isin(GRADES).fillna(False)
    pairs = pd.DataFrame(
        {
            "force_code": episodes.loc[both, "force_code"].astype(str),
            "first": pd.Categorical(first[both], categories=GRADES),
            "final": pd.Categorical(final[both], categories=GRADES),
        }
    )
    # Every force of the extract, those with no episode graded twice too (a force that records no final
    # grade): their row says why there is no kappa.
    forces = pd.Categorical(pairs["force_code"], categories=sorted(set(episodes["force_code"].astype(str))))
    counts = pairs.assign(force_code=forces).groupby(["force_code", "first", "final"], observed=False).size()
    tables = {code: counts.loc[code].unstack().to_numpy() for code in forces.categories}
    tables[NATIONAL] = sum(tables.values()) if tables else np.zeros((4, 4))
    z = _z(confidence)
    rows = []
    for code, table in tables.items():
        n = int(table.sum())
        row = {"force_code": code, "pairs": n, "agreement": np.trace(table) / n if n else np.nan}
        used = (table.sum(axis=0) + table.sum(axis=1)) > 0
        table = table[np.ix_(used, used)]
        method = "Cohen's kappa and linearly weighted kappa of risk_initial against risk_final (statsmodels)"
        if n == 0:
            method = "not computed: no episode has both a first and a final risk grade"
        elif n < MIN_EPISODES:
            method = f"not computed: fewer than {MIN_EPISODES} episodes have both a first and a final risk grade"
        elif len(table) < 2:
            method = "not computed: all in one grade, first and final, so agreement beyond chance is undefined"
        else:
            plain = cohens_kappa(table)
            weighted = cohens_kappa(table, wt="linear")
            row |= {
                "kappa": plain.kappa,
                "kappa_lower": plain.kappa - z * plain.std_kappa,
                "kappa_upper": plain.kappa + z * plain.std_kappa,
                "weighted_kappa": weighted.kappa,
                "weighted_lower": weighted.kappa - z * weighted.std_kappa,
                "weighted_upper": weighted.kappa + z * weighted.std_kappa,
            }
        rows.append(row | {"method": method})
    return pd.DataFrame(rows).reindex(
        columns=["force_code", "pairs", "agreement", "kappa", "kappa_lower", "kappa_upper"]
        + ["weighted_kappa", "weighted_lower", "weighted_upper", "method"]
    )


def describe_strata(episodes: pd.DataFrame, case_mix: pd.DataFrame | None = None) -> pd.Series:
    """The stratum used for indirect standardisation: age band, exploitation flag and care status.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["F"], "person_id": ["a"], "reported_at": pd.to_datetime(["2024-01-01"]),
    ...     "age": [15], "looked_after": ["no"], "risk_factors": ["cce"]})
    >>> describe_strata(e).tolist()
    ['12-15|flagged|not_looked_after']
    """
    mix = case_mix if case_mix is not None else describe_case_mix(episodes)
    age = pd.cut(episodes["age"].astype(float), [-1, 11, 15, 17], labels=["0-11", "12-15", "16-17"])
    flagged = np.where(mix[list(EXPLOITATION_FLAGS)].any(axis=1), "flagged", "not_flagged")
    cared = np.where(mix["looked_after"] == 1, "looked_after", "not_looked_after")
    return pd.Series(age.astype(str) + "|" + flagged + "|" + cared, index=episodes.index, name="stratum")


def compare_standardised_practice(
    episodes: pd.DataFrame,
    comparator_groups: dict[str, list[str]] | None = None,
    case_mix: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Indirectly standardised ratios of no active response for flagged children and of higher grades, on funnels.

    A transparent companion to the multilevel models: each force's observed
    count against the count expected if the national rates of each stratum
    (:func:`describe_strata`) applied to its own episodes, with exact/Byar
    limits, classified on a ratio funnel against England and Wales and against
    its comparator group (Spiegelhalter's adjustment when over-dispersed).

    Returns
    -------
    pandas.DataFrame
        Per force and ``measure`` (``no_response_if_flagged``: episodes of children
        with exploitation flags given no active response, standardised by age band alone, as the
        categorisation model does not adjust for care status; ``higher_grade``: graded
        medium or high, of every first response): ``observed``, ``expected``, ``value`` (the ratio),
        ``ratio_lower``, ``ratio_upper`` and ``interval_method`` (its exact or Byar limits), ``band``,
        ``comparator_band``, the funnel limits, ``method`` and the dispersion sentence: the columns of
        :data:`STANDARDISED_COLUMNS`, and no rows when too few forces are in the extract to compare.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["E23000001"] * 2, "person_id": ["a", "b"],
    ...     "reported_at": pd.to_datetime(["2024-01-01", "2024-01-02"]), "age": [15, 9],
    ...     "looked_after": ["no", "yes"], "risk_factors": ["cse", None], "category": ["absent", "missing"],
    ...     "risk_initial": ["no_apparent_risk", "high"]})
    >>> t = compare_standardised_practice(e, {})
    >>> t.empty, list(t.columns) == STANDARDISED_COLUMNS
    (True, True)
    """
    from toolkit.forces import read_comparator_groups
    from toolkit.stats.funnel import MIN_FORCES_TO_COMPARE, compare_with_funnel
    from toolkit.stats.intervals import standardised_ratio

    groups = comparator_groups if comparator_groups is not None else read_comparator_groups()
    category = cast_to_text(episodes["category"])
    strata = describe_strata(episodes, case_mix)
    graded = select_first_responses(episodes)
    flagged = strata.str.contains("|flagged|", regex=False) & category.isin(["missing", "absent"]).fillna(False)
    measures = {
        "no_response_if_flagged": (
            episodes.index[flagged],
            has_no_active_response(episodes),
            strata.str.rsplit("|", n=1).str[0],  # age band (and the flag): not care status
        ),
        "higher_grade": (graded.index, is_graded_higher(episodes), strata),
    }
    blocks = []
    for measure, (index, event, stratum) in measures.items():
        if len(index) == 0:
            continue
        cells = (
            pd.DataFrame(
                {
                    "unit": episodes.loc[index, "force_code"].astype(str),
                    "stratum": stratum.loc[index],
                    "count": event.loc[index].fillna(False).astype(int),
                }
            )
            .groupby(["unit", "stratum"], observed=True)
            .agg(count=("count", "sum"), population=("count", "size"))
            .reset_index()
        )
        ratios = standardised_ratio(cells).set_index("unit")
        table = pd.DataFrame(
            {
                "unit": ratios.index,
                "numerator": ratios["observed"].to_numpy(),
                "denominator": ratios["expected"].to_numpy(),
            }
        )
        try:
            comparison, dispersion = compare_with_funnel(
                table, "ratio", comparator_groups=groups, min_units=MIN_FORCES_TO_COMPARE
            )
        except ValueError:
            continue  # too few forces, or no events anywhere: nothing to compare
        comparison = comparison.set_index("unit")
        comparison[["ratio_lower", "ratio_upper"]] = ratios[["lower", "upper"]]
        comparison["interval_method"] = ratios["method"]
        comparison["measure"] = measure
        comparison["dispersion_sentence"] = dispersion["sentence"]
        blocks.append(comparison.rename_axis("force_code").reset_index())
    # One list of columns, filled or empty (too few forces, or no events): what reads the table (metrics.csv
    # takes interval_method) finds its columns either way.
    if not blocks:
        return pd.DataFrame(columns=STANDARDISED_COLUMNS)
    return pd.concat(blocks, ignore_index=True).reindex(columns=STANDARDISED_COLUMNS)


FLAG_GRADING_COLUMNS = [
    "force_code",
    "flagged_episodes",
    "flagged_higher",
    "flagged_share",
    "unflagged_episodes",
    "value",
    "lower",
    "upper",
    "log_odds",
    "std_error",
    "national",
    "z",
    "band",
    "method",
]


def _pooled_odds(cells: pd.DataFrame) -> tuple[float, float]:
    """Mantel-Haenszel log odds ratio and its standard error (Robins, Breslow and Greenland) over 2x2 strata."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    tables = cells[["a", "b", "c", "d"]].to_numpy(dtype=float).reshape(-1, 2, 2).transpose(1, 2, 0)
    table = StratifiedTable(tables)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(table.logodds_pooled), float(table.logodds_pooled_se)


def compare_flag_grading(
    episodes: pd.DataFrame, case_mix: pd.DataFrame | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Does an exploitation flag move a force's first grade? Its odds ratio for flagged against other children.

    Among graded "missing" episodes (no apparent risk to high), the odds of a medium or high grade for
    episodes of children with exploitation flags against those without, pooled over strata of age band
    and care status (Mantel-Haenszel, statsmodels ``StratifiedTable``, with the Robins-Breslow-Greenland
    variance), per force and for England and Wales. ``z`` compares a force's log odds ratio with England
    and Wales's; ``band`` places it (``below_998``: the flag moves the grade less than nationally).
    Strata with no flagged or no other episode carry no information and drop out.

    Returns
    -------
    pandas.DataFrame
        :data:`FLAG_GRADING_COLUMNS`: counts of flagged episodes and of those graded medium or high, their
        share, the other episodes, the odds ratio (``value``) with its 95% interval, and ``method`` (or
        why it is not estimated: fewer than :data:`MIN_EPISODES` flagged or other episodes).

    Examples
    --------
    A force whose flagged children are graded like everyone else, beside one where the flag counts:

    >>> rng = np.random.default_rng(1)
    >>> n = 4000
    >>> force = np.where(np.arange(n) < n // 2, "E23000001", "E23000014")
    >>> flagged = rng.random(n) < 0.3
    >>> p = np.where((force == "E23000014") & flagged, 0.8, 0.4)
    >>> e = pd.DataFrame({"force_code": force, "person_id": np.arange(n).astype(str),
    ...     "reported_at": pd.Timestamp("2024-01-01"), "age": 15, "looked_after": "no",
    ...     "risk_factors": np.where(flagged, "cse", None), "category": "missing",
    ...     "risk_initial": np.where(rng.random(n) < p, "medium", "low")})
    >>> t = compare_flag_grading(e).set_index("force_code")
    >>> bool(t.loc["E23000001", "upper"] < 1.5 < t.loc["E23000014", "lower"])
    True
    """
    data = select_first_responses(episodes)
    # The grade given a response: "absent" is judged by the categorisation rules, and counted here it would
    # make a force that records flagged children absent look as if it ignored the flag when it grades.
    data = data[cast_to_text(data["category"]).eq("missing").fillna(False)]
    mix = (case_mix if case_mix is not None else describe_case_mix(episodes)).loc[data.index]
    flagged = flag_exploitation(mix).to_numpy()
    higher = is_graded_higher(data).to_numpy()
    stratum = describe_strata(data, mix).str.replace(r"\|(not_)?flagged\|", "|", regex=True)
    cells = pd.DataFrame(
        {
            "force_code": data["force_code"].astype(str).to_numpy(),
            "stratum": stratum.to_numpy(),
            "a": flagged & higher,
            "b": flagged & ~higher,
            "c": ~flagged & higher,
            "d": ~flagged & ~higher,
        }
    )
    per_force = cells.groupby(["force_code", "stratum"], sort=True)[["a", "b", "c", "d"]].sum()
    national = per_force.groupby(level="stratum").sum()
    units = {code: table.droplevel("force_code") for code, table in per_force.groupby(level="force_code")}
    units[NATIONAL_CODE] = national
    z_int = _z(confidence)
    rows = []
    for code, table in units.items():
        flagged_n, others = int(table[["a", "b"]].to_numpy().sum()), int(table[["c", "d"]].to_numpy().sum())
        row = {
            "force_code": code,
            "flagged_episodes": flagged_n,
            "flagged_higher": int(table["a"].sum()),
            "flagged_share": table["a"].sum() / flagged_n if flagged_n else np.nan,
            "unflagged_episodes": others,
        }
        informative = table[(table[["a", "b"]].sum(axis=1) > 0) & (table[["c", "d"]].sum(axis=1) > 0)]
        if min(flagged_n, others) < MIN_EPISODES or informative.empty:
            row["method"] = (
                f"not estimated: fewer than {MIN_EPISODES} episodes of children with exploitation flags, or of "
                "other children, with a first response recorded"
            )
        else:
            log_odds, se = _pooled_odds(informative.reset_index())
            if np.isfinite(log_odds) and np.isfinite(se) and se > 0:
                row |= {"log_odds": log_odds, "std_error": se}
                row |= {"value": np.exp(log_odds), "lower": np.exp(log_odds - z_int * se)}
                row |= {"upper": np.exp(log_odds + z_int * se)}
                row["method"] = (
                    "odds of a medium or high first grade for children with exploitation flags against other "
                    "children, Mantel-Haenszel over age band and care status, Robins-Breslow-Greenland 95% interval"
                )
            else:  # every flagged, or every other, episode graded alike in each stratum
                row["method"] = "not estimated: the flagged or the other episodes are all graded alike"
        rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=FLAG_GRADING_COLUMNS)
    nat = table.set_index("force_code").loc[NATIONAL_CODE]
    table["national"] = nat["value"]
    z = (table["log_odds"] - nat["log_odds"]) / np.hypot(table["std_error"], nat["std_error"])
    table["z"] = z.where(table["force_code"] != NATIONAL_CODE)
    table["band"] = np.where(table["z"].isna(), "not_compared", _band(table["z"].fillna(0).to_numpy()))
    return table


STANDARDISED_COLUMNS = (
    ["force_code", "measure", "observed", "expected", "value", "baseline", "lower_95", "upper_95"]
    + ["lower_998", "upper_998", "z", "band", "method", "comparator_baseline", "comparator_band"]
    + ["ratio_lower", "ratio_upper", "interval_method", "dispersion_sentence"]
)


# The tables summarise_consistency makes, by name.
CONSISTENCY_TABLES = (
    "consistency_variance",
    "consistency_forces",
    "officer_spread",
    "grade_agreement",
    "standardised_practice",
    "flag_grading",
    "consistency_notes",
)


def summarise_consistency(
    episodes: pd.DataFrame,
    comparator_groups: dict[str, list[str]] | None = None,
    confidence: float = 0.95,
    case_mix: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Every consistency table for the national data in one pass, for the reports.

    A model that cannot be fitted (too few episodes, one force) leaves its rows
    out and says why in ``notes``. ``case_mix`` is :func:`describe_case_mix` of
    ``episodes`` when the caller has it already.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``consistency_variance``, ``consistency_forces`` (grading and
        categorisation tendencies per force), ``officer_spread``,
        ``grade_agreement`` and ``consistency_notes`` (model, note).
    """
    variance, forces, notes = [], [], []
    mix = case_mix if case_mix is not None else describe_case_mix(episodes)  # once: every model uses it
    officers = _empty_officer_rows()
    for name, fit in (("risk_grading", fit_grading_model), ("no_response_if_flagged", fit_response_model)):
        try:
            result = fit(episodes, confidence, mix)
        except ToolkitError as error:
            notes.append((name, str(error)))
            continue
        variance.append(result["variance"])
        forces.append(result["forces"])
        if "officers" in result:
            officers = result["officers"]
    return {
        "consistency_variance": pd.concat(variance, ignore_index=True) if variance else _summarise_empty(),
        "consistency_forces": pd.concat(forces, ignore_index=True) if forces else _empty_force_rows(),
        "officer_spread": officers,
        "grade_agreement": measure_grade_agreement(episodes, confidence),
        "standardised_practice": compare_standardised_practice(episodes, comparator_groups, mix),
        "flag_grading": compare_flag_grading(episodes, mix, confidence),
        "consistency_notes": pd.DataFrame(notes, columns=["model", "note"]),
    }


def _summarise_empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["model", "measure", "level", "value", "lower", "upper", "episodes", "unit", "method"])
