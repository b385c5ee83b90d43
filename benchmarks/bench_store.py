"""Benchmark: the national store at one and ten years: loading, reading a period back, status and export.

Generates national synthetic years as the command line does (``synth --year Y --seed 7 --plant
data/plans/demo.yaml --extract-date (Y+1)-01-31``: about 180,000 episodes a year, one CSV file per
year, cached in ``benchmarks/_data/store/``), then times, each in a fresh process so that its peak
memory is its own:

- loading one national year into a new store (reading, cleaning, the transaction), and ten years as
  ten yearly loads, one after another, into one store (the time of all ten);
- reading a period back as cleaning's tables (``toolkit.ingest.load.read_cleaned``): the one year,
  one year of the ten-year store, and all ten years;
- ``status`` and ``export`` (Parquet partitioned by force and year) of each store.

Medians of ``--repeats`` runs for one year; the ten-year stages run once each (the machine may be
shared); a run of some of the years keeps the last figures of the others. Writes
``benchmarks/results/store.json`` and ``benchmarks/results/store.md``, and puts the latter's section
into ``benchmarks/results.md`` (replacing an earlier one).

    .venv/bin/python benchmarks/bench_store.py [--years 1 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from harness import (  # benchmarks/: the scripts run from this folder
    describe_machine,
    measure_in_fresh_processes,
    write_section,
)

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data" / "store"
RESULTS = HERE / "results"
FIRST_YEAR = 2024
SECTION = "## National store"


def _year_file(year: int) -> Path:
    """The cached national synthetic year (made on first use), as `synth` writes it."""
    from toolkit.config import PLANS_DIR
    from toolkit.synthetic import generator

    path = DATA / f"national_{year}.csv"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        episodes, truth = generator.generate_extract(
            year, seed=7, plan=generator.read_plan(PLANS_DIR / "demo.yaml"), extract_date=f"{year + 1}-01-31"
        )
        generator.write_extract(episodes, truth, path)
    return path


def _stage(name: str, years: int, work: str) -> tuple[float, int]:
    """Run one stage once in this process: (seconds, episodes it handled)."""
    from toolkit.ingest.load import load_export, read_cleaned
    from toolkit.store import NationalStore

    store = Path(work) / f"store_{years}y.duckdb"
    started = time.perf_counter()
    if name == "load":
        for leftover in Path(work).glob(f"{store.name}*"):
            leftover.unlink()  # a new store each run
        started = time.perf_counter()
        episodes = 0
        for year in range(FIRST_YEAR, FIRST_YEAR + years):
            outcome = load_export(_year_file(year), f"{year + 1}-01-31", store=store)
            episodes += outcome.load["rows_clean"]
        return time.perf_counter() - started, episodes
    if name == "read_all":
        clean = read_cleaned(store).result.clean
        return time.perf_counter() - started, len(clean)
    if name == "read_last_year":
        clean = read_cleaned(store, period=str(FIRST_YEAR + years - 1)).result.clean
        return time.perf_counter() - started, len(clean)
    with NationalStore.open(store) as national:
        if name == "status":
            national.status()
            rows = int(national.read_loads()["rows_clean"].sum())
        elif name == "export":
            rows = national.export(Path(work) / f"export_{years}y")["rows"]
        else:
            raise ValueError(name)
    return time.perf_counter() - started, rows


def _measure(name: str, years: int, work: Path, repeats: int) -> dict:
    results, peaks = measure_in_fresh_processes(_stage, (name, years, str(work)), repeats)
    runs = [seconds for seconds, _ in results]
    episodes = results[-1][1]
    row = {
        "stage": name,
        "years": years,
        "episodes": episodes,
        "runs": len(runs),
        "median_seconds": round(statistics.median(runs), 2),
        "peak_memory_mb": round(max(peaks)),
    }
    print(json.dumps(row), flush=True)
    return row


STAGES = {
    "load": "load (read, clean, one transaction per yearly file)",
    "read_all": "read every month back as cleaning's tables",
    "read_last_year": "read the last year back",
    "status": "status of every force",
    "export": "export as Parquet by force and year",
}


def describe_results(record: dict) -> str:
    """The store benchmark as its section of ``benchmarks/results.md``."""
    lines = [
        SECTION,
        "",
        f"Written by `benchmarks/bench_store.py`: {record['method']} Machine: {record['machine']}.",
        "",
        "| stage | years | episodes | runs | median seconds | peak memory (MB) | store (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in record["rows"]:
        lines.append(
            f"| {STAGES[row['stage']]} | {row['years']} | {row['episodes']:,} | {row['runs']} | "
            f"{row['median_seconds']} | {row['peak_memory_mb']} | {record['store_mb'][str(row['years'])]} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, nargs="+", default=[1, 10], choices=[1, 10])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from toolkit import __version__

    for year in range(FIRST_YEAR, FIRST_YEAR + max(args.years)):
        _year_file(year)  # made before anything is timed
    rows, sizes = [], {}
    work = Path(tempfile.mkdtemp(prefix="toolkit-bench-store-"))
    try:
        for years in args.years:
            repeats = args.repeats if years == 1 else 1
            for name in STAGES:
                rows.append(_measure(name, years, work, repeats))
                if name == "load":
                    sizes[str(years)] = round(sum(p.stat().st_size for p in work.glob(f"store_{years}y.duckdb*")) / 1e6)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    earlier = json.loads((RESULTS / "store.json").read_text()) if (RESULTS / "store.json").exists() else {}
    kept = [row for row in earlier.get("rows", []) if row["years"] not in args.years]  # the years not run again
    rows = sorted(kept + rows, key=lambda row: (row["years"], list(STAGES).index(row["stage"])))
    sizes = {**{k: v for k, v in earlier.get("store_mb", {}).items() if int(k) not in args.years}, **sizes}
    record = {
        "benchmark": "the national store: load, read back, status, export",
        "toolkit_version": __version__,
        "method": "national synthetic years (about 180,000 episodes each, CSV), loaded one file a year into a new "
        "store; each stage in a fresh process (peak memory its own); medians of the runs shown; the ten-year stages "
        "once each.",
        "machine": describe_machine(),
        "store_mb": sizes,
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "store.json").write_text(json.dumps(record, indent=2) + "\n")
    section = describe_results(record)
    (RESULTS / "store.md").write_text(section)
    write_section(HERE / "results.md", SECTION, section)
    print(section)


if __name__ == "__main__":
    main()
