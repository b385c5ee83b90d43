"""Funnel limits and significance agree with PHEindicatormethods and FunnelPlotR; planted outliers are found."""

import numpy as np
import pandas as pd
import pytest

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
    table = pd.read_csv(REFERENCE / "funnelplotr_overdispersion_reference.csv")
    limits = table[table["function"].str.startswith("calculate_limits")]
    for _, row in limits.iterrows():
        confidence = 0.998 if "99" in row["quantity"] else 0.95
        lower, upper = funnel.ratio_funnel_limits([float(row["denominator"])], confidence)
        got = lower[0] if row["quantity"].startswith("ll") else upper[0]
        assert got == pytest.approx(row["expected"], abs=6e-7)


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
