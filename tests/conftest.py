"""Shared synthetic data for the tests: made once per session, never real."""

import pytest

from toolkit.config import PLANS_DIR
from toolkit.synthetic import generator

EXTRACT_DATE = "2025-01-31"


@pytest.fixture(scope="session")
def national_year():
    """A full national year with the demo plan planted (about 180,000 episodes)."""
    return generator.generate_extract(2024, seed=7, plan=generator.read_plan(PLANS_DIR / "demo.yaml"))


@pytest.fixture(scope="session")
def small_extract(tmp_path_factory):
    """A 5% national extract written as CSV, with its ground truth."""
    episodes, truth = generator.generate_extract(
        2024, seed=11, scale=0.05, plan=generator.read_plan(PLANS_DIR / "demo.yaml")
    )
    path = tmp_path_factory.mktemp("extract") / "small.csv"
    generator.write_extract(episodes, truth, path)
    return path, episodes, truth
