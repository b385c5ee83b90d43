"""The data-quality scorecard finds the force planted with poor data, and only it."""

import pytest

from toolkit.config import PLANS_DIR
from toolkit.findings import THRESHOLDS, find_issues
from toolkit.findings.understanding import support_statement
from toolkit.forces import NATIONAL
from toolkit.ingest.clean import clean_export
from toolkit.ingest.mapping import read_mapping
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
    support = quality.assess_metric_support(result.clean, THRESHOLDS["support_sufficient"])
    findings = find_issues({"quality": card, "support": support}, areas=("understanding",))
    concerns = {f["force_code"] for f in findings if f["judgement"] == "cause_of_concern"}
    assert concerns == {poor}
    assert all(f["recommendation"] for f in findings if f["judgement"] == "cause_of_concern")
    insufficient = {f["force_code"] for f in findings if f["rule"] == "dq_insufficient_data"}
    assert insufficient == {poor}
    assert all(f["area"] == "understanding" for f in findings)


def test_insufficient_data_is_stated_never_silent(cleaned):
    result, _, _, poor = cleaned
    support = quality.assess_metric_support(result.clean, THRESHOLDS["support_sufficient"])
    statement = support_statement(support, poor, "supervision")
    assert statement.startswith("Insufficient data: only")
    assert support_statement(support, "E23000001", "supervision") is None
    assert set(support["metric"]) == set(quality.METRIC_REQUIREMENTS)
