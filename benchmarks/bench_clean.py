"""Benchmark: cleaning a force-system export of about 1,000,000 episodes.

Generates a synthetic national extract of the requested size, writes it in a
force system's dialect with 1% of rows damaged, then times ``clean_export``
(median of several runs, one process, pandas' single core) and the process's peak
resident memory (which includes making the data). Prints a table and
writes ``benchmarks/results/clean.json``.

    .venv/bin/python benchmarks/bench_clean.py [--episodes 1000000] [--repeats 3] [--dialect niche_rms]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from pathlib import Path

from toolkit import __version__
from toolkit.ingest.clean import clean_export
from toolkit.ingest.mapping import read_mapping
from toolkit.synthetic.exports import DIALECTS, export_dialect
from toolkit.synthetic.generator import TARGETS, generate_extract

RESULTS = Path(__file__).resolve().parent / "results"


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
    print(f"prepared {len(export):,} rows in the {args.dialect} dialect in {time.perf_counter() - started:.1f} s")

    seconds = []
    for i in range(args.repeats):
        begin = time.perf_counter()
        result = clean_export(export, mapping, truth["extract_date"])
        seconds.append(time.perf_counter() - begin)
        print(
            f"run {i + 1}: {seconds[-1]:.2f} s  ({len(result.clean):,} clean, {len(result.quarantine):,} quarantined)"
        )
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: kilobytes

    record = {
        "benchmark": "clean_export",
        "toolkit_version": __version__,
        "dialect": args.dialect,
        "rows": len(export),
        "repeats": args.repeats,
        "median_seconds": round(statistics.median(seconds), 2),
        "rows_per_second": round(len(export) / statistics.median(seconds)),
        "peak_process_memory_mb": round(peak_kb / 1024),  # includes making the synthetic export
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "clean.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
