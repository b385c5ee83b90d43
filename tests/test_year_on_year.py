"""The change on the year before (issue #15 item 5): each force's episodes against the same months a year before,
with an interval that holds its coverage when episodes cluster in repeat children, found where growth was
planted; read from the store by a run, shown in its report and the overview, withheld over a small count."""

import numpy as np
import pandas as pd
import pytest

from toolkit import runner
from toolkit.forces import NATIONAL
from toolkit.ingest.load import load_export
from toolkit.publish.disclosure import publish_year_on_year
from toolkit.stats.trends import compare_with_year_before
from toolkit.synthetic import generator

EXTRACT_DATE = "2025-01-31"


def _years(seed: int, growth: float, scale: float = 0.05):
    episodes, _ = generator.generate_extract(2023, seed=seed, years=2, scale=scale, growth=growth)
    year = episodes["reported_at"].dt.year
    return episodes[year == 2024], episodes[year == 2023]


def test_planted_growth_is_found_and_flat_years_keep_the_intervals_coverage():
    now, before = _years(3, growth=0.25, scale=0.2)
    codes = sorted(now["force_code"].unique())
    table = compare_with_year_before(now, before, codes).set_index("force_code")
    national = table.loc[NATIONAL]
    assert national["lower"] > 1.15 and national["upper"] < 1.35  # 25% planted
    assert (table.drop(NATIONAL)["rate_ratio"] > 1).mean() > 0.8  # small forces vary at a fifth of the volume
    # Flat years: the intervals cover 1 for about 95% of forces (Poisson alone, without the design effect of
    # repeat children, is too narrow for them).
    covered, total = 0, 0
    for seed in (4, 5, 6):
        now, before = _years(seed, growth=0.0)
        forces = compare_with_year_before(now, before, sorted(now["force_code"].unique())).drop(columns="method")
        forces = forces[(forces["force_code"] != NATIONAL) & forces["rate_ratio"].notna()]
        covered += int(((forces["lower"] <= 1) & (forces["upper"] >= 1)).sum())
        total += len(forces)
    assert total > 100 and covered / total > 0.9


def test_only_forces_covered_in_every_month_of_both_years_are_compared():
    now, before = _years(3, growth=0.0)
    table = compare_with_year_before(now, before, ["E23000014"]).set_index("force_code")
    assert table["rate_ratio"].notna().sum() == 2  # West Midlands, and England and Wales pooled over it alone
    assert table.loc[NATIONAL, "episodes"] == table.loc["E23000014", "episodes"]
    assert table.loc["E23000028", "method"].startswith("not computed: the data do not cover every month")


def test_a_small_count_in_either_year_withholds_the_ratio_and_england_and_wales():
    table = pd.DataFrame(
        {
            "force_code": ["A", "B", NATIONAL],
            "episodes": [200, 40, 240],
            "episodes_before": [180, 3, 183],
            "rate_ratio": [200 / 180, 40 / 3, 240 / 183],
            "lower": [0.9, 5.0, 1.1],
            "upper": [1.3, 40.0, 1.5],
            "design_effect": [2.0, 2.0, 2.0],
            "method": ["m"] * 3,
        }
    )
    published = publish_year_on_year(table, 5).set_index("force_code")
    assert published.loc["A", "rate_ratio"] == pytest.approx(200 / 180)
    for code in ("B", NATIONAL):  # England and Wales less A would give B's 3 back
        assert np.isnan(published.loc[code, ["episodes_before", "rate_ratio", "lower", "upper"]].to_numpy(float)).all()
        assert published.loc[code, "method"].startswith("withheld")


def test_a_run_from_a_store_of_two_years_shows_each_forces_change(tmp_path):
    episodes, truth = generator.generate_extract(2023, seed=9, years=2, scale=0.05, growth=0.1)
    path = tmp_path / "two_years.csv"
    generator.write_extract(episodes, truth, path)
    store = tmp_path / "store.duckdb"
    load_export(path, EXTRACT_DATE, store=store)
    forces = ["E23000014", "E23000028"]
    runner.run_reports(
        None, None, tmp_path / "reports", store=store, period="2024", forces=forces, work_dir=tmp_path / "work",
        progress=False,
    )  # fmt: skip
    report = (tmp_path / "reports" / "west-midlands.html").read_text()
    assert "a year before (2024-01..2024-12 against the year before): episodes changed by" in report
    overview = (tmp_path / "reports" / "national-overview.html").read_text()
    assert "Change on the same months a year before" in overview
    table = pd.read_parquet(tmp_path / "work" / "year_on_year.parquet").set_index("force_code")
    year = episodes["reported_at"].dt.year
    wm = episodes["force_code"] == "E23000014"
    assert table.loc["E23000014", "episodes"] == (wm & (year == 2024)).sum()
    assert table.loc["E23000014", "episodes_before"] == (wm & (year == 2023)).sum()
    metrics = pd.read_csv(tmp_path / "reports" / "metrics.csv").set_index(["force_code", "metric"])
    assert metrics.loc[("E23000014", "year_on_year_rate_ratio"), "value"] == pytest.approx(
        table.loc["E23000014", "rate_ratio"], rel=1e-3
    )
