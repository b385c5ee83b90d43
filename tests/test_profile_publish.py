"""The problem profile under disclosure control (#14 item 13): the report renders at any threshold, the hour grid
gives no withheld total or cell back, and metrics.csv and the spreadsheets carry the report's figures and marks."""

import re
from html import unescape

import pytest

from toolkit.forces import NATIONAL, get_force
from toolkit.publish.disclosure import publish_tables
from toolkit.publish.report import ForceReport, show_problem_profile


@pytest.fixture(scope="module")
def small_tables(small_profile_tables):
    """The profile's prepared tables of a 2% national year: every force's hour cells are under 25 episodes."""
    return small_profile_tables


@pytest.mark.parametrize("threshold", [25, 50])
def test_the_profile_renders_when_every_hour_cell_of_england_and_wales_is_withheld(small_tables, threshold):
    episodes, tables, groups = small_tables
    run = {"suppression_threshold": threshold, "comparator_groups": groups}
    published = publish_tables(tables, run)
    hours = published["profile_hours"]
    national = hours[hours["force_code"] == NATIONAL]
    # The case that crashed: no force publishes a cell with an episode, so nothing names a busiest hour.
    assert national["published"].fillna(0).eq(0).all() and national["episodes"].sum() > 1000
    for code in ("E23000008", "E23000014", "W15000004"):  # the smallest, a large one, Welsh
        html = unescape(show_problem_profile(ForceReport(get_force(code), run, [], published)).data)
        assert "Every cell of England and Wales's map is withheld, so no busiest hour is named." in html
        assert "[c]: withheld" in html or "it is withheld to protect children" in html
        assert not re.search(r"\bnan\b", html, re.I), code
