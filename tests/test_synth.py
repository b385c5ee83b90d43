"""The synthetic generator reproduces the published figures and plants what it is asked to.

The published figures are written out here, from docs/calibration.md, independently of the
generator's own targets, so that a change to the generator cannot move the goalposts.
"""

import hashlib
import json
import time

import numpy as np
import pandas as pd
import pytest

from toolkit.errors import ConfigError, ToolkitError
from toolkit.forces import read_forces_table
from toolkit.ingest.extract import read_extract_text, validate_extract
from toolkit.ingest.provenance import provenance_path
from toolkit.synthetic import generator

PP = 0.03  # calibration.md: each share within 3 percentage points
EXPLOITATION = "cse|cce|trafficking"


@pytest.fixture(scope="module")
def year(national_year):
    return national_year[0]


def test_national_volume_within_10_percent_of_2016_17(year):
    assert abs(len(year) / 179_953 - 1) < 0.10  # NCA 2016/17, England and Wales


def test_episodes_per_child_within_10_percent(year):
    per_child = len(year) / year.groupby(["force_code", "person_id"]).ngroups
    assert abs(per_child / 2.1 - 1) < 0.10  # NCA 2014/15: 127,424 incidents, 60,657 children


def test_repeat_share(year):
    episodes_per_child = year.groupby(["force_code", "person_id"])["episode_id"].transform("size")
    assert abs((episodes_per_child > 1).mean() - 0.63) < PP  # NCA 2016/17


def test_age_shares(year):
    assert abs(year["age"].between(12, 17).mean() - 0.93) < PP  # NCA 2015/16
    assert abs(year["age"].between(15, 17).mean() - 0.58) < PP


def test_time_to_return(year):
    returned = year[year["returned_at"].notna()]
    hours = (returned["returned_at"] - returned["reported_at"]).dt.total_seconds() / 3600
    assert abs((hours <= 8).mean() - 0.47) < PP  # NCA 2016/17
    assert abs((hours <= 48).mean() - 0.87) < PP
    assert abs((hours > 7 * 24).mean() - 0.03) < PP


def test_no_harm_among_known_outcomes(year):
    known = year[~year["harm"].isin(["", "unknown"])]
    assert abs((known["harm"] == "none").mean() - 0.96) < PP  # NCA 2016/17


def test_cse_flag_share(year):
    assert abs(year["risk_factors"].str.contains("cse").mean() - 0.09) < PP  # NCA about 2019/20


def test_who_finds_them(year):
    known = year[~year["found_by"].isin(["", "unknown"])]
    assert abs((known["found_by"] == "returned_self").mean() - 0.43) < PP  # NCA 2018/19
    assert abs((known["found_by"] == "police").mean() - 0.29) < PP


def test_looked_after_children_repeat(year):
    looked_after = year[year["looked_after"] == "yes"]
    per_child = looked_after.groupby(["force_code", "person_id"]).size()
    assert abs((per_child > 1).mean() - 0.65) < PP  # DfE 2018


def test_looked_after_rate_far_above_all_children(year):
    # About 1 in 200 of all children is reported missing (Missing People, 2022/23).
    children = year.groupby(["force_code", "person_id"]).ngroups
    share = children / read_forces_table()["children"].sum()
    assert 1 / 300 < share < 1 / 100


def test_absent_share_between_the_2013_pilots(year):
    share = (year["category"] == "absent").mean()
    assert 0.31 - PP < share < 0.39 + PP  # ACPO 2013 pilots: 31% and 39%


def test_high_risk_share_spans_published_range_between_forces(year):
    counts = year["force_code"].value_counts()
    sizeable = counts[counts >= 500].index
    high = (
        year[year["force_code"].isin(sizeable)]
        .groupby("force_code")["risk_initial"]
        .apply(lambda grades: (grades == "high").mean())
    )
    assert abs(high.max() - 0.46) < PP  # NCA 2022/23: 46% in one force
    assert abs(high.min() - 0.02) < PP  # ... 2% in others


def test_volumes_follow_child_population(year):
    population = read_forces_table()["children"]
    counts = year["force_code"].value_counts().reindex(population.index, fill_value=0)
    assert np.corrcoef(np.log(population), np.log(counts.clip(lower=1)))[0, 1] > 0.9


def test_generated_extract_meets_the_contract(small_extract):
    path, _, truth = small_extract
    raw = read_extract_text(path)
    assert validate_extract(raw, truth["extract_date"]).empty


def test_every_force_officer_and_child_pseudonym_is_opaque(year):
    assert year["person_id"].str.fullmatch(r"C[0-9a-f]{10}").all()
    officers = year["officer_id"].dropna()
    assert officers[officers != ""].str.fullmatch(r"O[0-9a-f]{10}").all()
    assert not year.duplicated(["force_code", "episode_id"]).any()


def test_same_seed_same_bytes_and_other_seed_other_bytes(tmp_path):
    digests = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        episodes, truth = generator.generate_extract(2023, seed=seed, scale=0.02)
        path, truth_path = generator.write_extract(episodes, truth, tmp_path / f"{name}.csv")
        made = path.read_bytes() + truth_path.read_bytes() + provenance_path(path).read_bytes()
        digests.append(hashlib.sha256(made).hexdigest())
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_excel_is_the_same_bytes_when_written_later(tmp_path):
    # openpyxl dates the workbook's properties to the second and zip members to two seconds, both at
    # saving: 2.1 seconds apart, today's clock would show in both.
    episodes, truth = generator.generate_extract(2023, seed=3, scale=0.002)
    first, _ = generator.write_extract(episodes, truth, tmp_path / "a.xlsx")
    time.sleep(2.1)
    second, _ = generator.write_extract(episodes, truth, tmp_path / "b.xlsx")
    assert first.read_bytes() == second.read_bytes()


def test_planted_effects_are_present_and_written_down(national_year):
    episodes, truth = national_year
    realised = truth["realised"]
    national = realised["national"]
    effects = {p["effect"]: p["force_code"] for p in truth["planted"]}

    absent = realised[effects["absent_overuse"]]["flagged_absent_share"]
    assert absent == pytest.approx(0.45, abs=0.05) and national["flagged_absent_share"] < 0.12
    assert realised[effects["risk_undergrading"]]["high_share"] == pytest.approx(0.02, abs=0.01)
    assert realised[effects["risk_overgrading"]]["high_share"] == pytest.approx(0.46, abs=0.02)
    assert realised[effects["poor_data_quality"]]["blank_share"] > 5 * national["blank_share"]
    assert realised[effects["few_return_interviews"]]["rhi_72h_share"] < national["rhi_72h_share"] / 2
    exemplary = realised[effects["exemplary"]]
    assert exemplary["flagged_absent_share"] == 0
    assert exemplary["rhi_72h_share"] > 2 * national["rhi_72h_share"]
    spread = generator.measure_practice(episodes)["officer_high_or_medium_sd"]
    inconsistent = effects["officer_inconsistency"]
    assert spread[inconsistent] > spread.drop([inconsistent, "national"]).quantile(0.9) * 1.5

    # The ground truth is measured from the data, independently of the generator's parameters.
    force = episodes[episodes["force_code"] == effects["absent_overuse"]]
    flagged = force[force["risk_factors"].str.contains(EXPLOITATION)]
    assert (flagged["category"] == "absent").mean() == pytest.approx(absent, abs=1e-6)
    assert len(truth["force_parameters"]) == 43


def test_unplanted_extract_has_no_planted_extremes():
    episodes, truth = generator.generate_extract(2024, seed=5, scale=0.3)
    practice = generator.measure_practice(episodes).drop(index="national")
    counts = episodes["force_code"].value_counts()
    practice = practice.loc[counts[counts >= 300].index]
    assert truth["planted"] == []
    assert practice["flagged_absent_share"].max() < 0.3
    assert practice["high_share"].between(0.03, 0.3).all()


def test_several_years_grow_and_carry_on(tmp_path):
    episodes, truth = generator.generate_extract(2020, seed=2, years=3, scale=0.02)
    per_year = episodes["reported_at"].dt.year.value_counts().sort_index()
    assert list(per_year.index) == [2020, 2021, 2022]
    assert truth["extract_date"] == "2023-01-31"


def test_written_parquet_and_excel_read_back_the_same(tmp_path, small_extract):
    _, episodes, truth = small_extract
    subset = episodes.head(300)
    texts = []
    for suffix in (".csv", ".parquet", ".xlsx"):
        path, _ = generator.write_extract(subset, truth, tmp_path / f"x{suffix}")
        texts.append(read_extract_text(path))
    pd.testing.assert_frame_equal(texts[0], texts[1])
    pd.testing.assert_frame_equal(texts[0], texts[2])


@pytest.mark.parametrize(
    "plan, message",
    [
        ("effects: [", "not valid YAML"),
        ("effects: {}", "needs 'effects:'"),
        ("effects:\n  - force: E23000099\n    effect: exemplary", "unknown force code"),
        ("effects:\n  - force: E23000001\n    effect: wizardry", "unknown effect 'wizardry'"),
        ("effects:\n  - force: E23000001\n    effect: absent_overuse\n    flagged_absent_share: 3", "from 0 to 1"),
        ("effects:\n  - force: E23000001\n    effect: absent_overuse\n    flagged_absent_share: yes", "from 0 to 1"),
        ("effects:\n  - force: E23000001\n    effect: absent_overuse\n    flagged_absent_share: .nan", "from 0 to 1"),
        ("effects:\n  - force: E23000001\n    effect: officer_inconsistency\n    officer_sd: .inf", "from 0 to 5"),
        ("effects:\n  - force: E23000001\n    effect: exemplary\n    colour: red", "takes no parameter colour"),
        (
            "effects:\n  - {force: E23000001, effect: risk_undergrading}\n"
            "  - {force: E23000001, effect: risk_overgrading}",
            "already has a grading effect",
        ),
    ],
)
def test_bad_plans_are_refused_clearly(tmp_path, plan, message):
    path = tmp_path / "plan.yaml"
    path.write_text(plan)
    with pytest.raises(ConfigError, match=message):
        generator.read_plan(path)


@pytest.mark.parametrize("kwargs", [{"scale": 0}, {"years": 0}, {"extract_date": "2024-06-01"}])
def test_impossible_requests_are_refused(kwargs):
    with pytest.raises(ToolkitError):
        generator.generate_extract(2024, seed=1, **kwargs)


def test_truth_is_json(small_extract):
    path, _, _ = small_extract
    truth = json.loads(path.with_name(path.name + ".truth.json").read_text())
    assert truth["seed"] == 11 and {p["effect"] for p in truth["planted"]} == set(generator.EFFECTS)
