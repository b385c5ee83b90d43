"""Practice shares and the risk-grade mix: counts add up, planted practice is found."""

import numpy as np
import pandas as pd
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
    assert bands[("return_offered_72h", "E23000028")] == "below_998"  # Essex: few return interviews
    assert bands[("flagged_no_active_response", "E23000014")] == "above_998"  # West Midlands
    assert bands[("return_offered_72h", "E23000036")] == "above_998"  # the exemplary force


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


def test_supervisory_review_is_judged_where_reviews_are_recorded_at_all_and_by_grade(national_year):
    """#14 item 1: a force whose supervisors review 60% of episodes was 'insufficient data' (under 70% recorded).

    Now a missing review time is a review not done, once a force records reviews at all; high-risk
    episodes are due within hours; and only episodes still open at the deadline count.
    """
    from toolkit.findings import THRESHOLDS, find_issues
    from toolkit.findings.rulebook import support_statement
    from toolkit.stats.quality import assess_metric_support
    from toolkit.stats.volume import summarise_volume

    episodes, truth = national_year
    episodes = episodes.copy()
    rng = np.random.default_rng(5)
    sixty, none = "E23000013", "E23000021"  # West Yorkshire reviews 60%; Nottinghamshire records no review
    mine = (episodes["force_code"] == sixty) & (episodes["category"] == "missing")
    episodes.loc[mine & (rng.random(len(episodes)) < 0.4), "supervisor_review_at"] = pd.NaT
    episodes.loc[episodes["force_code"] == none, "supervisor_review_at"] = pd.NaT
    practice = summarise_practice(episodes, truth["extract_date"])
    support = assess_metric_support(episodes, THRESHOLDS["support_sufficient"], truth["extract_date"])
    tables = {
        "practice": practice,
        "support": support,
        "quality": pd.DataFrame({"force_code": sorted(set(episodes["force_code"].astype(str)))}),  # who sent rows
        "summary": summarise_volume(episodes),
    }
    findings = find_issues(tables, rules=("supervisory_review",))
    reviews = {f["force_code"]: f for f in findings if f["rule"] == "supervisory_review"}
    assert reviews[sixty]["judgement"] in {"cause_of_concern", "area_for_improvement"}
    assert "a review not recorded is counted as not done" in reviews[sixty]["statement"]
    assert reviews[none]["judged"] is False
    assert "cannot be told from one not recorded" in support_statement(support, none, "supervision")
    row = practice.set_index(["measure", "force_code"]).loc[("review_in_time", sixty)]
    assert 0.5 < row["value"] < 0.7  # about 60% of the episodes still open at the deadline


def test_only_episodes_still_open_at_their_grades_deadline_are_counted():
    from toolkit.stats.practice import REVIEW_DEADLINE_HOURS

    reported = pd.Timestamp("2024-01-01 10:00")
    e = pd.DataFrame(
        {
            "force_code": "E23000001",
            "person_id": list("abcdef"),
            "reported_at": reported,
            "risk_initial": ["high", "high", "medium", "low", "low", "medium"],
            "category": ["missing"] * 5 + ["absent"],
            # home after an hour: no review was due by a deadline of 2 (high) or 24 hours
            "returned_at": pd.to_datetime([None, "2024-01-01 11:00", None, None, "2024-01-01 20:00", None]),
            "supervisor_review_at": reported + pd.to_timedelta([3, 0.5, 20, np.nan, np.nan, 1], unit="h"),
            "return_interview_at": pd.NaT,
            "prevention_interview": None,
            "return_interview": None,
            "age": 14,
            "looked_after": "no",
            "risk_factors": None,
        }
    )
    rows = summarise_practice(e, "2024-02-01", {}).set_index(["measure", "force_code"])
    row = rows.loc[("review_in_time", "E23000001")]
    # a (high, 3 h: late), c (medium, 20 h: in time), d (low, none: not done); b and e home in time; f absent
    assert (row["numerator"], row["denominator"]) == (1, 3)
    later = summarise_practice(e, "2024-02-01", {}, deadlines={**REVIEW_DEADLINE_HOURS, "review_hours_high": 4})
    assert later.set_index(["measure", "force_code"]).loc[("review_in_time", "E23000001"), "numerator"] == 2
