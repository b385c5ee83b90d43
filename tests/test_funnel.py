"""Funnel limits and significance agree with PHEindicatormethods and FunnelPlotR; planted outliers are found."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from toolkit.config import PROJECT_ROOT
from toolkit.stats import funnel

REFERENCE = PROJECT_ROOT / "tests" / "reference" / "phe"


def test_proportion_limits_match_phe():
    table = pd.read_csv(REFERENCE / "funnel_prop_limits.csv")
    assert len(table) == 400
    for (confidence, baseline), rows in table.groupby(["confidence", "baseline"]):
        lower, upper = funnel.proportion_funnel_limits(baseline / 100, rows["population"], confidence)
        # Source values are rounded to 6 decimals of a percentage.
        np.testing.assert_allclose(lower * 100, rows["lower"], atol=6e-7)
        np.testing.assert_allclose(upper * 100, rows["upper"], atol=6e-7)


def test_proportion_significance_matches_phe_for_all_303_areas():
    table = pd.read_csv(REFERENCE / "funnel_prop_inputs.csv")
    bands = funnel.assign_proportion_significance(table["numerator"], table["denominator"])
    assert list(bands) == list(table["expected_significance"])


def test_ratio_limits_match_phe():
    table = pd.read_csv(REFERENCE / "funnel_ratio_limits.csv")
    for confidence, rows in table.groupby("confidence"):
        at_lower, at_upper = funnel.poisson_funnel_expected(rows["observed_events"], confidence)
        big = rows["observed_events"] >= 2
        np.testing.assert_allclose(at_lower[big], rows.loc[big, "lower_exp_events"], rtol=1e-6)
        np.testing.assert_allclose(at_upper[big], rows.loc[big, "upper_exp_events"], rtol=1e-6)
        np.testing.assert_allclose(at_upper, rows["upper_exp_events"], rtol=1e-4)


def test_ratio_significance_matches_phe_for_all_300_units():
    table = pd.read_csv(REFERENCE / "funnel_ratio_inputs.csv")
    bands = funnel.assign_ratio_significance(table["observed"], table["expected"])
    assert list(bands) == list(table["expected_significance"])


def test_poisson_limits_at_expected_counts_match_funnelplotr():
    """FunnelPlotR's convention (the interval of a mean observed to be E), kept only for this comparison."""
    table = pd.read_csv(REFERENCE / "funnelplotr_overdispersion_reference.csv")
    limits = table[table["function"].str.startswith("calculate_limits")]
    assert len(limits) == 12
    for _, row in limits.iterrows():
        confidence = 0.998 if "99" in row["quantity"] else 0.95
        lower, upper = funnel.calculate_funnelplotr_ratio_limits([float(row["denominator"])], confidence)
        got = lower[0] if row["quantity"].startswith("ll") else upper[0]
        assert got == pytest.approx(row["expected"], abs=6e-7)


def test_ratio_limits_pass_through_phe_tabulated_funnel_points():
    """At PHE's expected count for a whole observed count O, the drawn limit is O / E (PHE's lower_isr / 100)."""
    table = pd.read_csv(REFERENCE / "funnel_ratio_limits.csv")
    # PHE solves for E by bisection to 1e-7 of E / (1 + O + E): its E, and so these ratios, agree to about 1e-6.
    for confidence, rows in table.groupby("confidence"):
        lower, _ = funnel.ratio_funnel_limits(rows["lower_exp_events"], confidence)
        np.testing.assert_allclose(lower * 100, rows["lower_isr"], rtol=2e-6)
        big = rows["observed_events"] >= 2  # coarser still for the tiny E on which 1 event is high
        _, upper = funnel.ratio_funnel_limits(rows.loc[big, "upper_exp_events"], confidence)
        np.testing.assert_allclose(upper * 100, rows.loc[big, "upper_isr"], rtol=2e-6)


def test_ratio_limits_are_the_exact_tests_not_funnelplotrs():
    """At 15 expected the exact test's 95% limits are 0.495 and 1.568 (FunnelPlotR draws 0.560 and 1.649)."""
    limits = [funnel.ratio_funnel_limits([15], level) for level in funnel.LEVELS]
    lower, upper = np.concatenate(limits, axis=1)
    np.testing.assert_allclose(lower, [0.4952524, 0.2747950], atol=6e-8)
    np.testing.assert_allclose(upper, [1.568498, 1.919096], atol=6e-7)
    # 8 observed: P(X <= 8 | 15) = 0.037, not below 0.025, and drawn inside the limit (8 / 15 > 0.495).
    assert stats.poisson.cdf(8, 15) == pytest.approx(0.0374465, abs=1e-7)
    assert 8 / 15 > lower[0]
    assert funnel.assign_ratio_significance([8], [15]).tolist() == ["Not significant"]


def test_no_count_is_low_where_even_none_is_not_unusual():
    """Below E = -ln p the lower limit is 0 and a zero is within; just above it a zero is low."""
    for confidence, either_side in (
        (0.95, ["Not significant", "Low (0.025)"]),
        (0.998, ["Low (0.025)", "Low (0.001)"]),
    ):
        edge = -np.log((1 - confidence) / 2)  # 3.69 and 6.91 expected
        lower, _ = funnel.ratio_funnel_limits([0.5, edge * (1 - 1e-6), edge * (1 + 1e-6)], confidence)
        assert lower[0] == lower[1] == 0 < lower[2] < 1e-5
        assert funnel.assign_ratio_significance([0, 0], [edge * (1 - 1e-6), edge * (1 + 1e-6)]).tolist() == either_side
    np.testing.assert_array_equal(funnel.ratio_funnel_limits([0, np.nan], 0.95), np.full((2, 2), np.nan))


def test_significance_uses_the_exact_test_where_byar_differs():
    """10 observed against 4.79 expected: P(X >= 10 | 4.79) = 0.0248, so High; Byar's lower limit of 10 is 4.787."""
    assert stats.poisson.sf(9, 4.79) == pytest.approx(0.0248358, abs=1e-7)
    _, upper = funnel.ratio_funnel_limits([4.79], 0.95)
    assert 10 / 4.79 > upper[0]  # drawn above the 95% limit
    assert funnel.assign_ratio_significance([10], [4.79]).tolist() == ["High (0.025)"]


def _exact_test_band(observed, expected):
    """Bands from the exact one-sided Poisson tests, at each level's tail probability."""
    low = {level: stats.poisson.cdf(observed, expected) < (1 - level) / 2 for level in funnel.LEVELS}
    high = {level: stats.poisson.sf(observed - 1, expected) < (1 - level) / 2 for level in funnel.LEVELS}
    return np.select(
        [high[0.998], high[0.95], low[0.998], low[0.95]], ["above_998", "above_95", "below_998", "below_95"], "within"
    )


def _drawn_band(value, lower_95, upper_95, lower_998, upper_998):
    return np.select(
        [value > upper_998, value > upper_95, value < lower_998, value < lower_95],
        ["above_998", "above_95", "below_998", "below_95"],
        "within",
    )


def test_units_drawn_outside_the_limits_are_exactly_the_units_classified_significant():
    """At 4,000 random units, position against the drawn limits = band = the exact Poisson test."""
    rng = np.random.default_rng(12)
    expected = np.exp(rng.uniform(np.log(0.3), np.log(3000), 4000))
    observed = rng.poisson(expected * np.exp(rng.normal(0, 0.3, expected.size))).astype(float)
    phe = {"High (0.001)": "above_998", "High (0.025)": "above_95", "Not significant": "within",
           "Low (0.025)": "below_95", "Low (0.001)": "below_998"}  # fmt: skip

    bands = pd.Series(funnel.assign_ratio_significance(observed, expected)).map(phe).to_numpy()
    limits = [limit for level in funnel.LEVELS for limit in funnel.ratio_funnel_limits(expected, level)]
    drawn = _drawn_band(observed / expected, limits[0], limits[1], limits[2], limits[3])
    exact = _exact_test_band(observed, expected)
    assert (exact != "within").sum() > 500 and (observed == 0).sum() > 20  # both tails and zeros are exercised
    np.testing.assert_array_equal(bands, drawn)
    np.testing.assert_array_equal(bands, exact)

    table = pd.DataFrame({"unit": range(expected.size), "numerator": observed, "denominator": expected})
    for statistic, multiplier in (("ratio", 1), ("rate", 1000)):
        comparison, _ = funnel.compare_with_funnel(table, statistic, multiplier, overdispersion="never")
        columns = ["value", "lower_95", "upper_95", "lower_998", "upper_998"]
        drawn = _drawn_band(*comparison[columns].to_numpy().T)
        np.testing.assert_array_equal(comparison["band"], drawn)
        # Against the pooled baseline, each unit's expected count is the baseline times its denominator.
        at = comparison["baseline"].iloc[0] * table["denominator"].to_numpy() / multiplier
        np.testing.assert_array_equal(comparison["band"], _exact_test_band(observed, at))


def test_overdispersion_matches_funnelplotr():
    table = pd.read_csv(REFERENCE / "funnelplotr_overdispersion_reference.csv")
    row = table[table["quantity"].str.startswith("phi")].iloc[0]
    o = np.array(row["numerator"].split(";"), dtype=float)
    e = np.array(row["denominator"].split(";"), dtype=float)
    result = funnel.estimate_overdispersion(np.sqrt(e) * np.log(o / e), e, method="truncate")
    assert round(result["phi"], 6) == row["expected"]
    assert result["tau2"] == pytest.approx(0.01947753057802157, rel=1e-9)  # derived value, cross-check


def test_truncation_leaves_the_extreme_units_out_of_phi_and_tau2():
    """FunnelPlotR's truncated estimate: z from -2 to 2.5 by 0.5, weights 100, gives phi 1.375, tau2 0.005714."""
    z = np.arange(-2, 2.51, 0.5)
    result = funnel.estimate_overdispersion(z, np.full(len(z), 100.0), method="truncate")
    assert result["phi"] == pytest.approx(1.375, rel=1e-12)  # 11 / 8 kept units, not 11 / 10
    assert result["tau2"] == pytest.approx(4 / 700, rel=1e-12)  # (8 x 1.375 - 7) / (800 - 80,000 / 800)
    assert round(result["tau2"], 6) == 0.005714


def test_no_overdispersion_in_pure_binomial_noise():
    rng = np.random.default_rng(4)
    n = rng.integers(200, 20_000, 43)
    x = rng.binomial(n, 0.1)
    comparison, dispersion = funnel.compare_with_funnel(
        pd.DataFrame({"unit": range(43), "numerator": x, "denominator": n}), "proportion"
    )
    assert not dispersion["adjusted"]
    assert (comparison["band"].isin(["above_998", "below_998"])).sum() <= 1


def test_overdispersed_units_widen_the_limits_and_an_outlier_is_still_found():
    rng = np.random.default_rng(5)
    n = rng.integers(2_000, 20_000, 43)
    p = 1 / (1 + np.exp(-(np.log(0.1 / 0.9) + rng.normal(0, 0.25, 43))))
    p[7] = 0.45  # the planted outlier
    x = rng.binomial(n, p)
    comparison, dispersion = funnel.compare_with_funnel(
        pd.DataFrame({"unit": range(43), "numerator": x, "denominator": n}), "proportion"
    )
    assert dispersion["adjusted"] and dispersion["phi"] > 2
    assert comparison.loc[7, "band"] == "above_998"
    assert (comparison["band"].isin(["above_998", "below_998"])).sum() <= 3
    assert "random-effects" in comparison.loc[0, "method"]


def test_rates_with_a_zero_and_tiny_populations_are_defined():
    table = pd.DataFrame({"unit": ["a", "b", "c"], "numerator": [0, 10, 1000], "denominator": [600, 1000, 100_000]})
    comparison, _ = funnel.compare_with_funnel(table, "rate", multiplier=1000)
    assert np.isfinite(comparison[["lower_95", "upper_95", "z"]].to_numpy()).all()
    with pytest.raises(ValueError):
        funnel.compare_with_funnel(table.assign(numerator=0), "rate", multiplier=1000)


EXPLOITATION = "cse|cce|trafficking"


def _practice_tables(episodes):
    flagged = episodes[episodes["risk_factors"].str.contains(EXPLOITATION)]
    absent = flagged.groupby("force_code")["category"].agg(
        numerator=lambda c: (c == "absent").sum(), denominator="size"
    )
    high = episodes.groupby("force_code")["risk_initial"].agg(
        numerator=lambda r: (r == "high").sum(), denominator="size"
    )
    return {
        name: t.reset_index().rename(columns={"force_code": "unit"}) for name, t in (("absent", absent), ("high", high))
    }


def test_planted_forces_are_found_on_the_funnel(national_year):
    episodes, truth = national_year
    planted = {p["effect"]: p["force_code"] for p in truth["planted"]}
    tables = _practice_tables(episodes)
    absent, _ = funnel.compare_with_funnel(tables["absent"], "proportion")
    assert absent.set_index("unit").loc[planted["absent_overuse"], "band"] == "above_998"
    high, _ = funnel.compare_with_funnel(tables["high"], "proportion")
    bands = high.set_index("unit")["band"]
    assert bands[planted["risk_overgrading"]] == "above_998"
    assert bands[planted["risk_undergrading"]] == "below_998"
    # Few others: the planted forces stand out, natural variation mostly does not.
    others = bands.drop([planted["risk_overgrading"], planted["risk_undergrading"]])
    assert others.isin(["above_998", "below_998"]).sum() <= 3


def test_false_positive_rate_on_unplanted_data_is_low():
    """Over several unplanted national extracts, few forces fall outside the 99.8% limits.

    Measured when written: 4 of 430 force-funnels (0.9%) outside, all on one seed (seeds 100-104, scale 0.5).
    """
    from toolkit.synthetic import generator

    outside, total = 0, 0
    for seed in range(5):
        episodes, _ = generator.generate_extract(2024, seed=100 + seed, scale=0.5)
        for table in _practice_tables(episodes).values():
            comparison, _ = funnel.compare_with_funnel(table, "proportion")
            outside += comparison["band"].isin(["above_998", "below_998"]).sum()
            total += len(comparison)
    assert outside / total <= 0.03, f"{outside} of {total} force-funnels outside the 99.8% limits"


def test_a_single_force_gets_defined_unadjusted_limits():
    table = pd.DataFrame({"unit": ["E23000014"], "numerator": [120], "denominator": [1000]})
    comparison, dispersion = funnel.compare_with_funnel(table, "proportion")
    assert not dispersion["adjusted"] and np.isnan(dispersion["phi"])
    assert comparison.loc[0, "band"] == "within"  # a lone force is its own baseline
    assert "Only one force" in dispersion["sentence"]


def test_comparator_bands_use_the_group_not_the_nation():
    # "a" sits at the national rate but far above its two low peers.
    table = pd.DataFrame(
        {"unit": ["a", "b", "c", "d", "e"], "numerator": [500, 300, 300, 700, 700], "denominator": [10_000] * 5}
    )
    groups = {"a": ["b", "c"], "b": ["a", "c"], "c": ["a", "b"], "d": ["e"], "e": ["d"]}
    comparison, _ = funnel.compare_with_funnel(table, "rate", 1000, "never", comparator_groups=groups)
    row = comparison.set_index("unit").loc["a"]
    assert row["band"] == "within" and row["comparator_band"] == "above_998"
    assert row["comparator_baseline"] == pytest.approx(30.0)
    lone, _ = funnel.compare_with_funnel(table, "rate", 1000, "never", comparator_groups={"a": ["zz"]})
    assert lone.set_index("unit").loc["a", "comparator_band"] == "no_comparators"


def test_ratio_funnel_and_a_zero_count_at_small_expected_is_not_called_low():
    table = pd.DataFrame({"unit": ["a", "b", "c", "d"], "numerator": [0, 80, 40, 0], "denominator": [1.2, 40, 72, 6.8]})
    comparison, dispersion = funnel.compare_with_funnel(table, "ratio", overdispersion="never")
    bands = comparison.set_index("unit")["band"]
    assert comparison["baseline"].iloc[0] == pytest.approx(1.0)  # observed and expected totals agree
    assert bands["a"] == "within"  # P(0 | 1.2 expected) = 0.30
    assert bands["d"] == "below_95"  # P(0 | 6.8) = 0.0011: below the 95% limit, not the 99.8%
    assert bands["b"] == "above_998"
    assert {"observed", "expected"} <= set(comparison.columns)


def test_fewer_forces_than_a_comparison_needs_are_not_compared_and_say_why():
    from toolkit.stats.volume import compare_volume_rates, summarise_volume

    episodes = pd.DataFrame(
        {"force_code": ["E23000014"] * 40 + ["E23000001"] * 30, "person_id": [str(i) for i in range(70)]}
    )
    covered = ["E23000014", "E23000001"]
    summary = summarise_volume(episodes, {}, covered)
    assert set(summary.loc[summary["area"] == "force", "force_code"]) == set(covered)  # no one else at zero
    national = summary.query("area == 'national' and metric == 'rate_per_1000_children'").iloc[0]
    assert (
        national["denominator"]
        == summary.query("area == 'force' and metric == 'rate_per_1000_children'")["denominator"].sum()
    )  # the covered forces' children, not the country's
    comparison = compare_volume_rates(summary, {})
    assert (comparison["band"] == "not_compared").all()
    assert comparison["dispersion_sentence"].iloc[0].startswith("Only 2 forces are in the extract")
    shares = funnel.compare_shares(
        pd.DataFrame({"force_code": covered, "numerator": [5, 9], "denominator": [40, 30]}), {}
    )
    assert set(shares["band"]) == {"not_compared"} and "at least 5" in shares["dispersion_sentence"].iloc[0]
