"""Loading a folder of exports from its manifest (issue #15): every file in order, each its own load; a manifest
loaded again loads nothing; a correction supersedes only its force and year; a row pointing outside the
manifest's folder, or lacking a column, is refused in one line before anything is loaded."""

import pandas as pd
import pytest

from toolkit.cli import main
from toolkit.errors import ToolkitError
from toolkit.ingest.load import load_manifest, read_cleaned
from toolkit.synthetic import generator

WEST_MIDLANDS, ESSEX = "E23000014", "E23000028"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two forces' canonical exports of 2023 and 2024, and West Midlands's 2023 resent with 4 episodes fewer."""
    folder = tmp_path_factory.mktemp("exports")
    episodes, truth = generator.generate_extract(2023, seed=4, years=2, scale=0.02, extract_date="2025-01-31")
    rows = []
    for year in (2023, 2024):
        for code in (WEST_MIDLANDS, ESSEX):
            mine = episodes[(episodes["force_code"] == code) & (episodes["reported_at"].dt.year == year)]
            name = f"{year}/{code}.csv"
            (folder / str(year)).mkdir(exist_ok=True)
            generator.write_extract(mine, truth, folder / name)
            rows.append(
                (name, code, f"{year}-01-01", f"{year}-12-31", "data/mappings/canonical.yaml", f"{year + 1}-01-31")
            )
    first = episodes[(episodes["force_code"] == WEST_MIDLANDS) & (episodes["reported_at"].dt.year == 2023)]
    generator.write_extract(first.iloc[4:], truth, folder / "2023" / "resent.csv")
    rows.append(
        ("2023/resent.csv", WEST_MIDLANDS, "2023-01-01", "2023-12-31", "data/mappings/canonical.yaml", "2024-04-30")
    )
    columns = ["file", "force_code", "period_from", "period_to", "mapping", "extract_date"]
    pd.DataFrame(rows, columns=columns).to_csv(folder / "manifest.csv", index=False)
    return folder, episodes


def test_every_file_loads_in_order_and_a_correction_supersedes_only_its_force_and_year(folder, tmp_path):
    exports, episodes = folder
    store = tmp_path / "store.duckdb"
    outcomes = load_manifest(exports / "manifest.csv", store=store)
    assert [o.added for o in outcomes] == [True] * 5
    assert outcomes[-1].superseded["force_code"].unique().tolist() == [WEST_MIDLANDS]
    assert len(outcomes[-1].superseded) == 12  # the twelve months of 2023
    clean = read_cleaned(store).result.clean
    assert len(clean) == len(episodes[episodes["force_code"].isin([WEST_MIDLANDS, ESSEX])]) - 4
    assert not any(o.added for o in load_manifest(exports / "manifest.csv", store=store))  # nothing twice


def test_files_cleaned_in_parallel_make_the_store_loading_in_turn_makes(folder, tmp_path):
    exports, _ = folder
    stores = {workers: tmp_path / f"store-{workers}.duckdb" for workers in (1, 2)}
    outcomes = {w: load_manifest(exports / "manifest.csv", store=s, workers=w) for w, s in stores.items()}
    assert [o.load["rows_in"] for o in outcomes[1]] == [o.load["rows_in"] for o in outcomes[2]]
    assert [len(o.superseded) for o in outcomes[2]] == [0, 0, 0, 0, 12]
    one, two = (read_cleaned(s).result for s in stores.values())
    for table in ("clean", "quarantine", "changes", "translations", "merged"):
        pd.testing.assert_frame_equal(getattr(one, table), getattr(two, table))


def test_a_file_that_fails_in_a_worker_leaves_the_loads_before_it(folder, tmp_path):
    exports, _ = folder
    manifest = pd.read_csv(exports / "manifest.csv", dtype=str)
    (exports / "broken.csv").write_text("force_code,age\nE23000014,15\n")  # no episode can be made of it
    manifest.loc[2, "file"] = "broken.csv"
    manifest.to_csv(exports / "broken-manifest.csv", index=False)
    store = tmp_path / "store.duckdb"
    with pytest.raises(ToolkitError, match=r"broken.csv.*\(2 file\(s\) of .* loaded before it stay loaded\)"):
        load_manifest(exports / "broken-manifest.csv", store=store, workers=2)
    assert read_cleaned(store).loads["file"].str.rsplit("/", n=1).str[-1].tolist() == [
        f"{WEST_MIDLANDS}.csv",
        f"{ESSEX}.csv",
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"file": "../elsewhere.csv"}, "is outside the manifest's folder"),
        ({"extract_date": "someday"}, "line 2"),
    ],
)
def test_a_bad_row_is_refused_in_one_line_before_anything_loads(folder, tmp_path, capsys, row, message):
    exports, _ = folder
    manifest = pd.read_csv(exports / "manifest.csv", dtype=str)
    for column, value in row.items():
        manifest.loc[0, column] = value
    manifest.to_csv(exports / "bad.csv", index=False)
    store = tmp_path / "store.duckdb"
    with pytest.raises(ToolkitError, match=message):
        load_manifest(exports / "bad.csv", store=store)
    status = main(["load-manifest", str(exports / "bad.csv"), "--store", str(store)])
    err = capsys.readouterr().err
    assert status != 0 and len(err.strip().splitlines()) == 1 and message in err
    assert not store.exists()


def test_a_manifest_without_a_column_is_refused(folder, tmp_path):
    exports, _ = folder
    pd.read_csv(exports / "manifest.csv").drop(columns="mapping").to_csv(exports / "short.csv", index=False)
    with pytest.raises(ToolkitError, match="has no column mapping"):
        load_manifest(exports / "short.csv", store=tmp_path / "store.duckdb")
