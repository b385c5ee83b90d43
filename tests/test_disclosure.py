"""Disclosure control: no small count is published, and none can be recovered from the totals."""

import re

import numpy as np
import pandas as pd
import pytest

from toolkit.forces import NATIONAL, read_comparator_groups
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
            "support": assess_metric_support(result.clean, 0.7, "2025-01-31"),
            "cleaning": summarise_cleaning(result),
        },
        run,
    )
    html = show_data_quality(ForceReport(get_force("E23000034"), run, [], tables)).data
    assert "Rows received from the force's extract: <strong>[c]</strong>" in html
    assert "67%" not in html and "33%" not in html  # time to return: 2 of 3 episodes have returned_at
    assert ">3<" not in html
    assert "[c]: withheld to protect children&#x27;s identities (statistical disclosure control)" in html


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
    html = re.sub(r"<td[^>]*>", "<td>", html)  # the cells without their classes
    twice = html.split("Children who went missing twice or more</th>")[1].split("</tr>")[0]
    assert "<td>100</td><td>[c]</td>" in twice and "102" not in html
    # City of London's none of 2 missing three times is withheld with its 2 (it would say both went missing
    # twice only), and so is the national 40, which less West Midlands' 40 would give it back.
    thrice = html.split("three times or more</th>")[1].split("</tr>")[0]
    assert "<td>40</td><td>[c]</td>" in thrice
    published = tables["repeats"].set_index("force_code")
    assert published.loc["E23000034", ["children_3_plus", "frequently_missing"]].isna().all()


def test_no_lone_withheld_cell_in_a_set_that_adds_up_to_a_published_total():
    """At random sets of counts, a total less the published cells never gives back exactly one withheld cell."""
    from toolkit.publish.disclosure import is_small_count, withhold_complements

    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 13, 2_000)
    sets = np.repeat(np.arange(len(sizes)), sizes)
    counts = np.where(rng.random(len(sets)) < 0.3, rng.integers(0, 5, len(sets)), rng.integers(0, 400, len(sets)))
    withheld = withhold_complements(counts, sets, 5)
    frame = pd.DataFrame({"set": sets, "count": counts, "withheld": withheld})
    assert frame.loc[is_small_count(frame["count"]), "withheld"].all()  # every small count is withheld
    per_set = frame.groupby("set")["withheld"].sum()
    totals = frame.groupby("set")["count"].sum()
    # Never one alone (its total less the others would give it back), unless it is the set's only non-zero
    # cell: then the total is that small count, and is withheld itself.
    lone = per_set == 1
    assert lone.any() and is_small_count(totals[lone]).all()
    assert (per_set[~is_small_count(totals)] != 1).all()
    # Zeros identify nobody, except in a set of a small total, where they would say what its few children
    # have in common: such a set is withheld whole; elsewhere a zero is always published.
    of_small = is_small_count(frame["set"].map(totals))
    assert frame.loc[of_small, "withheld"].all() and of_small.any()
    assert not frame.loc[(frame["count"] == 0) & ~of_small, "withheld"].any()


def _withheld_recoverable(cells: pd.DataFrame, total: float) -> bool:
    """Whether a total less the published cells pins down a withheld cell."""
    return int(cells["value"].isna().sum()) == 1 and np.isfinite(total)


def test_charts_and_tables_that_add_up_to_a_published_total_give_no_withheld_cell_back(with_a_tiny_force):
    """Grade mix, monthly series, cleaning: within a force and in the pooled rows (issue 12, item 4)."""
    from toolkit.publish.disclosure import publish_tables
    from toolkit.stats.practice import tabulate_grade_mix
    from toolkit.stats.trends import count_episodes_by_period

    groups = read_comparator_groups()
    episodes = with_a_tiny_force
    raw = {
        "grade_mix": tabulate_grade_mix(episodes, groups),
        "monthly": count_episodes_by_period(episodes),
        "cleaning": pd.DataFrame(
            {
                "force_code": ["E23000013"] * 3,
                "outcome": ["clean", "quarantined: bad date", "merged"],
                "rows": [33, 1, 0],
            }
        ),
    }
    tables = publish_tables(raw, {"suppression_threshold": 5, "comparator_groups": groups})
    mix, months = tables["grade_mix"], tables["monthly"]
    forces = mix[mix["area"] == "force"]
    for code, own in forces.groupby("force_code"):
        assert own["share"].isna().sum() != 1, code  # 100% less the drawn bars is not one grade
    assert forces["suppressed"].any()  # the test has something to find
    for code, own in months[months["force_code"] != "england_and_wales"].groupby("force_code"):
        assert own["episodes"].isna().sum() != 1, code  # the force's episodes less the drawn months
    assert months["suppressed"].any()
    # Pooled rows are the sums of the published cells of their members: nothing left to subtract.
    published = forces.pivot(index="force_code", columns="grade", values="episodes")
    national = mix[mix["area"] == "national"].set_index("grade")["episodes"]
    pd.testing.assert_series_equal(national.sort_index(), published.sum().sort_index(), check_names=False)
    for code, peers in list(groups.items())[:10]:
        pooled = mix[(mix["area"] == "comparators") & (mix["force_code"] == code)].set_index("grade")["episodes"]
        expected = published.reindex([p for p in peers if p in published.index]).sum()
        pd.testing.assert_series_equal(pooled.sort_index(), expected.sort_index(), check_names=False)
    month_forces = months[months["force_code"] != "england_and_wales"].pivot(
        index="force_code", columns="month", values="episodes"
    )
    month_national = months[months["force_code"] == "england_and_wales"].set_index("month")["episodes"]
    pd.testing.assert_series_equal(month_national.sort_index(), month_forces.sum().sort_index(), check_names=False)
    # "Received 34; clean 33; quarantined [c]" gave the 1 back. The clean rows are the force's published
    # episodes, so it is the rows received that are withheld.
    cleaning = tables["cleaning"]
    own = cleaning[cleaning["force_code"] == "E23000013"].set_index("outcome")
    # None merged, beside the 1 quarantined, would say what became of the one row set aside: withheld with it.
    assert own.loc["clean", "rows"] == 33 and pd.isna(own.loc["merged", "rows"])
    assert pd.isna(own.loc["quarantined: bad date", "rows"]) and own["received"].isna().all()


def test_rows_received_less_the_published_episodes_gives_nothing_back():
    """Clean 9,551 (the force's episodes) and quarantined 1: 'received 9,552' gave the 1 back (review of #12)."""
    from toolkit.publish.disclosure import publish_tables

    cleaning = pd.DataFrame(
        {
            "force_code": ["E23000014"] * 4 + ["E23000001"] * 2,
            "outcome": ["clean", "quarantined: bad date", "quarantined: missing required", "merged", "clean", "merged"],
            "rows": [500, 2, 30, 10, 800, 40],
        }
    )
    shares = {"dimension": ["uniqueness", "completeness"] * 2, "measure": ["rows that are not duplicates", "x"] * 2}
    quality = pd.DataFrame(
        {
            "force_code": ["E23000014", "E23000014", "E23000001", "E23000001"],
            **shares,
            "value": [532 / 542, 0.5, 800 / 840, 0.5],
            "lower": 0.1,
            "upper": 0.9,
            "numerator": [532, 250, 800, 400],
            "denominator": [542, 500, 840, 800],
            "unit": "share",
        }
    )
    tables = publish_tables({"cleaning": cleaning, "quality": quality}, {"suppression_threshold": 5})
    own = tables["cleaning"].query("force_code == 'E23000014'").set_index("outcome")
    assert own.loc["clean", "rows"] == 500 and own["received"].isna().all()
    assert own.drop("clean")["rows"].isna().sum() == 2  # the 2 and the next smallest set-aside cell (10)
    card = tables["quality"].set_index(["force_code", "dimension"])
    assert card.loc[("E23000014", "uniqueness"), "suppressed"]  # 532 of 542 would give the 10 merged back
    assert not card.loc[("E23000014", "completeness"), "suppressed"]  # over clean episodes: nothing to find
    assert not card.loc[("E23000001", "uniqueness"), "suppressed"]


def test_national_data_quality_rows_pool_the_published_forces(with_a_tiny_force):
    """England and Wales less the published forces left City of London's 3 rows (8,475 against 8,474)."""
    from toolkit.ingest.clean import clean_export
    from toolkit.ingest.mapping import CANONICAL, read_mapping
    from toolkit.publish.disclosure import publish_tables
    from toolkit.stats.quality import score_data_quality

    canonical = with_a_tiny_force.sample(4_000, random_state=1)
    canonical = pd.concat([canonical, with_a_tiny_force[with_a_tiny_force["force_code"] == CITY_OF_LONDON]])
    raw = canonical.drop_duplicates("episode_id").astype(str).replace({"NaT": "", "nan": "", "<NA>": "", "None": ""})
    result = clean_export(raw, read_mapping(CANONICAL), "2025-01-31")
    quality = publish_tables({"quality": score_data_quality(result, "2025-01-31")}, {"suppression_threshold": 5})
    quality = quality["quality"]
    national = quality["force_code"] == "england_and_wales"
    forces = quality[~national]
    assert forces.loc[forces["force_code"] == CITY_OF_LONDON, "suppressed"].all()
    sums = forces.groupby(["dimension", "measure"])[["numerator", "denominator"]].sum()
    pooled = quality[national].set_index(["dimension", "measure"])[["numerator", "denominator"]]
    pd.testing.assert_frame_equal(pooled.sort_index(), sums.sort_index(), check_dtype=False)
    assert quality.loc[national, "leaves_out"].str.contains(CITY_OF_LONDON).all()


def test_the_hour_by_weekday_cells_are_published_with_the_other_tables_and_the_nation_pooled_from_them():
    """Published once with the folder's tables, not by each force's report: England and Wales's heat map is the
    sum of the forces' published cells, so no withheld cell comes back as the nation less the other forces."""
    from toolkit.forces import NATIONAL
    from toolkit.publish.disclosure import publish_tables

    slots = np.arange(168)
    a = np.where(slots == 5, 3, 20)  # one small cell: it and its complement in its group are withheld
    b = np.full(168, 10)
    hours = pd.DataFrame(
        {
            "force_code": np.repeat(["E23000014", "E23000011", NATIONAL], 168),
            "slot": np.tile(slots, 3),
            "group": np.tile(np.where(slots < 84, "day", "other_night"), 3),
            "episodes": np.concatenate([a, b, a + b]),
        }
    )
    published = publish_tables({"profile_hours": hours}, {"suppression_threshold": 5})["profile_hours"]
    cells = published.pivot(index="slot", columns="force_code", values="published")
    assert cells["E23000014"].isna().sum() == 2 and pd.isna(cells.loc[5, "E23000014"])
    pd.testing.assert_series_equal(
        cells[NATIONAL], cells[["E23000014", "E23000011"]].sum(axis=1, min_count=1), check_names=False
    )
    assert cells.loc[5, NATIONAL] == 10  # the other force's cell alone: nothing left to subtract
    assert published["episodes"].tolist() == hours["episodes"].tolist()  # the counts themselves are kept


def _profile_rows(code, counts, rests_on="missing_from:not_known"):
    """One force's episodes by where they went missing from (the last cell: not known)."""
    categories = ["home", "foster_care", "school", "hospital", "not_known"][-len(counts) :]
    known = sum(counts[:-1])
    return pd.DataFrame(
        {
            "force_code": code,
            "measure": "missing_from",
            "category": categories,
            "numerator": counts,
            "denominator": [known] * (len(counts) - 1) + [sum(counts)],
            "whole": sum(counts),
            "partition": "missing_from",
            "rests_on": [rests_on] * (len(counts) - 1) + [""],
        }
    )


def test_the_profile_withholds_a_small_cell_and_the_complement_that_would_give_it_back():
    from toolkit.publish.disclosure import publish_profile

    shares = pd.concat(
        [
            _profile_rows("a", [70, 3, 9, 12, 0]),  # 3 withheld, and 9 (the next smallest) with it
            _profile_rows("b", [70, 30, 9, 12, 0]),  # nothing small: b's own cells are not a's
            _profile_rows(NATIONAL, [140, 33, 18, 24, 0]),
        ],
        ignore_index=True,
    )
    published = publish_profile(shares, threshold=5).set_index(["force_code", "category"])
    withheld = published["count_withheld"]
    assert withheld["a"].tolist() == [False, True, True, False, False]
    assert not withheld["b"].any()
    # Whatever a's published cells are, its total less them leaves two unknowns: 3 + 9 = 12, not 3.
    a = published.loc["a"]
    assert a.loc[~a["count_withheld"], "numerator"].sum() == 82 and a["whole"].iloc[0] - 82 == 12
    assert (published["figure_withheld"] == published["count_withheld"])[["a", "b"]].all()
    # England and Wales: shares only, never withheld here, never a count.
    assert published.loc[NATIONAL, "count_withheld"].all() and not published.loc[NATIONAL, "figure_withheld"].any()


def test_a_withheld_not_known_cell_withholds_every_share_whose_denominator_would_give_it_back():
    from toolkit.publish.disclosure import publish_profile

    published = publish_profile(_profile_rows("a", [70, 20, 9, 12, 2]), threshold=5)
    # The not known 2 is withheld, and 9 as its complement; the shares of the others are over 111 = 113 - 2.
    assert published["count_withheld"].tolist() == [False, False, True, False, True]
    assert published["figure_withheld"].tolist() == [True, True, True, True, True]
    assert published.loc[0, "denominator"] == published.loc[0, "whole"] - 2


def test_a_weekend_night_share_two_short_of_the_night_share_is_withheld():
    from toolkit.publish.disclosure import publish_profile

    def weekend(all_nights, residential, homes):
        return pd.DataFrame(
            {
                "force_code": "a",
                "measure": "weekend_night",
                "category": ["all", "residential_care"],
                "numerator": [all_nights, residential],
                "denominator": [500, homes],
                "whole": [500, homes],
                "partition": "",
                "rests_on": ["", "missing_from:residential_care"],
            }
        )

    night = pd.DataFrame({"force_code": ["a"], "numerator": [40], "denominator": [500]})
    assert publish_profile(weekend(38, 20, 90), night)["figure_withheld"].tolist() == [True, False]
    assert publish_profile(weekend(30, 27, 90), night)["figure_withheld"].tolist() == [False, True]
    assert publish_profile(weekend(30, 20, 90), night)["figure_withheld"].tolist() == [False, False]
    assert publish_profile(weekend(38, 20, 90), night, threshold=0)["figure_withheld"].tolist() == [False, False]


def test_rates_of_children_withhold_a_small_count_and_its_complement_within_each_partition():
    from toolkit.publish.disclosure import publish_profile_rates

    rates = pd.DataFrame(
        {
            "force_code": ["a"] * 6,
            "partition": ["age_band"] * 3 + ["sex"] * 3,
            "category": ["0-9", "10-11", "12-17", "female", "male", "not_known"],
            "children": [6, 2, 80, 40, 48, 0],
        }
    )
    published = publish_profile_rates(rates, threshold=5)
    assert published["figure_withheld"].tolist() == [True, True, False, False, False, False]
    assert published["count_withheld"].equals(published["figure_withheld"])


def test_the_first_response_by_ethnicity_withholds_counts_in_sets_and_odds_on_small_counts():
    from toolkit.publish.disclosure import publish_response_odds

    def unit(code, episodes, events, children):
        return pd.DataFrame(
            {
                "force_code": code,
                "measure": "no_active_response",
                "group": ["white", "asian", "black", "mixed"],
                "episodes": episodes,
                "events": events,
                "children": children,
                "reference_episodes": episodes[0],
                "reference_events": events[0],
                "reference_children": children[0],
            }
        )

    table = pd.concat(
        [
            unit("a", [300, 50, 30, 2], [100, 20, 10, 1], [150, 20, 12, 2]),
            unit("b", [300, 50, 30, 25], [100, 20, 28, 10], [150, 20, 12, 10]),
            unit(NATIONAL, [600, 100, 60, 27], [200, 40, 38, 11], [300, 40, 24, 12]),
        ],
        ignore_index=True,
    )
    published = publish_response_odds(table, threshold=5).set_index(["force_code", "group"])
    assert published.loc["a", "count_withheld"].tolist() == [False, False, True, True]  # 2, then 30
    assert published.loc["a", "odds_withheld"].tolist() == [False, False, True, True]
    assert not published.loc["b", "count_withheld"].any()
    assert published.loc["b", "odds_withheld"].tolist() == [False, False, True, False]  # 30 - 28 without it
    assert published.loc[NATIONAL, "count_withheld"].all()
    assert not published.loc[NATIONAL, "odds_withheld"].any()


def test_publish_tables_marks_the_profile_tables(national_year):
    from toolkit.publish.disclosure import publish_tables
    from toolkit.stats.profile import summarise_problem_profile

    episodes, _ = national_year
    tables = summarise_problem_profile(episodes.iloc[::20].reset_index(drop=True), read_comparator_groups())
    published = publish_tables(tables, {"suppression_threshold": 5, "comparator_groups": {}})
    shares = published["profile_shares"]
    forces = shares[shares["force_code"] != NATIONAL]
    assert {"count_withheld", "figure_withheld"} <= set(shares.columns)
    # Every small count is withheld, and no share published rests on one.
    assert forces.loc[forces["numerator"].between(1, 4), "count_withheld"].all()
    shown = forces[~forces["figure_withheld"]]
    assert not (shown["numerator"].between(1, 4) | (shown["denominator"] - shown["numerator"]).between(1, 4)).any()
    for name, column in (("profile_rates", "count_withheld"), ("profile_ethnicity", "odds_withheld")):
        assert column in published[name]
    assert published["profile_concentration"]["withheld"].dtype == bool
    assert published["profile_delay"]["withheld"].dtype == bool


def test_a_national_share_beside_a_withheld_force_gives_no_count_back():
    """To four figures with its Wilson interval, England and Wales's share gave back its numerator and denominator
    (1,178 of 16,400 harmed after a high grade in the demo), and so the withheld forces' counts less the published
    ones'. Beside a withheld force it is now as the reports print it, with no interval; elsewhere as before."""
    from toolkit.publish.disclosure import SHOWN_NATIONALLY, round_published_figures, suppress_tidy_figures
    from toolkit.stats.intervals import proportion_interval

    counts = {"E23000034": (3, 40), "E23000014": (1175, 16360)}  # the City's 3 harmed are withheld
    harmed, episodes = (sum(c[i] for c in counts.values()) for i in (0, 1))
    rows = []
    for metric, own in (("harm_share_after_high", counts), ("return_completed", {k: (30, 40) for k in counts})):
        for code, (k, n) in [
            *own.items(),
            (NATIONAL, (sum(c[0] for c in own.values()), sum(c[1] for c in own.values()))),
        ]:
            share = proportion_interval(pd.Series([k]), pd.Series([n])).iloc[0]
            rows.append(
                {
                    "force_code": code,
                    "area": "national" if code == NATIONAL else "force",
                    "section": "outcomes",
                    "metric": metric,
                    "value": share["value"],
                    "lower": share["lower"],
                    "upper": share["upper"],
                    "numerator": k,
                    "denominator": n,
                    "unit": "share",
                    "band": None,
                    "method": "Wilson interval",
                }
            )
    published = round_published_figures(suppress_tidy_figures(pd.DataFrame(rows)))
    national = published[published["area"] == "national"].set_index("metric")
    beside = national.loc["harm_share_after_high"]
    assert published.query("force_code == 'E23000034' and metric == 'harm_share_after_high'")["suppressed"].all()
    assert beside["value"] == 0.072 and np.isnan(beside["lower"]) and np.isnan(beside["upper"])
    assert harmed / episodes != beside["value"] and SHOWN_NATIONALLY.split(" (")[0] in beside["method"]
    assert np.isnan(beside["numerator"]) and np.isnan(beside["denominator"]) and not beside["suppressed"]
    # Where no force is withheld, England and Wales keeps its four figures and its interval.
    plain = national.loc["return_completed"]
    assert plain["value"] == 0.75 and plain["lower"] < 0.75 < plain["upper"] and plain["method"] == "Wilson interval"


def test_a_section_of_withheld_shares_says_so_and_not_that_the_force_has_no_episodes():
    """City of London's 3 episodes: every practice share is withheld, which is not "no episodes"."""
    from toolkit.forces import get_force
    from toolkit.publish.report import ForceReport, show_practice

    keys = ("flagged_no_active_response", "children_flagged_no_active_response")
    practice = pd.DataFrame(columns=["force_code", "measure", "value", "lower", "upper", "numerator", "denominator"])
    support = pd.DataFrame(columns=["force_code", "metric", "supported", "reason"])

    def section(episodes: float) -> str:
        summary = pd.DataFrame(
            {"force_code": ["E23000034"], "area": ["force"], "metric": ["episodes"], "value": [episodes]}
        )
        tables = {"summary": summary, "practice": practice, "support": support}
        return show_practice(ForceReport(get_force("E23000034"), {"suppression_threshold": 5}, [], tables), keys).data

    assert "No episodes" not in section(3) and "each rests on fewer than 5 episodes or children" in section(3)
    assert section(0) == "<p>No episodes for this force are in the extract.</p>"
