"""Run the report for every force: validate once, compute once, render in parallel.

:func:`run_reports` is what ``python -m toolkit run`` and ``make reports`` call:

1. read and validate the extract (refusing it, with every problem listed,
   when it breaks the contract);
2. compute the figures for all forces in one pass and store them, with the
   episodes, in the work folder (:func:`prepare_tables`);
3. render each force's notebook in parallel worker processes with a progress
   bar, carrying on when one force fails;
4. write ``index.html`` and ``run.json`` (provenance), and report failures.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from tqdm import tqdm

import toolkit
from toolkit.config import DATA_DIR
from toolkit.disclosure import DEFAULT_THRESHOLD
from toolkit.errors import ToolkitError
from toolkit.extract import load_extract
from toolkit.forces import COMPARATOR_GROUPS_FILE, get_force, read_comparator_groups
from toolkit.render import REPORT_NOTEBOOK, ReportFailed, render_force_report, write_atomically
from toolkit.report import PREPARED_FILES
from toolkit.site import write_index
from toolkit.summary import summarise_volume

__all__ = ["RunResult", "prepare_tables", "run_reports", "DEFAULT_WORK_DIR"]

DEFAULT_WORK_DIR = DATA_DIR / "processed"


@dataclass
class RunResult:
    """What a run produced and what failed."""

    out_dir: Path
    reports: dict[str, Path] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every force's report was written."""
        return not self.failures


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_tables(
    episodes: pd.DataFrame,
    work_dir: Path,
    run_parameters: dict,
    comparator_groups: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Compute every force's figures once and store them where the notebooks read them.

    Writes ``summary.parquet`` (all figures, tidy), ``episodes.parquet`` (the
    validated national episodes, for later sections and for researchers) and
    ``run_parameters.json`` into ``work_dir``. These hold pseudonymised
    record-level data: the work folder is never published.

    Returns
    -------
    pandas.DataFrame
        The summary table.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    summary = summarise_volume(episodes, comparator_groups)
    summary.to_parquet(work_dir / PREPARED_FILES["summary"], index=False)
    episodes.to_parquet(work_dir / PREPARED_FILES["episodes"], index=False)
    write_atomically(work_dir / PREPARED_FILES["run"], json.dumps(run_parameters, indent=2, default=str))
    return summary


def _render_one(code: str, work_dir: str, out_dir: str, notebook: str) -> tuple[str, float]:
    started = time.perf_counter()
    render_force_report(code, work_dir, out_dir, notebook=notebook)
    return code, time.perf_counter() - started


def run_reports(
    input_path: str | Path,
    extract_date: date | str,
    out_dir: str | Path,
    forces: list[str] | None = None,
    workers: int = 2,
    work_dir: str | Path | None = None,
    comparators: str | Path | None = None,
    suppression_threshold: int = DEFAULT_THRESHOLD,
    notebook: str | Path = REPORT_NOTEBOOK,
    progress: bool = True,
) -> RunResult:
    """Validate an extract, compute every figure once, and render a report per force.

    Parameters
    ----------
    input_path : path-like
        Canonical extract (CSV, Parquet or Excel).
    extract_date : date or str
        When the data were taken.
    out_dir : path-like
        Report folder (HTML, ``index.html``, ``run.json``): what may be published.
    forces : list of str, optional
        ONS codes to report on; default every force with episodes in the extract.
    workers : int, default 2
        Parallel worker processes.
    work_dir : path-like, optional
        Where prepared tables and executed notebooks go (never published);
        default ``data/processed``.
    comparators : path-like, optional
        Comparator groups YAML (e.g. the official most similar groups).
    suppression_threshold : int, default 5
        Smallest count published; 0 switches suppression off (internal use only).
    notebook : path-like
        The report template.
    progress : bool, default True
        Show a progress bar on standard error.

    Returns
    -------
    RunResult

    Raises
    ------
    ToolkitError
        Before any report is written: unreadable or invalid extract, unknown
        force, bad comparator file, bad worker count.
    """
    started = time.perf_counter()
    if not isinstance(workers, int) or not 1 <= workers <= 64:
        raise ToolkitError(f"workers must be a whole number from 1 to 64, not {workers!r}")
    try:
        extract_day = pd.Timestamp(extract_date).date()
    except (ValueError, TypeError):
        raise ToolkitError(f"extract date {extract_date!r} is not a date (YYYY-MM-DD)") from None
    requested = [get_force(code).code for code in forces] if forces else None
    groups = read_comparator_groups(comparators)
    input_path = Path(input_path)
    out_dir = Path(out_dir).resolve()
    work_dir = Path(work_dir).resolve() if work_dir else DEFAULT_WORK_DIR.resolve()
    if out_dir == work_dir or work_dir in out_dir.parents or out_dir in work_dir.parents:
        raise ToolkitError("the work folder holds record-level data: keep it apart from the report folder")

    episodes = load_extract(input_path, extract_day)
    codes = requested or sorted(episodes["force_code"].astype(str).unique())
    reported = episodes["reported_at"]
    parameters = {
        "toolkit_version": toolkit.__version__,
        "input": input_path.name,
        "input_sha256": _sha256(input_path),
        "extract_date": extract_day.isoformat(),
        "period_start": reported.min().date().isoformat(),
        "period_end": reported.max().date().isoformat(),
        "episodes": len(episodes),
        "forces": codes,
        "workers": workers,
        "suppression_threshold": suppression_threshold,
        "comparator_source": "supplied file " + Path(comparators).name
        if comparators
        else f"toolkit default groups ({COMPARATOR_GROUPS_FILE.name}), not the Home Office most similar groups",
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    summary = prepare_tables(episodes, work_dir, parameters, groups)
    prepared = time.perf_counter()

    out_dir.mkdir(parents=True, exist_ok=True)
    result = RunResult(out_dir=out_dir)
    bar = tqdm(total=len(codes), desc="force reports", unit="force", disable=not progress)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(_render_one, code, str(work_dir), str(out_dir), str(notebook)): code
            for code in codes
        }
        for future in as_completed(futures):
            code = futures[future]
            force = get_force(code)
            try:
                _, seconds = future.result()
                result.reports[code] = out_dir / f"{force.slug}.html"
                result.timings[code] = round(seconds, 3)
            except ReportFailed as error:
                result.failures[code] = str(error)
            except Exception as error:  # a worker crash must not stop the other forces
                result.failures[code] = f"{force.name} ({code}): {type(error).__name__}: {error}"
            bar.update(1)
    bar.close()
    # A failed force must not keep an older report that would look current.
    for code in result.failures:
        (out_dir / f"{get_force(code).slug}.html").unlink(missing_ok=True)

    write_index(out_dir, summary, result.reports, result.failures, parameters)
    provenance = {
        **parameters,
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds_preparing": round(prepared - started, 3),
        "seconds_total": round(time.perf_counter() - started, 3),
        "reports": {code: path.name for code, path in sorted(result.reports.items())},
        "seconds_per_force": dict(sorted(result.timings.items())),
        "failures": dict(sorted(result.failures.items())),
    }
    write_atomically(out_dir / "run.json", json.dumps(provenance, indent=2) + "\n")
    return result
