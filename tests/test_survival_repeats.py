"""Time to return, repeat missing, desensitisation and time to the next episode: textbook values,
independent implementations, published shares, planted effects, degenerate inputs."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, special, stats
from scipy.special import logsumexp
from statsmodels.stats.proportion import proportion_confint
from statsmodels.tools.numdiff import approx_hess

from toolkit.forces import NATIONAL
from toolkit.stats import repeats, survival


def test_kaplan_meier_matches_the_hand_calculation():
    # Events at 1, 2, 3, 5; censored at 2 and 4: S = 5/6, 2/3, 4/9, 0.
    km = survival.kaplan_meier([1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 1])
    assert km["within_2h"] == pytest.approx(1 - 2 / 3)
    assert km["median_hours"] == 3
    assert km["within_168h"] == pytest.approx(1.0)


def test_all_censored_and_empty_groups_are_defined():
    km = survival.kaplan_meier([5, 10, 20], [0, 0, 0])
    assert np.isnan(km["median_hours"]) and km["within_8h"] == 0 and km["returned"] == 0
    assert np.isnan(survival.kaplan_meier([], [])["within_8h"])
    one = survival.kaplan_meier([3.5], [1])
    assert one["median_hours"] == 3.5 and one["within_8h"] == 1


def test_return_curves_hold_every_hour_the_reports_table_reads():
    """The report's table of returns reads the curve at 1 hour; a grid of every second hour read it as 0%."""
    from toolkit.publish.plots import _RETURN_HOURS, _step_values

    reported = pd.Timestamp("2024-03-01 10:00")
    hours = [0.5, 0.75, 1.5, 3.0, 30.0]
    episodes = pd.DataFrame(
        {
            "force_code": "E23000014",
            "reported_at": [reported] * 5,
            "returned_at": [reported + pd.Timedelta(hours=h) for h in hours],
        }
    )
    curves = survival.tabulate_return_curves(episodes, "2024-12-31")
    force = curves[curves["force_code"] == "E23000014"]
    assert set(_RETURN_HOURS) <= set(force["hours"])
    shown = dict(zip(_RETURN_HOURS, _step_values(force, _RETURN_HOURS), strict=True))
    assert shown[1] == pytest.approx(2 / 5)  # two of five episodes ended within the first hour
    assert shown[2] == pytest.approx(3 / 5) and shown[24] == pytest.approx(4 / 5) and shown[48] == 1.0


def test_national_shares_reproduce_the_published_time_to_return(national_year):
    episodes, truth = national_year
    table = survival.summarise_time_to_return(episodes, truth["extract_date"])
    national = table[table["force_code"] == NATIONAL].iloc[0]
    assert national["within_8h"] == pytest.approx(0.47, abs=0.03)  # NCA 2016/17
    assert national["within_48h"] == pytest.approx(0.87, abs=0.03)
    assert 1 - national["within_168h"] == pytest.approx(0.03, abs=0.03)
    assert national["within_8h_lower"] < national["within_8h"] < national["within_8h_upper"]
    assert len(table) == 44


def test_breakdown_by_risk_grade_and_censoring(national_year):
    episodes, truth = national_year
    sample = episodes[episodes["force_code"].isin(["E23000014", "E23000002"])]
    table = survival.summarise_time_to_return(sample, truth["extract_date"], by="risk_initial")
    assert set(table["risk_initial"]) == {"no_apparent_risk", "low", "medium", "high"}
    durations = survival.episode_durations(sample, truth["extract_date"])
    assert (durations.loc[~durations["returned"], "hours"] > 0).all()


def test_repeats_reproduce_the_published_repeat_share(national_year):
    episodes, _ = national_year
    table = repeats.summarise_repeats(episodes)
    national = table[table["force_code"] == NATIONAL].iloc[0]
    children = episodes.groupby(["force_code", "person_id"]).ngroups
    assert national["children"] == children
    # Repeats are the episodes beyond each child's first: at the generator's 2.1 episodes per child
    # (NCA 2014/15), 1 - 1/2.1 = 52% of episodes. (The generator's own "63% repeats" counts every
    # episode of a child missing twice or more, the definition this table no longer uses.)
    assert national["repeat_episodes"] == len(episodes) - children
    assert national["repeat_share"] == pytest.approx(1 - children / len(episodes))
    assert national["repeat_share"] == pytest.approx(1 - 1 / 2.1, abs=0.03)
    assert (table["repeat_episodes"] == table["episodes"] - table["children"]).all()
    assert table.drop(table.index[-1])["episodes"].sum() == len(episodes)
    assert (table["children_3_plus"] <= table["children_2_plus"]).all()
    assert (table["frequently_missing"] <= table["children_3_plus"]).all()


def test_frequently_missing_rule_is_configurable():
    episodes = pd.DataFrame(
        {
            "force_code": ["E23000001"] * 4,
            "person_id": ["a", "a", "a", "b"],
            "reported_at": pd.to_datetime(["2024-01-01", "2024-02-15", "2024-04-20", "2024-01-01"]),
        }
    )
    assert repeats.flag_frequently_missing(episodes).sum() == 0  # 3 within 90 days: no (110 days)
    assert repeats.flag_frequently_missing(episodes, {"episodes": 3, "days": 120}).sum() == 1
    assert repeats.flag_frequently_missing(episodes, {"episodes": 2, "days": 50}).sum() == 1
    with pytest.raises(ValueError):
        repeats.flag_frequently_missing(episodes, {"episodes": 1, "days": 10})


def test_repeat_episodes_are_the_episodes_beyond_each_childs_first():
    """Hand-worked: one child missing three times and one once has 2 repeats of 4 episodes, not 3 of 4."""
    episodes = pd.DataFrame(
        {
            "force_code": ["E23000001"] * 4 + ["E23000002"] * 3,
            "person_id": ["a", "a", "a", "b", "c", "d", "e"],
            "reported_at": pd.to_datetime(
                ["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-05"] + ["2024-01-01"] * 3
            ),
        }
    )
    table = repeats.summarise_repeats(episodes).set_index("force_code")
    assert table.loc["E23000001", ["episodes", "children", "repeat_episodes"]].tolist() == [4, 2, 2]
    assert table.loc["E23000001", "repeat_share"] == pytest.approx(0.5)
    assert table.loc["E23000002", "repeat_episodes"] == 0 and table.loc["E23000002", "repeat_share"] == 0
    assert table.loc[NATIONAL, "repeat_episodes"] == 2 and table.loc[NATIONAL, "repeat_share"] == pytest.approx(2 / 7)
    lower, upper = proportion_confint(2, 7, method="wilson")
    assert table.loc[NATIONAL, ["repeat_share_lower", "repeat_share_upper"]].tolist() == pytest.approx([lower, upper])
    assert pd.api.types.is_integer_dtype(table["repeat_episodes"])


# --- Desensitisation: the conditional logistic regression and its table -----------------------------------


def _brute_force_loglike(beta, y, X, groups):
    """The exact conditional log-likelihood by enumerating every subset of each group's size of events."""
    total = 0.0
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        k = int(y[rows].sum())
        if 0 < k < len(rows):
            eta = X[rows] @ beta
            subsets = [eta[list(s)].sum() for s in itertools.combinations(range(len(rows)), k)]
            total += eta[y[rows] == 1].sum() - logsumexp(subsets)
    return total


def _random_groups(rng, groups=60, most=6, p=3):
    sizes = rng.integers(1, most + 1, groups)
    group = np.repeat(np.arange(groups), sizes)
    X = np.c_[rng.normal(size=(len(group), p - 1)), rng.integers(0, 2, len(group))]
    linear = rng.normal(0, 1.5, groups)[group] + X @ rng.normal(0, 0.7, p)
    y = (rng.random(len(group)) < special.expit(linear)).astype(float)
    return y, X, group


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_conditional_likelihood_and_derivatives_match_brute_force_enumeration(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    y, X, group = _random_groups(rng, groups=60, most=12)
    beta = rng.normal(0, 0.8, X.shape[1])
    # Depths coarser than the shipped grid (1, 2, 4, 8: groups of 3 and 4 events share a bucket), and buckets
    # small enough to be split: the recursion runs past the end of most groups and deeper than some need.
    monkeypatch.setattr(repeats, "_depth_classes", lambda k: 2 ** np.ceil(np.log2(np.maximum(k, 1))).astype(int))
    monkeypatch.setattr(repeats, "BUCKET_CELLS", 40)
    buckets = repeats._bucket_groups(y, X, group, np.zeros(len(y), dtype=int))
    depths = [set(repeats._depth_classes(bucket.k).tolist()) for bucket in buckets]
    assert all(len(depth) == 1 for depth in depths) and len(buckets) > len(set().union(*depths))
    assert any(len(set(bucket.k.tolist())) > 1 for bucket in buckets)
    steps = [[len(x) for x in bucket.x] for bucket in buckets]  # groups longer than each row, largest first
    assert all(rows == sorted(rows, reverse=True) for rows in steps) and any(rows[0] > rows[-1] for rows in steps)
    loglike, score, hessian = repeats._unit_derivatives(buckets, beta[None, :])
    exact = _brute_force_loglike(beta, y, X, group)
    assert loglike[0] == pytest.approx(exact, rel=1e-10)
    numeric_score = optimize.approx_fprime(beta, _brute_force_loglike, 1e-6, y, X, group)
    assert score[0] == pytest.approx(numeric_score, rel=1e-4, abs=1e-4)
    numeric_hessian = approx_hess(beta, _brute_force_loglike, args=(y, X, group))
    assert hessian[0] == pytest.approx(numeric_hessian, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_conditional_logit_matches_statsmodels_and_scipy_on_the_exact_likelihood(seed):
    from statsmodels.discrete.conditional_models import ConditionalLogit

    rng = np.random.default_rng(seed)
    y, X, group = _random_groups(rng, groups=80)
    fit = repeats.fit_conditional_logit(y, X, group)
    assert fit.converged.all() and fit.estimated.all()
    # scipy's optimiser on the enumerated likelihood: an implementation that shares nothing with the fit.
    best = optimize.minimize(lambda b: -_brute_force_loglike(b, y, X, group), np.zeros(X.shape[1]), method="BFGS")
    assert fit.params[0] == pytest.approx(best.x, abs=1e-4)
    assert fit.loglike[0] == pytest.approx(-best.fun, rel=1e-8)
    variance = np.linalg.inv(-approx_hess(fit.params[0], _brute_force_loglike, args=(y, X, group)))
    assert np.diag(fit.cov[0]) == pytest.approx(np.diag(variance), rel=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels says it dropped the groups without variation
        reference = ConditionalLogit(y, X, groups=group).fit(method="newton", maxiter=50)
    assert fit.params[0] == pytest.approx(reference.params, abs=1e-6)
    assert np.sqrt(np.diag(fit.cov[0])) == pytest.approx(reference.bse, rel=1e-4)
    informative = pd.Series(y).groupby(group).agg(lambda v: 0 < v.sum() < len(v))
    assert fit.groups[0] == informative.sum() and fit.rows[0] == reference.nobs


def test_pairs_give_the_logistic_regression_on_their_differences():
    """Pairs with one event each: P(the event is the one it is) = expit((x_event - x_other) b), by hand."""
    rng = np.random.default_rng(8)
    pairs = 300
    X = rng.normal(size=(2 * pairs, 2))
    group = np.repeat(np.arange(pairs), 2)
    first_is_event = rng.random(pairs) < special.expit((X[0::2] - X[1::2]) @ [0.8, -0.4])
    y = np.empty(2 * pairs)
    y[0::2], y[1::2] = first_is_event, ~first_is_event
    diff = np.where(first_is_event[:, None], X[0::2] - X[1::2], X[1::2] - X[0::2])

    def minus_loglike(b):
        return -np.log(special.expit(diff @ b)).sum()

    best = optimize.minimize(minus_loglike, np.zeros(2), method="BFGS", options={"gtol": 1e-10})
    p = special.expit(diff @ best.x)
    information = (diff * (p * (1 - p))[:, None]).T @ diff  # the pairs likelihood's information, by hand
    fit = repeats.fit_conditional_logit(y, X, group)
    assert fit.params[0] == pytest.approx(best.x, abs=1e-6)
    assert fit.cov[0] == pytest.approx(np.linalg.inv(information), rel=1e-6)


def test_a_group_deeper_than_a_bucket_holds_is_a_bucket_of_its_own(monkeypatch):
    """One child with more events than a bucket has cells (a force whose every pseudonym is missing is one such
    group): one part, not an empty one, and the same fit as with room to spare."""
    rng = np.random.default_rng(12)
    y, X, group = _random_groups(rng, groups=30)
    deep = np.r_[np.ones(12), np.zeros(12)]
    y, X, group = np.r_[y, deep], np.r_[X, rng.normal(size=(24, X.shape[1]))], np.r_[group, np.full(24, 999)]
    roomy = repeats.fit_conditional_logit(y, X, group)
    monkeypatch.setattr(repeats, "BUCKET_CELLS", 4)
    buckets = repeats._bucket_groups(y, X, group, np.zeros(len(y), dtype=int))
    assert all(len(bucket.k) > 0 for bucket in buckets) and any(bucket.k.tolist() == [12] for bucket in buckets)
    tight = repeats.fit_conditional_logit(y, X, group)
    assert tight.params[0] == pytest.approx(roomy.params[0], abs=1e-10)
    assert tight.cov[0] == pytest.approx(roomy.cov[0], rel=1e-8)


def test_a_covariate_constant_within_one_units_children_is_not_estimated_there_only():
    """A flag that changes within the children of unit "a" and never within those of "b": estimated for "a",
    held at 0 for "b" (each unit's own rows decide), and "b"'s other estimates those of "b" fitted without it."""
    rng = np.random.default_rng(13)
    y1, X1, g1 = _random_groups(rng, groups=80)
    y2, X2, g2 = _random_groups(rng, groups=80)
    X2[:, 2] = (g2 % 2).astype(float)  # constant within each of "b"'s children
    both = repeats.fit_conditional_logit(
        np.r_[y1, y2], np.r_[X1, X2], np.r_[g1, g2 + 1000], units=np.r_[["a"] * len(y1), ["b"] * len(y2)]
    )
    assert both.estimated[0].tolist() == [True, True, True]
    assert both.estimated[1].tolist() == [True, True, False] and both.params[1, 2] == 0.0
    alone = repeats.fit_conditional_logit(y2, X2[:, :2], g2)
    assert both.params[1, :2] == pytest.approx(alone.params[0], abs=1e-8)


def test_units_are_fitted_as_separate_models_in_one_pass():
    rng = np.random.default_rng(9)
    y1, X1, g1 = _random_groups(rng, groups=50)
    y2, X2, g2 = _random_groups(rng, groups=70)
    both = repeats.fit_conditional_logit(
        np.r_[y1, y2], np.r_[X1, X2], np.r_[g1, g2 + 1000], units=np.r_[["b"] * len(y1), ["a"] * len(y2)]
    )
    alone = [repeats.fit_conditional_logit(y, X, g) for y, X, g in ((y2, X2, g2), (y1, X1, g1))]  # "a" first
    for unit, fit in enumerate(alone):
        assert both.params[unit] == pytest.approx(fit.params[0], abs=1e-8)
        assert both.cov[unit] == pytest.approx(fit.cov[0], rel=1e-8)
        assert both.groups[unit] == fit.groups[0]


def test_a_converged_unit_is_not_recomputed_while_another_is_still_moving(monkeypatch):
    """Started at its own estimates, unit "a" has converged at once; "b" takes Newton steps from 0. Every
    likelihood evaluation after the first is of "b"'s groups alone (at ten years, one force's slow climb had
    every force's groups recomputed at each step), and the estimates are those of each unit fitted alone."""
    rng = np.random.default_rng(11)
    y1, X1, g1 = _random_groups(rng, groups=60)
    y2, X2, g2 = _random_groups(rng, groups=60)
    alone = [repeats.fit_conditional_logit(y, X, g) for y, X, g in ((y1, X1, g1), (y2, X2, g2))]
    evaluations = []  # the units whose groups each evaluation of the likelihood went through
    by_unit, by_bucket = repeats._unit_derivatives, repeats._bucket_derivatives

    def record_evaluation(*args):
        evaluations.append(set())
        return by_unit(*args)

    def record_bucket(bucket, beta):
        evaluations[-1].update(bucket.unit.tolist())
        return by_bucket(bucket, beta)

    monkeypatch.setattr(repeats, "_unit_derivatives", record_evaluation)
    monkeypatch.setattr(repeats, "_bucket_derivatives", record_bucket)
    start = np.vstack([alone[0].params[0], np.zeros(X1.shape[1])])
    fit = repeats.fit_conditional_logit(
        np.r_[y1, y2], np.r_[X1, X2], np.r_[g1, g2 + 1000], units=np.r_[["a"] * len(y1), ["b"] * len(y2)], start=start
    )
    assert fit.iterations >= 3 and fit.converged.all()
    assert evaluations[0] == {0, 1} and len(evaluations) > 3
    assert all(units == {1} for units in evaluations[1:])
    for unit, one in enumerate(alone):
        assert fit.params[unit] == pytest.approx(one.params[0], abs=1e-8)
        assert fit.cov[unit] == pytest.approx(one.cov[0], rel=1e-8)


def test_a_covariate_that_separates_the_outcomes_is_left_out_not_run_to_infinity():
    rng = np.random.default_rng(10)
    y, X, group = _random_groups(rng, groups=200)
    events = pd.Series(y).groupby(group).transform("sum").to_numpy()
    sizes = pd.Series(y).groupby(group).transform("size").to_numpy()
    flag = np.zeros(len(y))
    # Flagged at three episodes graded higher of children also graded lower: the likelihood grows without end.
    flag[np.flatnonzero((y == 1) & (events > 0) & (events < sizes))[:3]] = 1
    fit = repeats.fit_conditional_logit(y, np.c_[X, flag], group)
    assert fit.converged.all() and fit.separated[0].tolist() == [False, False, False, True]
    assert not fit.estimated[0, 3] and np.isnan(fit.cov[0, 3, 3])
    alone = repeats.fit_conditional_logit(y, X, group)
    assert fit.params[0, :3] == pytest.approx(alone.params[0], abs=1e-8)


def _simulate_children(seed, slope, children=900, confounding=-0.3):
    """Episodes of children whose grade falls (slope < 0) with each earlier episode, within child.

    Children who go missing more often are graded lower at every episode (``confounding`` per episode
    of the child): a pooled comparison would read that as desensitisation, a within-child one must not.
    Two forces share the same pseudonyms, which are different children.
    """
    rng = np.random.default_rng(seed)
    count = 1 + rng.poisson(2.5, children)
    child = np.repeat(np.arange(children), count)
    earlier = np.concatenate([np.arange(n) for n in count])
    baseline = rng.normal(0, 1.2, children) + confounding * count
    flagged = rng.random(len(child)) < 0.3  # recorded at some episodes of a child, not others
    age = np.repeat(rng.integers(12, 17, children), count) + (earlier >= 3)
    linear = baseline[child] + slope * np.minimum(earlier, 4) + 0.8 * flagged + 0.1 * (age - 15)
    higher = rng.random(len(child)) < special.expit(linear)
    return pd.DataFrame(
        {
            "force_code": np.where(child % 2 == 0, "E23000001", "W15000004"),
            "person_id": (child // 2).astype(str),
            "reported_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(earlier * 20 + child % 7, unit="D"),
            "category": "missing",
            "risk_initial": np.where(higher, "medium", "low"),
            "age": age,
            "looked_after": "no",
            "risk_factors": np.where(flagged, "cse", None),
        }
    )


def test_a_planted_slope_is_recovered_within_its_interval_and_a_null_one_is_not_found():
    planted = np.log(0.75)
    covered, found_null, pooled_found = 0, 0, 0
    seeds = range(20)
    for seed in seeds:
        table = repeats.summarise_repeat_desensitisation(_simulate_children(seed, planted))
        national = table.set_index(["force_code", "measure"]).loc[(NATIONAL, "medium_or_high")]
        covered += national["lower"] <= np.exp(planted) <= national["upper"]
        null_episodes = _simulate_children(100 + seed, 0.0)
        null = repeats.summarise_repeat_desensitisation(null_episodes).set_index(["force_code", "measure"])
        found_null += null.loc[(NATIONAL, "medium_or_high"), "band"] in ("below_998", "above_998")
        # A pooled logistic regression, children not told apart, reads the confounding as a trend.
        earlier = repeats.count_earlier_episodes(null_episodes).clip(upper=4)
        higher = (null_episodes["risk_initial"] == "medium").astype(float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pooled = sm.Logit(higher, sm.add_constant(earlier.astype(float))).fit(disp=0)
        pooled_found += pooled.pvalues.iloc[1] < 0.002
    assert covered >= 17  # a 95% interval covers the truth 19 times in 20, give or take
    assert found_null <= 1  # beyond 99.8%: 1 in 500 expected
    assert pooled_found >= 15  # the confounding is strong enough to mislead a pooled model
    # One planted fit, end to end: the table's figures.
    table = repeats.summarise_repeat_desensitisation(_simulate_children(0, planted)).set_index(
        ["force_code", "measure"]
    )
    national = table.loc[(NATIONAL, "medium_or_high")]
    assert national["band"] == "below_998" and national["value"] == pytest.approx(0.75, abs=0.08)
    assert national["adjusted_for"] == "age; cse"
    assert national["z"] == pytest.approx(np.log(national["value"]) / national["std_error"])
    z = stats.norm.ppf(0.975)
    assert national["lower"] == pytest.approx(np.exp(national["log_odds"] - z * national["std_error"]))


def test_the_desensitisation_table_has_every_force_and_groups_children_within_their_force():
    episodes = _simulate_children(3, np.log(0.75))
    table = repeats.summarise_repeat_desensitisation(episodes)
    assert len(table) == 2 * 3 and set(table["measure"]) == set(repeats.DESENSITISATION_OUTCOMES)
    assert all(pd.api.types.is_integer_dtype(table[c]) for c in ("children", "episodes", "events"))
    graded = table[table["measure"] == "medium_or_high"].set_index("force_code")
    # Child "0" of one force is not child "0" of the other: the national model has both forces' children.
    assert graded.loc[NATIONAL, "children"] == graded.loc[["E23000001", "W15000004"], "children"].sum()
    assert graded.loc[NATIONAL, "episodes"] == graded.loc[["E23000001", "W15000004"], "episodes"].sum()
    per_child = episodes.groupby(["force_code", "person_id"])["risk_initial"].agg(
        lambda g: len(g) >= 2 and g.nunique() == 2
    )
    assert graded.loc[NATIONAL, "children"] == per_child.sum()
    assert (graded["events"] < graded["episodes"]).all()
    # No absent episode and no "no apparent risk" grade: nothing to fit, and the reason says so.
    inactive = table[table["measure"] == "no_active_response"]
    assert (inactive["band"] == "not_estimable").all() and inactive["value"].isna().all()
    assert (inactive["children"] == 0).all()
    assert inactive["method"].str.startswith("not fitted: no child").all()


def test_fewer_than_20_contributing_children_are_not_fitted_and_absent_counts_as_not_higher():
    episodes = _simulate_children(4, np.log(0.75), children=400)
    small = episodes[episodes["person_id"].astype(int) < 25].copy()
    small.loc[small.index[::5], ["category", "risk_initial"]] = ["absent", "no_apparent_risk"]
    table = repeats.summarise_repeat_desensitisation(small).set_index(["force_code", "measure"])
    row = table.loc[("E23000001", "medium_or_high")]
    assert 0 < row["children"] < repeats.MIN_CHILDREN and np.isnan(row["value"]) and row["band"] == "not_estimable"
    assert row["method"] == "not fitted: fewer than 20 children have two or more modelled episodes with both outcomes"
    # "absent" episodes are graded episodes that are not medium or high; in the other outcome they are events.
    keep, event = repeats._select_outcome(small, "medium_or_high")
    absent = small["category"] == "absent"
    assert keep[absent].all() and (event[absent] == 0).all()
    keep, event = repeats._select_outcome(small, "no_active_response")
    assert keep[absent].all() and (event[absent] == 1).all() and (event[~absent] == 0).all()


def test_desensitisation_on_a_national_year_is_found_where_planted_and_nowhere_else(national_year):
    """The generator grades each episode without regard to the child's earlier ones, except in the force the demo
    plan makes treat repeat children with less urgency each time (and the one that leaves out earlier flags,
    grading those episodes low): a null for every other force."""
    episodes, truth = national_year
    table = repeats.summarise_repeat_desensitisation(episodes)
    assert len(table) == 2 * 44 and set(table["force_code"]) == set(episodes["force_code"].astype(str)) | {NATIONAL}
    planted = {p["effect"]: p["force_code"] for p in truth["planted"]}
    rows = table.set_index(["force_code", "measure"])
    desensitised = planted["repeat_desensitisation"]
    assert rows.loc[(desensitised, "medium_or_high"), "band"] == "below_998"
    assert rows.loc[(desensitised, "no_active_response"), "band"] == "above_998"
    later = {desensitised, planted["flags_underrecorded"], NATIONAL}
    fitted = table[(table["band"] != "not_estimable") & ~table["force_code"].isin(later)]
    assert len(fitted) >= 76
    assert fitted["band"].isin(["below_998", "above_998"]).sum() <= 2  # 0.15 expected of 76
    assert (~fitted["band"].eq("within")).sum() <= 10  # 3.8 expected beyond 95%
    national = table[table["force_code"] == NATIONAL].set_index("measure")
    assert (national["children"] > 10_000).all()


# --- Time to the next episode ----------------------------------------------------------------------------


def _km_by_hand(days, events, t):
    """Product-limit estimate of S(t), written out: at each event time, (at risk - events) / at risk."""
    survival = 1.0
    for u in np.unique(days[events & (days <= t)]):
        at_risk = (days >= u).sum()
        survival *= 1 - (events & (days == u)).sum() / at_risk
    return survival


def test_time_to_next_matches_a_hand_worked_case():
    """Child a: back 2 Jan, reported 11 Jan (9 days); back 12 Jan, reported 1 Mar (49 days); back 2 Mar, last.

    Child b: back 3 Jan, last. Child c: its one episode has no return and is left out. Days to the end of
    31 March: a's last 30, b's 89. KM: 9 (event, 4 at risk), 30 (censored), 49 (event, 2 at risk), 89:
    S(28) = 3/4; S(49) = 3/4 * 1/2 = 3/8, so the median is 49 days.
    """
    episodes = pd.DataFrame(
        {
            "force_code": "E23000001",
            "person_id": ["a", "a", "a", "b", "c"],
            "reported_at": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-03-01", "2024-01-01", "2024-01-05"]),
            "returned_at": pd.to_datetime(["2024-01-02", "2024-01-12", "2024-03-02", "2024-01-03", None]),
        }
    )
    table = repeats.summarise_time_to_next(episodes, "2024-03-31").set_index("force_code")
    row = table.loc["E23000001"]
    counts = ["returns", "reported_again", "censored", "repeat_episodes", "repeats_within_28d"]
    assert row[counts].tolist() == [4, 2, 2, 2, 1]
    assert row["again_within_28d"] == pytest.approx(1 / 4)
    assert row["median_days"] == pytest.approx(49)
    assert row["repeats_within_28d_share"] == pytest.approx(1 / 2)
    lower, upper = proportion_confint(1, 2, method="wilson")
    assert [row["repeats_within_28d_share_lower"], row["repeats_within_28d_share_upper"]] == pytest.approx(
        [lower, upper]
    )
    assert row["again_within_28d_lower"] < 1 / 4 < row["again_within_28d_upper"]
    assert table.loc[NATIONAL, counts].tolist() == row[counts].tolist()
    assert all(pd.api.types.is_integer_dtype(table[c]) for c in counts)


@pytest.mark.parametrize("seed", range(5))
def test_time_to_next_matches_an_independent_kaplan_meier_at_random_inputs(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 300))
    episodes = pd.DataFrame(
        {
            "force_code": rng.choice(["E23000001", "E23000002"], n),
            "person_id": rng.integers(0, n // 3, n).astype(str),
            # Whole days, so that gaps tie and the estimator's handling of ties is tested.
            "reported_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 330, n), unit="D"),
        }
    )
    episodes["returned_at"] = (episodes["reported_at"] + pd.Timedelta(hours=1)).where(rng.random(n) < 0.8)
    table = repeats.summarise_time_to_next(episodes, "2024-12-31").set_index("force_code")
    for code, mine in [*episodes.groupby("force_code"), (NATIONAL, episodes)]:
        rows = []
        for _, child in mine.groupby(["force_code", "person_id"]):
            child = child.sort_values("reported_at", kind="stable")  # ties in the extract's order, as the table
            following = child["reported_at"].shift(-1)
            for back, after in zip(child["returned_at"], following, strict=True):
                if pd.notna(back):
                    end = after if pd.notna(after) else pd.Timestamp("2024-12-31 23:59:59.999999")
                    rows.append((max((end - back).total_seconds() / 86400, 0), pd.notna(after)))
        days, events = np.array([r[0] for r in rows]), np.array([r[1] for r in rows], dtype=bool)
        row = table.loc[code]
        assert row["returns"] == len(days) and row["reported_again"] == events.sum()
        assert row["again_within_28d"] == pytest.approx(1 - _km_by_hand(days, events, 28))
        # The median: the first event time at which the product-limit estimate is at or below a half.
        halves = [u for u in np.unique(days[events]) if _km_by_hand(days, events, u) <= 0.5]
        assert row["median_days"] == pytest.approx(halves[0]) if halves else np.isnan(row["median_days"])
        assert row["repeats_within_28d"] == (events & (days <= 28)).sum()
        repeat_episodes = len(mine) - mine.groupby(["force_code", "person_id"]).ngroups
        assert row["repeat_episodes"] == repeat_episodes and row["reported_again"] <= repeat_episodes
        assert row["reported_again"] + row["censored"] == row["returns"]


def test_time_to_next_on_a_national_year_gives_every_force_a_row(national_year):
    episodes, truth = national_year
    episodes = episodes.copy()
    silent = "W15000004"
    episodes.loc[episodes["force_code"] == silent, "returned_at"] = pd.NaT  # a force that records no return
    table = repeats.summarise_time_to_next(episodes, truth["extract_date"]).set_index("force_code")
    assert len(table) == 44
    assert table.loc[silent, ["returns", "reported_again", "repeats_within_28d"]].tolist() == [0, 0, 0]
    assert table.loc[silent, "method"] == "not computed: no episode has a recorded return"
    assert np.isnan(table.loc[silent, "again_within_28d"]) and np.isnan(table.loc[silent, "repeats_within_28d_share"])
    others = table.drop(index=[silent, NATIONAL])
    assert table.loc[NATIONAL, "returns"] == others["returns"].sum()
    # A force of a handful of children, none reported twice, has a share of 0 without an interval, and says so.
    never = others[others["reported_again"] == 0]
    assert (never["again_within_28d"] == 0).all() and never["again_within_28d_lower"].isna().all()
    assert never["method"].str.contains("no return was followed by another report").all()
    others = others[others["reported_again"] > 0]
    assert len(others) >= 40
    assert (others["again_within_28d_lower"] < others["again_within_28d"]).all()
    assert (others["again_within_28d"] < others["again_within_28d_upper"]).all()
    summary = repeats.summarise_repeats(episodes).set_index("force_code")
    assert (table["repeat_episodes"] == summary.loc[table.index, "repeat_episodes"]).all()
    assert (table["reported_again"] <= table["repeat_episodes"]).all()
    assert 0 < table.loc[NATIONAL, "again_within_28d"] < 1 and table.loc[NATIONAL, "median_days"] > 28
