"""Repeat and frequent missing: children who go missing again and again.

Repeat episodes are the strongest warning sign the inspection describes: a
child who keeps going missing is at risk of exploitation. Children are
pseudonyms within a force, so repeats are counted within each force.

Three tables:

- :func:`summarise_repeats` (``repeats``): children missing twice and three
  times or more, the share of episodes that are repeats, frequent missing.
- :func:`summarise_repeat_desensitisation` (``repeat_desensitisation``): the
  inspection found repeatedly missing children treated with less urgency each
  time. Whether a child's later episodes are graded lower, or given no active
  response, than the same child's earlier ones: conditional logistic
  regression grouped by child (:func:`fit_conditional_logit`).
- :func:`summarise_time_to_next` (``time_to_next``): Kaplan-Meier of the
  days from a child's return to the child's next report, and the share of
  repeat episodes reported within 28 days of the previous return.

Examples
--------
>>> import pandas as pd
>>> episodes = pd.DataFrame({
...     "force_code": ["E23000014"] * 5,
...     "person_id": ["a", "a", "a", "b", "c"],
...     "reported_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-05", "2024-01-09"])})
>>> table = summarise_repeats(episodes)
>>> row = table[table["force_code"] == "E23000014"].iloc[0]
>>> int(row["children"]), int(row["children_2_plus"]), int(row["frequently_missing"])
(3, 1, 1)

Child ``a``'s second and third episodes are the repeats: 2 of the 5 episodes
(episodes less children), not all 3 of ``a``'s.

>>> int(row["repeat_episodes"]), round(float(row["repeat_share"]), 2)
(2, 0.4)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from toolkit.dates import ExtractDate
from toolkit.forces import NATIONAL
from toolkit.ingest.schema import RISK_FACTORS, cast_to_text
from toolkit.stats.consistency import GRADES, describe_case_mix, has_no_active_response, is_graded_higher
from toolkit.stats.intervals import proportion_interval

__all__ = [
    "DESENSITISATION_OUTCOMES",
    "EARLIER_CAP",
    "FREQUENT_RULE",
    "MIN_CHILDREN",
    "NEXT_WITHIN_DAYS",
    "ConditionalFit",
    "count_earlier_episodes",
    "fit_conditional_logit",
    "flag_frequently_missing",
    "measure_time_to_next",
    "summarise_repeat_desensitisation",
    "summarise_repeats",
    "summarise_time_to_next",
]

# Configurable: a child is "frequently missing" with this many episodes within this many days.
FREQUENT_RULE = {"episodes": 3, "days": 90}


def flag_frequently_missing(episodes: pd.DataFrame, rule: dict | None = None) -> pd.Series:
    """Which children meet the frequently-missing rule (e.g. 3 episodes in 90 days).

    Returns
    -------
    pandas.Series of bool
        Indexed by (force_code, person_id).
    """
    rule = rule or FREQUENT_RULE
    n, days = int(rule["episodes"]), float(rule["days"])
    if n < 2:
        raise ValueError("the frequently-missing rule needs at least 2 episodes")
    frame = episodes[["force_code", "person_id", "reported_at"]].assign(
        force_code=lambda d: d["force_code"].astype(str)
    )
    frame = frame.sort_values(["force_code", "person_id", "reported_at"], kind="stable")
    later = frame.groupby(["force_code", "person_id"], sort=False)["reported_at"].shift(-(n - 1))
    within = (later - frame["reported_at"]) <= pd.Timedelta(days=days)
    return within.groupby([frame["force_code"], frame["person_id"]]).any()


def summarise_repeats(episodes: pd.DataFrame, rule: dict | None = None) -> pd.DataFrame:
    """Children with 2+ and 3+ episodes, the share of episodes that are repeats, and frequent missing.

    Returns
    -------
    pandas.DataFrame
        Per force and England and Wales: ``children``, ``episodes``,
        ``children_2_plus``, ``children_3_plus``, ``repeat_episodes`` (the
        episodes beyond each child's first: ``episodes - children``, the
        published national definition), ``repeat_share`` (``repeat_episodes``
        over ``episodes``) with a Wilson 95% interval, ``frequently_missing``
        (children meeting the rule) and ``rule``. ``children`` and the
        ``children_*`` and ``frequently_missing`` columns count children; the
        others count episodes.
    """
    rule = rule or FREQUENT_RULE
    codes = episodes["force_code"].astype(str)
    per_child = episodes.assign(force_code=codes).groupby(["force_code", "person_id"]).size().rename("episodes")
    frequent = flag_frequently_missing(episodes, rule).reindex(per_child.index, fill_value=False)
    children = pd.DataFrame({"episodes": per_child, "frequent": frequent}).reset_index()

    def totals(d: pd.DataFrame) -> pd.Series:
        return pd.Series(
            {
                "children": len(d),
                "episodes": int(d["episodes"].sum()),
                "children_2_plus": int((d["episodes"] >= 2).sum()),
                "children_3_plus": int((d["episodes"] >= 3).sum()),
                # Every episode but each child's first: a child missing twice has one repeat, not two.
                "repeat_episodes": int(d["episodes"].sum() - len(d)),
                "frequently_missing": int(d["frequent"].sum()),
            }
        )

    table = children.groupby("force_code").apply(totals, include_groups=False)
    table.loc[NATIONAL] = totals(children)
    share = proportion_interval(table["repeat_episodes"], table["episodes"])
    table["repeat_share"] = share["value"].to_numpy()
    table["repeat_share_lower"] = share["lower"].to_numpy()
    table["repeat_share_upper"] = share["upper"].to_numpy()
    table["rule"] = f"{rule['episodes']} or more episodes within {rule['days']} days"
    table["method"] = (
        "counts of pseudonymised children within each force; repeat episodes are those beyond each child's "
        "first (episodes less children); Wilson 95% interval for the share"
    )
    return table.reset_index().rename(columns={"index": "force_code"})


# --- Desensitisation: are later episodes of the same child treated with less urgency? -----------------

EARLIER_CAP = 4  # the covariate counts a child's earlier episodes in the force, 4 meaning 4 or more
MIN_CHILDREN = 20  # fewer contributing children than this: no model is fitted for the unit
MAX_ITERATIONS = 100
# Groups per bucket: at most this many (group, depth) cells, so that a bucket's running covariances (55 numbers a
# cell with 10 covariates) stay within a core's cache, about 1 MB: a third faster at one and at five years than one
# bucket per depth, whose arrays stream from memory at every row.
BUCKET_CELLS = 2048
LOG_ZERO = -1e30  # the log of a weight of 0 (see _bucket_derivatives): finite, below any real log weight
DIVERGED = 10.0  # a log odds ratio past this is taken for separation: the likelihood has no maximum
# Outcomes of the desensitisation model: which episodes it is fitted to, and which count as the event.
DESENSITISATION_OUTCOMES = {
    "medium_or_high": "first risk grade medium or high, among episodes with a first grade ('absent' counts as not)",
    "no_active_response": "no active response (recorded 'absent', or first grade 'no_apparent_risk')",
}
METHOD_CONDITIONAL = (
    "conditional logistic regression grouped by child (the exact conditional likelihood of statsmodels "
    "ConditionalLogit, fitted by Newton-Raphson): odds ratio per earlier episode of the same child in the force "
    f"in the extract (0 to {EARLIER_CAP}, {EARLIER_CAP} meaning {EARLIER_CAP} or more), within child, adjusted "
    "for the episode's recorded risk factors and age where they change within children (adjusted_for; a flag "
    "that alone separates the outcomes is left out); Wald 95% interval; only children with two or more "
    "modelled episodes and both outcomes contribute"
)


@dataclass(frozen=True)
class ConditionalFit:
    """Conditional logistic regressions, one per unit, fitted together.

    Attributes
    ----------
    params : numpy.ndarray
        ``(units, covariates)`` log odds ratios; 0 where a covariate is not estimated.
    cov : numpy.ndarray
        ``(units, covariates, covariates)`` inverse observed information; NaN
        in rows and columns of covariates not estimated.
    estimated : numpy.ndarray
        ``(units, covariates)`` bool: the covariate varies within the unit's
        contributing groups, is not a combination of those before it, and
        does not separate the outcomes.
    separated : numpy.ndarray
        ``(units, covariates)`` bool: left out because the likelihood grows
        without end in it (:func:`_find_separated`).
    loglike : numpy.ndarray
        ``(units,)`` conditional log-likelihood at ``params``.
    groups, rows, events : numpy.ndarray
        ``(units,)`` contributing groups (both outcomes, so two or more
        rows), their rows, and those of their rows with ``y = 1``.
    converged : numpy.ndarray
        ``(units,)`` bool.
    iterations : int
        Newton steps taken.
    """

    params: np.ndarray
    cov: np.ndarray
    estimated: np.ndarray
    separated: np.ndarray
    loglike: np.ndarray
    groups: np.ndarray
    rows: np.ndarray
    events: np.ndarray
    converged: np.ndarray
    iterations: int


@dataclass(frozen=True)
class _Bucket:
    """Contributing groups with about one number of events, largest first, held row by row.

    ``x[m]`` holds the ``m``-th row of each group with more than ``m`` rows. The groups come largest
    first, so those are the bucket's first ``len(x[m])`` groups: a row past a group's end is neither
    stored nor computed, and a bucket holds groups of every size at no cost in arithmetic.
    """

    x: tuple[np.ndarray, ...]  # x[m]: (groups longer than m, covariates), centred within group, sign-flipped
    observed: np.ndarray  # (groups, covariates) the covariate total of each group's events (after the flip)
    k: np.ndarray  # (groups,) events of each group after the flip: at most half its size
    unit: np.ndarray  # (groups,) unit number

    def select(self, chosen: np.ndarray) -> _Bucket:
        """The bucket's groups where ``chosen`` (``(groups,)`` bool) is true, still largest first."""
        rows = (step[chosen[: len(step)]] for step in self.x)
        # Largest first: once no chosen group is longer than m rows, none is longer than m + 1.
        return _Bucket(
            tuple(step for step in rows if len(step)), self.observed[chosen], self.k[chosen], self.unit[chosen]
        )

    def flatten(self) -> tuple[np.ndarray, np.ndarray]:
        """Every row of the bucket, ``(rows, covariates)``, and the group (its place in the bucket) of each."""
        return np.concatenate(self.x), np.concatenate([np.arange(len(step)) for step in self.x])


def _depth_classes(events: np.ndarray) -> np.ndarray:
    """The depth each group's recursion is run to: exact up to 8 events, then the next of a grid 25% apart.

    The recursion steps through a bucket's rows one at a time, to its longest group, so every bucket
    costs that length in Python steps; buckets by depth (split only to fit the cache, see
    :data:`BUCKET_CELLS`), rather than by size and depth, take a third of the steps a national year.

    Examples
    --------
    >>> _depth_classes(np.array([1, 8, 9, 10, 11, 40])).tolist()
    [1, 8, 10, 10, 13, 48]
    """
    grid = np.unique(np.ceil(8 * 1.25 ** np.arange(0, 40)).astype(int))
    beyond = grid[np.searchsorted(grid, events, side="left").clip(max=len(grid) - 1)]
    return np.where(events <= 8, events, np.maximum(beyond, events))  # past the grid's end: exact


def _bucket_groups(y: np.ndarray, X: np.ndarray, group: np.ndarray, unit: np.ndarray) -> list[_Bucket]:
    """Split contributing groups by number of events into the arrays the likelihood is vectorised over.

    Centring a group's covariates leaves its conditional likelihood unchanged (a shift common to the
    group adds the same to every subset's total) and keeps the sums small. A group with more events
    than non-events is flipped (outcome ``1 - y``, covariates ``-x``: the same likelihood, since the
    non-events are the complement), so the recursion runs only to half a group's size.
    """
    if len(group) == 0:
        return []
    order = np.argsort(group, kind="stable")
    y, X, group, unit = y[order], X[order], group[order], unit[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, len(group)])
    events = np.add.reduceat(y, starts).astype(int)
    flip = events > sizes - events
    k = np.where(flip, sizes - events, events)
    centred = X - np.repeat(np.add.reduceat(X, starts, axis=0) / sizes[:, None], sizes, axis=0)
    centred = np.where(np.repeat(flip, sizes)[:, None], -centred, centred)
    y = np.where(np.repeat(flip, sizes), 1 - y, y)
    observed = np.add.reduceat(y[:, None] * centred, starts, axis=0)
    depth = _depth_classes(k)
    buckets = []
    for most in np.unique(depth):
        chosen = np.flatnonzero(depth == most)
        chosen = chosen[np.argsort(-sizes[chosen], kind="stable")]  # largest first
        # As many parts as keep each within the cache, but never more than the groups: one deep group is one part.
        parts = min(len(chosen), math.ceil(len(chosen) * (most + 1) / BUCKET_CELLS))
        for part in np.array_split(chosen, parts):
            longer = -sizes[part]  # ascending: the groups longer than m rows are the first searchsorted(-m)
            x = tuple(centred[starts[part[: np.searchsorted(longer, -m)]] + m] for m in range(sizes[part[0]]))
            buckets.append(_Bucket(x=x, observed=observed[part], k=k[part], unit=unit[starts[part]]))
    return buckets


def _bucket_derivatives(bucket: _Bucket, beta: np.ndarray):
    """Each group's conditional log-likelihood, score and Hessian at its unit's ``beta``.

    A group of ``n`` rows with ``k`` events has probability ``exp(sum of its events' x b)`` over the
    sum of the same over every subset of ``k`` rows: the elementary symmetric polynomial ``e_k`` of
    ``r_i = exp(x_i b)``. Its derivatives are the mean and covariance of a subset's covariate total
    ``s`` when subsets are drawn with weight ``prod r``. Built one row at a time: the subsets of ``j``
    of the first ``m + 1`` rows are those of the first ``m`` (weight ``e_j``) and those with row ``m``
    (weight ``r e_(j-1)``, total ``s + x_m``), so weight, mean and covariance combine as a mixture of
    two. Weights are carried as logarithms: nothing overflows or underflows whatever ``b``. The
    logarithm of no weight at all is :data:`LOG_ZERO`, not minus infinity: where neither part exists
    yet their mixture is finite nonsense of weight ``LOG_ZERO``, which every real weight outweighs
    (an exact 0 share) when it meets one, where ``-inf - -inf`` would be NaN and spread.
    """
    k, observed = bucket.k, bucket.observed
    groups, p = observed.shape
    b = beta[bucket.unit]
    depth = int(k.max())
    upper_i, upper_j = np.triu_indices(p)  # the covariance is symmetric: only its upper triangle is carried
    log_e = np.full((groups, depth + 1), LOG_ZERO)
    log_e[:, 0] = 0.0
    mean = np.zeros((groups, depth + 1, p))
    cov = np.zeros((groups, depth + 1, len(upper_i)))
    for m, x in enumerate(bucket.x):
        g = len(x)  # the groups longer than m rows: the first g
        j = min(m + 1, depth)  # subsets of more than m + 1 of the first m + 1 rows do not exist
        with_m = np.einsum("gp,gp->g", x, b[:g])[:, None] + log_e[:g, :j]
        log_new = np.logaddexp(log_e[:g, 1 : j + 1], with_m)
        share = np.exp(with_m - log_new)  # of the new weight, the subsets with row m
        gap = mean[:g, :j] + x[:, None, :] - mean[:g, 1 : j + 1]
        # Mixture of the subsets without row m (1 - share) and with it (share):
        # cov' = cov + share (cov_with - cov) + share (1 - share) gap gap'; mean' = mean + share gap.
        change = cov[:g, :j] - cov[:g, 1 : j + 1]
        change += (1 - share)[:, :, None] * gap[:, :, upper_i] * gap[:, :, upper_j]
        change *= share[:, :, None]
        cov[:g, 1 : j + 1] += change
        mean[:g, 1 : j + 1] += share[:, :, None] * gap
        log_e[:g, 1 : j + 1] = log_new
    pick = np.arange(groups)
    loglike = np.einsum("gp,gp->g", observed, b) - log_e[pick, k]
    score = observed - mean[pick, k]
    hessian = np.zeros((groups, p, p))
    hessian[:, upper_i, upper_j] = -cov[pick, k]
    hessian[:, upper_j, upper_i] = -cov[pick, k]
    return loglike, score, hessian


def _unit_derivatives(buckets: list[_Bucket], beta: np.ndarray, active: np.ndarray | None = None):
    """The conditional log-likelihood, score and Hessian of every unit, summed over its groups.

    With ``active`` (``(units,)`` bool), only those units' groups are summed: the other units' rows are 0.
    """
    units, p = beta.shape
    loglike, score, hessian = np.zeros(units), np.zeros((units, p)), np.zeros((units, p, p))
    for bucket in buckets:
        if active is not None:
            chosen = active[bucket.unit]
            if not chosen.any():
                continue
            if not chosen.all():
                bucket = bucket.select(chosen)
        ll, sc, he = _bucket_derivatives(bucket, beta)
        loglike += _sum_by_unit(ll, bucket.unit, units)
        score += _sum_by_unit(sc, bucket.unit, units)
        hessian += _sum_by_unit(he, bucket.unit, units)
    return loglike, score, hessian


def _sum_by_unit(values: np.ndarray, unit: np.ndarray, units: int) -> np.ndarray:
    """``values`` (groups first) summed over the groups of each of ``units`` units.

    As ``np.add.at``, which adds one element at a time: a weighted count over a cell per unit and
    element is one pass in C, a fifth of the time of the likelihood's evaluations before.

    Examples
    --------
    >>> _sum_by_unit(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([1, 0, 1]), 3).tolist()
    [[3.0, 4.0], [6.0, 8.0], [0.0, 0.0]]
    """
    shape = values.shape[1:]
    cells = int(np.prod(shape, dtype=int))
    index = (unit[:, None] * cells + np.arange(cells)).ravel()
    return np.bincount(index, weights=values.reshape(len(unit), cells).ravel(), minlength=units * cells).reshape(
        units, *shape
    )


def _select_covariates(buckets: list[_Bucket], units: int, p: int) -> np.ndarray:
    """Which covariates each unit can estimate, in order: those varying within its groups, independently.

    A covariate constant within every contributing group (a flag a child always or never has) is
    absorbed by the child's own baseline; one that is a combination of those before it (two flags
    always recorded together) cannot be told apart from them. The first covariate is kept whenever it
    varies, so the ones after it give way to it.
    """
    gram = np.zeros((units, p, p))
    for bucket in buckets:
        rows, group = bucket.flatten()
        owner = bucket.unit[group]  # the unit of each row
        for u in np.unique(owner):
            mine = rows[owner == u]
            gram[u] += mine.T @ mine
    keep = np.zeros((units, p), dtype=bool)
    for u in range(units):
        chosen: list[int] = []
        for c in range(p):
            total = gram[u, c, c]
            if total <= 1e-10:
                continue
            if chosen:
                a = gram[u][np.ix_(chosen, chosen)]
                b = gram[u][chosen, c]
                total = total - b @ np.linalg.solve(a, b)  # what is left of it beyond those chosen
            if total > 1e-8 * gram[u, c, c]:
                chosen.append(c)
        keep[u, chosen] = True
    return keep


def _find_separated(buckets: list[_Bucket], units: int, p: int) -> np.ndarray:
    """Which covariates alone separate a unit's outcomes, so that their conditional likelihood has no maximum.

    The likelihood grows without end in ``b_c`` when in every group the events have the largest total
    of covariate ``c`` any ``k`` of its rows could have (or, for ``-b_c``, the smallest): a flag that
    changes within only a few children, each graded higher exactly when flagged. Its estimate would
    run off to infinity and drag the Newton steps with it; such a covariate is not adjusted for.

    Returns
    -------
    numpy.ndarray
        ``(units, p)`` bool.
    """
    at_top = np.ones((units, p), dtype=bool)
    at_bottom = np.ones((units, p), dtype=bool)
    for bucket in buckets:
        rows, owner = bucket.flatten()
        first = np.searchsorted(np.sort(owner), np.arange(len(bucket.k)))  # where each group starts, sorted
        groups = len(bucket.k)
        for sign, at in ((1.0, at_top), (-1.0, at_bottom)):
            best = np.zeros((groups, p))
            for c in range(p):
                # The group's rows from the largest sign * x down: its first k are the largest total.
                order = np.lexsort((-sign * rows[:, c], owner))
                rank = np.arange(len(order)) - first[owner[order]]
                taken = rank < bucket.k[owner[order]]
                best[:, c] = np.bincount(owner[order][taken], weights=sign * rows[order, c][taken], minlength=groups)
            reached = sign * bucket.observed >= best - 1e-9 * (1 + np.abs(best))
            np.logical_and.at(at, bucket.unit, reached)
    return at_top | at_bottom


def fit_conditional_logit(y, X, groups, units=None, start=None, tol: float = 1e-10) -> ConditionalFit:
    """Conditional (fixed-effects) logistic regression: one intercept per group, conditioned out.

    The model ``logit P(y = 1) = a_group + X b`` fitted by its exact
    conditional likelihood given each group's number of events, which does not
    depend on the intercepts: each child is compared only with itself, so
    whatever is constant about the child (its history before the extract, how
    often it is flagged, its placement) cannot bias ``b``. The same likelihood
    as statsmodels ``ConditionalLogit`` (tested against it), vectorised over
    groups of about one number of events with analytic derivatives, and fitted by Newton-Raphson
    with step halving (the log-likelihood is concave): statsmodels' recursion
    in Python took 50 s here on a national year's 13,000 contributing
    children (and its Hessian is numerical).

    Parameters
    ----------
    y : array-like of 0/1
    X : array-like, (rows, covariates)
        No intercept: it is conditioned out.
    groups : array-like
        The group of each row (a child); anything :func:`pandas.factorize` takes.
    units : array-like, optional
        A separate model per unit (a force), all fitted in one pass; every
        group must lie within one unit. Default: one model.
    start : array-like, optional
        Starting values, ``(covariates,)`` or ``(units, covariates)``; default 0.
    tol : float
        Converged when the Newton decrement (the expected gain in
        log-likelihood) of every unit is below this.

    Returns
    -------
    ConditionalFit
        Unit ``i`` is the ``i``-th of ``pandas.factorize(units, sort=True)``.

    Examples
    --------
    Pairs of one event each: the conditional likelihood is a logistic
    regression of the event on the difference of the pair, so one pair in
    which the later episode is the event and one the other way round give
    a log odds ratio of 0, with variance 1 / (2 * 0.5 * 0.5) = 2.

    >>> fit = fit_conditional_logit([1, 0, 0, 1], [[0.0], [1.0], [0.0], [1.0]], ["a", "a", "b", "b"])
    >>> float(fit.params[0, 0]), int(fit.groups[0]), round(float(fit.cov[0, 0, 0]), 4)
    (0.0, 2, 2.0)
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    group = pd.factorize(groups if isinstance(groups, pd.MultiIndex) else pd.Index(groups))[0]
    unit = np.zeros(len(y), dtype=int) if units is None else pd.factorize(pd.Index(units), sort=True)[0]
    n_units = int(unit.max()) + 1 if len(unit) else 1
    p = X.shape[1]
    # Only groups with both outcomes carry information: the others' conditional likelihood is 1.
    events = np.bincount(group, weights=y)
    sizes = np.bincount(group, minlength=len(events))
    informative = ((events > 0) & (events < sizes))[group]
    y, X, group, unit = y[informative], X[informative], group[informative], unit[informative]
    first_rows = np.unique(group, return_index=True)[1]
    contributing_groups = np.bincount(unit[first_rows], minlength=n_units)
    contributing_rows = np.bincount(unit, minlength=n_units)
    contributing_events = np.bincount(unit, weights=y, minlength=n_units).astype(int)
    # A covariate constant within every group has no coefficient: leaving it out of the recursion
    # (whose cost grows with the square of the covariates) changes nothing else.
    varies = np.zeros(p, dtype=bool)
    if len(group):
        counts = np.bincount(group)
        for c in range(p):
            means = np.bincount(group, weights=X[:, c]) / np.maximum(counts, 1)
            varies[c] = np.abs(X[:, c] - means[group]).max() > 1e-12
    used = np.flatnonzero(varies)
    buckets = _bucket_groups(y, X[:, used], group, unit)
    keep = _select_covariates(buckets, n_units, len(used))
    separated = keep & _find_separated(buckets, n_units, len(used))
    keep &= ~separated
    beta = np.zeros((n_units, len(used)))
    if start is not None:
        beta[:] = np.broadcast_to(np.asarray(start, dtype=float), (n_units, p))[:, used]
        beta[~keep] = 0.0
    eye = np.eye(len(used))

    def derivatives(b, active, current=None):
        """The derivatives at ``b`` of the ``active`` units; the others' are kept from ``current``."""
        loglike, score, hessian = _unit_derivatives(buckets, b, None if active.all() else active)
        score = np.where(keep, score, 0.0)
        both = keep[:, :, None] & keep[:, None, :]
        # A covariate a unit cannot estimate is held at 0: its row of the system is the identity.
        information = np.where(both, -hessian, 0.0) + np.where(keep[:, :, None] | keep[:, None, :], 0.0, eye)
        made = (loglike, score, information)
        if current is None:
            return made
        return tuple(
            np.where(active.reshape(-1, *[1] * (new.ndim - 1)), new, old)
            for new, old in zip(made, current, strict=True)
        )

    loglike, score, information = derivatives(beta, np.ones(n_units, dtype=bool))
    converged = np.zeros(n_units, dtype=bool)
    iterations = 0
    for iterations in range(MAX_ITERATIONS + 1):  # noqa: B007 (the count is reported)
        step = np.linalg.solve(information, score[:, :, None])[:, :, 0]
        converged = np.einsum("up,up->u", score, step) < tol
        if converged.all() or iterations == MAX_ITERATIONS:
            break
        # A converged unit takes no step, so its derivatives stay as they are: only the others' are recomputed
        # (at ten years one force's slow climb to separation otherwise re-ran every force's groups each step).
        moving = ~converged
        factor = np.where(converged, 0.0, 1.0)
        for _halving in range(40):
            trial = beta + factor[:, None] * step
            new = derivatives(trial, moving, (loglike, score, information))
            worse = new[0] < loglike - 1e-12 * np.abs(loglike)
            if not worse.any():
                break
            factor = np.where(worse, factor / 2, factor)
        beta = trial
        # Separation along a combination of covariates, which the check by covariate misses: a
        # log odds ratio past 10 (22,000 times the odds) is a likelihood with no maximum.
        diverging = keep & (np.abs(beta) > DIVERGED)
        if diverging.any():
            separated |= diverging
            keep &= ~diverging
            beta[diverging] = 0.0
            new = derivatives(beta, diverging.any(axis=1), new)
        loglike, score, information = new
    params = np.zeros((n_units, p))
    params[:, used] = beta
    estimated = np.zeros((n_units, p), dtype=bool)
    estimated[:, used] = keep
    unbounded = np.zeros((n_units, p), dtype=bool)
    unbounded[:, used] = separated
    cov = np.full((n_units, p, p), np.nan)
    inverse = np.linalg.inv(information)
    both = keep[:, :, None] & keep[:, None, :]
    cov[np.ix_(np.arange(n_units), used, used)] = np.where(both, inverse, np.nan)
    return ConditionalFit(
        params=params,
        cov=cov,
        estimated=estimated,
        separated=unbounded,
        loglike=loglike,
        groups=contributing_groups,
        rows=contributing_rows,
        events=contributing_events,
        converged=converged,
        iterations=iterations,
    )


def count_earlier_episodes(episodes: pd.DataFrame) -> pd.Series:
    """Each episode's number of earlier episodes of the same child in the force, in order of report.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["F", "F", "F", "G"], "person_id": ["a", "a", "b", "a"],
    ...     "reported_at": pd.to_datetime(["2024-02-01", "2024-01-01", "2024-01-01", "2024-03-01"])})
    >>> count_earlier_episodes(e).tolist()
    [1, 0, 0, 0]
    """
    order = episodes.sort_values("reported_at", kind="stable")
    earlier = order.groupby([order["force_code"].astype(str), order["person_id"]], sort=False, observed=True).cumcount()
    return earlier.reindex(episodes.index).astype("int64")


def _select_outcome(episodes: pd.DataFrame, outcome: str) -> tuple[pd.Series, pd.Series]:
    """The episodes an outcome is modelled on, and the outcome of each (0/1)."""
    category = cast_to_text(episodes["category"])
    grade = cast_to_text(episodes["risk_initial"])
    graded = grade.isin(GRADES).fillna(False)
    absent = (category == "absent").fillna(False)
    if outcome == "medium_or_high":
        # Graded episodes, whatever their category: an "absent" episode is not graded medium or high.
        keep = graded
        event = is_graded_higher(episodes)
    elif outcome == "no_active_response":
        # A "missing" episode with no first grade cannot be told from one graded no apparent risk.
        keep = absent | ((category == "missing").fillna(False) & graded)
        event = has_no_active_response(episodes)
    else:
        raise ValueError(f"unknown desensitisation outcome {outcome!r}")
    keep = keep & episodes["age"].notna()
    return keep, event.astype(float)


def _band(z) -> np.ndarray:
    """Which side of the 95% and 99.8% two-sided limits a z lies."""
    z = np.asarray(z, dtype=float)
    z95, z998 = stats.norm.ppf(0.975), stats.norm.ppf(0.999)
    return np.select(
        [z > z998, z > z95, z < -z998, z < -z95], ["above_998", "above_95", "below_998", "below_95"], "within"
    )


def _why_not_fitted(fit: ConditionalFit, unit: int) -> str | None:
    """Why a unit's odds ratio is not reported, or None when it is. Names no count but the threshold."""
    if fit.groups[unit] == 0:
        return "not fitted: no child has two or more modelled episodes with both outcomes"
    if fit.groups[unit] < MIN_CHILDREN:
        return f"not fitted: fewer than {MIN_CHILDREN} children have two or more modelled episodes with both outcomes"
    if fit.separated[unit, 0]:
        return (
            "not fitted: the odds ratio is infinite (in every contributing child the outcome is seen only at the "
            "child's earliest or only at its latest modelled episodes)"
        )
    if not fit.estimated[unit, 0]:
        return (
            "not fitted: no contributing child's count of earlier episodes varies (each modelled episode is "
            f"at least its {EARLIER_CAP + 1}th)"
        )
    if not fit.converged[unit]:
        return "not fitted: the conditional likelihood did not converge"
    return None


def summarise_repeat_desensitisation(
    episodes: pd.DataFrame, case_mix: pd.DataFrame | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Whether later episodes of the same child are graded lower, or given no active response, more often.

    Within child: a conditional logistic regression grouped by child
    (:func:`fit_conditional_logit`) compares each child's episodes only with
    the same child's other episodes, so children who go missing often and are
    graded differently from the start do not make a trend. Covariate: the
    child's earlier episodes in the force (:func:`count_earlier_episodes`,
    capped at :data:`EARLIER_CAP`); adjusted for the episode's own recorded
    risk factors (those of :func:`toolkit.stats.consistency.describe_case_mix`)
    and age in years. A flag that never changes within a child is absorbed by
    the child's own baseline and gets no coefficient; one that alone
    separates a force's outcomes (flagged at exactly the episodes graded
    higher, in the few children whose flag changes) has no finite estimate
    and is left out of that force's model. Earlier episodes are
    those in the extract: a child's history before it is not seen (the
    child's baseline absorbs it, but the count starts at the extract's start).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes: ``force_code``, ``person_id``, ``reported_at``,
        ``category``, ``risk_initial``, ``age``, ``risk_factors`` (and
        ``looked_after`` for the case mix).
    case_mix : pandas.DataFrame, optional
        :func:`~toolkit.stats.consistency.describe_case_mix` of ``episodes``, when already computed.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        Two rows per force of the extract and for ``england_and_wales`` (the
        same model over every force's children, each a group of its own
        force), one per ``measure``:

        - ``medium_or_high``: first grade medium or high, among episodes with
          a first grade (``absent`` episodes count as not). Desensitisation
          shows as an odds ratio below 1 (band ``below_*``).
        - ``no_active_response``: recorded ``absent`` or first grade
          ``no_apparent_risk``. Desensitisation shows as an odds ratio above 1
          (band ``above_*``).

        Columns: ``children`` (contributing children: two or more modelled
        episodes, both outcomes; a count of children), ``episodes`` (their
        modelled episodes; a count of episodes), ``events`` (those of them with
        the outcome; a count of episodes), ``value`` (odds ratio per earlier
        episode) with ``lower`` and ``upper`` (Wald), ``log_odds``,
        ``std_error``, ``z``, ``band`` (``below_998``, ``below_95``,
        ``within``, ``above_95``, ``above_998``; ``not_estimable`` when not
        fitted), ``adjusted_for`` and ``method`` (why, when not fitted: fewer
        than :data:`MIN_CHILDREN` contributing children, or no variation in
        the count of earlier episodes).

    Examples
    --------
    Thirty children graded medium at their first episode and low at their
    second, and thirty the other way round: no trend within child.

    >>> n = 60
    >>> e = pd.DataFrame({"force_code": "E23000001", "person_id": np.repeat(np.arange(n), 2),
    ...     "reported_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.tile([0, 30], n), unit="D"),
    ...     "category": "missing", "risk_initial": ["medium", "low"] * 30 + ["low", "medium"] * 30,
    ...     "age": 15, "looked_after": "no", "risk_factors": None})
    >>> t = summarise_repeat_desensitisation(e).set_index(["force_code", "measure"])
    >>> row = t.loc[("E23000001", "medium_or_high")]
    >>> int(row["children"]), int(row["episodes"]), float(row["value"]), str(row["band"])
    (60, 120, 1.0, 'within')
    >>> t.loc[("E23000001", "no_active_response"), "method"]
    'not fitted: no child has two or more modelled episodes with both outcomes'
    """
    mix = case_mix if case_mix is not None else describe_case_mix(episodes)
    codes = cast_to_text(episodes["force_code"])
    force_number, forces = pd.factorize(codes, sort=True)
    forces = [str(code) for code in forces]
    # A child is a pseudonym within its force: the group is the pair (force, child), numbered once.
    child = (
        episodes.groupby([codes, episodes["person_id"]], sort=False, observed=True, dropna=False).ngroup().to_numpy()
    )
    design = pd.concat(
        [
            count_earlier_episodes(episodes).clip(upper=EARLIER_CAP).astype(float).rename("earlier_episodes"),
            episodes["age"].astype("float").rename("age"),
            mix[list(RISK_FACTORS)].astype(float),
        ],
        axis=1,
    )
    z_interval = stats.norm.ppf(0.5 + confidence / 2)
    rows = []
    for measure in DESENSITISATION_OUTCOMES:
        keep, event = _select_outcome(episodes, measure)
        keep = keep.to_numpy()
        y, X = event.to_numpy()[keep], design.to_numpy()[keep]
        national = fit_conditional_logit(y, X, child[keep])
        # Each force's model starts from the national estimates: a Newton step or two from there.
        by_force = fit_conditional_logit(y, X, child[keep], units=force_number[keep], start=national.params[0])
        modelled = np.unique(force_number[keep]).tolist()  # the forces by_force numbers, in order
        units = [(code, by_force, modelled.index(i) if i in modelled else None) for i, code in enumerate(forces)]
        for code, fit, unit in [*units, (NATIONAL, national, 0)]:
            row = {"force_code": code, "measure": measure, "children": 0, "episodes": 0, "events": 0}
            reason = "not fitted: the force has no modelled episode" if unit is None else None
            if unit is not None:
                row |= {
                    "children": int(fit.groups[unit]),
                    "episodes": int(fit.rows[unit]),
                    "events": int(fit.events[unit]),
                }
                reason = _why_not_fitted(fit, unit)
            if reason is None:
                log_odds, se = float(fit.params[unit, 0]), float(np.sqrt(fit.cov[unit, 0, 0]))
                row |= {
                    "log_odds": log_odds,
                    "std_error": se,
                    "value": np.exp(log_odds),
                    "lower": np.exp(log_odds - z_interval * se),
                    "upper": np.exp(log_odds + z_interval * se),
                    "z": log_odds / se,
                }
                adjusted = [
                    name for name, used in zip(design.columns[1:], fit.estimated[unit, 1:], strict=True) if used
                ]
                row["adjusted_for"] = "; ".join(adjusted) if adjusted else "nothing: no covariate varies within child"
                row["method"] = f"{DESENSITISATION_OUTCOMES[measure]}; {METHOD_CONDITIONAL}"
            else:
                row["adjusted_for"] = "not fitted"
                row["method"] = reason
            rows.append(row)
    columns = ["force_code", "measure", "children", "episodes", "events", "value", "lower", "upper"]
    table = pd.DataFrame(rows).reindex(columns=[*columns, "log_odds", "std_error", "z", "adjusted_for", "method"])
    for count in ("children", "episodes", "events"):
        table[count] = table[count].astype("int64")
    table["band"] = np.where(table["z"].isna(), "not_estimable", _band(table["z"].fillna(0)))
    return table[[*columns, "log_odds", "std_error", "z", "band", "adjusted_for", "method"]]


# --- Time to the next episode: how soon a child who has come back goes missing again --------------------

NEXT_WITHIN_DAYS = 28  # the published mark: reported again within 28 days of coming back
METHOD_NEXT = (
    "Kaplan-Meier (statsmodels) of days from a child's recorded return to the child's next report in the "
    "force, censored at the extract date after the child's last episode; episodes without a recorded return "
    "left out; a next report before the recorded return counts as 0 days; log-log 95% intervals"
)
METHOD_REPEATS_WITHIN = (
    "repeat episodes (beyond the child's first) whose previous episode has a recorded return, the share reported "
    "within {days} days of that return; Wilson 95% interval"
)


def measure_time_to_next(episodes: pd.DataFrame, extract_date) -> pd.DataFrame:
    """For every episode with a recorded return: the days until the child's next report in the force.

    Parameters
    ----------
    episodes : pandas.DataFrame
        ``force_code``, ``person_id``, ``reported_at``, ``returned_at``.
    extract_date : date or str
        The child's last episode is censored at its end (:attr:`toolkit.dates.ExtractDate.end`).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``episodes``, its returned episodes only: ``force_code``,
        ``days`` (to the next report, or to the extract date) and
        ``reported_again`` (false: censored).

    Examples
    --------
    Child ``a`` came back on 2 January and was reported again 9 days later;
    that episode has no return, so its gap is not measured; ``a``'s last
    return and ``b``'s are censored at the end of the extract date.

    >>> e = pd.DataFrame({"force_code": "E23000001", "person_id": ["a", "a", "a", "b"],
    ...     "reported_at": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-03-01", "2024-01-01"]),
    ...     "returned_at": pd.to_datetime(["2024-01-02", None, "2024-03-02", "2024-01-03"])})
    >>> gaps = measure_time_to_next(e, "2024-03-31")
    >>> gaps["days"].round(2).tolist(), gaps["reported_again"].tolist()
    ([9.0, 30.0, 89.0], [True, False, False])
    """
    limit = ExtractDate.parse(extract_date).end
    codes = cast_to_text(episodes["force_code"])
    order = episodes.assign(force_code=codes).sort_values(["force_code", "person_id", "reported_at"], kind="stable")
    following = order.groupby(["force_code", "person_id"], sort=False, observed=True)["reported_at"].shift(-1)
    returned = order["returned_at"].notna()
    again = following.notna()
    end = following.where(again, limit)
    days = ((end - order["returned_at"]).dt.total_seconds() / 86400).clip(lower=0)
    gaps = pd.DataFrame({"force_code": order["force_code"], "days": days, "reported_again": again})[returned]
    return gaps.reindex(episodes.index[episodes.index.isin(gaps.index)])


def _estimate_next_gap(days: np.ndarray, again: np.ndarray, within_days: float, confidence: float) -> dict:
    """Kaplan-Meier share reported again by ``within_days`` and median days, with intervals and reasons."""
    out = {
        "again_within": np.nan,
        "again_within_lower": np.nan,
        "again_within_upper": np.nan,
        "median_days": np.nan,
        "median_days_lower": np.nan,
        "median_days_upper": np.nan,
    }
    notes: list[str] = []
    if len(days) == 0:
        return out | {"notes": ["not computed: no episode has a recorded return"]}
    if not again.any():
        notes.append("no return was followed by another report: the share is 0 and its interval not computed")
        notes.append("median not reached: no return was followed by another report")
        return out | {"again_within": 0.0, "notes": notes}
    with warnings.catch_warnings():  # statsmodels warns on log(0) at S = 0 or 1; those limits are not used
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = SurvfuncRight(days, again.astype(int))
        median = fit.quantile(0.5)
        try:
            low, high = fit.quantile_ci(0.5, alpha=1 - confidence)
        except (ValueError, IndexError):
            low = high = None
    position = np.searchsorted(fit.surv_times, within_days, side="right") - 1
    survival, se = (1.0, 0.0) if position < 0 else (float(fit.surv_prob[position]), float(fit.surv_prob_se[position]))
    out["again_within"] = 1 - survival
    if 0 < survival < 1 and np.isfinite(se) and se > 0:
        # Interval for S on the log(-log) scale, which keeps it inside (0, 1), as time to return does.
        z = stats.norm.ppf(0.5 + confidence / 2)
        spread = z * se / (survival * abs(np.log(survival)))
        out["again_within_lower"] = 1 - survival ** np.exp(-spread)
        out["again_within_upper"] = 1 - survival ** np.exp(spread)
    elif survival == 1:
        notes.append(f"no return was followed by another report within {within_days:g} days: interval not computed")
    else:
        notes.append(f"every return was followed by another report within {within_days:g} days: interval not computed")
    if median is None or not np.isfinite(median):
        notes.append("median not reached: under half of the returns were followed by another report")
    else:
        out["median_days"] = float(median)
        if low is not None and np.isfinite(low):
            out["median_days_lower"] = float(low)
        if high is not None and np.isfinite(high):
            out["median_days_upper"] = float(high)
        else:
            notes.append("the median's upper limit is not reached")
    return out | {"notes": notes}


def summarise_time_to_next(
    episodes: pd.DataFrame, extract_date, within_days: float = NEXT_WITHIN_DAYS, confidence: float = 0.95
) -> pd.DataFrame:
    """How soon children who come back go missing again: per force and England and Wales.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes (``force_code``, ``person_id``, ``reported_at``, ``returned_at``).
    extract_date : date or str
    within_days : float, default 28
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per force of the extract and ``england_and_wales`` (pooled:
        children are counted within each force). Counts, all of episodes:
        ``returns`` (episodes with a recorded return: the Kaplan-Meier's
        subjects), ``reported_again`` (those followed by another report of the
        child in the force; the rest, ``censored``, are the child's last),
        ``repeat_episodes`` (beyond each child's first, as
        :func:`summarise_repeats`) and ``repeats_within_28d`` (repeat episodes
        reported within 28 days of the return from the child's previous
        episode). Figures: ``again_within_28d`` (1 - S(28 days)) with
        ``_lower`` and ``_upper`` (log-log); ``median_days`` with
        statsmodels' interval, when reached; ``repeats_within_28d_share``:
        ``repeats_within_28d`` over ``reported_again`` (the repeat episodes
        whose previous episode has a recorded return), with a Wilson interval.
        ``method`` names the methods, and says why a figure is not computed.
        (``28`` in the names is ``within_days``.)

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": "E23000001", "person_id": ["a", "a", "a", "b"],
    ...     "reported_at": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-03-01", "2024-01-01"]),
    ...     "returned_at": pd.to_datetime(["2024-01-02", None, "2024-03-02", "2024-01-03"])})
    >>> t = summarise_time_to_next(e, "2024-03-31").set_index("force_code")
    >>> t.loc["E23000001", ["returns", "reported_again", "censored", "repeat_episodes", "repeats_within_28d"]].tolist()
    [3, 1, 2, 2, 1]
    >>> round(float(t.loc["E23000001", "again_within_28d"]), 4), float(t.loc["E23000001", "repeats_within_28d_share"])
    (0.3333, 1.0)
    """
    tag = f"{within_days:g}d"
    gaps = measure_time_to_next(episodes, extract_date)
    codes = cast_to_text(episodes["force_code"])
    per_child = episodes.groupby([codes, episodes["person_id"]], observed=True, dropna=False).size()
    repeat_episodes = (per_child - 1).groupby(level=0, observed=True).sum()
    forces = sorted(str(code) for code in codes.unique())
    by_force = dict(tuple(gaps.groupby("force_code", observed=True)))
    rows = []
    for code in [*forces, NATIONAL]:
        mine = gaps if code == NATIONAL else by_force.get(code, gaps.iloc[:0])
        days, again = mine["days"].to_numpy(dtype=float), mine["reported_again"].to_numpy(dtype=bool)
        estimate = _estimate_next_gap(days, again, within_days, confidence)
        notes = estimate.pop("notes")
        within = int((again & (days <= within_days)).sum())
        repeats = int(repeat_episodes.sum() if code == NATIONAL else repeat_episodes.get(code, 0))
        if not again.any() and len(days):
            notes.append("repeat share not computed: no repeat episode follows a recorded return")
        rows.append(
            {
                "force_code": code,
                "returns": len(days),
                "reported_again": int(again.sum()),
                "censored": int((~again).sum()),
                **{key.replace("again_within", f"again_within_{tag}"): value for key, value in estimate.items()},
                "repeat_episodes": repeats,
                f"repeats_within_{tag}": within,
                "notes": notes,
            }
        )
    table = pd.DataFrame(rows)
    share = proportion_interval(table[f"repeats_within_{tag}"], table["reported_again"], confidence=confidence)
    table[f"repeats_within_{tag}_share"] = share["value"].to_numpy()
    table[f"repeats_within_{tag}_share_lower"] = share["lower"].to_numpy()
    table[f"repeats_within_{tag}_share_upper"] = share["upper"].to_numpy()
    method = f"{METHOD_NEXT}; {METHOD_REPEATS_WITHIN.format(days=f'{within_days:g}')}"
    table["method"] = [
        notes[0] if notes and notes[0].startswith("not computed") else "; ".join([method, *notes])
        for notes in table.pop("notes")
    ]
    for count in ("returns", "reported_again", "censored", "repeat_episodes", f"repeats_within_{tag}"):
        table[count] = table[count].astype("int64")
    return table
