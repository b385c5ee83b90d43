"""The data-quality scorecard finds the force planted with poor data, and only it."""

import pandas as pd
import pytest

from toolkit.config import PLANS_DIR
from toolkit.findings import THRESHOLDS, find_issues
from toolkit.findings.rulebook import support_statement
from toolkit.forces import NATIONAL
from toolkit.ingest.clean import clean_export
from toolkit.ingest.mapping import CANONICAL, read_mapping
from toolkit.stats import quality
from toolkit.synthetic import generator
from toolkit.synthetic.exports import DIALECTS, export_dialect


@pytest.fixture(scope="module")
def cleaned():
    episodes, truth = generator.generate_extract(
        2024, seed=13, scale=0.25, plan=generator.read_plan(PLANS_DIR / "demo.yaml")
    )
    mapping = read_mapping(DIALECTS["niche_rms"])
    export, defects = export_dialect(episodes, mapping, truth["extract_date"], seed=13, defect_share=0.01)
    result = clean_export(export, mapping, truth["extract_date"])
    poor = next(p["force_code"] for p in truth["planted"] if p["effect"] == "poor_data_quality")
    return result, truth, defects, poor


def test_scorecard_counts_every_row_received(cleaned):
    result, truth, _, _ = cleaned
    card = quality.score_data_quality(result, truth["extract_date"])
    uniqueness = card[(card["dimension"] == "uniqueness") & (card["force_code"] == NATIONAL)].iloc[0]
    assert uniqueness["denominator"] == result.rows_in
    # Exact duplicates merged and near duplicates quarantined are what make rows not unique.
    not_unique = len(result.merged) + result.quarantine["all_reasons"].str.contains("duplicate").sum()
    assert uniqueness["denominator"] - uniqueness["numerator"] == not_unique
    assert (card["lower"] <= card["value"]).all() and (card["value"] <= card["upper"]).all()


def test_cleaning_summary_adds_up_per_force(cleaned):
    result, _, _, _ = cleaned
    table = quality.summarise_cleaning(result)
    national = table[table["force_code"] == NATIONAL]
    assert national["rows"].sum() == result.rows_in
    assert table[table["force_code"] != NATIONAL]["rows"].sum() == result.rows_in


def test_only_the_poor_data_force_gets_a_data_quality_concern(cleaned):
    result, truth, _, poor = cleaned
    card = quality.score_data_quality(result, truth["extract_date"])
    support = quality.assess_metric_support(result.clean, THRESHOLDS["support_sufficient"], truth["extract_date"])
    findings = find_issues({"quality": card, "support": support}, areas=("understanding",))
    concerns = {f["force_code"] for f in findings if f["judgement"] == "cause_of_concern"}
    assert concerns == {poor}
    assert all(f["recommendation"] for f in findings if f["judgement"] == "cause_of_concern")
    insufficient = {f["force_code"] for f in findings if f["rule"] == "dq_insufficient_data"}
    assert insufficient == {poor}
    assert all(f["area"] == "understanding" for f in findings)


def test_insufficient_data_is_stated_never_silent(cleaned):
    result, truth, _, poor = cleaned
    support = quality.assess_metric_support(result.clean, THRESHOLDS["support_sufficient"], truth["extract_date"])
    statements = {metric: support_statement(support, poor, metric) for metric in quality.METRIC_REQUIREMENTS}
    assert any(text and text.startswith("Not judged: only") for text in statements.values()), statements
    # Supervisory review is supported by any review recorded: a review not recorded is a review not done.
    assert statements["supervision"] is None
    assert support_statement(support, "E23000001", "supervision") is None
    assert set(support["metric"]) == set(quality.METRIC_REQUIREMENTS)


def test_the_28_day_cut_off_is_measured_from_the_end_of_the_extract_day():
    """One meaning of the cut-off, as in cleaning and practice: an extract holds its whole day.

    Taken on 31 January, an extract holds what was recorded by the end of that day: a child reported
    at 10:00 on 3 January was reported 28 days and 14 hours before it, so its return should be
    recorded by now; one reported on 4 January, not yet.
    """
    raw = pd.DataFrame(
        {
            "force_code": ["E23000014"] * 2,
            "episode_id": ["a", "b"],
            "person_id": ["p", "q"],
            "reported_at": ["2025-01-03T10:00:00", "2025-01-04T10:00:00"],
            "returned_at": ["2025-01-03T12:00:00", ""],
            "age": ["15", "14"],
            "category": ["missing"] * 2,
            "risk_initial": ["low"] * 2,
        }
    )
    result = clean_export(raw, read_mapping(CANONICAL), "2025-01-31")
    card = quality.score_data_quality(result, "2025-01-31").set_index(["force_code", "dimension", "measure"])
    timeliness = card.loc[("E23000014", "timeliness", "returns recorded")]
    assert (timeliness["numerator"], timeliness["denominator"]) == (1, 1)
    expected = card.loc[("E23000014", "completeness", "return_interview")]
    assert expected["denominator"] == 1  # returned 28 days before: a return interview is expected


def _episodes(force: str, n: int, category: str, grade: str, **columns) -> pd.DataFrame:
    """``n`` returned episodes of one force in January 2024, as text, with any other columns given."""
    return pd.DataFrame(
        {
            "force_code": force,
            "episode_id": [f"{force}-{i}" for i in range(n)],
            "person_id": [f"{force}-p{i}" for i in range(n)],
            "reported_at": [f"2024-01-{1 + i % 28:02d}T10:00:00" for i in range(n)],
            "returned_at": [f"2024-01-{1 + i % 28:02d}T12:00:00" for i in range(n)],
            "age": "14",
            "category": category,
            "risk_initial": grade,
            **columns,
        }
    )


def test_a_force_with_none_of_the_episodes_a_field_is_expected_in_has_its_row_saying_so():
    """A force whose episodes are all 'absent' has no supervisory reviews to record: 0 of 0, and why.

    Its row was missing from the scorecard, and the completeness rule, which reads every key field of
    a force it judges, stopped the run (KeyError: ['supervisor_review_at']).
    """
    review = {"supervisor_review_at": "2024-01-01T11:00:00"}
    raw = pd.concat(
        [
            _episodes("E23000014", 25, "missing", "low", **review),
            _episodes("E23000001", 25, "absent", "no_apparent_risk", **review),
        ],
        ignore_index=True,
    )
    result = clean_export(raw, read_mapping(CANONICAL), "2025-01-31")
    card = quality.score_data_quality(result, "2025-01-31")
    support = quality.assess_metric_support(result.clean, THRESHOLDS["support_sufficient"], "2025-01-31")
    rows = card.set_index(["force_code", "dimension", "measure"])
    row = rows.loc[("E23000001", "completeness", "supervisor_review_at")]
    assert (row["numerator"], row["denominator"]) == (0, 0) and pd.isna(row["value"])
    assert row["method"] == "not measured: no episodes categorised missing"
    measured = card[card["denominator"] > 0]
    assert measured["method"].str.endswith("Wilson 95%").all()  # only a share of nothing goes unmeasured
    # Every force has every measure of the scorecard and of the support list.
    assert card.groupby(["dimension", "measure"])["force_code"].nunique().eq(3).all()
    assert support.groupby("metric")["force_code"].nunique().eq(3).all()
    findings = find_issues({"quality": card, "support": support}, areas=("understanding",))
    assert {f["force_code"] for f in findings} <= {"E23000014", "E23000001"}
    supervision = support.query("force_code == 'E23000001' and metric == 'supervision'").iloc[0]
    assert not supervision["sufficient"] and supervision["denominator"] == 0


def test_an_episode_reported_years_before_the_extracts_period_is_a_validity_problem():
    """A 2014 for a 2024: valid as a date, but more than STRAY_YEARS before every other report."""
    raw = pd.concat([_episodes("E23000014", 25, "missing", "low"), _episodes("E23000001", 25, "missing", "low")])
    raw = raw.reset_index(drop=True)
    raw.loc[0, ["reported_at", "returned_at"]] = ["2014-01-01T10:00:00", "2014-01-01T12:00:00"]
    result = clean_export(raw, read_mapping(CANONICAL), "2025-01-31")
    assert len(result.clean) == 50  # kept: the date is valid, and the volumes count it
    card = quality.score_data_quality(result, "2025-01-31").set_index(["force_code", "dimension"])
    dated = card[card["measure"] == "episodes dated within the extract's period"]
    assert dated.loc[("E23000014", "validity"), ["numerator", "denominator"]].tolist() == [24, 25]
    assert dated.loc[("E23000001", "validity"), ["numerator", "denominator"]].tolist() == [25, 25]
    assert dated.loc[(NATIONAL, "validity"), ["numerator", "denominator"]].tolist() == [49, 50]
    assert (
        f"more than {quality.STRAY_YEARS} years before the extract's period (from 2024-01-01)"
        in dated["method"].iloc[0]
    )
    # Years of reports with no long pause are one period, however long: nothing is early.
    raw.loc[1:24, "reported_at"] = [f"{2014 + i % 11}-06-01T10:00:00" for i in range(24)]
    raw.loc[1:24, "returned_at"] = [f"{2014 + i % 11}-06-01T12:00:00" for i in range(24)]
    card = quality.score_data_quality(clean_export(raw, read_mapping(CANONICAL), "2025-01-31"), "2025-01-31")
    dated = card[card["measure"] == "episodes dated within the extract's period"]
    assert (dated["numerator"] == dated["denominator"]).all()


def test_every_reason_a_row_is_set_aside_counts_against_one_dimension_of_the_scorecard():
    """A new quarantine reason (id_too_long, #13 item 8) must lower validity, consistency or uniqueness."""
    from toolkit.ingest.clean import QUARANTINE_REASONS
    from toolkit.stats import quality

    dimensions = [quality._VALIDITY, quality._CONSISTENCY, quality._UNIQUENESS]
    for reason in QUARANTINE_REASONS:
        assert sum(reason in dimension for dimension in dimensions) == 1, reason
