"""The consistency models recover planted variation and name the planted forces."""

import numpy as np
import pandas as pd
import pytest

from toolkit.errors import ToolkitError
from toolkit.stats import consistency
from toolkit.synthetic import generator

LANCASHIRE, SOUTH_YORKSHIRE, HUMBERSIDE = "E23000003", "E23000011", "E23000012"
WEST_MIDLANDS, AVON_AND_SOMERSET = "E23000014", "E23000036"


@pytest.fixture(scope="module")
def flat_year():
    """A national year with nothing planted: forces and officers vary only as the generator's defaults."""
    return generator.generate_extract(2024, seed=3)


@pytest.fixture(scope="module")
def flat_consistency(flat_year):
    return consistency.summarise_consistency(flat_year[0])


@pytest.fixture(scope="module")
def demo_consistency(national_year):
    return consistency.summarise_consistency(national_year[0])


def _row(variance, model, measure, level):
    return variance.query("model == @model and measure == @measure and level == @level").iloc[0]


def test_grading_model_recovers_the_planted_variances(flat_year, flat_consistency):
    truth = pd.DataFrame(flat_year[1]["force_parameters"])
    variance = flat_consistency["consistency_variance"]
    force = _row(variance, "risk_grading", "variance", "force")
    officer = _row(variance, "risk_grading", "variance", "officer")
    # Between forces: the variance of the 43 force effects the generator drew.
    assert force["lower"] < truth["risk"].var() < force["upper"]
    assert officer["lower"] < generator.OFFICER_SD**2 < officer["upper"]
    assert officer["upper"] - officer["lower"] < 0.1  # ~3,000 officers pin it down
    absent = _row(variance, "no_response_if_flagged", "variance", "force")
    assert absent["lower"] < truth["absent"].var() < absent["upper"]


def test_icc_and_median_odds_ratio_follow_from_the_variances(flat_consistency):
    variance = flat_consistency["consistency_variance"].query("model == 'risk_grading'")
    v_force = _row(variance, "risk_grading", "variance", "force")["value"]
    v_officer = _row(variance, "risk_grading", "variance", "officer")["value"]
    total = v_force + v_officer + np.pi**2 / 3
    icc = _row(variance, "risk_grading", "intraclass_correlation", "force")
    assert icc["value"] == pytest.approx(v_force / total)
    assert icc["lower"] < icc["value"] < icc["upper"]
    officer_icc = _row(variance, "risk_grading", "intraclass_correlation", "officer")["value"]
    assert officer_icc == pytest.approx((v_force + v_officer) / total)
    mor = _row(variance, "risk_grading", "median_odds_ratio", "officer")
    assert mor["value"] == pytest.approx(np.exp(np.sqrt(2 * v_officer) * 0.6744897501960817))


def test_planted_graders_and_absent_overuse_are_found(demo_consistency):
    forces = demo_consistency["consistency_forces"].set_index(["measure", "force_code"])
    assert forces.loc[("risk_grading", SOUTH_YORKSHIRE), "band"] == "below_998"
    assert forces.loc[("risk_grading", SOUTH_YORKSHIRE), "upper"] < 0.5
    assert forces.loc[("risk_grading", HUMBERSIDE), "band"] == "above_998"
    assert forces.loc[("risk_grading", HUMBERSIDE), "lower"] > 2
    west_midlands = forces.loc[("no_response_if_flagged", WEST_MIDLANDS)]
    assert west_midlands["band"] == "above_998" and west_midlands["lower"] > 5
    # The two largest adjusted odds of "absent" and the extremes of grading are the planted forces.
    absent = forces.loc["no_response_if_flagged"]["value"]
    assert absent.idxmax() == WEST_MIDLANDS
    grading = forces.loc["risk_grading"]["value"]
    assert (grading.idxmin(), grading.idxmax()) == (SOUTH_YORKSHIRE, HUMBERSIDE)
    high = forces.loc["high_grading"]
    assert high["value"].idxmax() == HUMBERSIDE and high.loc[HUMBERSIDE, "lower"] > 5
    assert forces.loc[("no_response_if_flagged", AVON_AND_SOMERSET), "band"].startswith("below")


def test_officer_inconsistency_is_found_in_the_planted_force_only(demo_consistency):
    spread = demo_consistency["officer_spread"].set_index("force_code")
    assert spread.loc[LANCASHIRE, "band"] == "above_998"
    assert spread.loc[LANCASHIRE, "lower"] < 1.6**2 < spread.loc[LANCASHIRE, "upper"]
    above = spread.index[spread["band"].str.startswith("above")]
    assert list(above) == [LANCASHIRE]
    # City of London has too few graded episodes and officers for a variance.
    assert spread.loc["E23000034", "band"] == "not_estimable"


def test_kappa_matches_the_textbook_formula():
    first = ["low"] * 30 + ["medium"] * 40 + ["high"] * 30
    final = ["low"] * 25 + ["medium"] * 5 + ["medium"] * 30 + ["high"] * 10 + ["high"] * 28 + ["medium"] * 2
    episodes = pd.DataFrame({"force_code": "E23000001", "risk_initial": first, "risk_final": final})
    row = consistency.measure_grade_agreement(episodes).iloc[0]
    order = ["low", "medium", "high"]
    table = pd.crosstab(pd.Series(first), pd.Series(final)).loc[order, order].to_numpy() / 100
    observed = np.trace(table)
    expected = table.sum(axis=1) @ table.sum(axis=0)
    assert row["kappa"] == pytest.approx((observed - expected) / (1 - expected))
    assert row["agreement"] == pytest.approx(observed)
    assert row["kappa_lower"] < row["kappa"] < row["kappa_upper"]
    # Linear weights: disagreement of one grade counts half (three grades in use).
    k = len(table)
    weights = 1 - np.abs(np.subtract.outer(range(k), range(k))) / (k - 1)
    wo = (weights * table).sum()
    we = (weights * np.outer(table.sum(axis=1), table.sum(axis=0))).sum()
    assert row["weighted_kappa"] == pytest.approx((wo - we) / (1 - we))


def test_degenerate_inputs_give_clear_errors_or_defined_answers(national_year):
    episodes = national_year[0]
    one_force = episodes[episodes["force_code"] == "E23000021"]
    result = consistency.fit_grading_model(one_force)
    assert list(result["variance"]["level"].unique()) == ["officer"]
    assert result["forces"].empty
    with pytest.raises(ToolkitError, match="at least two"):
        consistency.fit_response_model(one_force)
    with pytest.raises(ToolkitError, match="at least 20"):
        consistency.fit_grading_model(one_force.head(10))
    same_grade = one_force.assign(risk_initial="high", category="missing")
    with pytest.raises(ToolkitError, match="same risk grade"):
        consistency.fit_grading_model(same_grade)
    no_officers = episodes[episodes["force_code"].isin(["E23000021", "E23000022"])].assign(officer_id=pd.NA)
    result = consistency.fit_grading_model(no_officers)
    assert list(result["variance"]["level"].unique()) == ["force"]
    assert result["officers"].empty
    # Each force once in each of the two grading models: medium or high, and high.
    assert result["forces"].groupby("measure")["force_code"].nunique().to_dict() == {
        "high_grading": 2,
        "risk_grading": 2,
    }
    tiny = consistency.summarise_consistency(one_force.head(5))
    assert set(tiny["consistency_notes"]["model"]) == {"risk_grading", "no_response_if_flagged"}
    assert tiny["consistency_forces"].empty
    assert tiny["grade_agreement"]["kappa"].isna().all()


def test_fitting_cells_of_identical_episodes_is_the_episode_level_fit():
    """Aggregating to binomial cells must change the speed, not the model: same estimates as Bernoulli rows."""
    import gpboost

    rng = np.random.default_rng(7)
    n, forces, officers = 6_000, 12, 240
    force = rng.integers(forces, size=n)
    officer = force * 100 + rng.integers(officers // forces, size=n)
    X = pd.DataFrame({"intercept": 1.0, "a": rng.integers(2, size=n), "b": rng.integers(2, size=n)}, dtype=float)
    eta = (
        -0.5
        + 0.8 * X["a"]
        - 0.6 * X["b"]
        + rng.normal(0, 0.6, forces)[force]
        + rng.normal(0, 0.5, officer.max() + 1)[officer]
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    levels = {"force": force.astype(str), "officer": officer.astype(str)}

    fit = consistency._fit_glmm(y, X, levels)

    rows = gpboost.GPModel(
        group_data=np.column_stack([levels["force"], levels["officer"]]).astype(object),
        likelihood="bernoulli_logit",
        matrix_inversion_method="cholesky",
    )
    rows.fit(y=y, X=X.to_numpy(), params=consistency.FIT_PARAMS)
    assert fit.variances["variance"].to_numpy() == pytest.approx(rows.get_cov_pars().iloc[0].to_numpy(), rel=2e-3)
    assert fit.coefficients["estimate"].to_numpy() == pytest.approx(rows.get_coef().iloc[0].to_numpy(), abs=2e-3)
    assert fit.episodes == n
    assert fit.effects["officer"]["episodes"].sum() == n  # every episode counted once in its group
    assert fit.effects["force"]["episodes"].to_dict() == pd.Series(levels["force"]).value_counts().to_dict()


def test_a_very_long_officer_id_costs_its_own_length_not_its_length_times_the_rows():
    """One officer id of 1 MB in 300 episodes: the models' group labels were made a fixed-width string array
    (every cell as wide as the longest: 1.4 GB here, and 12 GB for an id of 10 MB); now they are numbered."""
    import time
    import tracemalloc

    episodes, _ = generator.generate_extract(2024, seed=7, scale=0.01)
    episodes = episodes[episodes["force_code"].isin(episodes["force_code"].unique()[:4])].head(300).copy()
    episodes["officer_id"] = episodes["officer_id"].astype(object)
    first = episodes.index[episodes["category"] == "missing"][0]
    episodes.loc[first, "officer_id"] = "O" * 1_000_000
    tracemalloc.start()
    started = time.perf_counter()
    try:
        tables = consistency.summarise_consistency(episodes, {})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200e6, f"peak {peak / 1e6:.0f} MB"
    assert time.perf_counter() - started < 60
    # The long id was modelled, as an officer of its force, and the officer spread was estimated.
    assert "officer" in set(tables["consistency_variance"]["level"])
    assert tables["officer_spread"]["episodes"].sum() == tables["consistency_variance"]["episodes"].iloc[0]


def test_each_forces_interval_covers_its_true_tendency():
    """The force intervals hold the truth the generator knows, for grading and for the response to flags.

    The truth of each model is what it would reach on endless draws of the same children, officers and
    forces (generator.estimate_true_effects). Checked against the generator's grading parameter alone,
    the grading intervals held it for a third of forces here (a sixth on a whole year): a force's use
    of "absent" moves its share of responses graded medium or high too.
    """
    episodes, truth = generator.generate_extract(2024, seed=5, scale=0.5, response_probabilities=True)
    probability = pd.DataFrame(truth["response_probabilities"])
    assert (probability["episode_id"].to_numpy() == episodes["episode_id"].to_numpy()).all()
    forces = consistency.summarise_consistency(episodes)["consistency_forces"].set_index("force_code")
    mix = consistency.describe_case_mix(episodes)
    graded = consistency.select_first_responses(episodes).index
    flagged, covariates = consistency.select_flagged_responses(episodes, mix)
    truths = {
        "risk_grading": generator.estimate_true_effects(
            probability.loc[graded, "graded_higher"], mix.loc[graded], episodes.loc[graded, "force_code"]
        ),
        "no_response_if_flagged": generator.estimate_true_effects(
            probability.loc[flagged, "no_active_response"],
            covariates,
            episodes.loc[flagged, "force_code"],
        ),
    }
    for measure, true in truths.items():
        rows = forces[forces["measure"] == measure]
        centred = true[rows.index] + np.log(rows["value"]).mean()
        covered = (np.log(rows["lower"]) <= centred) & (centred <= np.log(rows["upper"]))
        assert covered.mean() >= 0.85, (measure, covered.mean())
        # and not by intervals too wide to say anything: each estimate tracks its truth
        assert np.corrcoef(np.log(rows["value"]), centred)[0, 1] > 0.8, measure


def test_response_probabilities_are_the_truth_and_change_nothing_drawn():
    plan = [generator.PlantedEffect(WEST_MIDLANDS, "absent_overuse", {"flagged_absent_share": 0.6})]
    plain, _ = generator.generate_extract(2024, seed=9, scale=0.1, plan=plan)
    episodes, truth = generator.generate_extract(2024, seed=9, scale=0.1, plan=plan, response_probabilities=True)
    pd.testing.assert_frame_equal(plain, episodes)  # no draw added or moved
    probability = pd.DataFrame(truth["response_probabilities"])
    planted = probability["force_code"].eq(WEST_MIDLANDS)
    assert probability.loc[planted, ["graded_higher", "no_active_response"]].isna().all().all()
    natural = probability[~planted]
    assert natural[["graded_higher", "no_active_response"]].notna().all().all()
    # On the unplanted forces the drawn categories match their probabilities (binomial error, 4 SE).
    absent = episodes.loc[~planted, "category"].eq("absent")
    known = episodes.loc[~planted, "category"].notna()
    p = natural.loc[known, "no_active_response"]
    assert abs(absent[known].sum() - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum())
