"""Distinct children in the findings: the run links once, metrics.csv and the pages carry the figures, safely."""

import re

import numpy as np
import pandas as pd
import pytest
from conftest import EXTRACT_DATE, MIN_PRECISION, MIN_RECALL, pairs_across_forces

from toolkit import runner
from toolkit.forces import find_force, get_force
from toolkit.ingest.schema import LINKAGE_COLUMNS
from toolkit.linkage import Linkage
from toolkit.linkage.borders import LINKAGE_TABLES, locate_authorities, summarise_cross_border
from toolkit.publish.disclosure import publish_cross_border, publish_tables, withhold_linked_counts
from toolkit.publish.report import ForceReport, show_cross_border
from toolkit.store import FILES, WorkFolder

pytestmark = pytest.mark.notebook


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_run_links_once_and_recovers_the_planted_cross_force_children(run, small_extract):
    _, folder = run
    _, _, truth = small_extract
    work = WorkFolder(folder / "work")
    records = pd.DataFrame(truth["linkage"]["records"])
    clusters = work.read_table("linkage_clusters")
    true, found = pairs_across_forces(records, "child"), pairs_across_forces(clusters, "national_child_id")
    hits = len(true & found)
    assert len(true) > 100 and hits / len(found) >= MIN_PRECISION and hits / len(true) >= MIN_RECALL
    national = work.read_table("distinct_children").iloc[0]
    children = truth["linkage"]["children"]
    assert national["countable"] and national["reason"] == ""
    assert abs(national["distinct"] - children) <= 0.005 * children
    assert national["naive"] == truth["linkage"]["force_children"] > national["distinct"]
    several = truth["linkage"]["children_in_more_than_one_force"]
    assert national["in_more_than_one_force_lower"] <= national["in_more_than_one_force"]
    assert abs(national["in_more_than_one_force"] - several) <= 0.05 * several
    # Each force's children missing in another force too: those whose true child is in two forces or more.
    spans = records.groupby("child")["force_code"].transform("nunique") > 1
    planted = records[spans].groupby("force_code").size()
    cross = work.read_table("cross_border").set_index("force_code")
    counted = cross["missing_elsewhere"].reindex(planted.index, fill_value=0)
    assert (counted - planted).abs().sum() <= 0.05 * planted.sum()
    assert cross["known_elsewhere"].le(cross["missing_elsewhere"]).all()
    assert cross["graded_low_here"].le(cross["known_elsewhere"]).all() and cross["known_elsewhere"].sum() > 0
    # The record-level results (person ids, tokens) are in the work folder, declared, and never published.
    for name in ("linkage_children", "linkage_clusters", "linkage_predictions", "linkage_model"):
        assert work.file(name).is_file() and work.file(name).name == FILES[name]
    assert not any(path.name.startswith("linkage") for path in (folder / "reports").iterdir())


def test_metrics_csv_carries_the_national_rows_and_the_forces_cross_border_children(run, small_extract):
    _, folder = run
    _, _, truth = small_extract
    metrics = pd.read_csv(folder / "reports" / "metrics.csv")
    national = metrics[(metrics["area"] == "national") & (metrics["section"] == "cross_border")].set_index("metric")
    assert set(national.index) == {"distinct_children_linked", "children_in_more_than_one_force"}
    for metric in national.index:
        row = national.loc[metric]
        assert row["lower"] <= row["value"] <= row["upper"] and row["unit"] == "children", metric
        assert "Splink" in row["method"] and not row["suppressed"]
    naive = metrics.query("section == 'volume' and area == 'national' and metric == 'children'")["value"].iloc[0]
    assert naive == truth["linkage"]["force_children"] > national.loc["distinct_children_linked", "value"]
    forces = metrics[(metrics["area"] == "force") & (metrics["section"] == "cross_border")]
    covered = metrics.query("section == 'volume' and area == 'force' and metric == 'episodes'")["force_code"]
    assert set(forces["force_code"]) == set(covered)  # every force of the extract, not only those reported on
    assert set(forces["metric"]) >= {"missing_in_another_force_too", "placed_from_another_force_area"}
    assert forces["suppressed"].any() and not forces["suppressed"].all()  # small forces' counts withheld
    counts = forces[forces["unit"] == "children"]
    assert not counts["value"].dropna().between(1, 4).any()


def test_no_published_cross_border_count_gives_back_a_small_one_by_subtraction(run):
    """Either, each part, their overlap, a force's children less any of them: never 1 to 4 from what is shown."""
    _, folder = run
    metrics = pd.read_csv(folder / "reports" / "metrics.csv")
    wide = metrics[metrics["section"] == "cross_border"].pivot(index="force_code", columns="metric", values="value")
    children = metrics.query("section == 'volume' and area == 'force' and metric == 'children'")
    wide["children"] = children.set_index("force_code")["value"]
    missing, placed, either = (
        wide[c] for c in ("missing_in_another_force_too", "placed_from_another_force_area", "cross_border_children")
    )
    known = wide["known_at_risk_by_another_force"]
    differences = {
        "placed only": either - missing,
        "missing only": either - placed,
        "both": missing + placed - either,
        "not crossing": wide["children"] - either,
        "not known": missing - known,
    }
    for what, values in differences.items():
        assert not values.dropna().between(1, 4).any(), what
    # The shared run's extract makes some of them small: they were withheld, not absent.
    work = WorkFolder(folder / "work")
    raw = work.read_table("cross_border")
    small = (raw["cross_border"] - raw["missing_elsewhere"]).between(1, 4) | raw["missing_elsewhere"].between(1, 4)
    assert small.any()


def test_publish_cross_border_withholds_the_small_overlap_and_the_linked_parts():
    table = pd.DataFrame(
        {
            "force_code": ["A", "B", "C"],
            "children": [500, 400, 300],
            "missing_elsewhere": [30, 20, 40],
            "placed_from_elsewhere": [20, 30, 10],
            "cross_border": [48, 48, 50],  # A's parts overlap by 2; B's by 2 too; C's by none
            "known_elsewhere": [10, 18, 12],
            "graded_low_here": [5, 6, 6],
            "graded_low_share": [0.5, 6 / 18, 0.5],
            "graded_low_share_lower": [0.2, 0.1, 0.2],
            "graded_low_share_upper": [0.8, 0.6, 0.8],
        }
    )
    published, withheld = publish_cross_border(table, 5)
    assert published["placed_from_elsewhere"].isna().tolist() == [True, True, False]
    assert ("cross_border", "A", "placed_from_elsewhere") in withheld
    summary = pd.DataFrame(
        {"force_code": ["A", "B", "C"], "area": "force", "metric": "children", "value": [500, 400, 300]}
    )
    linked, more = withhold_linked_counts({"cross_border": published, "summary": summary}, 5)
    out = linked["cross_border"].set_index("force_code")
    # B: 20 missing elsewhere, 18 of them known at risk: 2 not known, so the known count and its share go.
    assert out.loc["B", ["known_elsewhere", "graded_low_here", "graded_low_share"]].isna().all()
    assert ("cross_border", "B", "known_elsewhere") in more
    assert out.loc["C"].notna().all()
    # Switched off, nothing is withheld.
    assert publish_cross_border(table, 0)[0].equals(table)


def test_an_authority_in_the_ons_lookup_lies_where_the_lookup_says_whoever_reports_its_children():
    kent, merseyside = find_force("Kent").code, find_force("Merseyside").code
    # Kent County Council (E10000016) named only by children Merseyside reports, not in care: inference
    # alone would put Kent's council in Merseyside and its placements there out of sight.
    children = pd.DataFrame(
        {
            "force_code": [merseyside, merseyside, kent],
            "person_id": ["1", "2", "1"],
            "responsible_la": ["E10000016", "E10000016", "E06900001"],
            "looked_after": [False, True, False],
        }
    )
    assert locate_authorities(children).to_dict() == {"E06900001": kent, "E10000016": kent}
    assert locate_authorities(children, known={}).to_dict() == {"E06900001": kent, "E10000016": merseyside}
    clusters = children[["force_code", "person_id"]].assign(national_child_id=["N1", "N2", "N3"])
    episodes = children[["force_code", "person_id"]].assign(
        reported_at=pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
        risk_initial="low",
        looked_after=["no", "yes", "no"],
    )
    linkage = Linkage(True, None, children.assign(link_dob=["d1", "d2", "d3"]), clusters, pd.DataFrame())
    table = summarise_cross_border(episodes, linkage).set_index("force_code")
    assert table.loc[merseyside, "placed_from_elsewhere"] == 2
    assert table.loc[kent, "placed_from_elsewhere"] == 0


def test_the_force_area_of_an_authority_and_what_another_force_knew_before():
    children = pd.DataFrame(
        {
            "force_code": ["A", "A", "A", "B", "B", "C"],
            "person_id": ["1", "2", "3", "1", "2", "1"],
            "link_dob": ["d1", "d2", "d3", "d1", "d2", "d3"],
            "responsible_la": ["E06900001", "E06900001", "E06900002", "E06900001", "E06900002", "E06900002"],
        }
    )
    # E06900002: named once by A, once by B, once by C: the tie goes to the lowest code.
    assert locate_authorities(children).to_dict() == {"E06900001": "A", "E06900002": "A"}
    # Children in care do not vote where an authority has others: A's two of E06900001 are placed there.
    in_care = children.assign(looked_after=[True, True, False, False, False, False])
    assert locate_authorities(in_care).to_dict() == {"E06900001": "B", "E06900002": "A"}
    clusters = children[["force_code", "person_id"]].assign(national_child_id=["N1", "N2", "N3", "N1", "N2", "N3"])
    episodes = pd.DataFrame(
        {
            "force_code": ["A", "B", "A", "B", "A", "C"],
            "person_id": ["1", "1", "2", "2", "3", "1"],
            # A's child 1 flagged in A first, then graded low in B: B's first grade ignored what A knew.
            # B's child 2 flagged in B only after A's episode: A could not have known (later, not before).
            "reported_at": pd.to_datetime(
                ["2024-01-01", "2024-02-01", "2024-01-01", "2024-03-01", "2024-05-01", "2024-04-01"]
            ),
            "risk_initial": ["high", "low", "low", "medium", "no_apparent_risk", "low"],
            "risk_factors": ["cse", None, None, "cce", None, "previous_harm"],
            "harm": ["none"] * 6,
        }
    )
    table = summarise_cross_border(episodes, Linkage(True, None, children, clusters, pd.DataFrame()))
    table = table.set_index("force_code")
    assert table["missing_elsewhere"].to_dict() == {"A": 3, "B": 2, "C": 1}
    assert table["placed_from_elsewhere"].to_dict() == {"A": 0, "B": 2, "C": 1}
    assert table["cross_border"].to_dict() == {"A": 3, "B": 2, "C": 1}
    # A's child 3 was flagged by C (previous harm) a month before A graded it no apparent risk.
    assert table["known_elsewhere"].to_dict() == {"A": 1, "B": 1, "C": 0}
    assert table["graded_low_here"].to_dict() == {"A": 1, "B": 1, "C": 0}


def _version_1(small_extract, tmp_path):
    path, episodes, _ = small_extract
    source = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=list(LINKAGE_COLUMNS))
    copy = tmp_path / "version_1.csv"
    source.to_csv(copy, index=False)
    return copy


def test_a_version_1_extract_runs_and_the_pages_say_distinct_children_cannot_be_counted(small_extract, tmp_path):
    copy = _version_1(small_extract, tmp_path)
    code = "E23000020"  # the smallest force of the small extract: one report is enough
    result = runner.run_reports(
        copy, EXTRACT_DATE, tmp_path / "reports", forces=[code], workers=1, work_dir=tmp_path / "work", progress=False
    )
    assert result.ok
    overview = _text((tmp_path / "reports" / "national-overview.html").read_text(encoding="utf-8"))
    assert (
        "Distinct children nationally cannot be counted from this extract: no linkage columns: the extract is "
        "version 1 of the contract, so its children cannot be linked across forces." in overview
    )
    assert "linked across forces (95% interval)" not in overview
    page = _text((tmp_path / "reports" / f"{get_force(code).slug}.html").read_text(encoding="utf-8"))
    assert "Children who cross force borders cannot be found from this extract: no linkage columns" in page
    for text in (overview, page):
        assert not re.search(r"\bnan\b", text, re.IGNORECASE)
    metrics = pd.read_csv(tmp_path / "reports" / "metrics.csv")
    assert "cross_border" not in set(metrics["section"])  # nothing linked, so nothing to publish


def test_the_force_report_shows_its_cross_border_children_with_withheld_cells_explained(run):
    _, folder = run
    work = WorkFolder(folder / "work")
    parameters = work.read_json("run")
    tables = publish_tables({name: work.read_table(name) for name in (*LINKAGE_TABLES, "summary")}, parameters)
    raw = work.read_table("cross_border").set_index("force_code")
    for code in parameters["forces"]:
        page = _text(show_cross_border(ForceReport(get_force(code), parameters, [], tables)).data)
        assert "Children who went missing in another force too" in page and "nan" not in page.lower()
        shown = re.search(r"missing in another force too (\S+)", page).group(1)
        expected = raw.loc[code, "missing_elsewhere"]
        assert shown == "[c]" or int(shown.replace(",", "")) == expected
        if "[c]" in page:
            assert "[c]: withheld to protect children" in page
    # A force whose records carry no token is said to be unlinked, not shown with zeros.
    unlinked = tables["distinct_children"].assign(forces_without_tokens=parameters["forces"][0])
    blank = tables["cross_border"].copy()
    blank.loc[blank["force_code"] == parameters["forces"][0], ["missing_elsewhere", "cross_border"]] = np.nan
    report = ForceReport(
        get_force(parameters["forces"][0]),
        parameters,
        [],
        {**tables, "distinct_children": unlinked, "cross_border": blank},
    )
    assert "its records carry no linkage tokens" in show_cross_border(report).data


def test_a_large_run_links_after_the_statistics_and_finds_the_same_children(run, small_extract, tmp_path, monkeypatch):
    # Beyond runner.LINK_BESIDE_EPISODES episodes the linkage waits for the statistics (their memory would add
    # up): made to wait here, the run must link the same children and give the same national tables.
    _, folder = run
    path, _, _ = small_extract
    monkeypatch.setattr(runner, "LINK_BESIDE_EPISODES", 0)
    cleaned = runner.read_and_clean(path, EXTRACT_DATE, None)
    tables, _ = runner.prepare_tables(cleaned, tmp_path / "work", {"extract_date": EXTRACT_DATE})
    shared = WorkFolder(folder / "work")
    for name in ("distinct_children", "cross_border"):
        pd.testing.assert_frame_equal(
            WorkFolder(tmp_path / "work").read_table(name), shared.read_table(name), check_like=True
        )
    assert tables["distinct_children"].iloc[0]["distinct"] == shared.read_table("distinct_children").iloc[0]["distinct"]
    clusters = WorkFolder(tmp_path / "work").read_table("linkage_clusters")
    pd.testing.assert_frame_equal(clusters, shared.read_table("linkage_clusters"))
