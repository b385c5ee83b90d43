"""Benchmark: linking children across forces, its accuracy over seeds and its speed at one and ten years.

Generates national synthetic years (``generate_extract(2024, seed=S)``: about 85,000 forces' children a
year, 3% of children missing in more than one force, each force's record varied as forces record
children), cached in ``benchmarks/_data/linkage/``, and links them with
:func:`toolkit.linkage.link_children`, each run in a fresh process (its time and peak memory its own):

- **accuracy**, over ``--seeds`` seeds, with tokens only (no record has the national key) and with
  the national key on 75% of records: pairwise precision, recall and F1 over pairs of records in
  different forces, against the generator's truth (recall counts every true pair, including those
  no blocking rule compared); the error in the number of distinct children (the median of the
  count's draws) and whether the truth lies in its 95% interval; the share of the naive double count
  (the per-force sum less the true number of children) that the linkage removes;
- **speed**: one national year and ten (the default share of records with the key, 50%), the time of
  ``link_children`` and of ``count_distinct_children``, and the peak memory of the process.

Targets (issue #16): F1 at least 0.95 with tokens only and 0.99 with 75% of records keyed; distinct
children within 0.5%; at least 75% of the double count removed; a national year linked in under 30 s
on 2 cores, ten years in under 5 minutes. Writes ``benchmarks/results/linkage.json`` and
``benchmarks/results/linkage.md``, and puts the latter's section into ``benchmarks/results.md``.

    .venv/bin/python benchmarks/bench_linkage.py [--seeds 5] [--years 1 10]   # --seeds 0: speed only
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

from harness import (  # benchmarks/: the scripts run from this folder
    describe_machine,
    measure_in_fresh_processes,
    write_section,
)

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data" / "linkage"
RESULTS = HERE / "results"
SECTION = "## Linking children across forces"
YEAR = 2024
SCENARIOS = {"tokens only": 1.0, "75% national key": 0.25, "50% national key (default)": 0.5}
TARGETS = {
    "f1_tokens": 0.95,
    "f1_keyed": 0.99,
    "distinct_error": 0.005,
    "removed": 0.75,
    "one_year_s": 30,
    "ten_years_s": 300,
}


def _extract(seed: int, missing: float, years: int = 1) -> Path:
    """The cached extract's linkage columns (Parquet) and its truth beside it, made on first use."""
    import pandas as pd

    from toolkit.ingest.schema import LINKAGE_COLUMNS
    from toolkit.synthetic import generator

    path = DATA / f"national_{years}y_seed{seed}_missing{missing:g}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        episodes, truth = generator.generate_extract(YEAR, seed=seed, years=years, national_key_missing=missing)
        episodes[["force_code", "person_id", *LINKAGE_COLUMNS]].to_parquet(path, index=False)
        pd.DataFrame(truth["linkage"]["records"]).to_parquet(path.with_suffix(".truth.parquet"), index=False)
    return path


def _pairs(frame, by: str) -> set:
    """Every pair of records of different forces in one group of ``by``."""
    out = set()
    frame = frame[frame.groupby(by)[by].transform("size") > 1]  # only groups of two records or more
    for _, group in frame.groupby(by, sort=False):
        if len(group) > 1:
            records = sorted(zip(group["force_code"], group["person_id"], strict=True))
            out |= {(a, b) for a, b in itertools.combinations(records, 2) if a[0] != b[0]}
    return out


def _resident_mb() -> float:
    """This process's resident memory now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stage(path: str) -> dict:
    """Link one extract in this process: times, and accuracy against its truth."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from toolkit.linkage import count_distinct_children, link_children

    # Held as a run holds its clean episodes (Arrow-backed strings), not as a Python object per token, which would
    # count some gigabytes at ten years that no run uses.
    episodes = pq.read_table(path).to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    held = _resident_mb()  # the process with the episodes read, before the linkage: what a run holds already
    started, cpu = time.perf_counter(), time.process_time()
    linkage = link_children(episodes)
    linked, cpu = time.perf_counter(), time.process_time() - cpu
    count = count_distinct_children(linkage)
    counted = time.perf_counter()
    del episodes  # the truth is read once the linkage is done: the peak is the linkage's own
    truth = pd.read_parquet(Path(path).with_suffix(".truth.parquet"))
    true, found = _pairs(truth, "child"), _pairs(linkage.clusters, "national_child_id")
    hits = len(true & found)
    precision, recall = hits / max(len(found), 1), hits / max(len(true), 1)
    children = truth["child"].nunique()
    return {
        "force_children": len(linkage.children),
        "link_seconds": round(linked - started, 2),
        "link_cpu_seconds": round(cpu, 2),
        "memory_before_link_mb": round(held),
        "count_seconds": round(counted - linked, 2),
        "comparisons_kept": len(linkage.predictions),
        "true_pairs": len(true),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-12),
        "children": int(children),
        "distinct": count.distinct,
        "lower": count.lower,
        "upper": count.upper,
        "naive": count.naive,
        "distinct_error": (count.distinct - children) / children,
        "covered": count.lower <= children <= count.upper,
        "removed": (count.naive - count.distinct) / (count.naive - children),
        "in_more_than_one_force": count.in_more_than_one_force,
        "true_in_more_than_one_force": int((truth.groupby("child").size() > 1).sum()),
    }


def _run(path: Path) -> dict:
    results, peaks = measure_in_fresh_processes(_stage, (str(path),), 1)
    row = {**results[0], "peak_memory_mb": round(peaks[0])}
    print(json.dumps({"file": path.name, **row}), flush=True)
    return row


def describe_results(record: dict) -> str:
    """The linkage benchmark as its section of ``benchmarks/results.md``."""
    lines = [
        SECTION,
        "",
        f"Written by `benchmarks/bench_linkage.py`: {record['method']} Machine: {record['machine']}.",
        "",
        "| records | seeds | pairwise precision | recall | F1 (lowest) | distinct children: error (largest) | "
        "truth in the 95% interval | double count removed (lowest) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for scenario, rows in record["accuracy"].items():
        lines.append(
            f"| {scenario} | {len(rows)} | {statistics.mean(r['precision'] for r in rows):.4f} | "
            f"{statistics.mean(r['recall'] for r in rows):.4f} | {statistics.mean(r['f1'] for r in rows):.4f} "
            f"({min(r['f1'] for r in rows):.4f}) | {statistics.mean(r['distinct_error'] for r in rows):+.3%} "
            f"({max(abs(r['distinct_error']) for r in rows):.3%}) | {sum(r['covered'] for r in rows)} of {len(rows)} | "
            f"{statistics.mean(r['removed'] for r in rows):.1%} ({min(r['removed'] for r in rows):.1%}) |"
        )
    lines += [
        "",
        "| years | forces' children | true pairs | link (s) | link, CPU of all threads (s) | count with interval (s) | "
        "peak memory (MB) | of which before linking: the episodes read, imports (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for years, row in sorted(record["speed"].items(), key=lambda item: int(item[0])):
        lines.append(
            f"| {years} | {row['force_children']:,} | {row['true_pairs']:,} | {row['link_seconds']} | "
            f"{row.get('link_cpu_seconds', '')} | {row['count_seconds']} | {row['peak_memory_mb']} | "
            f"{row.get('memory_before_link_mb', '')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds", type=int, default=5, help="seeds for accuracy (0: speed only, keep the last accuracy)"
    )
    parser.add_argument("--years", type=int, nargs="+", default=[1, 10], choices=[1, 10])
    args = parser.parse_args()

    from toolkit import __version__

    earlier = json.loads((RESULTS / "linkage.json").read_text()) if (RESULTS / "linkage.json").exists() else {}
    seeds = range(1, args.seeds + 1)
    accuracy = {
        scenario: [_run(_extract(seed, missing)) for seed in seeds]
        for scenario, missing in SCENARIOS.items()
        if scenario != "50% national key (default)"
    }
    if not args.seeds:  # --seeds 0: speed only, the accuracy of the last run kept
        accuracy = earlier.get("accuracy", {})
        seeds = range(1, 1 + len(next(iter(accuracy.values()), [])))
    speed = dict(earlier.get("speed", {}))
    for years in args.years:
        speed[str(years)] = _run(_extract(7, SCENARIOS["50% national key (default)"], years))
    record = {
        "benchmark": "linking children across forces: accuracy over seeds, speed at one and ten years",
        "toolkit_version": __version__,
        "method": f"national synthetic years (generate_extract({YEAR}, seed=S): about 85,000 forces' children a year, "
        "3% of children in more than one force), linked by toolkit.linkage.link_children and counted with a 1,000-draw "
        f"interval, each run in a fresh process; accuracy over seeds {seeds.start} to {seeds.stop - 1} against the "
        "generator's truth, pairwise over pairs of records in different forces (recall counts every true pair, "
        "those no blocking rule compared too); speed on seed 7 with the default 50% of records keyed, one run each.",
        "machine": describe_machine(),
        "targets": TARGETS,
        "accuracy": accuracy,
        "speed": speed,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "linkage.json").write_text(json.dumps(record, indent=2) + "\n")
    section = describe_results(record)
    (RESULTS / "linkage.md").write_text(section)
    write_section(HERE / "results.md", SECTION, section)
    print(section)


if __name__ == "__main__":
    main()
