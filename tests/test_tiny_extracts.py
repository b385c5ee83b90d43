"""Extracts with holes, and extracts of a handful of rows, through everything a run does before its notebooks.

A force that sent episodes but none categorised "missing" stopped the national run with an internal
error (``KeyError: ['supervisor_review_at']``), and so may any per-force table that meets a force with
none of a category, a risk grade or an optional field, or an extract of a handful of rows and too few
forces to compare. These properties run the runner's own steps (read and clean,
:func:`toolkit.runner.prepare_tables` with its statistics and findings, the published data-quality
table, ``metrics.csv`` and the published findings) on such extracts, and check that the run completes,
that every row received is accounted for, that every force is in every per-force table, and that no
figure reaching ``metrics.csv`` is a bare NaN: each is withheld, or its method says why it is not there.

Each example of the first property takes one extract and empties, for a different force each, every
category, every risk grade and every optional column at once: one run covers every hole, each in a
force of its own, and hypothesis draws which force gets which (of those recording both categories, so
that every force keeps some episodes).
"""

import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from toolkit.dates import ExtractDate
from toolkit.errors import ToolkitError
from toolkit.findings import read_thresholds
from toolkit.forces import NATIONAL, read_comparator_groups
from toolkit.ingest.extract import read_extract_text
from toolkit.ingest.mapping import read_mapping
from toolkit.ingest.schema import CODES, COLUMNS, RISK_GRADES
from toolkit.publish.disclosure import publish_findings, publish_tables
from toolkit.publish.metrics import collect_metrics
from toolkit.runner import prepare_tables, read_and_clean
from toolkit.synthetic import generator
from toolkit.synthetic.exports import DIALECTS, export_dialect

EXTRACT = ExtractDate.parse("2025-01-31")
THRESHOLD = 5
HOLES = (
    *(("category", value) for value in CODES["category"]),
    *(("risk_initial", grade) for grade in RISK_GRADES),
    *(("blank", column) for column, required in COLUMNS.items() if not required),
)
# Tables of every force with a clean episode (the models' tables hold only the forces they can model).
PER_FORCE = (
    "summary",
    "time_to_return",
    "repeats",
    "support",
    "trends",
    "monthly",
    "quarterly",
    "practice",
    "grade_mix",
    "night_reports",
    "grade_agreement",
)
# How a table says a figure is not there, in its method: "not fitted: ...", "median not reached: ...",
# "not recorded: no episode of this force records ..." (the problem profile), "no force of the comparator group is
# in the extract".
EXPLAINED = re.compile(r"\bnot (?:fitted|measured|estimated|computed|reached|recorded)\b|\bno force\b")
# Few examples, each a whole run of a few seconds, the same on every machine, and no shrinking (minutes
# of whole runs): the file stays under a minute, and a failing example is reported as drawn.
QUICK = {
    "deadline": None,
    "derandomize": True,
    "phases": (Phase.explicit, Phase.generate),
    "suppress_health_check": [HealthCheck.too_slow],
}


@pytest.fixture(scope="module")
def national(tmp_path_factory):
    """A small national extract (about 840 episodes, 42 forces), typed, and as the text a run reads from its file."""
    episodes, truth = generator.generate_extract(2024, seed=5, scale=0.005, extract_date=EXTRACT.day)
    path, _ = generator.write_extract(episodes, truth, tmp_path_factory.mktemp("tiny") / "extract.csv")
    return episodes, read_extract_text(path)


@pytest.fixture(scope="module")
def extract(national) -> pd.DataFrame:
    return national[1]


@pytest.fixture(scope="module")
def exports(national) -> dict[str, tuple[pd.DataFrame, str | None]]:
    """The extract as a run may receive it: canonical, or a force system's export with 5% of rows damaged."""
    mapping = DIALECTS["niche_rms"]
    damaged, _ = export_dialect(national[0], read_mapping(mapping), EXTRACT.isoformat(), seed=5, defect_share=0.05)
    return {"canonical": (national[1], None), "niche_rms": (damaged, mapping)}


def run_before_notebooks(text: pd.DataFrame, mapping=None):
    """What :func:`toolkit.runner.run_reports` does with an extract before it renders a notebook."""
    groups, thresholds = read_comparator_groups(), read_thresholds()
    parameters = {"extract_date": EXTRACT.isoformat(), "suppression_threshold": THRESHOLD}
    parameters["comparator_groups"] = groups
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "extract.csv"
        text.to_csv(path, index=False)
        cleaned = read_and_clean(path, EXTRACT, mapping)
        tables, findings = prepare_tables(cleaned, Path(folder) / "work", parameters, groups, thresholds)
    published = publish_tables({"quality": tables["quality"], "cleaning": tables["cleaning"]}, parameters)
    metrics = collect_metrics(tables, groups, THRESHOLD)
    return cleaned, tables, published, metrics, publish_findings(findings, THRESHOLD)


def check_the_run(text: pd.DataFrame, mapping=None) -> dict[str, pd.DataFrame]:
    """Run, and check what every run must give, whatever the extract."""
    cleaned, tables, published, metrics, findings = run_before_notebooks(text, mapping)
    clean = cleaned.clean
    # Every row received is accounted for: cleaned, set aside or merged, and counted once.
    assert cleaned.rows_in == len(text)
    cleaning = tables["cleaning"]
    assert cleaning.loc[cleaning["force_code"] == NATIONAL, "rows"].sum() == len(text)
    assert cleaning.loc[cleaning["force_code"] != NATIONAL, "rows"].sum() == len(text)
    summary = tables["summary"].query("area == 'force' and metric == 'episodes'")
    assert summary["value"].sum() == len(clean)
    monthly = tables["monthly"]
    assert monthly.loc[monthly["force_code"] == NATIONAL, "episodes"].sum() == len(clean)
    # Every force is in every per-force table, and in the published scorecard.
    forces = set(clean["force_code"].astype(str))
    for name in PER_FORCE:
        assert forces <= set(tables[name]["force_code"].astype(str)), name
    covered = set(cleaned.covered_forces())
    for table in (tables["quality"], published["quality"]):
        rows = table[table["force_code"] != NATIONAL].groupby(["dimension", "measure"])["force_code"]
        assert rows.apply(set).map(lambda listed: covered <= listed).all()
    assert forces <= set(metrics.loc[metrics["section"] == "volume", "force_code"])
    # No bare NaN reaches metrics.csv: a missing figure is withheld, its method says why it is missing, or
    # it is a total that says which withheld forces it leaves out (with every force withheld, all of them).
    shown = metrics[~metrics["suppressed"].astype(bool)]
    assert shown["method"].notna().all()
    blank = shown[shown["value"].isna() & (shown["leaves_out"].fillna("") == "")]
    unexplained = blank[~blank["method"].str.contains(EXPLAINED)]
    assert unexplained.empty, unexplained[["force_code", "section", "metric", "method"]].to_string()
    for finding in findings:
        assert not re.search(r"\bnan\b", str(finding.get("statement", "")), re.IGNORECASE), finding
    return tables


@settings(max_examples=2, **QUICK)
@given(st.data())
def test_a_force_with_none_of_a_category_grade_or_optional_field_stops_nothing(extract, data):
    both = extract.groupby("force_code")["category"].nunique() == len(CODES["category"])
    forces = data.draw(st.permutations(sorted(both.index[both])), label="forces")
    text = extract
    for (kind, what), force in zip(HOLES, forces, strict=False):
        mine = text["force_code"] == force
        if kind == "blank":
            text = text.assign(**{what: text[what].where(~mine, "")})
        else:
            text = text[~(mine & (text[kind] == what))]
    tables = check_the_run(text.reset_index(drop=True))
    # The force left with no 'missing' episode has its supervisory-review completeness, saying why not.
    without_missing = forces[HOLES.index(("category", "missing"))]
    card = tables["quality"].set_index(["force_code", "measure"])
    row = card.loc[(without_missing, "supervisor_review_at")]
    assert row["denominator"] == 0 and row["method"] == "not measured: no episodes categorised missing"


@settings(max_examples=8, **QUICK)
@given(st.data())
def test_an_extract_of_1_to_20_rows_runs_to_the_end(exports, data):
    """Canonical rows, or a force system's export whose damaged rows are set aside (a force may have none left)."""
    text, mapping = exports[data.draw(st.sampled_from(sorted(exports)), label="form")]
    rows = data.draw(st.lists(st.integers(0, len(text) - 1), min_size=1, max_size=20, unique=True), label="rows")
    try:
        check_the_run(text.iloc[sorted(rows)].reset_index(drop=True), mapping)
    except ToolkitError as error:  # a run refuses an extract with no usable row, before computing anything
        assert "no usable episodes" in str(error)
