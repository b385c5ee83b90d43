"""A run where a page fails to render publishes no link to it: every other page names it as not available.

The pages are rendered all at once, each linking every force of the run and the national overview; when one
fails, the runner makes again the pages that link it (:func:`toolkit.runner._render_again_around_failures`).
The test notebook fails for North Wales, whose comparator group holds both other forces of the run; the
overview is made to fail by a planted fault.
"""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import EXTRACT_DATE

from toolkit import runner
from toolkit.config import PROJECT_ROOT
from toolkit.forces import get_force
from toolkit.publish import render

pytestmark = pytest.mark.notebook
FAILING_NOTEBOOK = PROJECT_ROOT / "tests" / "fixtures" / "notebooks" / "fails_for_one_force.ipynb"
FAILS = "W15000001"  # North Wales: the notebook raises for it
# Lincolnshire and Derbyshire: North Wales is in each one's comparator group, and Derbyshire in Lincolnshire's.
FORCES = [FAILS, "E23000020", "E23000018"]


@pytest.fixture(scope="module")
def tiny_extract(tmp_path_factory, small_extract):
    """The small extract cut to the run's three forces."""
    path, _, _ = small_extract
    source = pd.read_csv(path, dtype=str, keep_default_na=False)
    tiny = tmp_path_factory.mktemp("tiny") / "tiny.csv"
    source[source["force_code"].isin(FORCES)].to_csv(tiny, index=False)
    return tiny


def _links(page: Path) -> list[str]:
    return re.findall(r"""href=['"]([^'"]*)['"]""", page.read_text(encoding="utf-8"))


def _dead_links(out: Path) -> list[tuple[str, str]]:
    """Every (page, link) of the published folder to a file it does not hold."""
    return [
        (page.name, href)
        for page in sorted(out.glob("*.html"))
        for href in _links(page)
        if not href.startswith("#") and not (out / href.split("#")[0]).is_file()
    ]


@pytest.fixture(scope="module")
def failed_run(request, tmp_path_factory, tiny_extract):
    """A run where North Wales fails (and the overview too, given True): (result, folder, overview_fails,
    every page made in turn). The run where only North Wales fails is also the run of
    :func:`test_one_failing_force_does_not_stop_the_others`: one run of the notebook that fails, not two."""
    overview_fails = request.param
    folder = tmp_path_factory.mktemp("failed-run")
    made = []
    original = runner._render_one

    def render_one(code, *args, **kwargs):
        made.append(code)
        return original(code, *args, **kwargs)

    def fail(*args, **kwargs):
        raise RuntimeError("planted overview failure")

    out = folder / "reports"
    out.mkdir()
    (out / "lincolnshire.html").write_text("an old report that would look current")
    with pytest.MonkeyPatch.context() as patch:
        if overview_fails:
            patch.setattr(render, "render_national_overview", fail)
        patch.setattr(runner, "_render_one", render_one)  # the renders run in this process's threads
        result = runner.run_reports(
            tiny_extract,
            EXTRACT_DATE,
            out,
            forces=FORCES,
            workers=2,
            work_dir=folder / "work",
            notebook=FAILING_NOTEBOOK,
            progress=False,
        )
    return result, folder, overview_fails, made


@pytest.mark.parametrize("failed_run", [False, True], ids=["a-force-fails", "the-overview-fails-too"], indirect=True)
def test_a_page_that_failed_is_named_as_not_available_and_never_linked(failed_run):
    result, tmp_path, overview_fails, made = failed_run
    out = tmp_path / "reports"
    assert list(result.failures) == [FAILS] and sorted(result.reports) == sorted(FORCES[1:])
    assert (result.overview_failure is not None) == overview_fails
    # Every page once; then the pages that link North Wales again (an overview that failed is not tried again).
    again = ["E23000018", "E23000020", *([] if overview_fails else [runner.OVERVIEW])]
    assert sorted(made) == sorted([runner.OVERVIEW, *FORCES, *again])
    pages = {page.name for page in out.glob("*.html")}
    written = {f"{get_force(code).slug}.html" for code in FORCES[1:]}
    assert pages == {"index.html", *written, *([] if overview_fails else ["national-overview.html"])}
    assert _dead_links(out) == []
    north_wales = "North Wales Police (not available: its report could not be made in this run)"
    for name in written:  # each linked North Wales as a comparator before it was made again
        text = (out / name).read_text(encoding="utf-8")
        assert north_wales.replace("North", "Comparator force North") in text, name
        assert ("The national overview (not available: its page could not be made" in text) == overview_fails
    assert "derbyshire.html" in _links(out / "lincolnshire.html")  # a comparator that was written is still linked
    if not overview_fails:
        overview = (out / "national-overview.html").read_text(encoding="utf-8")
        assert north_wales in overview and written <= set(_links(out / "national-overview.html"))
    assert "North Wales Police (report failed)" in (out / "index.html").read_text(encoding="utf-8")
    # What the pages were made with last: the failures known.
    parameters = json.loads((tmp_path / "work" / "run_parameters.json").read_text())
    assert parameters["reports_failed"] == [FAILS] and parameters["overview_failed"] == overview_fails


@pytest.mark.parametrize("failed_run", [False], ids=["a-force-fails"], indirect=True)
def test_one_failing_force_does_not_stop_the_others(failed_run):
    """The other forces' reports, the index and run.json are written past a failed render (from test_reports)."""
    result, folder, overview_fails, _ = failed_run
    assert not overview_fails
    out = folder / "reports"
    assert sorted(result.reports) == sorted(FORCES[1:])
    assert list(result.failures) == [FAILS]
    assert "planted failure for the test" in result.failures[FAILS]
    assert not (out / "north-wales.html").exists()
    assert "an old report" not in (out / "lincolnshire.html").read_text(encoding="utf-8")  # made again, not kept
    assert "(report failed)" in (out / "index.html").read_text()
    assert json.loads((out / "run.json").read_text())["failures"].keys() == {FAILS}


def test_a_run_with_no_failure_renders_no_page_again(tmp_path, monkeypatch):
    """The common case costs nothing more: nothing is rendered again and the run parameters are not rewritten."""

    def render_all(*args, **kwargs):
        raise AssertionError("a page was rendered again")

    monkeypatch.setattr(runner, "_render_all", render_all)
    result = runner.RunResult(out_dir=tmp_path, reports={code: tmp_path / "x.html" for code in FORCES})
    result.overview = tmp_path / "national-overview.html"
    groups = {code: FORCES for code in FORCES}
    runner._render_again_around_failures(result, {}, groups, (tmp_path / "work", tmp_path), tmp_path, False)
    assert not (tmp_path / "work").exists()
