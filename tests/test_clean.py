"""Cleaning real exports: nothing lost, nothing silently changed, defects found exactly."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.errors import ConfigError
from toolkit.ingest.clean import QUARANTINE_REASONS, clean_export
from toolkit.ingest.mapping import CANONICAL, read_mapping
from toolkit.ingest.schema import COLUMNS
from toolkit.synthetic import generator
from toolkit.synthetic.exports import DIALECTS, export_dialect, to_canonical_text

KEY = ["force_code", "episode_id"]


@pytest.fixture(scope="module")
def source():
    return generator.generate_extract(2024, seed=21, scale=0.03)


def canonical_text(frame):
    return to_canonical_text(frame).sort_values(KEY).reset_index(drop=True)


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_each_dialect_cleans_back_to_the_generators_table(source, dialect):
    episodes, truth = source
    mapping = read_mapping(DIALECTS[dialect])
    export, defects = export_dialect(episodes, mapping, truth["extract_date"], seed=5, defect_share=0.02)
    result = clean_export(export, mapping, truth["extract_date"])

    # Every row accounted for.
    assert result.rows_in == len(export) == len(result.clean) + len(result.quarantine) + len(result.merged)

    # Exactly the injected defects are quarantined, for the recorded reason.
    expected_q = defects[defects["expected"].str.startswith("quarantined:")]
    got = dict(zip(result.quarantine["source_row"], result.quarantine["reason_code"], strict=True))
    want = dict(zip(expected_q["source_row"], expected_q["expected"].str.split(":").str[1], strict=True))
    assert got == want
    # ... exactly the injected exact duplicates merged, into the row they copy.
    merged = defects[defects["expected"] == "merged"]
    assert sorted(result.merged["source_row"]) == sorted(merged["source_row"])
    assert (result.merged["kept_row"] == result.merged["source_row"] - 1).all()
    # ... and exactly the injected corrections made.
    for rule in ("trim_whitespace", "unrecognised_code"):
        made = result.changes[result.changes["rule"] == rule]
        assert sorted(made["source_row"]) == sorted(
            defects.loc[defects["expected"] == f"corrected:{rule}", "source_row"]
        )

    # The clean table is the generator's, less the damaged episodes, with the corrections.
    damaged = defects[
        defects["expected"].str.startswith("quarantined:") & ~defects["defect"].isin(["near_duplicate", "overlap"])
    ]
    expected = to_canonical_text(episodes)
    keep = ~expected.set_index(KEY).index.isin(list(zip(damaged["force_code"], damaged["episode_id"], strict=True)))
    expected = expected[keep]
    for _, defect in defects[defects["expected"] == "corrected:unrecognised_code"].iterrows():
        hit = (expected["force_code"] == defect["force_code"]) & (expected["episode_id"] == defect["episode_id"])
        expected.loc[hit, defect["column"]] = defect["after"]
    pd.testing.assert_frame_equal(canonical_text(result.clean), expected.sort_values(KEY).reset_index(drop=True))


def test_every_quarantined_row_has_a_reason_code_and_sentence(source):
    episodes, truth = source
    mapping = read_mapping(DIALECTS["niche_rms"])
    export, _ = export_dialect(episodes, mapping, truth["extract_date"], seed=9, defect_share=0.05)
    result = clean_export(export, mapping, truth["extract_date"])
    assert result.quarantine["reason_code"].isin(list(QUARANTINE_REASONS)).all()
    assert (result.quarantine["reason"].str.len() > 20).all()
    # The force can find and fix each row: its own values are kept beside the reason.
    assert "export: Occurrence Ref" in result.quarantine.columns


def test_cleaning_a_clean_canonical_file_changes_nothing(source):
    episodes, truth = source
    text = to_canonical_text(episodes)
    result = clean_export(text, read_mapping(CANONICAL), truth["extract_date"])
    assert result.quarantine.empty and result.merged.empty and result.changes.empty
    assert result.translations.empty
    pd.testing.assert_frame_equal(canonical_text(result.clean), text.sort_values(KEY).reset_index(drop=True))


def test_cleaning_is_idempotent(source):
    episodes, truth = source
    mapping = read_mapping(DIALECTS["command_csv"])
    export, _ = export_dialect(episodes, mapping, truth["extract_date"], seed=2, defect_share=0.05)
    once = clean_export(export, mapping, truth["extract_date"])
    twice = clean_export(to_canonical_text(once.clean), read_mapping(CANONICAL), truth["extract_date"])
    assert twice.quarantine.empty and twice.merged.empty and twice.changes.empty
    pd.testing.assert_frame_equal(canonical_text(twice.clean), canonical_text(once.clean))


def test_duration_is_derived_in_hours(source):
    episodes, truth = source
    result = clean_export(to_canonical_text(episodes.head(50)), read_mapping(CANONICAL), truth["extract_date"])
    row = result.clean.dropna(subset=["returned_at"]).iloc[0]
    assert row["duration_hours"] == pytest.approx((row["returned_at"] - row["reported_at"]).total_seconds() / 3600)


def test_mapping_naming_an_absent_column_is_a_clear_error(source):
    episodes, truth = source
    mapping = read_mapping(DIALECTS["niche_rms"])
    export, _ = export_dialect(episodes.head(100), mapping, truth["extract_date"], seed=1, defect_share=0)
    with pytest.raises(ConfigError, match="names column\\(s\\) 'Risk Grading' that the export does not have"):
        clean_export(export.drop(columns=["Risk Grading"]), mapping, truth["extract_date"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: x\ncolumns: [", "not valid YAML"),
        ("- just a list", "must be a YAML mapping"),
        ("name: x\ncolumns: {episode_id: Ref}", "required column(s) not mapped"),
        ("name: x\ncolumns: {colour: Colour}", "'colour' is not a canonical column"),
        ("name: x\ndates: ['%Q']\ncolumns: {}", "not a valid strftime pattern"),
        ("name: x\nvalues: {category: {Lost: lost}}\ncolumns: {}", "maps to 'lost'"),
        ("name: x\nvalues: {looked_after: {yes: 'yes'}}\ncolumns: {}", "quote it"),
        ("name: x\nconstants: {force_code: E23000099}\ncolumns: {}", "unknown force code"),
    ],
)
def test_bad_mappings_name_their_problem(tmp_path, text, message):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", "\\(").replace(")", "\\)")):
        read_mapping(path)


def test_a_single_force_system_can_give_its_force_as_a_constant(source, tmp_path):
    episodes, truth = source
    force = episodes[episodes["force_code"] == "E23000014"].head(200)
    text = to_canonical_text(force).drop(columns=["force_code"])
    document = read_mapping(CANONICAL)
    path = tmp_path / "single.yaml"
    columns = "\n".join(f"  {c}: {c}" for c in COLUMNS if c != "force_code")
    path.write_text(f"name: single\nconstants: {{force_code: E23000014}}\ncolumns:\n{columns}\n")
    result = clean_export(text, read_mapping(path), truth["extract_date"])
    assert len(result.clean) == 200 and (result.clean["force_code"] == "E23000014").all()
    assert document.name == "canonical"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    dialect=st.sampled_from(sorted(DIALECTS)),
    share=st.sampled_from([0.0, 0.01, 0.1, 0.3]),
    vandalism=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 22), st.text(max_size=12)), max_size=25),
)
def test_rows_are_conserved_on_any_messy_export(seed, dialect, share, vandalism):
    episodes, truth = generator.generate_extract(2024, seed=seed, scale=0.002)
    mapping = read_mapping(DIALECTS[dialect])
    export, _ = export_dialect(episodes, mapping, truth["extract_date"], seed=seed, defect_share=share)
    # Arbitrary text dropped into arbitrary cells: cleaning may quarantine, never lose.
    for row, column, value in vandalism:
        export.iat[row % len(export), column % export.shape[1]] = value
    result = clean_export(export, mapping, truth["extract_date"])
    assert len(result.clean) + len(result.quarantine) + len(result.merged) == len(export)
    assert set(result.clean["source_row"]).isdisjoint(result.quarantine["source_row"])
    assert set(result.clean["source_row"]) | set(result.quarantine["source_row"]) | set(
        result.merged["source_row"]
    ) == set(range(2, len(export) + 2))
    # What is clean meets the contract.
    assert result.clean["age"].between(0, 17).all()
    assert not result.clean.duplicated(KEY).any()
    assert np.all(result.clean["returned_at"].isna() | (result.clean["returned_at"] > result.clean["reported_at"]))


def test_a_blank_report_date_is_quarantined_as_missing(source):
    episodes, truth = source
    text = to_canonical_text(episodes.head(20))
    text.loc[3, "reported_at"] = ""
    result = clean_export(text, read_mapping(CANONICAL), truth["extract_date"])
    assert result.quarantine["reason_code"].tolist() == ["missing_required"]
    assert result.quarantine["source_row"].tolist() == [5]
