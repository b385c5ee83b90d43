"""Disclosure control: no small count is published, and none can be recovered from the totals."""

import numpy as np
import pandas as pd
import pytest

from toolkit.forces import read_comparator_groups
from toolkit.publish.disclosure import suppress_small_counts, suppress_volume_summary
from toolkit.stats.volume import summarise_volume

CITY_OF_LONDON = "E23000034"


@pytest.fixture(scope="module")
def with_a_tiny_force(national_year):
    episodes = national_year[0]
    city = episodes[episodes["force_code"] == CITY_OF_LONDON].head(3)
    return pd.concat([episodes[episodes["force_code"] != CITY_OF_LONDON], city], ignore_index=True)


def test_a_withheld_force_cannot_be_recovered_by_subtraction(with_a_tiny_force):
    groups = read_comparator_groups()
    summary = summarise_volume(with_a_tiny_force, groups)
    published = suppress_volume_summary(summary, groups)
    forces = published[published["area"] == "force"]
    withheld = set(forces.loc[forces["suppressed"], "force_code"])
    assert withheld == {CITY_OF_LONDON}
    for metric in ("episodes", "children"):
        own = forces[forces["metric"] == metric].set_index("force_code")["value"]
        national = published.query("area == 'national' and metric == @metric").iloc[0]
        # England and Wales minus every published force leaves nothing to find.
        assert national["value"] == own.drop(list(withheld)).sum()
        assert national["leaves_out"] == CITY_OF_LONDON
        for code, peers in groups.items():
            row = published.query("area == 'comparators' and metric == @metric and force_code == @code").iloc[0]
            kept = [p for p in peers if p not in withheld]
            assert row["value"] == own[kept].sum(), code
            assert (row["leaves_out"] == CITY_OF_LONDON) == (CITY_OF_LONDON in peers)
    # Every other force keeps its own figures.
    assert not forces.loc[forces["force_code"] != CITY_OF_LONDON, "suppressed"].any()
    # The national rate rests on the same pooled counts.
    rate = published.query("area == 'national' and metric == 'rate_per_1000_children'").iloc[0]
    assert rate["numerator"] == national_total(published, "episodes")


def national_total(published, metric):
    return published.query("area == 'national' and metric == @metric")["value"].iloc[0]


def test_without_withheld_forces_the_totals_are_the_plain_sums(national_year):
    groups = read_comparator_groups()
    episodes = national_year[0]
    # Without City of London's handful of episodes no force is withheld (a zero is published).
    summary = summarise_volume(episodes[episodes["force_code"] != CITY_OF_LONDON], groups)
    published = suppress_volume_summary(summary, groups)
    assert (published["leaves_out"] == "").all()
    pd.testing.assert_frame_equal(
        published.drop(columns=["suppressed", "leaves_out"]).reset_index(drop=True),
        summary.astype({c: float for c in ("value", "lower", "upper", "numerator", "denominator")}).reset_index(
            drop=True
        ),
        check_dtype=False,
    )


def test_suppression_off_publishes_everything(with_a_tiny_force):
    summary = summarise_volume(with_a_tiny_force)
    published = suppress_volume_summary(summary, read_comparator_groups(), threshold=0)
    assert not published["suppressed"].any() and (published["leaves_out"] == "").all()
    assert national_total(published, "episodes") == len(with_a_tiny_force)


def test_small_counts_and_figures_resting_on_them_are_blanked():
    table = pd.DataFrame(
        {
            "metric": ["episodes", "episodes", "rate", "share", "share"],
            "value": [0.0, 4.0, 0.1, 0.5, 0.5],
            "numerator": [np.nan, np.nan, 4.0, 10.0, 2.0],
            "denominator": [np.nan, np.nan, 40000.0, 20.0, 4.0],
            "unit": ["episodes", "episodes", "episodes per 1,000 children", "share", "share"],
        }
    )
    out = suppress_small_counts(table)
    assert out["suppressed"].tolist() == [False, True, True, False, True]
    assert out.loc[out["suppressed"], ["value", "numerator", "denominator"]].isna().all().all()


def test_a_share_whose_complement_is_a_small_count_is_suppressed():
    """998 of 1,000 tells that 2 were not: the share is withheld like 2 of 1,000."""
    table = pd.DataFrame(
        {
            "unit": ["share", "share", "share", "episodes per child"],
            "value": [0.998, 0.002, 0.99, 1.6],
            "numerator": [998.0, 2.0, 990.0, 1600.0],
            "denominator": [1000.0, 1000.0, 1000.0, 1000.0],
        }
    )
    published = suppress_small_counts(table)
    assert published["suppressed"].tolist() == [True, True, False, False]
    assert published.loc[0, ["value", "numerator", "denominator"]].isna().all()


def test_a_force_with_three_rows_has_no_count_or_share_of_them_in_its_data_quality_section():
    """City of London sent 3 rows: neither the rows received nor a share of them (2 of 3) is printed."""
    from toolkit.forces import get_force
    from toolkit.ingest.clean import clean_export
    from toolkit.ingest.mapping import CANONICAL, read_mapping
    from toolkit.publish.disclosure import publish_tables
    from toolkit.publish.report import ForceReport, show_data_quality
    from toolkit.stats.quality import assess_metric_support, score_data_quality, summarise_cleaning

    raw = pd.DataFrame(
        {
            "force_code": ["E23000034"] * 3,
            "episode_id": ["a", "b", "c"],
            "person_id": ["p", "q", "r"],
            "reported_at": ["2024-03-05T21:40:00", "2024-04-05T10:00:00", "2024-05-05T10:00:00"],
            "returned_at": ["2024-03-06T01:00:00", "2024-04-05T12:00:00", ""],
            "age": ["15", "14", "16"],
            "category": ["missing"] * 3,
            "risk_initial": ["low"] * 3,
        }
    )
    result = clean_export(raw, read_mapping(CANONICAL), "2025-01-31")
    run = {"suppression_threshold": 5}
    tables = publish_tables(
        {
            "quality": score_data_quality(result, "2025-01-31"),
            "support": assess_metric_support(result.clean, 0.7),
            "cleaning": summarise_cleaning(result),
        },
        run,
    )
    html = show_data_quality(ForceReport(get_force("E23000034"), run, [], tables)).data
    assert "Rows received from the force's extract: <strong>[c]</strong>" in html
    assert "67%" not in html and "33%" not in html  # time to return: 2 of 3 episodes have returned_at
    assert ">3<" not in html
    assert "[c]: withheld because the share would reveal a count of fewer than 5 episodes" in html


def test_no_force_report_gives_a_withheld_count_of_repeat_children_back_by_subtraction():
    """City of London's 2 children missing twice are withheld, so the national 102 beside another 100 is too."""
    from toolkit.forces import get_force
    from toolkit.publish.disclosure import publish_tables
    from toolkit.publish.report import ForceReport, show_repeats

    repeats = pd.DataFrame(
        {
            "force_code": ["E23000034", "E23000014", "england_and_wales"],
            "children_2_plus": [2, 100, 102],
            "children_3_plus": [0, 40, 40],
            "frequently_missing": [0, 10, 10],
            "repeat_episodes": [2, 300, 302],
            "episodes": [4, 500, 504],
            "repeat_share": [0.5, 0.6, 0.6],
            "repeat_share_lower": [0.15, 0.55, 0.55],
            "repeat_share_upper": [0.85, 0.64, 0.64],
            "rule": "3+ episodes in 90 days",
        }
    )
    run = {"suppression_threshold": 5}
    tables = publish_tables({"repeats": repeats}, run)
    html = show_repeats(ForceReport(get_force("E23000014"), run, [], tables)).data
    twice = html.split("Children who went missing twice or more</th>")[1].split("</tr>")[0]
    assert "<td>100</td><td>[c]</td>" in twice and "102" not in html
    assert "<td>40</td><td>40</td>" in html  # nothing withheld in that row: published as it is
