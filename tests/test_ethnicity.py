"""The first response by ethnicity after case mix (#14 item 13): a planted effect found, one that case mix explains
not found, the estimator against statsmodels at random inputs, and the report's table under disclosure control."""

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2

from toolkit.config import PLANS_DIR
from toolkit.forces import NATIONAL, get_force, read_comparator_groups
from toolkit.publish import report
from toolkit.publish.disclosure import publish_tables
from toolkit.publish.report import ForceReport, show_problem_profile
from toolkit.stats.consistency import describe_case_mix, has_no_active_response, is_graded_higher
from toolkit.stats.profile import (
    ETHNICITY_GROUPS,
    compare_response_by_ethnicity,
    summarise_night_reports,
    summarise_problem_profile,
)
from toolkit.stats.volume import summarise_volume
from toolkit.synthetic import generator

FORCES = ["E23000005", "E23000013", "E23000014"]
PLANTED = "E23000013"
COMPARED = [g for g in ETHNICITY_GROUPS if g not in ("white", "not_known")]


def _extract(
    seed: int,
    per_force: int = 6000,
    black_in_care=0.2,
    care_absent=0.0,
    planted_absent=0.0,
    planted_grade=0.0,
    factors=("cse", "mental_health"),
    unknown=0.05,
) -> pd.DataFrame:
    """Episodes of three forces, children missing one to three times, on a logistic model of the response.

    ``care_absent`` raises the log odds of "absent" for looked-after children everywhere; ``planted_absent`` and
    ``planted_grade`` those of "absent" and of a medium or high grade for Black children in :data:`PLANTED` alone.
    """
    rng = np.random.default_rng(seed)
    n = per_force * len(FORCES)
    per = per_force // 2  # children of each force
    kids = per * len(FORCES)
    force = np.repeat(FORCES, per_force)
    child = np.concatenate([rng.integers(0, per, per_force) + i * per for i in range(len(FORCES))])
    ethnicity = rng.choice(
        ["white", "asian", "black", "mixed", "other", "unknown"], kids, p=[0.7, 0.08, 0.12, 0.05, 0.01, 1 - 0.96]
    )[child]
    black = ethnicity == "black"
    in_care = rng.random(kids)[child] < np.where(black, black_in_care, 0.2)
    listed = {f: rng.random(n) < 0.15 for f in factors}
    risk = pd.Series([";".join(f for f in factors if listed[f][i]) or None for i in range(n)], dtype="string")
    age = rng.integers(8, 18, kids)[child]
    planted = force == PLANTED
    absent_logit = -2.0 + care_absent * in_care + 0.5 * listed[factors[0]] + planted_absent * (black & planted)
    absent = rng.random(n) < 1 / (1 + np.exp(-absent_logit))
    grade_logit = -0.3 + 1.0 * listed[factors[0]] + 0.4 * (age < 12) + planted_grade * (black & planted)
    higher = rng.random(n) < 1 / (1 + np.exp(-grade_logit))
    lower_grade = np.where(rng.random(n) < 0.1, "no_apparent_risk", "low")
    recorded = ethnicity.astype(object)
    recorded[rng.random(n) < unknown] = "unknown"  # an episode recorded unknown: the child's first known counts
    return pd.DataFrame(
        {
            "force_code": force,
            "person_id": child.astype(str),
            "reported_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, n), unit="h"),
            "age": age,
            "sex": "female",
            "ethnicity": recorded,
            "looked_after": np.where(in_care, "yes", "no"),
            "risk_factors": risk,
            "category": np.where(absent, "absent", "missing"),
            "risk_initial": np.where(absent, None, np.where(higher, rng.choice(["medium", "high"], n), lower_grade)),
        }
    )


def _odds(table: pd.DataFrame, code: str, measure: str, group: str) -> pd.Series:
    return table.set_index(["force_code", "measure", "group"]).loc[(code, measure, group)]


def test_a_planted_effect_is_found_in_its_force_and_in_its_direction():
    """Black children in one force recorded absent more often, and graded lower, at equal case mix."""
    table = compare_response_by_ethnicity(_extract(1, planted_absent=1.0, planted_grade=-0.8))
    absent = _odds(table, PLANTED, "no_active_response", "black")
    graded = _odds(table, PLANTED, "higher_grade", "black")
    assert 1 < absent["lower"] < absent["value"] < absent["upper"] and absent["band"] in ("above_95", "above_998")
    assert graded["lower"] < graded["value"] < graded["upper"] < 1 and graded["band"] in ("below_95", "below_998")
    assert absent["reason"] == "" and absent["method"].startswith("Mantel-Haenszel odds ratio of no active response")
    for code in set(FORCES) - {PLANTED}:  # nothing planted there: the intervals cover 1
        for measure in ("no_active_response", "higher_grade"):
            row = _odds(table, code, measure, "black")
            assert row["lower"] < 1 < row["upper"], (code, measure)


def test_a_difference_that_case_mix_explains_is_not_found_after_case_mix():
    """Black children are more often looked after, and looked-after children more often recorded absent."""
    table = compare_response_by_ethnicity(_extract(2, black_in_care=0.6, care_absent=1.6))
    for code in FORCES:
        row = _odds(table, code, "no_active_response", "black")
        assert row["crude_lower"] > 1.3, code  # the crude odds ratio would report a difference
        assert row["lower"] < 1 < row["upper"], code  # after case mix there is none
    national = _odds(table, NATIONAL, "no_active_response", "black")
    assert national["crude_lower"] > 1.5 and national["lower"] < 1 < national["upper"]


def _by_hand(episodes: pd.DataFrame) -> pd.DataFrame:
    """Each episode's force, child's first known ethnicity, case-mix stratum and outcomes, row by row."""
    mix = describe_case_mix(episodes)
    first = {}
    for r in episodes.sort_values("reported_at", kind="stable").itertuples():
        key = (r.force_code, r.person_id)
        if first.get(key) is None and r.ethnicity not in ("unknown", "", None):
            first[key] = r.ethnicity
    known = episodes["category"].eq("absent") | episodes["risk_initial"].isin(
        ["no_apparent_risk", "low", "medium", "high"]
    )
    return pd.DataFrame(
        {
            "force_code": episodes["force_code"],
            "group": [
                first.get(k) or "not_known" for k in zip(episodes["force_code"], episodes["person_id"], strict=True)
            ],
            "stratum": mix.astype(int).astype(str).agg("".join, axis=1),
            "no_active_response": has_no_active_response(episodes),
            "higher_grade": is_graded_higher(episodes),
        }
    )[known.to_numpy()]


def _statsmodels(rows: pd.DataFrame, group: str, outcome: str, strata: list[str]):
    """statsmodels' Mantel-Haenszel odds ratio and interval over ``strata``, and the crude 2x2 table's."""
    pair = rows[rows["group"].isin([group, "white"])]
    counts = pair.groupby([*strata, "group"])[outcome].agg(["sum", "size"]).unstack("group").dropna()  # both groups
    a, n1 = counts[("sum", group)].to_numpy(float), counts[("size", group)].to_numpy(float)
    c, n0 = counts[("sum", "white")].to_numpy(float), counts[("size", "white")].to_numpy(float)
    pooled = StratifiedTable(np.stack([np.stack([a, n1 - a]), np.stack([c, n0 - c])]))
    mine, white = pair[pair["group"] == group][outcome], pair[pair["group"] == "white"][outcome]
    crude = Table2x2(np.array([[mine.sum(), (~mine).sum()], [white.sum(), (~white).sum()]], dtype=float))
    return (pooled.oddsratio_pooled, *pooled.oddsratio_pooled_confint()), (crude.oddsratio, *crude.oddsratio_confint())


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_every_odds_ratio_equals_statsmodels_stratified_table_at_random_inputs(seed):
    """Many sparse strata (six risk factors), repeat children, episodes recorded unknown, a force with no episode."""
    factors = ("cse", "cce", "self_harm", "mental_health", "drugs_alcohol", "out_of_area_placement")
    episodes = _extract(seed, per_force=1500, factors=factors, planted_absent=0.5, unknown=0.1)
    blank = episodes.sample(frac=0.03, random_state=seed).index  # a first response not recorded: left out
    episodes.loc[blank, "risk_initial"] = None
    episodes.loc[blank, "category"] = "missing"
    covered = [*FORCES, "E23000034"]
    table = compare_response_by_ethnicity(episodes, covered).set_index(["force_code", "measure", "group"])
    rows = _by_hand(episodes)
    checked = 0
    for measure in ("no_active_response", "higher_grade"):
        for code in [*FORCES, NATIONAL]:
            mine = rows if code == NATIONAL else rows[rows["force_code"] == code]
            counts = mine.groupby("group")[measure].agg(["size", "sum"])
            for group in ETHNICITY_GROUPS:
                got = table.loc[(code, measure, group)]
                expected = counts.reindex([group]).fillna(0).iloc[0]
                assert (got["episodes"], got["events"]) == (expected["size"], expected["sum"]), (code, group)
                if group not in COMPARED:
                    assert got["reason"].startswith("not computed") and np.isnan(got["value"])
                    continue
                if got["episodes"] < 20:
                    assert got["reason"] == "not computed: fewer than 20 episodes of the group"
                    continue
                # England and Wales pools the strata of every force: force and case mix.
                strata = ["force_code", "stratum"] if code == NATIONAL else ["stratum"]
                adjusted, crude = _statsmodels(mine, group, measure, strata)
                assert got[["value", "lower", "upper"]].tolist() == pytest.approx(adjusted, rel=1e-9), (code, group)
                if code == NATIONAL:  # without the case mix: over forces alone
                    crude = _statsmodels(mine, group, measure, ["force_code"])[0]
                assert got[["crude_value", "crude_lower", "crude_upper"]].tolist() == pytest.approx(crude, rel=1e-9)
                checked += 1
    assert checked >= 20
    empty = table.loc["E23000034"]
    assert (empty["episodes"] == 0).all() and empty["reason"].str.startswith("not computed: no clean episodes").all()


# ---------------------------------------------------------------------------------------------------------
# The report's table.


@pytest.fixture(scope="module")
def published():
    """The profile of a 5% national year, prepared and published as a run does, with one force's "other" group
    cut to 3 children and its Black children's episodes all but 2 given an active response."""
    episodes, _ = generator.generate_extract(
        2024, seed=11, scale=0.05, plan=generator.read_plan(PLANS_DIR / "demo.yaml")
    )
    code = "E23000014"
    mine = episodes["force_code"] == code
    other = episodes.loc[mine & (episodes["ethnicity"] == "other"), "person_id"].unique()
    episodes.loc[mine & episodes["person_id"].isin(other[3:]), "ethnicity"] = "white"
    # Every episode of the force's Black children, each recorded Black: a child's group is its own, whatever
    # one record left blank.
    children = episodes.loc[mine & (episodes["ethnicity"] == "black"), "person_id"].unique()
    black = episodes.index[mine & episodes["person_id"].isin(children)]
    episodes.loc[black, "ethnicity"] = "black"
    episodes.loc[black, "category"] = "missing"
    order = np.arange(len(black))
    episodes.loc[black, "risk_initial"] = np.where(order < 2, "no_apparent_risk", np.where(order % 2, "medium", "low"))
    groups = read_comparator_groups()
    tables = summarise_problem_profile(episodes, groups)
    tables |= {
        "summary": summarise_volume(episodes, groups),
        "night_reports": summarise_night_reports(episodes, groups),
    }
    run = {"suppression_threshold": 5, "comparator_groups": groups}
    return tables, publish_tables(tables, run), run


def _ethnicity_table(html: str) -> dict[str, list[str]]:
    part = re.split(r"<h4[^>]*>The first response by ethnicity, after case mix</h4>", html)[1]
    rows = re.findall(r"<tr[^>]*data-row='ethnicity_response:(\w+)'[^>]*>(.*?)</tr>", part, re.S)
    return {group: [unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)] for group, cells in rows}


def test_the_report_shows_the_odds_with_england_and_wales_and_withholds_small_counts(published):
    tables, tables_published, run = published
    code = "E23000014"
    html = show_problem_profile(ForceReport(get_force(code), run, [], tables_published)).data
    shown = _ethnicity_table(html)
    assert list(shown) == list(ETHNICITY_GROUPS)
    source = tables["profile_ethnicity"].query("force_code == @code and measure == 'no_active_response'")
    source = source.set_index("group")
    # Other: 3 children, so its count and odds ratios are withheld, and one more count beside it.
    assert source.loc["other", "children"] == 3 and shown["other"][0] == "[c]"
    assert sum(cells[0] == "[c]" for cells in shown.values()) == 2
    # Black: 2 of its episodes without an active response: that odds ratio is withheld, the grade's is not.
    assert source.loc["black", "events"] == 2 and shown["black"][1] == "[c]" and shown["black"][3] != "[c]"
    white = shown["white"]
    assert white[0] == f"{source.loc['white', 'episodes']:,}" and white[1:] == ["1 (reference)"] * 4
    for group, cells in shown.items():
        for number in re.findall(r"^[\d,]+$", cells[0]):
            assert not 1 <= int(number.replace(",", "")) <= 4
            assert int(number.replace(",", "")) == source.loc[group, "episodes"]
    mixed = source.loc["mixed"]
    assert shown["mixed"][1] == f"{mixed['value']:.2f} ({mixed['lower']:.2f} to {mixed['upper']:.2f})"
    assert (
        shown["mixed"][2] == f"{mixed['national']:.2f} ({mixed['national_lower']:.2f} to {mixed['national_upper']:.2f})"
    )
    assert "Mantel-Haenszel" in html and "[c]: withheld to protect children" in html
    # Every force's table (the helper the section calls, without the section's charts): no nan, no count of
    # 1 to 4, and every row with no odds ratio says why.
    for force in sorted(set(tables["profile_ethnicity"]["force_code"]) - {NATIONAL}):
        rows = _ethnicity_table(
            report._show_profile_ethnicity(ForceReport(get_force(force), run, [], tables_published))
        )
        assert list(rows) == list(ETHNICITY_GROUPS), force
        text = " ".join(cell for cells in rows.values() for cell in cells)
        assert "nan" not in text.lower().split() and "-" not in text.split(), force
        for cells in rows.values():
            assert cells[0] == "[c]" or not 1 <= int(cells[0].replace(",", "")) <= 4, force
            assert all(c == "[c]" or c.startswith(("not ", "1 (reference)")) or re.match(r"\d", c) for c in cells)
