"""Outcomes: harm by first response, grade changes and the c-statistic, against independent computations.

Counts are checked against a row-by-row count in plain Python, shares against statsmodels' Wilson
interval, the c-statistic against a count over every (harmed, unharmed) pair and against
``scipy.stats.mannwhitneyu``, DeLong's variance against its definition over the matrix of pairs, and
the interval against a bootstrap; every force given has its rows, with the reason where a figure
cannot be computed.
"""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from toolkit.dates import ExtractDate
from toolkit.forces import NATIONAL
from toolkit.ingest.clean import clean_export
from toolkit.ingest.mapping import CANONICAL, read_mapping
from toolkit.ingest.schema import RISK_GRADES
from toolkit.stats.outcomes import (
    HARMS,
    MIN_GROUP,
    OUTCOME_TABLES,
    RESPONSE_LEVELS,
    classify_first_response,
    measure_c_statistic,
    measure_harm_discrimination,
    summarise_grade_changes,
    summarise_harm_by_grade,
    summarise_outcomes,
)
from toolkit.stats.tables import PREPARED_TABLES, TABLE_NAMES, Inputs
from toolkit.store import WorkFolder
from toolkit.synthetic import generator

SCORE = {"absent": 0, "no_apparent_risk": 0, "low": 1, "medium": 2, "high": 3}
COUNTS = {
    "harm_by_grade": ["episodes", "harmed", "harm_unknown", "children_harmed_after_low"],
    "grade_changes": ["episodes", "upgraded", "downgraded", "unchanged"],
    "harm_discrimination": ["episodes", "harmed"],
}
EXTRACT = ExtractDate.parse("2025-01-31")


def make_episodes(rows: list[tuple]) -> pd.DataFrame:
    """Episodes from (force, person, first response, final grade, harm); the response is absent or a grade."""
    frame = pd.DataFrame(rows, columns=["force_code", "person_id", "response", "risk_final", "harm"])
    absent = frame["response"] == "absent"
    return frame.assign(
        category=np.where(absent, "absent", "missing"),
        risk_initial=frame["response"].where(~absent, "no_apparent_risk"),
    ).drop(columns="response")


def draw_episodes(seed: int, forces: int = 4, size: int = 400) -> pd.DataFrame:
    """Random episodes in the clean table's types, harm more likely at higher grades, blanks and unknowns too."""
    rng = np.random.default_rng(seed)
    response = rng.choice(RESPONSE_LEVELS, size, p=[0.3, 0.05, 0.2, 0.3, 0.15])
    risk = 0.02 + 0.06 * np.vectorize(SCORE.get)(response) * rng.random()
    harm = np.where(rng.random(size) < risk, rng.choice(HARMS, size), "none")
    harm = np.where(rng.random(size) < 0.05, "unknown", harm).astype(object)
    harm[rng.random(size) < 0.03] = None
    final = rng.choice([*RISK_GRADES, None], size, p=[0.2, 0.25, 0.3, 0.2, 0.05])
    frame = pd.DataFrame(
        {
            "force_code": rng.choice([f"E2300000{k}" for k in range(1, forces + 1)], size),
            "person_id": [f"p{k}" for k in rng.integers(0, size // 3, size)],
            "category": np.where(response == "absent", "absent", "missing"),
            "risk_initial": np.where(response == "absent", "no_apparent_risk", response),
            "risk_final": final,
            "harm": harm,
        }
    )
    codes = {"harm": (*HARMS, "none", "unknown"), "risk_initial": RISK_GRADES, "risk_final": RISK_GRADES}
    typed = {column: pd.Categorical(frame[column], categories=values) for column, values in codes.items()}
    strings = {column: frame[column].astype("string[pyarrow]") for column in ("force_code", "person_id")}
    return frame.assign(**typed, **strings, category=pd.Categorical(frame["category"]))


def brute_force_auc(harmed: np.ndarray, unharmed: np.ndarray) -> tuple[float, float]:
    """The c-statistic and DeLong's variance from the matrix of every (harmed, unharmed) pair."""
    psi = (harmed[:, None] > unharmed[None, :]) + 0.5 * (harmed[:, None] == unharmed[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), v10.var(ddof=1) / len(harmed) + v01.var(ddof=1) / len(unharmed)


@pytest.fixture(scope="module")
def hand_worked():
    """Two forces and one that the extract covers with no clean episode (E23000003)."""
    rows = [
        # F1: child a harmed twice after low responses (one child), b harmed at medium (not counted),
        # c harmed after absent, d with harm unknown and blank.
        ("E23000001", "a", "low", "medium", "injury"),
        ("E23000001", "a", "no_apparent_risk", "low", "sexual_offence"),
        ("E23000001", "b", "medium", "medium", "injury"),
        ("E23000001", "c", "absent", "no_apparent_risk", "died"),
        ("E23000001", "c", "absent", None, "none"),
        ("E23000001", "d", "low", "high", "unknown"),
        ("E23000001", "d", "high", "low", None),
        ("E23000001", "e", "low", "low", "none"),
        # F2: the same pseudonym "a" is another child; harmed after a low grade.
        ("E23000002", "a", "low", None, "other_crime_victim"),
        ("E23000002", "f", "high", None, "none"),
    ]
    return make_episodes(rows)


def test_harm_by_grade_counts_a_hand_worked_extract(hand_worked):
    table = summarise_harm_by_grade(hand_worked, ["E23000001", "E23000002", "E23000003"])
    assert table["force_code"].unique().tolist() == ["E23000001", "E23000002", "E23000003", NATIONAL]
    assert (table.groupby("force_code")["response"].apply(tuple) == RESPONSE_LEVELS).all()
    t = table.set_index(["force_code", "response"])
    counts = ["episodes", "harmed", "harm_unknown"]
    assert t.loc["E23000001", counts].to_numpy().tolist() == [[2, 1, 0], [1, 1, 0], [2, 1, 1], [1, 1, 0], [0, 0, 1]]
    assert t.loc["E23000002", counts].to_numpy().tolist() == [[0, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0]]
    assert (t.loc["E23000003", counts].to_numpy() == 0).all()
    assert t.loc[NATIONAL, counts].to_numpy().tolist() == [[2, 1, 0], [1, 1, 0], [3, 2, 1], [1, 1, 0], [1, 0, 1]]
    # a (twice) and c in the first force; "a" of the second force is another child.
    after_low = table.groupby("force_code")["children_harmed_after_low"].agg(["min", "max"])
    assert after_low.to_dict("index") == {
        "E23000001": {"min": 2, "max": 2},
        "E23000002": {"min": 1, "max": 1},
        "E23000003": {"min": 0, "max": 0},
        NATIONAL: {"min": 3, "max": 3},
    }
    low, high = proportion_confint(2, 3, alpha=0.05, method="wilson")
    row = t.loc[(NATIONAL, "low")]
    assert (row["share"], row["share_lower"], row["share_upper"]) == pytest.approx((2 / 3, low, high), abs=1e-12)
    assert t.loc[("E23000001", "high"), "method"] == (
        "not computed: harm not recorded for any episode with this first response"
    )
    assert t.loc[("E23000003", "low"), "method"] == "not computed: no episode with this first response"
    assert t.loc[("E23000003", "low"), ["share", "share_lower", "share_upper"]].isna().all()
    assert t.loc[("E23000001", "low"), "method"].startswith("episodes harmed while missing")


def test_harm_by_grade_agrees_with_a_row_by_row_count_at_random_inputs():
    for seed in range(5):
        episodes = draw_episodes(seed)
        table = summarise_harm_by_grade(episodes).set_index(["force_code", "response"])
        rows, known, harmed, children = Counter(), Counter(), Counter(), {}
        for e in episodes.astype(object).where(episodes.notna(), None).itertuples():
            level = "absent" if e.category == "absent" else e.risk_initial
            for force in (e.force_code, NATIONAL):
                rows[force, level] += 1
                known[force, level] += e.harm not in ("unknown", None)
                harmed[force, level] += e.harm in HARMS
            if e.harm in HARMS and level in ("absent", "no_apparent_risk", "low"):
                children.setdefault(e.force_code, set()).add(e.person_id)
        for (force, level), n in rows.items():
            row = table.loc[(force, level)]
            assert row["episodes"] == known[force, level]
            assert row["harmed"] == harmed[force, level]
            assert row["episodes"] + row["harm_unknown"] == n
        assert table["episodes"].sum() + table["harm_unknown"].sum() == 2 * len(episodes)
        per_force = table["children_harmed_after_low"].groupby(level="force_code").first()
        expected = {force: len(children.get(force, ())) for force in sorted(set(episodes["force_code"]))}
        assert per_force.drop(NATIONAL).to_dict() == expected
        assert per_force[NATIONAL] == sum(len(ids) for ids in children.values())
        shown = table[table["episodes"] > 0]
        low, high = proportion_confint(shown["harmed"], shown["episodes"], alpha=0.05, method="wilson")
        assert np.allclose(shown["share_lower"], np.minimum(low, shown["share"]), atol=1e-12)
        assert np.allclose(shown["share_upper"], np.maximum(high, shown["share"]), atol=1e-12)


def test_grade_changes_count_each_way_by_the_order_of_grades(hand_worked):
    table = summarise_grade_changes(hand_worked, ["E23000003"]).set_index("force_code")
    columns = ["episodes", "upgraded", "downgraded", "unchanged"]
    # F1: low->medium, nar->low, low->high up; high->low down; medium, absent (nar->nar) and low alike.
    assert table.loc["E23000001", columns].tolist() == [7, 3, 1, 3]
    assert table.loc["E23000002", columns].tolist() == [0, 0, 0, 0]
    assert table.loc["E23000003", columns].tolist() == [0, 0, 0, 0]
    assert table.loc[NATIONAL, columns].tolist() == [7, 3, 1, 3]
    low, high = proportion_confint(3, 7, alpha=0.05, method="wilson")
    assert table.loc["E23000001", ["upgraded_lower", "upgraded_upper"]].tolist() == pytest.approx([low, high])
    assert table.loc["E23000002", "method"] == "not computed: no episode has both a first and a final risk grade"
    assert table.loc["E23000002", ["upgraded_share", "downgraded_share", "unchanged_share"]].isna().all()
    for seed in range(5):
        episodes = draw_episodes(seed)
        table = summarise_grade_changes(episodes).set_index("force_code")
        order = {grade: k for k, grade in enumerate(RISK_GRADES)}
        expected = Counter()
        for e in episodes.astype(object).where(episodes.notna(), None).itertuples():
            if e.risk_final is not None:
                step = order[e.risk_final] - order[e.risk_initial]
                change = "upgraded" if step > 0 else "downgraded" if step < 0 else "unchanged"
                expected[e.force_code, change] += 1
                expected[NATIONAL, change] += 1
        for (force, change), n in expected.items():
            assert table.loc[force, change] == n
        assert (table[["upgraded", "downgraded", "unchanged"]].sum(axis=1) == table["episodes"]).all()


def test_the_c_statistic_and_delong_interval_of_a_hand_worked_example():
    """Harmed at scores 0, 1, 2, 3, 3; unharmed at 0, 0, 0, 1, 2.

    Pairs ordered: 1.5 + 3.5 + 4.5 + 5 + 5 = 19.5 of 25, so c = 0.78. Each harmed episode's share of the
    unharmed below it (ties one half): 0.3, 0.7, 0.9, 1, 1, variance 0.348 / 4 = 0.087; each unharmed
    episode's share of the harmed above it: 0.9, 0.9, 0.9, 0.7, 0.5, variance 0.128 / 4 = 0.032. DeLong's
    variance is 0.087 / 5 + 0.032 / 5 = 0.0238, so the interval is 0.78 -+ 1.96 x 0.15427 = 0.4776 to 1.0824,
    clipped to 1: its lower end is below 0.5, so the grade is not shown to discriminate.
    """
    c = measure_c_statistic([1, 1, 1, 2], [3, 1, 1, 0]).iloc[0]
    assert c["c_statistic"] == pytest.approx(0.78)
    assert c["standard_error"] ** 2 == pytest.approx(0.0238)
    assert c["lower"] == pytest.approx(0.78 - stats.norm.ppf(0.975) * np.sqrt(0.0238))
    assert c["upper"] == 1.0
    scores = ["absent", "low", "medium", "high", "high", "no_apparent_risk", "absent", "absent", "low", "medium"]
    episodes = make_episodes(
        [("E23000001", str(k), s, None, "injury" if k < 5 else "none") for k, s in enumerate(scores)]
    )
    row = measure_harm_discrimination(episodes).set_index("force_code").loc["E23000001"]
    assert (row["episodes"], row["harmed"]) == (10, 5)
    assert row["c_statistic"] == pytest.approx(0.78)
    assert row["lower"] == pytest.approx(c["lower"]) and row["discriminates"] is np.False_
    assert "DeLong" in row["method"]


def test_the_c_statistic_matches_every_pair_and_mannwhitneyu_at_random_inputs():
    for seed in range(8):
        episodes = draw_episodes(seed, forces=3, size=600)
        table = measure_harm_discrimination(episodes).set_index("force_code")
        known = episodes["harm"].isin(["none", *HARMS]).to_numpy()
        level = np.where(episodes["category"] == "absent", "absent", episodes["risk_initial"].astype(str))
        score = np.vectorize(SCORE.get)(level)
        hurt = episodes["harm"].isin(HARMS).to_numpy()
        for force in [*sorted(set(episodes["force_code"])), NATIONAL]:
            mine = known & ((episodes["force_code"] == force).to_numpy() | (force == NATIONAL))
            harmed, unharmed = score[mine & hurt], score[mine & ~hurt]
            row = table.loc[force]
            assert (row["episodes"], row["harmed"]) == (mine.sum(), len(harmed))
            if min(len(harmed), len(unharmed)) < MIN_GROUP:  # a small force of a draw: no c-statistic
                assert row["method"].startswith(f"not computed: fewer than {MIN_GROUP} episodes with")
                assert np.isnan(row["c_statistic"]) and row["discriminates"] is pd.NA
                continue
            auc, variance = brute_force_auc(harmed, unharmed)
            u = stats.mannwhitneyu(harmed, unharmed).statistic
            assert row["c_statistic"] == pytest.approx(auc, abs=1e-12)
            assert row["c_statistic"] == pytest.approx(u / (len(harmed) * len(unharmed)), abs=1e-12)
            assert row["standard_error"] ** 2 == pytest.approx(variance, rel=1e-9)
            z = stats.norm.ppf(0.975) * np.sqrt(variance)
            assert (row["lower"], row["upper"]) == pytest.approx((max(auc - z, 0), min(auc + z, 1)), abs=1e-12)
            assert row["discriminates"] == (row["lower"] > 0.5)


def test_delong_interval_agrees_with_a_bootstrap():
    """2,000 resamples of 3,000 episodes (seed 2024): standard error within 5%, limits within 0.005."""
    rng = np.random.default_rng(2024)
    score = rng.choice(4, 3000, p=[0.35, 0.2, 0.3, 0.15])
    harmed = rng.random(3000) < 0.03 + 0.03 * score
    c = measure_c_statistic(np.bincount(score[harmed], minlength=4), np.bincount(score[~harmed], minlength=4))
    draws = rng.integers(0, len(score), (2000, len(score)))
    ranks = stats.rankdata(score[draws], axis=1)  # midranks: ties count one half
    hurt = harmed[draws]
    n1 = hurt.sum(axis=1)
    n0 = len(score) - n1
    boot = ((ranks * hurt).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    assert c.loc[0, "standard_error"] == pytest.approx(boot.std(ddof=1), rel=0.05)
    lower, upper = np.percentile(boot, [2.5, 97.5])
    assert (c.loc[0, "lower"], c.loc[0, "upper"]) == pytest.approx((lower, upper), abs=0.005)


@pytest.mark.parametrize(
    ("harms", "responses", "reason"),
    [
        (["injury"] * 4 + ["none"] * 20, ["low", "high"] * 12, f"fewer than {MIN_GROUP} episodes with harm"),
        (["injury"] * 20 + ["none"] * 4, ["low", "high"] * 12, f"fewer than {MIN_GROUP} episodes without harm"),
        (["injury", "none"] * 12, ["absent", "no_apparent_risk"] * 12, "every episode has the same first response"),
        (["unknown"] * 12 + [None] * 12, ["low", "high"] * 12, "no episode with its harm recorded"),
    ],
)
def test_a_c_statistic_that_cannot_be_computed_says_why(harms, responses, reason):
    episodes = make_episodes(
        [("E23000001", str(k), r, None, h) for k, (r, h) in enumerate(zip(responses, harms, strict=True))]
    )
    table = measure_harm_discrimination(episodes, ["E23000001", "E23000002"]).set_index("force_code")
    for force in ("E23000001", NATIONAL):
        row = table.loc[force]
        assert row["method"] == f"not computed: {reason}" or row["method"].startswith(f"not computed: {reason}")
        assert row[["c_statistic", "standard_error", "lower", "upper"]].isna().all()
        assert row["discriminates"] is pd.NA
    assert table.loc["E23000002", ["episodes", "harmed"]].tolist() == [0, 0]
    assert table.loc["E23000002", "method"] == "not computed: no episode with its harm recorded"


def test_groups_that_never_share_a_score_have_a_c_statistic_but_no_interval():
    rows = [("E23000001", str(k), "high" if k < 6 else "low", None, "injury" if k < 6 else "none") for k in range(12)]
    row = measure_harm_discrimination(make_episodes(rows)).iloc[0]
    assert row["c_statistic"] == 1.0 and np.isnan(row["lower"]) and row["discriminates"] is pd.NA
    assert row["method"].endswith("interval not computed: harmed and unharmed never share a score")


def test_empty_inputs_give_zero_counts_and_reasons_for_every_force():
    """No episode at all, no harm column, no final grades: zeros and reasons, never an exception."""
    empty = make_episodes([])
    bare = make_episodes([("E23000001", "a", "low", None, None), ("E23000001", "b", "absent", None, None)])
    for episodes in (empty, bare.drop(columns=["harm", "risk_final"])):
        tables = summarise_outcomes(episodes, ["E23000001", "E23000002"])
        assert sorted(tables) == sorted(OUTCOME_TABLES)
        for name, table in tables.items():
            assert set(table["force_code"]) == {"E23000001", "E23000002", NATIONAL}, name
            assert all(table[column].dtype == "int64" for column in COUNTS[name]), name
            assert table["method"].str.startswith("not computed: ").all(), name
            assert (table[COUNTS[name]].drop(columns="harm_unknown", errors="ignore") == 0).all().all(), name
    table = summarise_harm_by_grade(bare.drop(columns="harm")).set_index(["force_code", "response"])
    assert table.loc[("E23000001", "low"), "harm_unknown"] == 1 and table.loc[(NATIONAL, "absent"), "harm_unknown"] == 1


def test_first_response_levels_follow_category_then_grade():
    episodes = pd.DataFrame(
        {
            "category": pd.Categorical(["absent", "absent", "missing", "missing", "missing", None]),
            "risk_initial": pd.Categorical(["no_apparent_risk", "high", "no_apparent_risk", "medium", None, "low"]),
        }
    )
    assert classify_first_response(episodes).astype(object).where(lambda s: s.notna(), None).tolist() == [
        "absent",
        "absent",
        "no_apparent_risk",
        "medium",
        None,
        None,
    ]


@pytest.fixture(scope="module")
def national_tenth():
    """A generated tenth of a national year, cleaned, with every row of one force set aside (an age of 99)."""
    episodes, truth = generator.generate_extract(2024, seed=3, scale=0.1, extract_date=EXTRACT.day)
    text = generator._to_text(episodes)
    text.loc[text["force_code"] == "E23000007", "age"] = "99"
    return clean_export(text, read_mapping(CANONICAL), EXTRACT.isoformat())


def test_a_run_prepares_and_stores_the_three_tables_for_every_force(national_tenth, tmp_path):
    assert set(OUTCOME_TABLES) <= set(TABLE_NAMES)
    entry = next(table for table in PREPARED_TABLES if table.names == OUTCOME_TABLES)
    inputs = Inputs(national_tenth, EXTRACT, {}, {})
    assert "E23000007" in inputs.covered and "E23000007" not in set(inputs.episodes["force_code"])
    tables = entry.compute(inputs, {})
    folder = WorkFolder(tmp_path)
    for name, table in tables.items():
        assert set(table["force_code"]) == {*inputs.covered, NATIONAL}, name
        assert all(table[column].dtype == "int64" for column in COUNTS[name]), name
        assert table["method"].notna().all(), name
        forces = table[table["force_code"] != NATIONAL].groupby("force_code")[COUNTS[name]].sum()
        national = table[table["force_code"] == NATIONAL][COUNTS[name]].sum()
        assert (forces.sum() == national).all(), name  # England and Wales is the forces added up
        assert (forces.loc["E23000007"] == 0).all(), name
        folder.write_table(name, table)
        pd.testing.assert_frame_equal(folder.read_table(name), table, check_dtype=False)
    clean = inputs.episodes
    by_grade = tables["harm_by_grade"].set_index(["force_code", "response"])
    level = classify_first_response(clean)
    assert by_grade.loc[NATIONAL, "episodes"].add(by_grade.loc[NATIONAL, "harm_unknown"]).to_dict() == (
        level.value_counts().reindex(RESPONSE_LEVELS).to_dict()
    )
    assert (
        tables["grade_changes"].set_index("force_code").loc[NATIONAL, "episodes"] == clean["risk_final"].notna().sum()
    )
    discrimination = tables["harm_discrimination"].set_index("force_code")
    known = clean["harm"].isin(["none", *HARMS]).to_numpy()
    score = level.map(SCORE).astype(int).to_numpy()[known]
    hurt = clean["harm"].isin(HARMS).to_numpy()[known]
    u = stats.mannwhitneyu(score[hurt], score[~hurt]).statistic
    assert discrimination.loc[NATIONAL, "c_statistic"] == pytest.approx(u / (hurt.sum() * (~hurt).sum()))
    assert discrimination.loc["E23000007", "method"] == "not computed: no episode with its harm recorded"
