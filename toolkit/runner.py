"""Run the report for every force: validate once, compute once, render in parallel.

:func:`run_reports` is what ``python -m toolkit run`` and ``make reports`` call:

1. read the extract; a canonical extract is validated (and refused, with
   every problem listed, when it breaks the contract), a force's own export is
   cleaned through its mapping (bad rows quarantined with reasons);
2. compute the figures for all forces in one pass - volumes, the data-quality
   scorecard, what each force's data can support - and store them, with the
   clean episodes and the cleaning logs, in the work folder (:func:`prepare_tables`);
3. render each force's notebook in parallel worker processes with a progress
   bar, carrying on when one force fails;
4. write ``index.html`` and ``run.json`` (provenance), and report failures.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from tqdm import tqdm

import toolkit
from toolkit.config import WORK_DIR
from toolkit.dates import ExtractDate
from toolkit.errors import ToolkitError, ValidationError
from toolkit.findings import find_issues, read_thresholds
from toolkit.findings.history import compare_with_previous, read_previous_findings
from toolkit.folders import StagedFolder, describe_os_error, staged_folders
from toolkit.forces import COMPARATOR_GROUPS_FILE, find_force, get_force, read_comparator_groups
from toolkit.ingest.clean import CleanResult, clean_export, write_cleaning_outputs
from toolkit.ingest.extract import read_extract_text, validate_extract
from toolkit.ingest.load import StoredCleaning, read_cleaned, store_cleaned
from toolkit.ingest.mapping import CANONICAL, read_mapping
from toolkit.ingest.provenance import provenance_path, read_provenance
from toolkit.linkage import count_distinct_children, link_children
from toolkit.linkage.borders import summarise_cross_border, tabulate_distinct_children
from toolkit.publish.disclosure import (
    DEFAULT_THRESHOLD,
    check_threshold,
    publish_findings,
    publish_provenance,
    publish_tables,
)
from toolkit.publish.metrics import collect_metrics
from toolkit.publish.workbook import write_workbooks
from toolkit.stats.intervals import proportion_interval
from toolkit.stats.tables import Inputs, prepare_statistics
from toolkit.store import WorkFolder, file_sha256, format_json, write_atomically

# Rendering's libraries (nbformat, jupyter_client, jinja2: half the start-up) are imported where a run
# renders, so that a run refused for its arguments or its folders says so at once.
if TYPE_CHECKING:
    from toolkit.publish.kernels import KernelPool

__all__ = [
    "RunInput",
    "RunResult",
    "link_national_children",
    "prepare_tables",
    "read_run_input",
    "run_reports",
    "DEFAULT_WORK_DIR",
]

DEFAULT_WORK_DIR = WORK_DIR
LOGGER = logging.getLogger("toolkit")
# Beyond this many episodes (about five national years) the linkage runs after the statistics, not beside them:
# their working memory would add up (at ten years the linkage holds about 1.3 GB beyond the episodes, on top of
# the statistics' own), where at one year running beside them saves seconds and holds a few hundred megabytes.
LINK_BESIDE_EPISODES = 1_000_000


@dataclass
class RunResult:
    """What a run produced and what failed."""

    out_dir: Path
    reports: dict[str, Path] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    overview: Path | None = None
    overview_failure: str | None = None

    @property
    def ok(self) -> bool:
        """True when every force's report and the national overview were written."""
        return not self.failures and self.overview_failure is None


def prepare_tables(
    result: CleanResult,
    work_dir: Path,
    run_parameters: dict,
    comparator_groups: dict[str, list[str]] | None = None,
    thresholds: dict | None = None,
    previous: list[dict] | None = None,
    year_before: pd.DataFrame | None = None,
    compared_with_year_before: list[str] | None = None,
) -> tuple[dict[str, pd.DataFrame], list[dict]]:
    """Compute every force's figures and findings once and store them where the notebooks read them.

    ``year_before`` (the same months a year before, from a store) and ``compared_with_year_before`` (the
    forces covered in every month of both) give the year-on-year change; without them it is not computed.

    Writes into ``work_dir`` (a :class:`toolkit.store.WorkFolder`): the clean
    episodes and cleaning logs, every table of
    :data:`toolkit.stats.tables.PREPARED_TABLES`, ``findings.json``,
    ``history.json`` (what became of a ``previous`` run's findings,
    :func:`toolkit.findings.history.compare_with_previous`; empty without one)
    and ``run_parameters.json``; the children linked across forces (:func:`link_national_children`:
    ``distinct_children``, ``cross_border`` and the record-level ``linkage_*`` files). These hold
    pseudonymised record-level data: the work folder is never published.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        Every prepared table, by name.
    findings : list of dict
        Every force's findings, before disclosure control.
    """
    work = WorkFolder(work_dir)
    rule_thresholds = thresholds or read_thresholds()
    inputs = Inputs(
        cleaned=result,
        extract_date=ExtractDate.parse(run_parameters["extract_date"]),
        comparator_groups=comparator_groups if comparator_groups is not None else read_comparator_groups(),
        thresholds=rule_thresholds,
        year_before=year_before,
        compared_with_year_before=compared_with_year_before,
    )
    link_beside = len(result.clean) <= LINK_BESIDE_EPISODES
    with ThreadPoolExecutor(2) as beside:
        # Writing the clean episodes and logs is mostly Arrow and file I/O, which release the GIL, and the
        # linkage is mostly DuckDB, which does too: both run beside the statistics rather than before them.
        written = beside.submit(write_cleaning_outputs, result, work.path)
        linked = beside.submit(link_national_children, result.clean, work) if link_beside else None
        tables = prepare_statistics(inputs)
        written.result()
        tables |= linked.result() if linked is not None else link_national_children(result.clean, work)
    for name, table in tables.items():
        work.write_table(name, table)
    findings = find_issues(tables, rule_thresholds)
    earlier = []
    if previous is not None:
        findings, earlier = compare_with_previous(findings, previous)
    work.write_json("findings", findings)
    work.write_json("history", earlier)
    work.write_json("run", run_parameters)
    return tables, findings


def link_national_children(episodes: pd.DataFrame, work: WorkFolder) -> dict[str, pd.DataFrame]:
    """Link every force's children once for the run, keep the record-level results, return the national tables.

    One national computation, like the consistency models: :func:`toolkit.linkage.link_children` on the
    clean episodes of every force, the distinct children counted with their interval, and each force's
    cross-border children (:mod:`toolkit.linkage.borders`). The linked children, clusters and candidate
    links hold person ids and tokens: they stay in the work folder (``linkage_*``), never in the reports.
    A version 1 extract is linked too, to say that it cannot be counted and why.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``distinct_children`` (one England and Wales row) and ``cross_border`` (one row per force, with the
        share of the children another force knew at risk whom this force first graded low, and its interval).
    """
    started = time.perf_counter()
    linkage = link_children(episodes, progress=LOGGER.debug)
    count = count_distinct_children(linkage)
    for name in ("children", "clusters", "predictions"):
        work.write_table(f"linkage_{name}", getattr(linkage, name))
    work.write_json("linkage_model", linkage.model)
    cross = summarise_cross_border(episodes, linkage)
    share = proportion_interval(cross["graded_low_here"].fillna(0), cross["known_elsewhere"].fillna(0))
    unknown = cross["known_elsewhere"].isna().to_numpy()
    for column in ("value", "lower", "upper"):
        cross[f"graded_low_share{'' if column == 'value' else '_' + column}"] = share[column].mask(unknown).to_numpy()
    cross["method"] = (
        "share of the children missing in another force too whom another force had recorded at risk before (an "
        "exploitation or previous-harm flag, harm, or a medium or high grade) that this force first graded low or "
        "no apparent risk; Wilson score 95% interval"
    )
    LOGGER.info("linkage: %.1f s", time.perf_counter() - started)
    return {"distinct_children": tabulate_distinct_children(count, linkage.threshold), "cross_border": cross}


def read_and_clean(input_path: Path, extract: ExtractDate, mapping_path: str | Path | None) -> CleanResult:
    """Read an extract and clean it: strictly validated when canonical, mapped when not."""
    raw = read_extract_text(input_path)
    mapping = read_mapping(mapping_path or CANONICAL)
    with ThreadPoolExecutor(1) as background:
        # Checking the contract and cleaning only read `raw`, and much of both is Arrow code that
        # releases the GIL: they run side by side. A broken contract is reported before anything
        # the cleaning found.
        checked = background.submit(validate_extract, raw, extract) if mapping_path is None else None
        try:
            result = clean_export(raw, mapping, extract)
        except ToolkitError as error:
            result = error
        problems = checked.result() if checked is not None else None
    if problems is not None and not problems.empty:
        rows = problems["row"].dropna().nunique()
        raise ValidationError(
            f"{input_path}: {len(problems)} problem(s) in {rows} row(s) break the extract contract "
            "(a force's own export needs --mapping)",
            problems,
        )
    if isinstance(result, ToolkitError):
        raise result
    if result.clean.empty:
        raise ToolkitError(
            f"{input_path}: no usable episodes: all {result.rows_in} rows were quarantined or merged "
            f"({', '.join(f'{k} {v}' for k, v in result.counts()['quarantined_by_reason'].items())}); "
            "check the mapping with `python -m toolkit clean`"
        )
    return result


@dataclass
class RunInput:
    """What a run reads: the store's clean tables for a period as at a moment, and what they are.

    Attributes
    ----------
    stored : StoredCleaning
        :func:`toolkit.ingest.load.read_cleaned`'s answer.
    extract : ExtractDate
        The extract date the figures are taken at: the file's, or the latest of the loads read.
    provenance : dict or None
        The input file's provenance record; for a store, the first load's that has one.
    synthetic : bool
    description : dict
        What ``run.json`` records of the input: the file or the store, the loads read, the as-at moment.
    year_before : pandas.DataFrame or None
        From a store: the clean episodes of the same months a year before, as at the same moment.
    compared_with_year_before : list of str or None
        The forces the store covers in every month of both periods.
    """

    stored: StoredCleaning
    extract: ExtractDate
    provenance: dict | None
    synthetic: bool
    description: dict
    year_before: pd.DataFrame | None = None
    compared_with_year_before: list[str] | None = None


def _describe_loads(loads: pd.DataFrame) -> list[dict]:
    """The loads a run read, for run.json: each file by name and hash, never its counts (they hold withheld forces)."""
    return [
        {
            "load_id": int(row.load_id),
            "file": Path(str(row.file)).name,
            "sha256": row.sha256,
            "mapping": row.mapping,
            "extract_date": pd.Timestamp(row.extract_date).date().isoformat(),
            "period": f"{pd.Timestamp(row.period_from):%Y-%m}..{pd.Timestamp(row.period_to):%Y-%m}",
            "loaded_at_utc": pd.Timestamp(row.loaded_at).isoformat(timespec="seconds"),
        }
        for row in loads.itertuples()
    ]


def _check_one_source(input_path, store) -> None:
    """A run reads an extract or a store: exactly one."""
    if (input_path is None) == (store is None):
        raise ToolkitError("give a run either an extract (--input FILE) or a national store (--store PATH), not both")


def read_run_input(
    input_path: Path | None,
    extract_date: ExtractDate | date | str | None,
    mapping: str | Path | None,
    synthetic: bool | None,
    store: str | Path | None = None,
    period: str | None = None,
    as_at: str | None = None,
) -> RunInput:
    """Read what a run reports on, always through the store.

    Given a file, it is validated (canonical) or cleaned through its mapping as it always has been, put in a
    temporary store of its own, and read back; given a store, the period as at the moment is read from it.
    Either way the figures come from :func:`toolkit.ingest.load.read_cleaned`, so there is one path.

    Raises
    ------
    ToolkitError
        Both or neither of a file and a store; a file without an extract date; an invalid extract; a store
        with nothing for the period.
    """
    _check_one_source(input_path, store)
    if input_path is not None:
        if extract_date is None:
            raise ToolkitError("a run on an extract needs its extract date (--extract-date YYYY-MM-DD)")
        if period is not None or as_at is not None:
            raise ToolkitError("--period and --as-at read a national store: give them with --store")
        extract = ExtractDate.parse(extract_date)
        recorded = read_provenance(input_path)
        is_synthetic = decide_synthetic(input_path, recorded, synthetic)
        cleaned = read_and_clean(input_path, extract, mapping)
        sha256 = file_sha256(input_path)
        with tempfile.TemporaryDirectory(prefix="toolkit-store-") as folder:
            temporary = Path(folder) / "store.duckdb"
            store_cleaned(cleaned, input_path, extract, store=temporary, mapping=mapping, sha256=sha256)
            stored = read_cleaned(temporary)
        description = {
            "input": input_path.name,
            "input_sha256": sha256,
            "store": None,  # the file was read through a temporary store of its own
            "as_at_utc": None,
        }
        return RunInput(stored, extract, recorded, is_synthetic, description)
    if extract_date is not None or mapping is not None:
        raise ToolkitError("a store's loads carry their own extract dates and mappings: give neither with --store")
    store = Path(store)
    stored = read_cleaned(store, period, as_at)  # a store that is not there is refused by its owner, in one line
    when = stored.as_at.isoformat(timespec="seconds")
    if stored.result.clean.empty:
        what = f"for {period}" if period else "at all"
        raise ToolkitError(f"{store}: no clean episodes {what} as at {when}; `python -m toolkit status` shows what is")
    # Every record is before the latest extract date; a load taken earlier counts its returns not yet due
    # a little later than its own date would (run.json gives each load's date).
    extract = ExtractDate.parse(max(pd.Timestamp(d).date() for d in stored.loads["extract_date"]))
    recorded = [json.loads(text) for text in stored.loads["provenance"]]
    marked = [r for r in recorded if r is not None]
    is_synthetic = synthetic if synthetic is not None else bool(marked) and all(r.get("synthetic") for r in marked)
    year_before, compared = _read_year_before(store, stored, as_at)
    description = {
        "input": store.name,
        "input_sha256": None,  # a store changes with every load: the loads read are named by their files' hashes
        "store": store.name,
        "store_loads": _describe_loads(stored.loads),
        "store_period": str(stored.period),
        "as_at_utc": when,
    }
    return RunInput(stored, extract, marked[0] if marked else None, is_synthetic, description, year_before, compared)


def _read_year_before(store: Path, stored: StoredCleaning, as_at) -> tuple[pd.DataFrame | None, list[str] | None]:
    """The same months a year before, from the same store as at the same moment, and the forces it covers in
    every month of both periods (a force missing a month of either would look like a change)."""
    if stored.period is None:
        return None, None
    earlier = read_cleaned(store, stored.period.year_before(), as_at)
    if earlier.result.clean.empty:
        return None, None

    def months_by_force(cells: pd.DataFrame) -> pd.Series:
        return cells.assign(month=pd.to_datetime(cells["month"])).groupby("force_code")["month"].nunique()

    wanted = len(stored.period.months())
    now, before = months_by_force(stored.cells), months_by_force(earlier.cells)
    compared = sorted(set(now[now == wanted].index) & set(before[before == wanted].index))
    return earlier.result.clean, compared


OVERVIEW = "national_overview"  # the task that renders the national overview rather than a force
KERNEL_MODES = ("warm", "fresh")
RUN_STATUSES = ("draft", "published")


def decide_synthetic(input_path: Path, recorded: dict | None, synthetic: bool | None) -> bool:
    """Whether a run's data are synthetic: as its provenance file says, or as the run is told.

    Parameters
    ----------
    input_path : Path
        The extract, to name its provenance file in a refusal.
    recorded : dict or None
        Its provenance (:func:`toolkit.ingest.provenance.read_provenance`); None when it has none.
    synthetic : bool or None
        What the run was told (``--synthetic``); None when it was told nothing.

    Raises
    ------
    ToolkitError
        The two disagree: pages must not say synthetic data are real, nor real data synthetic.

    Examples
    --------
    >>> decide_synthetic(Path("x.csv"), None, None), decide_synthetic(Path("x.csv"), None, True)
    (False, True)
    >>> decide_synthetic(Path("x.csv"), {"synthetic": True}, None)
    True
    >>> decide_synthetic(Path("x.csv"), {"synthetic": False}, True)
    Traceback (most recent call last):
    ...
    toolkit.errors.ToolkitError: x.csv.provenance.json says the data are not synthetic, but the run was told ...
    """
    if synthetic is not None and not isinstance(synthetic, bool):
        raise ToolkitError(f"synthetic must be True, False or None, not {synthetic!r}")
    if recorded is None:
        return bool(synthetic)
    if synthetic is not None and synthetic != recorded["synthetic"]:
        said, told = ("", "they are not") if recorded["synthetic"] else ("not ", "they are (--synthetic)")
        raise ToolkitError(
            f"{provenance_path(input_path)} says the data are {said}synthetic, but the run was told {told}: "
            "correct one of them"
        )
    return recorded["synthetic"]


def _render_one(code: str, work_dir: str, out_dir: str, notebook: str, km=None) -> float:
    """Render one force's report (or, for :data:`OVERVIEW`, the national overview); seconds taken."""
    from toolkit.publish.render import render_force_report, render_national_overview

    started = time.perf_counter()
    try:
        if code == OVERVIEW:
            render_national_overview(work_dir, out_dir, km=km)
        else:
            render_force_report(code, work_dir, out_dir, notebook=notebook, km=km)
    except SystemExit as stopped:
        if not _WORKER_STOPPED.is_set():
            raise
        # A worker process the run stopped (_stop_worker), its render unwound: the pool would otherwise
        # keep it waiting for work that never comes.
        os._exit(stopped.code)
    return time.perf_counter() - started


def _connect_to_dask(scheduler: str, timeout: str = "10s"):
    """A client of the Dask scheduler, or a clear error."""
    try:
        from distributed import Client
    except ImportError:
        raise ToolkitError("the dask executor needs the 'distributed' package: pip install distributed") from None
    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, ValueError) as error:
        raise ToolkitError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None


def _render_on_dask(tasks: list[str], args: tuple, scheduler: str):
    """Yield (task, seconds or exception) from renders sent as tasks to a Dask distributed cluster.

    Each worker needs this package installed and must see ``work_dir`` and ``out_dir`` at the same
    paths (a shared file system); each render starts its own kernel on the worker.
    """
    from distributed import as_completed as dask_completed

    client = _connect_to_dask(scheduler)
    try:
        futures = {client.submit(_render_one, task, *args, pure=False): task for task in tasks}
        for future in dask_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as error:  # one failure must not stop the others
                yield futures[future], error
    finally:
        client.close()


def _render_all(
    tasks: list[str],
    work_dir: Path,
    out_dir: Path,
    notebook,
    workers: int,
    kernel_pool: KernelPool | None = None,
    scheduler: str | None = None,
):
    """Yield (task, seconds or exception) as each render finishes.

    With ``kernel_pool`` (warm kernels), one thread per worker runs report after report on a
    kernel of the pool (the kernels are the processes that work); without it, a process per
    worker starts a new kernel for every report. With ``scheduler``, every render is a task on
    that Dask cluster instead.
    """
    args = (str(work_dir), str(out_dir), str(notebook))
    if scheduler is not None:
        yield from _render_on_dask(tasks, args, scheduler)
        return

    def on_warm_kernel(task: str) -> float:
        with kernel_pool.kernel() as km:
            return _render_one(task, *args, km=km)

    if kernel_pool is None:
        executor = ProcessPoolExecutor(max_workers=workers, initializer=_leave_signals_to_the_run)
    else:
        executor = ThreadPoolExecutor(workers)
    try:
        if kernel_pool is None:
            futures = {executor.submit(_render_one, task, *args): task for task in tasks}
        else:
            futures = {executor.submit(on_warm_kernel, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except Exception as error:  # one failure must not stop the others
                yield futures[future], error
    except BaseException:  # interrupted, or the run gave up: stop now rather than render every queued force
        _stop(executor, kernel_pool)
        raise
    executor.shutdown(wait=True)


def _leave_signals_to_the_run() -> None:
    """In a worker process: Ctrl-C is the run's to handle (each worker would print its own traceback), and
    SIGTERM, the run's way to stop a worker, unwinds its render (a fork would inherit the run's handler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)


_WORKER_STOPPED = threading.Event()  # set in a worker process the run stopped


def _stop_worker(signum, frame) -> None:
    _WORKER_STOPPED.set()
    raise SystemExit(128 + signum)  # the render unwinds: its kernel is shut down, its files removed


def _stop(executor, kernel_pool: KernelPool | None) -> None:
    """Cancel the queued renders and end the running ones, without waiting for them."""
    _ignore_interrupts()  # a second Ctrl-C must not cut the clean-up short
    # The renders being torn down would each log their kernel's death: noise once the run is stopping.
    logging.disable(logging.CRITICAL)
    # The process pool has no public way to stop a running task, and forgets its processes on shutdown:
    # they are taken first and sent SIGTERM, which unwinds each one's render and its kernel (_stop_worker).
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:  # gone before the run's kernel folder is removed: none writes there after
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
    if kernel_pool is not None:
        kernel_pool.shutdown()
        executor.shutdown(wait=True)  # a render on a kernel that is gone, and cannot start again, ends at once


def _ignore_interrupts() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


@contextmanager
def _naming_folder_errors(work: StagedFolder, out: StagedFolder) -> Iterator[None]:
    """An operating-system error on a run's folders (a full disk, no permission) as one message naming it."""
    try:
        yield
    except OSError as error:
        staged = [f for f in (work, out) if error.filename and str(f.staging) in str(error.filename)]
        if not staged and error.errno not in _FOLDER_ERRORS:
            raise  # not about the run's folders: a fault, reported as one
        purpose = f"the {staged[0].purpose} {staged[0].target}" if staged else "the run's folders"
        error.filename = None  # the staging path means nothing to the reader: the folder is named instead
        raise ToolkitError(describe_os_error(error, purpose)) from None


@contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM (a service manager, ``kill``) stops a run as Ctrl-C does; the handlers are restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        logging.disable(logging.NOTSET)  # as it was before a stop silenced it


# Errors of the folder a render writes, not of one force: the run stops, leaving the last good run in place.
_FOLDER_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR})


def _collect_renders(renders, out_dir: Path, total: int, progress: bool) -> RunResult:
    """Record each render's outcome as it finishes, with a progress bar.

    ``out_dir`` is where the reports will be once the run is swapped in. A
    full disk or an unwritable folder is not one force's failure: it stops
    the run (``OSError``), so that nothing is swapped in.
    """
    from toolkit.publish.render import OVERVIEW_FILE, ReportFailed

    result = RunResult(out_dir=out_dir)
    bar = tqdm(total=total, desc="reports", unit="report", disable=not progress)
    with closing(renders):  # stopping early (an error, Ctrl-C) stops the renders still queued
        for task, outcome in renders:
            bar.update(1)
            if isinstance(outcome, OSError) and outcome.errno in _FOLDER_ERRORS:
                raise outcome
            if task == OVERVIEW:
                if isinstance(outcome, Exception):  # reported like a force's failure, and the run fails
                    result.overview_failure = f"national overview: {type(outcome).__name__}: {outcome}"
                else:
                    result.overview = out_dir / OVERVIEW_FILE
                continue
            force = get_force(task)
            if isinstance(outcome, ReportFailed):
                result.failures[task] = str(outcome)
            elif isinstance(outcome, Exception):
                result.failures[task] = f"{force.name} ({task}): {type(outcome).__name__}: {outcome}"
            else:
                result.reports[task] = out_dir / f"{force.slug}.html"
                result.timings[task] = round(outcome, 3)
    bar.close()
    return result


def _render_again_around_failures(
    result: RunResult, parameters: dict, groups: dict[str, list[str]], render: tuple, target: Path, progress: bool
) -> None:
    """Make again, with the failures known, every page that links a page whose render failed.

    The pages are first rendered all at once, each linking every force of the run and the overview: with no
    failure (the common case) nothing more is done. Otherwise the run parameters the notebooks read name the
    failed reports (``reports_failed``) and whether the overview failed (``overview_failed``), and the overview
    and the reports that link a failed page are made again, naming it without a link
    (:func:`toolkit.publish.markup.list_written_reports`). A page that fails when made again is removed and
    counted as failed, and the pages linking it are made again in turn, so no published page links a missing one.
    ``render`` is :func:`_render_all`'s arguments after its tasks: ``(work_dir, out_dir, ...)``.
    """
    from toolkit.publish.render import OVERVIEW_FILE

    work_dir, out_dir = render[0], render[1]
    known: set[str] = set()
    while True:
        failed = set(result.failures) | ({OVERVIEW} if result.overview_failure else set())
        new = failed - known
        if not new:
            return
        known = failed
        again = [OVERVIEW] if result.overview is not None and new - {OVERVIEW} else []
        again += sorted(c for c in result.reports if OVERVIEW in new or new & set(groups.get(c, [])))
        if not again:
            continue
        failures = {"reports_failed": sorted(result.failures), "overview_failed": result.overview_failure is not None}
        WorkFolder(work_dir).write_json("run", {**parameters, **failures})
        redone = _collect_renders(_render_all(again, *render), target, len(again), progress)
        for code, seconds in redone.timings.items():
            result.timings[code] += seconds
        for code, message in redone.failures.items():
            result.failures[code] = message
            result.timings.pop(code, None)
            Path(out_dir, result.reports.pop(code).name).unlink(missing_ok=True)
        if redone.overview_failure is not None:
            result.overview, result.overview_failure = None, redone.overview_failure
            Path(out_dir, OVERVIEW_FILE).unlink(missing_ok=True)


def run_reports(
    input_path: str | Path | None,
    extract_date: ExtractDate | date | str | None,
    out_dir: str | Path,
    forces: list[str] | None = None,
    workers: int = 2,
    work_dir: str | Path | None = None,
    comparators: str | Path | None = None,
    thresholds: str | Path | None = None,
    mapping: str | Path | None = None,
    suppression_threshold: int = DEFAULT_THRESHOLD,
    notebook: str | Path | None = None,
    progress: bool = True,
    kernels: str = "warm",
    scheduler: str | None = None,
    status: str = "draft",
    synthetic: bool | None = None,
    previous: str | Path | None = None,
    store: str | Path | None = None,
    contact: str | None = None,
    period: str | None = None,
    as_at: str | None = None,
) -> RunResult:
    """Validate an extract, compute every figure once, and render a report per force.

    Parameters
    ----------
    input_path : path-like or None
        Canonical extract, or a force's export with ``mapping`` (CSV, Parquet or Excel); None with ``store``.
        It is read through a temporary store of its own, as a store run reads its store (:func:`read_run_input`).
    extract_date : date or str or None
        When the data were taken; None with ``store`` (each load carries its own).
    out_dir : path-like
        Report folder (HTML, ``index.html``, ``run.json``): what may be published.
    forces : list of str, optional
        Forces to report on, by ONS code, slug or name; default every force with episodes in the extract.
    workers : int, default 2
        Parallel worker processes.
    work_dir : path-like, optional
        Where prepared tables and executed notebooks go (never published);
        default ``data/processed``.
    comparators : path-like, optional
        Comparator groups YAML (e.g. the official most similar groups).
    thresholds : path-like, optional
        YAML overriding findings thresholds (:data:`toolkit.findings.THRESHOLDS`).
    mapping : path-like, optional
        Mapping YAML of a force's export dialect; without it the input must be
        a canonical extract and is validated strictly.
    suppression_threshold : int, default 5
        Smallest count published: at least 3 (below 5 with a warning), or 0 to switch suppression
        off (internal use only).
    notebook : path-like, optional
        The report template; default :data:`toolkit.publish.render.REPORT_NOTEBOOK`.
    progress : bool, default True
        Show a progress bar on standard error.
    kernels : {"warm", "fresh"}, default "warm"
        ``warm`` reuses one kernel per worker, its namespace reset between
        reports (same output, a fraction of the time); ``fresh`` starts a new
        kernel for every report.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``): each
        render is sent there as a task (the ``dask`` executor); the figures
        are still computed once, here.
    status : {"draft", "published"}, default "draft"
        Shown at the top of every page and recorded in ``run.json``: a run is
        published only when it is told so.
    synthetic : bool, optional
        Whether the data are synthetic, for an extract without a provenance
        file (``<input>.provenance.json``, which the generator writes and which
        otherwise decides); a synthetic run marks every page as saying nothing
        about the real forces. Default: as the provenance file says, or not
        synthetic when there is none.
    contact : str, optional
        Who readers ask about the figures (a team and an email address), shown in every page's footer;
        default, the team that published the pages.
    previous : path-like, optional
        A previous run's published ``findings.json``: each finding is marked
        new or enduring, and each report says what became of the previous
        causes of concern and areas for improvement.
    store : path-like, optional
        A national store (``toolkit load``) to report from instead of a file: every force with episodes in
        ``period`` as at ``as_at``. ``run.json`` names the store, the loads read and the as-at moment.
    period : str, optional
        With ``store``: ``FROM..TO`` (``YYYY-MM``); default every month any load covers.
    as_at : str, optional
        With ``store``: read it as it stood then (ISO 8601 date, or date and time); default now.

    Returns
    -------
    RunResult

    Raises
    ------
    ToolkitError
        Before any report is written: unreadable or invalid extract, unusable
        provenance file, unknown force or status, bad comparator file, bad
        worker count.
    """
    started = time.perf_counter()
    warning = check_threshold(suppression_threshold)  # before anything is read
    if warning:
        LOGGER.warning(warning)
    if not isinstance(workers, int) or not 1 <= workers <= 64:
        raise ToolkitError(f"workers must be a whole number from 1 to 64, not {workers!r}")
    if kernels not in KERNEL_MODES:
        raise ToolkitError(f"kernels must be one of {', '.join(KERNEL_MODES)}, not {kernels!r}")
    if status not in RUN_STATUSES:
        raise ToolkitError(f"status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
    if scheduler is not None:
        _connect_to_dask(scheduler, timeout="5s").close()  # before any work, not after it
    requested = [find_force(force).code for force in forces] if forces else None
    groups = read_comparator_groups(comparators)
    rule_thresholds = read_thresholds(thresholds)
    earlier = read_previous_findings(previous) if previous is not None else None
    input_path = Path(input_path) if input_path is not None else None
    _check_one_source(input_path, store)
    if input_path is not None:
        ExtractDate.parse(extract_date)  # a bad date is refused before any folder is touched
    out_dir = Path(out_dir).resolve()
    work_dir = Path(work_dir).resolve() if work_dir else DEFAULT_WORK_DIR.resolve()
    if out_dir == work_dir or work_dir in out_dir.parents or out_dir in work_dir.parents:
        raise ToolkitError("the work folder holds record-level data: keep it apart from the report folder")

    from toolkit.publish.kernels import KernelPool, hold_runtime_folder
    from toolkit.publish.render import REPORT_NOTEBOOK
    from toolkit.publish.site import write_index, write_readme

    notebook = notebook or REPORT_NOTEBOOK
    # Both folders are held for the run's whole life and checked before any work; the run writes beside
    # them and swaps both in only when it has finished (toolkit.folders).
    folders = [(work_dir, "work folder"), (out_dir, "report folder")]
    with (
        _interrupt_on_sigterm(),
        staged_folders(folders) as (work, out),
        _naming_folder_errors(work, out),
        hold_runtime_folder(),
    ):
        work_dir, out_dir = work.staging, out.staging
        read = read_run_input(input_path, extract_date, mapping, synthetic, store, period, as_at)
        extract, recorded, is_synthetic = read.extract, read.provenance, read.synthetic
        if store is not None:
            mapping_used = read.stored.result.mapping
        else:
            mapping_used = read_mapping(mapping).name if mapping else "canonical (validated)"
        result_clean = read.stored.result
        episodes = result_clean.clean
        covered = result_clean.covered_forces()
        absent = [code for code in requested or [] if code not in covered]
        if absent:  # a report on a force that sent nothing would be a page of zeros that looks complete
            names = ", ".join(f"{get_force(code).official_name} ({code})" for code in absent)
            raise ToolkitError(
                f"{names}: no rows in the extract, so no report can be made (the extract covers {len(covered)} "
                "of the 43 forces)"
            )
        codes = requested or sorted(episodes["force_code"].astype(str).unique())
        reported = episodes["reported_at"]
        parameters = {
            "toolkit_version": toolkit.__version__,
            **read.description,
            "input_provenance": recorded,
            "synthetic": is_synthetic,
            "status": status,
            # Who readers ask about the figures, in every page's footer and the spreadsheets' cover.
            **({"contact": contact} if contact else {}),
            "extract_date": extract.isoformat(),
            "period_start": reported.min().date().isoformat(),
            "period_end": reported.max().date().isoformat(),
            "mapping": mapping_used,
            "rows_in": result_clean.rows_in,
            "episodes": len(episodes),
            "rows_quarantined": len(result_clean.quarantine),
            "rows_merged": len(result_clean.merged),
            "forces": codes,
            "forces_covered": covered,
            "workers": workers,
            "kernels": kernels,
            "executor": f"dask ({scheduler})" if scheduler else "local",
            "suppression_threshold": suppression_threshold,
            "comparator_source": "supplied file " + Path(comparators).name
            if comparators
            else f"toolkit default groups ({COMPARATOR_GROUPS_FILE.name}), not the Home Office most similar groups",
            "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        parameters["findings_thresholds"] = rule_thresholds
        parameters["comparator_groups"] = groups
        parameters["previous_findings"] = None if previous is None else Path(previous).name
        kernel_pool = KernelPool(workers) if kernels == "warm" and scheduler is None else None
        try:
            if kernel_pool is not None:
                executed = WorkFolder(work_dir).executed
                executed.mkdir(parents=True, exist_ok=True)
                kernel_pool.warm_up(executed)  # the kernels start while the tables are prepared
            tables, findings = prepare_tables(
                result_clean, work_dir, parameters, groups, rule_thresholds, earlier,
                year_before=read.year_before, compared_with_year_before=read.compared_with_year_before,
            )  # fmt: skip
            summary = tables["summary"]
            prepared = time.perf_counter()
            render = (work_dir, out_dir, notebook, workers, kernel_pool, scheduler)
            result = _collect_renders(_render_all([OVERVIEW, *codes], *render), out.target, len(codes) + 1, progress)
            _render_again_around_failures(result, parameters, groups, render, out.target, progress)
        finally:
            if kernel_pool is not None:
                kernel_pool.shutdown()
        # Failure messages name the executed notebook where it will be once the run is swapped in.
        result.failures = {
            code: text.replace(str(work.staging), str(work.target)) for code, text in result.failures.items()
        }
        write_index(out_dir, summary, result.reports, result.failures, parameters, findings, result.overview)
        write_readme(out_dir, parameters)
        published = publish_tables({"quality": tables["quality"], "cleaning": tables["cleaning"]}, parameters)[
            "quality"
        ]
        # Every row of the machine-readable files says whether its data are synthetic, as every page does: a
        # row or a finding quoted on its own still carries it.
        synthetic = parameters["synthetic"] is True
        write_atomically(out_dir / "data_quality.csv", published.assign(synthetic=synthetic).to_csv(index=False))
        metrics = collect_metrics(tables, groups, suppression_threshold)
        write_atomically(out_dir / "metrics.csv", metrics.assign(synthetic=synthetic).to_csv(index=False))
        write_workbooks(out_dir, metrics, published, parameters)  # the same published tables, as spreadsheets
        write_atomically(
            out_dir / "findings.json",
            format_json([{**f, "synthetic": synthetic} for f in publish_findings(findings, suppression_threshold)]),
        )
        provenance = {
            **parameters,
            "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds_preparing": round(prepared - started, 3),
            "seconds_total": round(time.perf_counter() - started, 3),
            "reports": {code: path.name for code, path in sorted(result.reports.items())},
            "seconds_per_force": dict(sorted(result.timings.items())),
            "failures": dict(sorted(result.failures.items())),
            "overview": result.overview.name if result.overview else None,
            "overview_failure": result.overview_failure,
        }
        # The full record stays with the record-level data.
        WorkFolder(work_dir).write_json("provenance", provenance)
        write_atomically(out_dir / "run.json", format_json(publish_provenance(provenance, summary)))
        return result
