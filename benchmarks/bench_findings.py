"""Benchmark: how often the findings rules are right, over several seeds of the demo plan.

For each seed, a national year with the demo plan planted is cleaned and every
table and finding prepared (as ``toolkit run`` does). Counts: planted forces
named in the right area with a cause of concern or area for improvement; the
exemplary force without a cause of concern; unplanted forces with any cause
of concern or area for improvement (the false-positive rate). Writes
``benchmarks/results/findings.json``.

    .venv/bin/python benchmarks/bench_findings.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from toolkit import __version__
from toolkit.config import PLANS_DIR
from toolkit.ingest.clean import clean_export
from toolkit.ingest.mapping import CANONICAL, read_mapping
from toolkit.runner import prepare_tables
from toolkit.synthetic import generator

RESULTS = Path(__file__).resolve().parent / "results"
AREAS = {
    "absent_overuse": "categorisation",
    "risk_undergrading": "risk_assessment",
    "risk_overgrading": "risk_assessment",
    "officer_inconsistency": "risk_assessment",
    "poor_data_quality": "understanding",
    "few_return_interviews": "return_and_prevention",
}
SERIOUS = {"cause_of_concern", "area_for_improvement"}


def _one(seed: int) -> dict:
    episodes, truth = generator.generate_extract(2024, seed=seed, plan=generator.read_plan(PLANS_DIR / "demo.yaml"))
    result = clean_export(generator._to_text(episodes), read_mapping(CANONICAL), truth["extract_date"])
    with tempfile.TemporaryDirectory() as work:
        tables, found = prepare_tables(result, Path(work), {"extract_date": truth["extract_date"]})
    planted = {p["force_code"]: p["effect"] for p in truth["planted"]}
    hits, exemplary_ok = 0, True
    for code, effect in planted.items():
        mine = [f for f in found if f["force_code"] == code]
        if effect == "exemplary":
            exemplary_ok = not any(f["judgement"] == "cause_of_concern" for f in mine)
        else:
            hits += any(f["area"] == AREAS[effect] and f["judgement"] in SERIOUS for f in mine)
    flagged = sorted({f["force_code"] for f in found if f["judgement"] in SERIOUS} - set(planted))
    return {
        "seed": seed,
        "planted_found": hits,
        "planted": len(planted) - 1,
        "exemplary_without_concern": exemplary_ok,
        "unplanted_flagged": flagged,
        "unplanted": 43 - len(planted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    runs = []
    for seed in range(200, 200 + args.seeds):
        runs.append(_one(seed))
        print(json.dumps(runs[-1]))
    unplanted = sum(r["unplanted"] for r in runs)
    flagged = sum(len(r["unplanted_flagged"]) for r in runs)
    record = {
        "benchmark": "findings rules on the demo plan",
        "toolkit_version": __version__,
        "seeds": args.seeds,
        "planted_found": f"{sum(r['planted_found'] for r in runs)}/{sum(r['planted'] for r in runs)}",
        "exemplary_without_concern": f"{sum(r['exemplary_without_concern'] for r in runs)}/{args.seeds}",
        "unplanted_false_positive_rate": round(flagged / unplanted, 4),
        "unplanted_flagged": f"{flagged}/{unplanted}",
        "by_seed": runs,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "findings.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "by_seed"}, indent=2))


if __name__ == "__main__":
    main()
