"""Benchmark: the consistency models on a national year, and how often they are right.

Two parts. **Speed**: fits :func:`toolkit.stats.consistency.summarise_consistency`
(grading model with force and officer random effects, per-force officer
spread, categorisation model, kappa, standardised ratios) on a synthetic
national year with the demo plan; median of several runs. **Accuracy**, over
several seeds of national years with nothing planted:

- coverage of the between-force and within-force variance intervals of the
  model with officers (the generator's realised force variance and its
  officer variance 0.36);
- coverage of each force's 95% interval for its grading tendency (medium or
  high, of every first response) and for its tendency to give a flagged child
  no active response. The true effect is the one each model would reach on
  endless draws of these same children, officers and forces: the same model
  with fixed force effects fitted to the probability the generator gave each
  episode (``toolkit.synthetic.generator.estimate_true_effects``), centred as
  the estimates are. The grading tendency mixes how a force grades with how often
  it records "absent", so no single generator parameter is its truth;
- false positives of the officer-spread test: forces beyond the 99.8% limit
  when every force's officers vary alike.

Prints a table and writes ``benchmarks/results/consistency.json``.

    .venv/bin/python benchmarks/bench_consistency.py [--repeats 3] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit import __version__
from toolkit.config import PLANS_DIR
from toolkit.stats.consistency import (
    describe_case_mix,
    select_first_responses,
    select_flagged_responses,
    summarise_consistency,
)
from toolkit.synthetic.generator import OFFICER_SD, estimate_true_effects, generate_extract, read_plan

RESULTS = Path(__file__).resolve().parent / "results"


def _covered(rows: pd.DataFrame, truth: pd.Series) -> float:
    """Share of forces whose interval holds the truth, both centred on the forces' mean."""
    centre = np.log(rows["value"]).mean()
    true = truth[rows.index] + centre
    return round(float(((np.log(rows["lower"]) <= true) & (true <= np.log(rows["upper"]))).mean()), 3)


def _accuracy(seed: int) -> dict:
    episodes, truth = generate_extract(2024, seed=seed, response_probabilities=True)
    probability = pd.DataFrame(truth["response_probabilities"])
    assert (probability["episode_id"].to_numpy() == episodes["episode_id"].to_numpy()).all()
    tables = summarise_consistency(episodes)
    variance = tables["consistency_variance"].set_index(["model", "measure", "level"])
    params = pd.DataFrame(truth["force_parameters"]).set_index("force_code")
    force = variance.loc[("risk_grading", "variance", "force")]
    officer = variance.loc[("risk_grading", "variance", "officer")]
    forces = tables["consistency_forces"].set_index("force_code")
    mix = describe_case_mix(episodes)
    graded = select_first_responses(episodes).index
    flagged, covariates = select_flagged_responses(episodes, mix)
    true_grading = estimate_true_effects(
        probability.loc[graded, "graded_higher"].to_numpy(), mix.loc[graded], episodes.loc[graded, "force_code"]
    )
    true_response = estimate_true_effects(
        probability.loc[flagged, "no_active_response"].to_numpy(),
        covariates,
        episodes.loc[flagged, "force_code"],
    )
    spread = tables["officer_spread"]
    estimable = spread[spread["band"] != "not_estimable"]
    return {
        "seed": seed,
        "episodes": len(episodes),
        "force_variance_covered": bool(force["lower"] <= params["risk"].var() <= force["upper"]),
        "officer_variance_covered": bool(officer["lower"] <= OFFICER_SD**2 <= officer["upper"]),
        "grading_intervals_covering_truth": _covered(forces[forces["measure"] == "risk_grading"], true_grading),
        "response_intervals_covering_truth": _covered(
            forces[forces["measure"] == "no_response_if_flagged"], true_response
        ),
        "officer_spread_tests": len(estimable),
        "officer_spread_beyond_998": int(estimable["band"].str.endswith("998").sum()),
        "officer_spread_beyond_95": int((estimable["band"] != "within").sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()

    episodes, _ = generate_extract(2024, seed=7, plan=read_plan(PLANS_DIR / "demo.yaml"))
    seconds = []
    for i in range(args.repeats):
        begin = time.perf_counter()
        summarise_consistency(episodes)
        seconds.append(time.perf_counter() - begin)
        print(f"run {i + 1}: {seconds[-1]:.1f} s for {len(episodes):,} episodes")

    accuracy = []
    for seed in range(100, 100 + args.seeds):
        accuracy.append(_accuracy(seed))
        print(json.dumps(accuracy[-1]))
    tests = sum(a["officer_spread_tests"] for a in accuracy)
    record = {
        "benchmark": "summarise_consistency",
        "toolkit_version": __version__,
        "episodes": len(episodes),
        "repeats": args.repeats,
        "median_seconds": round(statistics.median(seconds), 1),
        "seeds": args.seeds,
        "force_variance_interval_coverage": f"{sum(a['force_variance_covered'] for a in accuracy)}/{args.seeds}",
        "officer_variance_interval_coverage": f"{sum(a['officer_variance_covered'] for a in accuracy)}/{args.seeds}",
        "mean_grading_interval_coverage": round(
            statistics.mean(a["grading_intervals_covering_truth"] for a in accuracy), 3
        ),
        "mean_response_interval_coverage": round(
            statistics.mean(a["response_intervals_covering_truth"] for a in accuracy), 3
        ),
        "officer_spread_false_positive_rate_998": round(
            sum(a["officer_spread_beyond_998"] for a in accuracy) / tests, 4
        ),
        "officer_spread_false_positive_rate_95": round(sum(a["officer_spread_beyond_95"] for a in accuracy) / tests, 4),
        "officer_spread_tests": tests,
        "by_seed": accuracy,
        "peak_process_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "consistency.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "by_seed"}, indent=2))


if __name__ == "__main__":
    main()
