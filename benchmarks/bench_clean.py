"""Benchmark: cleaning a force-system export of about 1,000,000 episodes.

Generates a synthetic national extract of the requested size, writes it in a
force system's dialect with 1% of rows damaged, then times ``clean_export``
(median of several runs, pandas' single core), each run in a fresh process that
reads the export from Parquet first: its peak resident memory is the cleaning's
with the export it is given (the reading included), not the making of the data,
and what the export holds before cleaning is recorded beside it. Prints a table and
writes ``benchmarks/results/clean.json``.

    .venv/bin/python benchmarks/bench_clean.py [--episodes 1000000] [--repeats 3] [--dialect niche_rms]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from harness import measure_in_fresh_processes  # benchmarks/: the scripts run from this folder

from toolkit import __version__
from toolkit.ingest.clean import clean_export
from toolkit.ingest.mapping import read_mapping
from toolkit.synthetic.exports import DIALECTS, export_dialect
from toolkit.synthetic.generator import TARGETS, generate_extract

RESULTS = Path(__file__).resolve().parent / "results"


def _clean(path: str, dialect: str, extract_date: str) -> tuple[float, int, int, int]:
    """One run in this process: (seconds, clean rows, quarantined rows, MB resident before cleaning)."""
    export = pd.read_parquet(path)
    # Resident now (Linux), not the peak so far: reading the Parquet file peaks above what it leaves held.
    before = int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() // 2**20
    begin = time.perf_counter()
    result = clean_export(export, read_mapping(DIALECTS[dialect]), extract_date)
    return time.perf_counter() - begin, len(result.clean), len(result.quarantine), before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dialect", choices=sorted(DIALECTS), default="niche_rms")
    args = parser.parse_args()

    started = time.perf_counter()
    scale = args.episodes / TARGETS["episodes_per_year"]
    episodes, truth = generate_extract(2024, seed=1, scale=scale)
    mapping = read_mapping(DIALECTS[args.dialect])
    export, _ = export_dialect(episodes, mapping, truth["extract_date"], seed=1, defect_share=0.01)
    rows = len(export)
    work = Path(tempfile.mkdtemp(prefix="toolkit-bench-clean-"))
    try:
        path = work / "export.parquet"
        export.to_parquet(path)
        del episodes, export
        print(f"prepared {rows:,} rows in the {args.dialect} dialect in {time.perf_counter() - started:.1f} s")
        runs, peaks = measure_in_fresh_processes(_clean, (str(path), args.dialect, truth["extract_date"]), args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for i, (run, peak) in enumerate(zip(runs, peaks, strict=True)):
        print(f"run {i + 1}: {run[0]:.2f} s  ({run[1]:,} clean, {run[2]:,} quarantined), peak {peak:.0f} MB")
    seconds = [run[0] for run in runs]
    record = {
        "benchmark": "clean_export",
        "toolkit_version": __version__,
        "dialect": args.dialect,
        "rows": rows,
        "repeats": args.repeats,
        "median_seconds": round(statistics.median(seconds), 2),
        "rows_per_second": round(rows / statistics.median(seconds)),
        "peak_process_memory_mb": round(max(peaks)),  # the cleaning's process, the export read included
        "memory_held_before_cleaning_mb": max(run[3] for run in runs),  # imports and the export as read
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "clean.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
