"""The dask executor: renders as tasks on a Dask cluster give the same outputs as the local run."""

import re

import pytest
from conftest import EXTRACT_DATE, RUN_FORCES

from toolkit import runner
from toolkit.errors import ToolkitError
from toolkit.forces import get_force
from toolkit.publish.markup import INDEX_PAGE, OVERVIEW_PAGE

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


def test_dask_run_matches_the_local_run_byte_for_byte(cluster, small_extract, run, tmp_path):
    """The same extract as the shared local run (conftest), one of its forces rendered as a task on a cluster.

    Every figure is computed once, here, from the whole extract, whatever forces are rendered: the
    national files are the local run's byte for byte, and so is the force's report and the overview.
    """
    path, _, _ = small_extract
    local, folder = run
    force = "W15000004"
    dask = runner.run_reports(
        path,
        EXTRACT_DATE,
        tmp_path / "dask",
        forces=[force],
        work_dir=tmp_path / "work-dask",
        progress=False,
        scheduler=cluster.scheduler_address,
    )
    assert local.ok and dask.ok and force in RUN_FORCES
    assert [p.name for p in dask.reports.values()] == [local.reports[force].name]
    for name in ("findings.json", "metrics.csv", "data_quality.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (folder / "reports" / name).read_bytes(), name
    # The overview links the reports each run wrote (one here, three there), and is otherwise the same.
    pages = [(tmp_path / "dask" / OVERVIEW_PAGE).read_text(), (folder / "reports" / OVERVIEW_PAGE).read_text()]
    linked = [set(re.findall(r"href=[\"']([a-z-]+\.html)[\"']", page)) - {INDEX_PAGE} for page in pages]
    assert linked == [{f"{get_force(force).slug}.html"}, {f"{get_force(c).slug}.html" for c in RUN_FORCES}]
    assert _unlinked(pages[0]) == _unlinked(pages[1])
    # So does the force's report: it links its comparators' reports where the run wrote them.
    assert _unlinked(dask.reports[force].read_text()) == _unlinked(local.reports[force].read_text())


def _unlinked(page: str) -> str:
    """A page without its list of related pages, and its links to other pages replaced by their text."""
    page = re.sub(r"<nav [^>]*aria-labelledby=[\"']related[\"'][^>]*>.*?</nav>", "", page, flags=re.S)
    return re.sub(r"<a [^>]*href=[\"'][a-z-]+\.html[\"'][^>]*>(.*?)</a>", r"\1", page)


def test_an_unreachable_scheduler_is_a_clear_error(small_extract, tmp_path):
    path, _, _ = small_extract
    with pytest.raises(ToolkitError, match="cannot reach the Dask scheduler"):
        runner.run_reports(
            path,
            EXTRACT_DATE,
            tmp_path / "out",
            forces=["W15000004"],
            work_dir=tmp_path / "work",
            progress=False,
            scheduler="tcp://127.0.0.1:9",
        )
