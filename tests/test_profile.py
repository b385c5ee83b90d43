"""The problem profile: the share of episodes reported from 22:00 to 02:00 finds what was planted, and only that."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from toolkit.forces import NATIONAL, read_comparator_groups
from toolkit.stats.profile import NIGHT_HOURS, summarise_night_reports

PLANTED = "E23000005"  # Lancashire: a third of its reports moved to 23:00


@pytest.fixture(scope="module")
def planted(national_year):
    episodes, _ = national_year
    episodes = episodes[["force_code", "reported_at"]].copy()
    rng = np.random.default_rng(5)
    mine = episodes.index[(episodes["force_code"] == PLANTED).to_numpy()]
    moved = rng.choice(mine, size=len(mine) // 3, replace=False)
    episodes.loc[moved, "reported_at"] = episodes.loc[moved, "reported_at"].dt.normalize() + pd.Timedelta(hours=23)
    return episodes, summarise_night_reports(episodes, read_comparator_groups()).set_index("force_code")


def test_night_shares_match_an_independent_count_and_wilson_interval(planted):
    episodes, table = planted
    hours = episodes["reported_at"].dt.hour
    for code in ("E23000014", "E23000034", PLANTED):
        mine = hours[episodes["force_code"] == code]
        night = int(mine.isin([22, 23, 0, 1]).sum())
        low, high = proportion_confint(night, len(mine), alpha=0.05, method="wilson")
        row = table.loc[code]
        assert (row["numerator"], row["denominator"]) == (night, len(mine))
        assert row["value"] == pytest.approx(night / len(mine))
        assert (row["lower"], row["upper"]) == pytest.approx((low, high), abs=1e-12)
    assert table.loc[NATIONAL, "denominator"] == len(episodes)
    assert set(NIGHT_HOURS) == {22, 23, 0, 1}


def test_the_planted_force_is_found_and_almost_no_other(planted):
    _, table = planted
    forces = table.drop(NATIONAL)
    assert forces.loc[PLANTED, "band"] == "above_998"
    others = forces.drop(PLANTED)
    # Unplanted forces differ from the national share only by chance: at most 1 of 42 beyond 99.8%.
    assert others["band"].isin(["above_998", "below_998"]).sum() <= 1, others["band"].value_counts()
