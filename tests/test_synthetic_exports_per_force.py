"""Every force's yearly exports, as forces supply them: a file per force and year, a resent correction,
a force that never supplies, and a manifest a store can load them from in order."""

import hashlib
import json
import shutil

import pandas as pd
import pytest

from toolkit import cli
from toolkit.config import PLANS_DIR, PROJECT_ROOT
from toolkit.errors import ToolkitError
from toolkit.forces import get_force, read_forces_table
from toolkit.ingest.clean import clean_export
from toolkit.ingest.extract import read_extract_text
from toolkit.ingest.mapping import read_mapping
from toolkit.ingest.provenance import read_provenance
from toolkit.synthetic import generator
from toolkit.synthetic.exports import to_canonical_text
from toolkit.synthetic.per_force import MANIFEST_COLUMNS, list_export_dialects, write_force_exports

KEY = ["force_code", "episode_id"]
ARGS = {"year": 2022, "seed": 7, "years": 2, "scale": 0.01}
DEFECT_COLUMNS = ["source_row", "defect", "expected", "column", "after", "force_code", "episode_id"]


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """Two years of every force's exports, with the demo plan planted: (folder, manifest, truth)."""
    folder = tmp_path_factory.mktemp("store") / "exports"
    manifest = write_force_exports(folder, plan=generator.read_plan(PLANS_DIR / "demo.yaml"), **ARGS)
    truth = json.loads((folder / "manifest.csv.truth.json").read_text())
    return folder, pd.read_csv(manifest, dtype=str, keep_default_na=False), truth


@pytest.fixture(scope="module")
def cleaned(collection):
    """The files of the first year, and the correction with the export it replaces, each cleaned as a store
    would (with its own mapping, at its own extract date), by file name.

    Cleaning takes a few tenths of a second a file whatever its size, so one year of the two is cleaned:
    the second is written by the same code, and its files are checked against the manifest.
    """
    folder, manifest, truth = collection
    chosen = (manifest["year"] == "2022") | manifest["file"].isin(
        [truth["correction"]["file"], truth["correction"]["replaces"]]
    )
    return {
        row.file: clean_export(
            read_extract_text(folder / row.file), read_mapping(PROJECT_ROOT / row.mapping), row.extract_date
        )
        for row in manifest[chosen].itertuples()
    }


@pytest.fixture(scope="module")
def generated():
    """The generator's own episodes for the same arguments, each year as its yearly export takes it."""
    episodes, _ = generator.generate_extract(plan=generator.read_plan(PLANS_DIR / "demo.yaml"), yearly=True, **ARGS)
    return episodes


def test_the_manifest_lists_one_export_per_supplying_force_and_year(collection, cleaned):
    folder, manifest, truth = collection
    assert list(manifest.columns) == MANIFEST_COLUMNS
    exports = manifest[manifest["kind"] == "export"]
    absent = truth["never_supplied"]["force_code"]
    for year in ("2022", "2023"):
        # Every force but the one that never supplies, bar (at this small scale) one with no episode that year.
        empty = truth["by_year"][year]["no_episodes"]
        supplying = sorted(set(read_forces_table().index) - {absent} - set(empty))
        assert sorted(exports.loc[exports["year"] == year, "force_code"]) == supplying
        assert len(empty) <= 2 and not set(empty) & set(truth["by_year"][year]["episodes"])
    assert len(exports) == 2 * 42 - sum(len(truth["by_year"][y]["no_episodes"]) for y in ("2022", "2023"))
    assert len(manifest) == len(exports) + 1 == truth["files_in_manifest"]
    # What the loader is told is what each file is.
    for row in manifest.itertuples():
        path = folder / row.file
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256
        rows = cleaned[row.file].rows_in if row.file in cleaned else len(read_extract_text(path))
        assert rows == int(row.rows)
        assert row.file.startswith(f"{row.year}/{get_force(row.force_code).slug}")
        assert path.suffix == (".xlsx" if row.dialect == "case_xlsx" else ".csv")
        assert row.mapping == f"data/mappings/{row.dialect}.yaml" and (PROJECT_ROOT / row.mapping).is_file()
        assert (row.period_from, row.period_to) == (f"{row.year}-01-01", f"{row.year}-12-31")
        assert int(row.defects) == len(truth["files"][row.file]["dialect"]["defects"])
        made = read_provenance(path)
        assert made["synthetic"] is True and made["dialect"] == row.dialect and made["extract_date"] == row.extract_date
    # A yearly export is taken on 31 January after its year.
    assert (exports["extract_date"] == (exports["year"].astype(int) + 1).astype(str) + "-01-31").all()
    # Each force keeps its system from year to year; mixed, every dialect is someone's.
    assert (exports.groupby("force_code")["dialect"].nunique() == 1).all()
    assert set(exports["dialect"]) == set(list_export_dialects())
    assert truth["force_dialects"][exports["force_code"].iloc[0]] == exports["dialect"].iloc[0]
    # In the order a store loads them: by extract date.
    assert manifest["extract_date"].is_monotonic_increasing


def test_one_force_never_supplies(collection):
    folder, manifest, truth = collection
    absent = truth["never_supplied"]
    assert absent["force_code"] not in set(manifest["force_code"])
    assert absent["years"] == [2022, 2023]
    assert absent["force_code"] not in {p["force_code"] for p in truth["planted"]}  # no planted effect is lost
    assert not list(folder.glob(f"*/{get_force(absent['force_code']).slug}*"))


def test_the_correction_is_a_later_export_of_the_same_period_that_differs_in_the_recorded_rows(collection, cleaned):
    folder, manifest, truth = collection
    resent = manifest[manifest["kind"] == "correction"]
    assert len(resent) == 1
    resent = resent.iloc[0]
    original = manifest[manifest["file"] == resent["replaces"]].iloc[0]
    correction = truth["correction"]
    assert (original["kind"], original["force_code"], original["year"]) == (
        "export",
        resent["force_code"],
        resent["year"],
    )
    assert (original["period_from"], original["period_to"]) == (resent["period_from"], resent["period_to"])
    assert resent["extract_date"] > original["extract_date"] == correction["replaces_extract_date"]
    assert resent["dialect"] == original["dialect"]
    assert (
        manifest.index[manifest["file"] == resent["file"]][0] > manifest.index[manifest["file"] == original["file"]][0]
    )
    assert correction["file"] == resent["file"] and correction["replaces"] == original["file"]
    assert truth["files"][resent["file"]]["episodes"] == truth["files"][original["file"]]["episodes"] + len(
        correction["added"]
    )

    # Cleaned, the two differ exactly in the corrected and added episodes (those no defect touched in either).
    damaged = set()
    for name in (original["file"], resent["file"]):
        damaged |= {d["episode_id"] for d in truth["files"][name]["dialect"]["defects"]}
    first = to_canonical_text(cleaned[original["file"]].clean).set_index("episode_id")
    second = to_canonical_text(cleaned[resent["file"]].clean).set_index("episode_id")
    both = sorted((set(first.index) & set(second.index)) - damaged)
    differing = {i for i in both if not first.loc[i].equals(second.loc[i])}
    corrected = {c["episode_id"] for c in correction["corrected"]} - damaged
    assert differing == corrected and len(corrected) > 0
    assert len(correction["corrected"]) == correction["rows_corrected"] == 2  # one first grade, one return time
    for change in correction["corrected"]:
        if change["episode_id"] in corrected:
            assert second.at[change["episode_id"], change["column"]] == change["after"]
            assert first.at[change["episode_id"], change["column"]] == change["before"]
    added = {a["episode_id"] for a in correction["added"]}
    assert added and added.isdisjoint(first.index) and (added - damaged) <= set(second.index)


def test_every_file_cleans_and_the_first_exports_give_back_the_generators_episodes(collection, cleaned, generated):
    folder, manifest, truth = collection
    clean = []
    for row in manifest[manifest["file"].isin(cleaned)].itertuples():
        result = cleaned[row.file]
        defects = pd.DataFrame(truth["files"][row.file]["dialect"]["defects"], columns=DEFECT_COLUMNS)
        assert result.rows_in == int(row.rows) == len(result.clean) + len(result.quarantine) + len(result.merged)
        # Exactly the injected defects are quarantined, for their reason, and the duplicates merged.
        expected = defects[defects["expected"].str.startswith("quarantined:")]
        assert dict(zip(result.quarantine["source_row"], result.quarantine["reason_code"], strict=True)) == dict(
            zip(expected["source_row"], expected["expected"].str.split(":").str[1], strict=True)
        )
        assert sorted(result.merged["source_row"]) == sorted(defects.loc[defects["expected"] == "merged", "source_row"])
        if row.kind != "export" or row.year != "2022":
            continue
        # The clean table is the generator's, less the damaged episodes, with the corrections made.
        text = to_canonical_text(result.clean)
        for _, defect in defects[defects["expected"] == "corrected:unrecognised_code"].iterrows():
            assert (text.loc[text["episode_id"] == defect["episode_id"], defect["column"]] == defect["after"]).all()
        damaged = defects[
            defects["expected"].str.startswith("quarantined:") & ~defects["defect"].isin(["near_duplicate", "overlap"])
        ]
        clean.append((text, damaged, defects[defects["expected"] == "corrected:unrecognised_code"]))

    assert len(clean) == len(manifest[(manifest["year"] == "2022") & (manifest["kind"] == "export")]) >= 40
    union = pd.concat([text for text, _, _ in clean], ignore_index=True)
    first_year = generated[(generated["reported_at"].dt.year == 2022)]
    expected = to_canonical_text(first_year[first_year["force_code"] != truth["never_supplied"]["force_code"]])
    damaged = pd.concat([d for _, d, _ in clean])
    damaged_keys = list(zip(damaged["force_code"], damaged["episode_id"], strict=True))
    expected = expected[~expected.set_index(KEY).index.isin(damaged_keys)]
    for _, defect in pd.concat([c for _, _, c in clean]).iterrows():
        hit = (expected["force_code"] == defect["force_code"]) & (expected["episode_id"] == defect["episode_id"])
        expected.loc[hit, defect["column"]] = defect["after"]
    pd.testing.assert_frame_equal(
        union.sort_values(KEY).reset_index(drop=True), expected.sort_values(KEY).reset_index(drop=True)
    )


def test_the_truth_holds_the_planted_effects_and_each_years_figures(collection):
    _, manifest, truth = collection
    plan = generator.read_plan(PLANS_DIR / "demo.yaml")
    assert [(p["force_code"], p["effect"]) for p in truth["planted"]] == [(p.force_code, p.effect) for p in plan]
    assert len(truth["force_parameters"]) == 43
    for year in ("2022", "2023"):
        figures = truth["by_year"][year]
        assert figures["extract_date"] == f"{int(year) + 1}-01-31"
        assert set(figures["realised"]) == {p.force_code for p in plan} | {"national"}
        exports = manifest[(manifest["year"] == year) & (manifest["kind"] == "export")]
        for row in exports.itertuples():
            assert figures["episodes"][row.force_code] == truth["files"][row.file]["episodes"]


def test_a_yearly_extract_takes_each_year_a_month_after_it_ends():
    once, _ = generator.generate_extract(2022, seed=4, years=2, scale=0.05)
    yearly, truth = generator.generate_extract(2022, seed=4, years=2, scale=0.05, yearly=True)
    assert truth["extract_dates"] == {"2022": "2023-01-31", "2023": "2024-01-31"}
    assert set(truth["realised"]) == {"2022", "2023"}
    last = [e[e["reported_at"].dt.year == 2023].reset_index(drop=True) for e in (once, yearly)]
    pd.testing.assert_frame_equal(*last)  # taken on the same day: the same
    # The first year taken a year sooner: the same episodes, less known of how they ended, nothing else changed.
    before, sooner = (e[e["reported_at"].dt.year == 2022].reset_index(drop=True) for e in (once, yearly))
    end = pd.Timestamp("2023-01-31 23:59:59")
    assert (before["episode_id"] == sooner["episode_id"]).all()
    assert sooner["returned_at"].isna().sum() > before["returned_at"].isna().sum()
    for column in ("returned_at", "supervisor_review_at", "prevention_interview_at", "return_interview_at"):
        known = sooner[column].notna()
        assert (sooner.loc[known, column] == before.loc[known, column]).all()
        assert (sooner.loc[known, column] <= end).all() and sooner.loc[before[column] > end, column].isna().all()
    untouched = ["person_id", "reported_at", "age", "category", "risk_initial", "risk_factors", "officer_id"]
    pd.testing.assert_frame_equal(before[untouched], sooner[untouched])
    with pytest.raises(ToolkitError, match="yearly extracts take no extract date"):
        generator.generate_extract(2022, seed=3, scale=0.01, yearly=True, extract_date="2023-03-31")


def test_the_same_seed_writes_the_same_bytes(tmp_path, collection):
    small = {"year": 2022, "seed": 7, "years": 1, "scale": 0.003}
    first = write_force_exports(tmp_path / "a", **small)
    again = write_force_exports(tmp_path / "b", **small)
    assert first.read_bytes() == again.read_bytes()  # every file's SHA-256, in the same order
    assert (tmp_path / "a/manifest.csv.truth.json").read_bytes() == (
        tmp_path / "b/manifest.csv.truth.json"
    ).read_bytes()
    hashes = pd.read_csv(first)["sha256"]
    assert hashes.nunique() == len(hashes)
    assert set(hashes).isdisjoint(collection[1]["sha256"])  # another scale, other exports


def run_synth(capsys, *args):
    status = cli.main(["synth", "--year", "2022", "--seed", "7", "--scale", "0.003", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "{tmp}/exports.csv"], "per-force exports are written into a folder, not a file"),
        (["--dialects", "klingon", "--out", "{tmp}/x"], "unknown dialect 'klingon': give mixed or one of canonical,"),
        (["--dialect", "niche_rms", "--out", "{tmp}/x"], "--per-force takes --dialects"),
        (["--extract-date", "2023-01-31", "--out", "{tmp}/x"], "--per-force takes no --extract-date"),
        (["--out", "{tmp}/full"], "is not empty"),
    ],
)
def test_synth_per_force_refuses_a_wrong_command_line_with_one_message(capsys, tmp_path, args, message):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.csv").write_text("x\n")
    status, out, err = run_synth(capsys, "--per-force", *[a.format(tmp=tmp_path) for a in args])
    assert status == 1
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["full", "old.csv"]  # nothing written


def test_synth_per_force_writes_the_folder_in_one_dialect(capsys, tmp_path):
    status, out, err = run_synth(capsys, "--per-force", "--dialects", "case_xlsx", "--out", tmp_path / "x")
    assert status == 0, err
    manifest = pd.read_csv(tmp_path / "x" / "manifest.csv")
    assert f"wrote {len(manifest)} files" in out and "never supplies" in out and "2022 resent" in out
    assert len(manifest) >= 40 and set(manifest["dialect"]) == {"case_xlsx"}
    assert manifest["file"].str.endswith(".xlsx").all()
    shutil.rmtree(tmp_path / "x")
    status, _, err = run_synth(capsys, "--dialects", "mixed", "--out", tmp_path / "y.csv")
    assert status == 1 and "--dialects is for --per-force" in err
