"""Time to return and repeat missing: textbook values, published shares, degenerate inputs."""

import numpy as np
import pandas as pd
import pytest

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
    from statsmodels.stats.proportion import proportion_confint

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
