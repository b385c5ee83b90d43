"""Benchmark: every stage of a national run at 1, 5 and 10 years, against simple baselines.

Generates its own synthetic national extracts (about 180,000 episodes a year,
cached in ``benchmarks/_data/``), then times, each in a fresh process so that
its peak memory is its own:

- reading and validating the extract;
- reading, validating and cleaning it;
- computing every national and per-force statistic and finding (``prepare_tables``);
- rendering one force report on a warm kernel and on a fresh one (1 year);
- the full national run (43 forces and the overview) with 2 workers on warm
  kernels, 1 worker on warm kernels, and 2 workers with a fresh kernel per report
  (1 year);
- baselines: an empty notebook through papermill and nbconvert (the floor for a
  notebook-based report), and the same analysis and charts as plain Python
  functions for all 43 forces in one process.

Medians of ``--repeats`` runs for one year (full runs, and 5 and 10 years, once each). Writes
``benchmarks/results/pipeline.json`` and ``benchmarks/results.md``. ``--stages`` runs only the stages
named and replaces their rows in the results already written, keeping the others (and the targets
their figures give).

    .venv/bin/python benchmarks/bench_pipeline.py [--years 1 5 10] [--repeats 3] [--stages render_one_warm ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from harness import describe_machine, measure_in_fresh_processes  # benchmarks/: the scripts run from this folder

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
RESULTS = HERE / "results"
EXTRACT_DATE = {1: "2025-01-31", 5: "2029-01-31", 10: "2034-01-31"}
FORCE = "E23000014"
DATA_STAGES = ("read_validate", "read_clean", "statistics")  # at every number of years
RENDER_STAGES = ("baseline_empty_notebook", "render_one_fresh", "render_one_warm", "baseline_plain_functions")
RUN_STAGES = ("full_run_2_workers_warm", "full_run_1_worker_warm", "full_run_2_workers_fresh")  # once each
STAGES = (*DATA_STAGES, *RENDER_STAGES, *RUN_STAGES)


def _extract(years: int) -> Path:
    """The cached synthetic national extract for ``years`` years from 2024 (made on first use)."""
    from toolkit.config import PLANS_DIR
    from toolkit.synthetic import generator

    path = DATA / f"national_{years}y.parquet"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        episodes, truth = generator.generate_extract(
            2024,
            seed=1,
            years=years,
            plan=generator.read_plan(PLANS_DIR / "demo.yaml"),
            extract_date=EXTRACT_DATE[years],
        )
        generator.write_extract(episodes, truth, path)
    return path


def _stage(name: str, years: int, work: str) -> float:
    """Run one stage once; return its seconds. Runs in a fresh process."""
    from toolkit import runner
    from toolkit.ingest.extract import read_extract_text, validate_extract
    from toolkit.publish import kernels, render

    path = _extract(years)
    day = EXTRACT_DATE[years]
    work_dir = Path(work)
    started = time.perf_counter()
    if name == "read_validate":
        validate_extract(read_extract_text(path), day)
    elif name == "read_clean":
        runner.read_and_clean(path, day, None)
    elif name == "statistics":
        result = runner.read_and_clean(path, day, None)
        started = time.perf_counter()
        runner.prepare_tables(result, work_dir / "tables", {"extract_date": day})
    elif name in ("render_one_warm", "render_one_fresh"):
        tables = work_dir / "prepared"
        if name == "render_one_warm":
            pool = kernels.KernelPool(1)
            with pool.kernel() as km:
                render.render_force_report("E23000011", tables, work_dir / "out", km=km)  # warms the kernel
                started = time.perf_counter()
                render.render_force_report(FORCE, tables, work_dir / "out", km=km)
                elapsed = time.perf_counter() - started
            pool.shutdown()
            return elapsed
        render.render_force_report(FORCE, tables, work_dir / "out")
    elif name.startswith("full_run"):
        workers = 1 if "1_worker" in name else 2
        kernels = "fresh" if "fresh" in name else "warm"
        runner.run_reports(
            path,
            day,
            work_dir / f"site-{name}",
            workers=workers,
            work_dir=work_dir / f"work-{name}",
            kernels=kernels,
            progress=False,
        )
    elif name == "baseline_empty_notebook":
        import nbformat

        empty = work_dir / "empty.ipynb"
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, empty)
        started = time.perf_counter()
        executed = render._execute(empty, work_dir / "empty-out.ipynb", {}, "empty")
        render.notebook_to_html(executed)
    elif name == "baseline_plain_functions":
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import nbformat

        from toolkit.forces import list_forces

        # The report notebook's own cells, run as plain Python in this process: the same analysis and charts
        # (less the kernel's settings: the magic, and the shell's showing of every expression's output).
        cells = [
            "\n".join(
                line for line in cell.source.splitlines() if not line.startswith(("%matplotlib", "get_ipython()"))
            )
            for cell in nbformat.read(render.REPORT_NOTEBOOK, as_version=4).cells
            if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", [])
        ]
        tables = str(work_dir / "prepared")
        for force in list_forces():
            namespace = {"force_code": force.code, "data_dir": tables}
            for source in cells:
                exec(source, namespace)  # noqa: S102 - the project's own notebook
            plt.close("all")
    else:
        raise ValueError(name)
    return time.perf_counter() - started


def _measure(name: str, years: int, work: Path, repeats: int) -> dict:
    runs, peaks = measure_in_fresh_processes(_stage, (name, years, str(work)), repeats)
    row = {
        "stage": name,
        "years": years,
        "runs": len(runs),
        "median_seconds": round(statistics.median(runs), 2),
        "peak_memory_mb": round(max(peaks)),
    }
    print(json.dumps(row), flush=True)
    return row


def _table(rows: list[dict], summary: dict) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {summary['machine']}. Toolkit {summary['toolkit_version']}. Written by "
        "`benchmarks/bench_pipeline.py` (`make bench`); medians of the runs shown, peak memory of the stage's "
        "own process (kernels are separate processes).",
        "",
        "| stage | years | episodes | runs | median seconds | peak memory (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['stage']} | {row['years']} | {summary['episodes'][str(row['years'])]:,} | {row['runs']} | "
            f"{row['median_seconds']} | {row['peak_memory_mb']} |"
        )
    lines += ["", "## Targets", ""]
    lines += [f"- {line}" for line in summary["targets"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, nargs="+", default=[1, 5, 10], choices=[1, 5, 10])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stages", nargs="+", choices=STAGES, help="only these stages; other results are kept")
    args = parser.parse_args()
    chosen = set(args.stages or STAGES)

    import pandas as pd

    from toolkit import __version__, runner

    rows, episodes = [], {}
    work = Path(tempfile.mkdtemp(prefix="toolkit-bench-"))
    try:
        for years in args.years:
            if not chosen & set(DATA_STAGES) and years != 1:
                continue  # nothing to run on a longer extract: not made or read
            path = _extract(years)
            episodes[str(years)] = len(pd.read_parquet(path, columns=["force_code"]))
            for name in (stage for stage in DATA_STAGES if stage in chosen):
                # Several runs of the national year; one of each longer extract keeps `make bench` to minutes.
                rows.append(_measure(name, years, work, args.repeats if years == 1 else 1))
        if 1 in args.years and chosen & {*RENDER_STAGES, *RUN_STAGES}:
            if chosen & set(RENDER_STAGES):  # prepared tables for the render stages and the plain-function baseline
                result = runner.read_and_clean(_extract(1), EXTRACT_DATE[1], None)
                runner.prepare_tables(result, work / "prepared", {"extract_date": EXTRACT_DATE[1]})
            for name in (stage for stage in RENDER_STAGES if stage in chosen):
                rows.append(_measure(name, 1, work, args.repeats))
            for name in (stage for stage in RUN_STAGES if stage in chosen):
                rows.append(_measure(name, 1, work, 1))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if args.stages and (RESULTS / "pipeline.json").exists():
        # The stages not run keep their results: each row is replaced by the one just measured.
        before = json.loads((RESULTS / "pipeline.json").read_text())
        measured = {(r["stage"], r["years"]): r for r in rows}
        rows = [measured.pop((r["stage"], r["years"]), r) for r in before["rows"]] + list(measured.values())
        episodes = {**before["episodes"], **episodes}
    get = {(r["stage"], r["years"]): r["median_seconds"] for r in rows}
    targets = []
    if {(stage, 1) for stage in (*DATA_STAGES, *RENDER_STAGES, *RUN_STAGES[::2])} <= set(get):
        warm, fresh = get[("full_run_2_workers_warm", 1)], get[("full_run_2_workers_fresh", 1)]
        plain = get[("baseline_plain_functions", 1)] + get[("statistics", 1)] + get[("read_clean", 1)]
        one_year = get[("read_clean", 1)] + get[("statistics", 1)]
        targets += [
            f"full run, 2 workers, warm kernels {warm} s against a fresh kernel per report {fresh} s: "
            f"{fresh / warm:.1f} times faster (target at least 3)",
            f"against the same reading, statistics, analysis and charts as plain functions in one process "
            f"({plain:.1f} s): {warm / plain:.2f} times (target within 2)",
            f"reading, cleaning and all statistics for one national year: {one_year:.1f} s (target under 10)",
        ]
    if {("read_clean", 10), ("statistics", 10)} <= set(get):
        ten = get[("read_clean", 10)] + get[("statistics", 10)]
        peak = max(r["peak_memory_mb"] for r in rows if r["years"] == 10)
        targets.append(f"the same for ten years: {ten:.1f} s (target under 100), peak {peak} MB (target under 4,096)")
    if all((stage, y) in get for stage in ("read_clean", "statistics") for y in (1, 5, 10)):
        for stage in ("read_clean", "statistics"):
            per = [get[(stage, y)] / episodes[str(y)] * 1e6 for y in (1, 5, 10)]
            targets.append(
                f"{stage}: {per[0]:.1f}, {per[1]:.1f}, {per[2]:.1f} seconds per million episodes at 1, 5, 10 years "
                "(linear growth keeps these equal)"
            )
    summary = {
        "benchmark": "pipeline stages",
        "toolkit_version": __version__,
        "machine": describe_machine(),
        "episodes": episodes,
        "targets": targets,
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pipeline.json").write_text(json.dumps(summary, indent=2) + "\n")
    # The sections bench_findings.py, bench_store.py and bench_linkage.py write follow the pipeline's.
    sections = [RESULTS / "findings.md", RESULTS / "store.md", RESULTS / "linkage.md"]
    (HERE / "results.md").write_text(
        _table(rows, summary) + "".join("\n" + section.read_text() for section in sections if section.exists())
    )
    print("\n".join(targets))


if __name__ == "__main__":
    main()
