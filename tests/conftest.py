"""Shared synthetic data for the tests: made once per session, never real."""

import itertools

import pytest

from toolkit.config import PLANS_DIR
from toolkit.synthetic import generator

EXTRACT_DATE = "2025-01-31"
RUN_FORCES = ["E23000014", "E23000020", "W15000004"]  # large, the smallest in the small extract, Welsh
# On the small extract (5% of a national year, half the records without the national key) the linkage finds
# every planted pair in the benchmark's seeds; the bounds leave room for a seed less kind.
MIN_PRECISION, MIN_RECALL = 0.97, 0.95


def pairs_across_forces(frame, by: str) -> set:
    """Every pair of records (force, person) of different forces in one group of ``by`` (the linkage tests)."""
    out = set()
    for _, group in frame.groupby(by):
        if len(group) > 1:
            records = sorted(zip(group["force_code"], group["person_id"], strict=True))
            out |= {(a, b) for a, b in itertools.combinations(records, 2) if a[0] != b[0]}
    return out


@pytest.fixture(scope="session")
def national_year():
    """A full national year with the demo plan planted (about 180,000 episodes)."""
    return generator.generate_extract(2024, seed=7, plan=generator.read_plan(PLANS_DIR / "demo.yaml"))


@pytest.fixture(scope="session")
def small_profile_tables():
    """The problem profile's prepared tables of a 2% national year (demo plan, seed 7), with the volume summary
    and night reports: (episodes, tables, comparator groups). Every force's hour cells are under 25 episodes."""
    from toolkit.forces import read_comparator_groups
    from toolkit.stats.profile import summarise_night_reports, summarise_problem_profile
    from toolkit.stats.volume import summarise_volume

    episodes, _ = generator.generate_extract(
        2024, seed=7, scale=0.02, plan=generator.read_plan(PLANS_DIR / "demo.yaml")
    )
    groups = read_comparator_groups()
    tables = summarise_problem_profile(episodes, groups)
    tables["summary"] = summarise_volume(episodes, groups)
    tables["night_reports"] = summarise_night_reports(episodes, groups)
    return episodes, tables, groups


@pytest.fixture(scope="session")
def small_extract(tmp_path_factory):
    """A 5% national extract written as CSV, with its ground truth."""
    episodes, truth = generator.generate_extract(
        2024, seed=11, scale=0.05, plan=generator.read_plan(PLANS_DIR / "demo.yaml")
    )
    path = tmp_path_factory.mktemp("extract") / "small.csv"
    generator.write_extract(episodes, truth, path)
    return path, episodes, truth


@pytest.fixture(scope="session")
def run(tmp_path_factory, small_extract):
    """One run of the small extract for three forces, as `make reports` does: (RunResult, folder).

    Shared by the report, browser and Dask tests, which only read it (a run takes a quarter of a minute).
    """
    from toolkit import runner

    path, _, _ = small_extract
    folder = tmp_path_factory.mktemp("run")
    result = runner.run_reports(
        path, EXTRACT_DATE, folder / "reports", forces=RUN_FORCES, workers=2, work_dir=folder / "work", progress=False
    )
    return result, folder


# Modules whose tests read the shared run go to one worker when the suite runs in parallel (pytest-xdist,
# `make test`, with --dist loadgroup), so that the run is made once; every other module keeps its tests, and
# its module fixtures, on one worker too.
SHARED_RUN_MODULES = frozenset(
    {
        "test_reports.py",
        "test_browser.py",
        "test_dask.py",
        "test_store_runs.py",
        "test_workbook.py",
        "test_cross_border.py",
    }
)


# The groups that take longest, longest first (the suite's --durations): xdist hands the groups to the two
# workers in the order they are collected (its reordering by test count is switched off below), so a group of
# a few long tests (test_tiny_extracts, test_year_on_year) no longer starts last while the other worker idles.
SLOW_GROUPS = (
    "shared-run",
    "test_protection.py",
    "test_faults.py",
    "test_trends.py",
    "test_year_on_year.py",
    "test_consistency.py",
    "test_tiny_extracts.py",
    "test_findings.py",
    "test_failed_renders.py",
    "test_synth.py",
)


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist's: groups by number of tests, not by time
        config.option.loadscopereorder = False


def _group_rank(item) -> int:
    name = "shared-run" if item.path.name in SHARED_RUN_MODULES else item.path.name
    return SLOW_GROUPS.index(name) if name in SLOW_GROUPS else len(SLOW_GROUPS)


# First: xdist reads the groups in its own collection hook, which would otherwise run before this one and
# see none.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    items.sort(key=_group_rank)  # stable: each module's tests keep their order
    for item in items:
        group = "shared-run" if item.path.name in SHARED_RUN_MODULES else str(item.path)
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_xdist_node_collection_finished(node, ids):
    """Stop when xdist's groups did not take (xdist's controller hook, given a worker's test ids).

    Without them every module's tests, and its module- and session-wide fixtures (the shared run among
    them), are spread over both workers and built twice, silently. They did not take for two reasons at
    once: the groups were added after xdist's hook read them, and xdist applies a group by suffixing each
    test's node id, which pytest 9 no longer reads (so pyproject.toml pins pytest 8).
    """
    if node.config.option.dist == "loadgroup" and ids and "@" not in ids[0]:
        pytest.exit(
            f"pytest-xdist's --dist loadgroup did not group the tests (pytest {pytest.__version__}): "
            "install the versions pyproject.toml's dev extra pins",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
