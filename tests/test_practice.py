"""Practice shares and the risk-grade mix: counts add up, planted practice is found."""

import numpy as np
import pytest

from toolkit.forces import NATIONAL, read_comparator_groups
from toolkit.stats.practice import GRADE_ORDER, summarise_practice, tabulate_grade_mix


@pytest.fixture(scope="module")
def practice(national_year):
    episodes, truth = national_year
    return summarise_practice(episodes, truth["extract_date"])


def test_practice_counts_add_up_to_the_national_row(practice):
    for measure, rows in practice.groupby("measure"):
        forces = rows[rows["force_code"] != NATIONAL]
        national = rows[rows["force_code"] == NATIONAL].iloc[0]
        assert forces["numerator"].sum() == national["numerator"], measure
        assert forces["denominator"].sum() == national["denominator"], measure
        assert (forces["lower"] <= forces["value"]).all() and (forces["value"] <= forces["upper"]).all()


def test_planted_practice_is_found_on_the_funnel(practice, national_year):
    bands = practice.set_index(["measure", "force_code"])["band"]
    assert bands[("return_interview_72h", "E23000028")] == "below_998"  # Essex: few return interviews
    assert bands[("flagged_recorded_absent", "E23000014")] == "above_998"  # West Midlands
    assert bands[("return_interview_72h", "E23000036")] == "above_998"  # the exemplary force


def test_grade_mix_shares_sum_to_one_and_pool_the_members(national_year):
    episodes = national_year[0]
    groups = read_comparator_groups()
    mix = tabulate_grade_mix(episodes, groups)
    assert set(mix["grade"]) == set(GRADE_ORDER)
    sums = mix.groupby(["area", "force_code"])["share"].sum()
    assert np.allclose(sums.dropna(), 1)
    forces = mix[mix["area"] == "force"].pivot(index="force_code", columns="grade", values="episodes")
    national = mix[mix["area"] == "national"].set_index("grade")["episodes"]
    assert (forces.sum() == national[forces.columns]).all()
    code = "E23000014"
    pooled = mix[(mix["area"] == "comparators") & (mix["force_code"] == code)].set_index("grade")["episodes"]
    assert (forces.loc[groups[code]].sum() == pooled[forces.columns]).all()
    assert int(national.sum()) == int(episodes["risk_initial"].isin(GRADE_ORDER).sum())
