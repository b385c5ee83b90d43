"""Intervals agree with PHEindicatormethods' published test tables to 6+ significant figures."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.config import PROJECT_ROOT
from toolkit.stats import intervals

REFERENCE = PROJECT_ROOT / "tests" / "reference" / "phe"
RTOL = 1e-7  # 6 significant figures need 5e-7; the methods agree far closer


def _tested(name):
    table = pd.read_csv(REFERENCE / name)
    return table[table["used_in_source_tests"].astype(str).str.upper() == "TRUE"]


def test_rates_match_phe_rate():
    table = _tested("phe_rate.csv").dropna(subset=["numerator", "denominator"])
    assert len(table) >= 40
    for (confidence, multiplier), rows in table.groupby(["confidence", "multiplier"]):
        _assert_rates(rows, multiplier, confidence)


def _assert_rates(rows, multiplier, confidence):
    got = intervals.rate_interval(
        rows["numerator"].to_numpy(),
        rows["denominator"].to_numpy(),
        multiplier=multiplier,
        confidence=confidence,
    )
    np.testing.assert_allclose(got["value"], rows["value"], rtol=RTOL)
    np.testing.assert_allclose(got["lower"], rows["lower"], rtol=RTOL)
    np.testing.assert_allclose(got["upper"], rows["upper"], rtol=RTOL)
    expected_method = rows["method"].map({"Exact": "Exact Poisson", "Byars": "Byar"})
    assert list(got["method"]) == list(expected_method)


def test_missing_rate_inputs_give_missing_rates():
    got = intervals.rate_interval([np.nan, 10, np.nan], [100, np.nan, np.nan], multiplier=1e5)
    assert got[["value", "lower", "upper"]].isna().all().all()


def test_proportions_match_phe_proportion():
    table = _tested("phe_proportion.csv").dropna(subset=["numerator", "denominator", "value"])
    table = table[table["numerator"] <= table["denominator"]]
    assert len(table) >= 20
    for (confidence, multiplier), rows in table.groupby(["confidence", "multiplier"]):
        got = intervals.proportion_interval(
            rows["numerator"], rows["denominator"], multiplier=multiplier, confidence=confidence
        )
        np.testing.assert_allclose(got["value"], rows["value"], rtol=RTOL)
        np.testing.assert_allclose(got["lower"], rows["lower"], rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(got["upper"], rows["upper"], rtol=RTOL)


def test_byar_and_wilson_primitives():
    table = _tested("primitives_byars_wilson.csv")
    for _, row in table.iterrows():
        if row["method"] == "Byars":
            lower, upper = intervals.byar_limits([row["x"]], row["confidence"])
        else:
            got = intervals.proportion_interval(row["x"], row["n"], confidence=row["confidence"])
            lower, upper = got["lower"].to_numpy(), got["upper"].to_numpy()
        np.testing.assert_allclose(lower, [row["lower"]], rtol=RTOL)
        np.testing.assert_allclose(upper, [row["upper"]], rtol=RTOL)


def test_byar_lower_limit_below_zero_is_missing():
    lower, upper = intervals.byar_limits([1], 0.998)
    assert np.isnan(lower[0]) and upper[0] == pytest.approx(9.362180217908362, rel=RTOL)


def test_byar_lower_limit_of_zero_events_is_missing():
    lower, upper = intervals.byar_limits([0, 10])
    assert np.isnan(lower[0]) and lower[1] > 0
    assert upper[0] == pytest.approx(
        (1 - 1 / 9 + 1.959963984540054 / 3) ** 3, rel=RTOL
    )  # (O + 1) = 1 in Byar's upper limit


def test_zero_events_and_zero_denominators_are_defined():
    got = intervals.rate_interval([0, 3], [1000, 0])
    assert got.loc[0, "value"] == 0 and got.loc[0, "lower"] == 0
    assert got.loc[0, "upper"] == pytest.approx(3.688879454113936)  # -ln(0.025), per 1,000
    assert np.isnan(got.loc[1, "value"])
    got = intervals.proportion_interval([0, 0], [10, 0])
    assert got.loc[0, "value"] == 0 and got.loc[0, "lower"] == pytest.approx(0, abs=1e-15)
    assert np.isnan(got.loc[1, "value"])


@pytest.mark.parametrize("count, denominator", [([-1], [10]), ([1.5], [10]), ([1], [-10])])
def test_impossible_rate_inputs_are_refused(count, denominator):
    with pytest.raises(ValueError):
        intervals.rate_interval(count, denominator)


def test_impossible_proportions_are_refused():
    with pytest.raises(ValueError, match="between 0 and their denominator"):
        intervals.proportion_interval([11], [10])


@given(st.integers(0, 10**6), st.integers(1, 10**7), st.sampled_from([0.95, 0.998]))
def test_rate_intervals_contain_the_rate(count, denominator, confidence):
    row = intervals.rate_interval(count, denominator, confidence=confidence).iloc[0]
    assert row["lower"] <= row["value"] <= row["upper"]


@given(st.integers(0, 10**5), st.integers(0, 10**5), st.sampled_from([0.95, 0.998]))
def test_wilson_intervals_lie_in_0_1_and_contain_p(x, extra, confidence):
    n = x + extra
    if n == 0:
        return
    row = intervals.proportion_interval(x, n, confidence=confidence).iloc[0]
    assert -1e-12 <= row["lower"] <= row["value"] <= row["upper"] <= 1 + 1e-12


def test_means_match_phe_mean():
    inputs = pd.read_csv(REFERENCE / "phe_mean_inputs.csv")
    table = _tested("phe_mean.csv")
    for _, row in table.iterrows():
        values = (
            inputs["value"] if row["group"] == "No grouping" else inputs.loc[inputs["area"] == row["group"], "value"]
        )
        got = intervals.mean_interval(values, row["confidence"]).iloc[0]
        assert got["value"] == pytest.approx(row["value"], rel=RTOL)
        assert got["lower"] == pytest.approx(row["lower"], rel=RTOL)
        assert got["upper"] == pytest.approx(row["upper"], rel=RTOL)


def test_standardised_rates_match_phe_dsr():
    inputs = pd.read_csv(REFERENCE / "dsr_inputs.csv")
    table = _tested("dsr.csv")
    table = table[table["dataset"].isin(["multiarea_esp2013", "testdata_1976"])]
    assert len(table) >= 10
    for _, row in table.iterrows():
        bands = inputs[(inputs["dataset"] == row["dataset"]) & (inputs["area"] == row["area"])]
        got = intervals.standardised_rate(
            bands["count"], bands["pop"], bands["stdpop"], multiplier=row["multiplier"], confidence=row["confidence"]
        ).iloc[0]
        if pd.isna(row["value"]):
            assert np.isnan(got["value"])  # fewer than 10 events: not computed
            continue
        assert got["value"] == pytest.approx(row["value"], rel=RTOL)
        assert got["lower"] == pytest.approx(row["lower"], rel=RTOL)
        assert got["upper"] == pytest.approx(row["upper"], rel=RTOL)


def test_clopper_pearson_contains_wilson_centre_and_is_wider_at_the_edges():
    wilson = intervals.proportion_interval(0, 20).iloc[0]
    exact = intervals.proportion_interval(0, 20, method="beta").iloc[0]
    assert exact["method"] == "Clopper-Pearson exact"
    assert exact["upper"] == pytest.approx(1 - 0.025 ** (1 / 20))  # closed form at x = 0
    assert exact["upper"] > wilson["upper"]


def test_standardised_ratios_and_rates_match_phe_isr():
    inputs = pd.read_csv(REFERENCE / "isr_inputs.csv")
    table = _tested("isr.csv")
    assert len(table) == 28
    for _, row in table.iterrows():
        bands = inputs[(inputs["dataset"] == row["dataset"]) & (inputs["area"] == row["area"])]
        unit = bands.rename(columns={"ageband": "stratum", "pop": "population"}).assign(unit=row["area"])
        reference = bands[["ageband", "refcount", "refpop"]].set_axis(["stratum", "count", "population"], axis=1)
        ratio = row["function"] == "calculate_ISRatio"
        got = intervals.standardised_ratio(
            unit[["unit", "stratum", "count", "population"]],
            reference,
            confidence=row["confidence"],
            refvalue=row["refvalue"] if ratio else 1,
            multiplier=None if ratio else row["multiplier"],
        ).iloc[0]
        assert got["observed"] == row["observed"]
        assert got["expected"] == pytest.approx(row["expected"], rel=RTOL)
        for key in ("value", "lower", "upper"):
            assert got[key] == pytest.approx(row[key], rel=RTOL), (row["area"], key)
        assert got["method"].split(", ")[1].startswith({"Byars": "Byar", "Exact": "Exact"}[row["method"]])


def test_standardised_ratio_centres_on_one_against_its_own_units():
    table = pd.DataFrame(
        {
            "unit": ["a", "a", "b", "b", "c", "c"],
            "stratum": ["young", "old"] * 3,
            "count": [5, 40, 2, 10, 0, 0],
            "population": [50, 100, 20, 30, 10, 0],
        }
    )
    result = intervals.standardised_ratio(table).set_index("unit")
    # Against the pooled reference, observed and expected totals agree.
    assert result["observed"].sum() == pytest.approx(result["expected"].sum())
    assert result.loc["c", "value"] == 0 and result.loc["c", "upper"] > 0
    with pytest.raises(ValueError, match="strata missing"):
        intervals.standardised_ratio(
            table, reference=pd.DataFrame({"stratum": ["young"], "count": [1], "population": [2]})
        )
