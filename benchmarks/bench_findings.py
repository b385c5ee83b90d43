"""Benchmark: how often the findings rules find what was planted, and only that, over seeds of the demo plan.

For each seed, a national year with the demo plan planted is cleaned and every
table and finding prepared (as ``toolkit run`` does). The result is a table of
planted effects: for each effect, its recall over the seeds (the planted force
given a cause of concern or area for improvement by the rule that judges the
effect, or by any rule of the effect's area where an area judges it), and the
false-positive rate of that rule (or area) over the unplanted forces: the
share of forces with no planted effect that it gives a cause of concern or
area for improvement. The exemplary force counts as found when it gets no
cause of concern. A rule not registered yet finds nothing, and the table says
"rule not registered". A second table gives the false-positive rate of every
registered rule. Both tables are printed as markdown and written, with the
counts behind them, to ``benchmarks/results/findings.json`` (or ``--out``).

    .venv/bin/python benchmarks/bench_findings.py [--seeds 5] [--out FILE]

Intervals are Clopper-Pearson (exact binomial) 95% intervals, treating each
seed, and each unplanted force in each seed, as an independent trial.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from statsmodels.stats.proportion import proportion_confint

from toolkit import __version__
from toolkit.config import PLANS_DIR
from toolkit.findings import RULES
from toolkit.forces import get_force
from toolkit.ingest.clean import clean_export
from toolkit.ingest.mapping import CANONICAL, read_mapping
from toolkit.runner import prepare_tables
from toolkit.synthetic import generator

RESULTS = Path(__file__).resolve().parent / "results"
# What judges each planted effect: a rule id, or (for the effects planted before the rules were split
# by failure) any rule of an area. absent_overuse is judged by categorisation_flagged_absent, counted as
# any finding in its area, categorisation, as the benchmark always has.
JUDGED_BY = {
    "absent_overuse": ("area", "categorisation"),
    "risk_undergrading": ("area", "risk_assessment"),
    # Over-grading is an observation, and an area for improvement only where the grades do not discriminate harm:
    # either finds it.
    "risk_overgrading": ("rule", "risk_grading_out_of_line", frozenset({"observation", "area_for_improvement"})),
    "officer_inconsistency": ("area", "risk_assessment"),
    "poor_data_quality": ("area", "understanding"),
    "few_return_interviews": ("area", "return_and_prevention"),
    "skipped_reviews": ("rule", "supervisory_review"),
    "flag_ignored_grading": ("rule", "exploitation_moves_grade"),
    "repeat_desensitisation": ("rule", "repeat_desensitisation"),
    "residential_absent": ("rule", "groups_classed_absent"),
    "harm_after_low_grade": ("rule", "grades_discriminate_harm"),
    "flags_underrecorded": ("rule", "known_risk_not_recorded"),
}
SERIOUS = {"cause_of_concern", "area_for_improvement"}


def is_registered(judge: tuple, rules=RULES) -> bool:
    """Whether a rule (or any rule of an area) is registered to judge an effect.

    Examples
    --------
    >>> is_registered(("rule", "supervisory_review")), is_registered(("rule", "no_such_rule"))
    (True, False)
    >>> is_registered(("area", "categorisation")), is_registered(("area", "no_such_area"))
    (True, False)
    """
    kind, name = judge[:2]
    return name in rules if kind == "rule" else any(r.area == name for r in rules.values())


def count_serious(findings: list[dict], judge: tuple) -> set[str]:
    """Forces the judge gives a cause of concern or area for improvement (or the judgements it names third).

    Examples
    --------
    >>> found = [
    ...     {"force_code": "A", "rule": "supervisory_review", "area": "investigation", "judgement": "cause_of_concern"},
    ...     {"force_code": "B", "rule": "long_durations", "area": "investigation", "judgement": "area_for_improvement"},
    ...     {"force_code": "C", "rule": "supervisory_review", "area": "investigation", "judgement": "good_practice"},
    ... ]
    >>> sorted(count_serious(found, ("rule", "supervisory_review")))
    ['A']
    >>> sorted(count_serious(found, ("area", "investigation")))
    ['A', 'B']
    """
    kind, name = judge[:2]
    judgements = judge[2] if len(judge) > 2 else SERIOUS
    return {f["force_code"] for f in findings if f["judgement"] in judgements and f[kind] == name}


def judge_seed(findings: list[dict], planted: dict[str, str], forces: list[str]) -> dict:
    """One seed: for each planted effect, whether its force was found, and which unplanted forces each judge flags.

    Parameters
    ----------
    findings : list of dict
        Every force's findings (``force_code``, ``rule``, ``area``, ``judgement``).
    planted : dict of str to str
        Effect to the force it is planted in.
    forces : list of str
        Every force in the extract.

    Examples
    --------
    >>> review = {"rule": "supervisory_review", "area": "investigation"}
    >>> found = [
    ...     {"force_code": "A", **review, "judgement": "cause_of_concern"},
    ...     {"force_code": "C", **review, "judgement": "area_for_improvement"},
    ...     {"force_code": "E", "rule": "volume_rate", "area": "volume", "judgement": "cause_of_concern"},
    ... ]
    >>> seed = judge_seed(found, {"skipped_reviews": "A", "exemplary": "E"}, ["A", "B", "C", "D", "E"])
    >>> seed["found"], seed["unplanted"], seed["flagged"]["skipped_reviews"]
    ({'skipped_reviews': True, 'exemplary': False}, ['B', 'C', 'D'], ['C'])
    """
    unjudged = sorted(set(planted) - set(JUDGED_BY) - {"exemplary"})
    if unjudged:
        raise ValueError(f"no rule or area named to judge {', '.join(unjudged)}: add it to JUDGED_BY")
    unplanted = sorted(set(forces) - set(planted.values()))
    found, flagged = {}, {}
    for effect, code in planted.items():
        if effect == "exemplary":
            found[effect] = not any(f["force_code"] == code and f["judgement"] == "cause_of_concern" for f in findings)
            continue
        judge = JUDGED_BY[effect]
        serious = count_serious(findings, judge)
        found[effect] = code in serious
        flagged[effect] = sorted(serious & set(unplanted))
    flagged_any = {f["force_code"] for f in findings if f["judgement"] in SERIOUS}
    return {
        "found": found,
        "flagged": flagged,
        "unplanted": unplanted,
        "unplanted_flagged": sorted(flagged_any & set(unplanted)),
    }


def _one(seed: int) -> dict:
    started = time.perf_counter()
    episodes, truth = generator.generate_extract(2024, seed=seed, plan=generator.read_plan(PLANS_DIR / "demo.yaml"))
    result = clean_export(generator._to_text(episodes), read_mapping(CANONICAL), truth["extract_date"])
    with tempfile.TemporaryDirectory() as work:
        _, found = prepare_tables(result, Path(work), {"extract_date": truth["extract_date"]})
    planted = {p["effect"]: p["force_code"] for p in truth["planted"]}
    judged = judge_seed(found, planted, sorted(episodes["force_code"].unique()))
    by_rule = {rule: sorted(count_serious(found, ("rule", rule)) & set(judged["unplanted"])) for rule in sorted(RULES)}
    return {
        "seed": seed,
        "episodes": len(episodes),
        **judged,
        "flagged_by_rule": by_rule,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _interval(count: int, total: int) -> str:
    if total == 0:
        return "not computed: no trials"  # e.g. no unplanted force
    low, high = proportion_confint(count, total, alpha=0.05, method="beta")
    return f"{low:.0%} to {high:.0%}"


def tabulate_effects(runs: list[dict], planted: dict[str, str], rules=RULES) -> tuple[list[dict], str]:
    """The table of planted effects over seeds: rows (with the counts) and the same as markdown.

    ``found`` and ``seeds`` count seeds; ``flagged`` and ``unplanted`` count forces over the seeds.

    Examples
    --------
    >>> run = {"found": {"skipped_reviews": True, "repeat_desensitisation": False, "exemplary": True},
    ...        "flagged": {"skipped_reviews": ["C"], "repeat_desensitisation": []}, "unplanted": ["B", "C", "D"]}
    >>> planted = {"skipped_reviews": "E23000004", "repeat_desensitisation": "E23000010", "exemplary": "E23000036"}
    >>> rows, table = tabulate_effects([run, run], planted, rules={"supervisory_review": RULES["supervisory_review"]})
    >>> [(r["effect"], r["found"], r["seeds"], r["flagged"], r["unplanted"]) for r in rows]
    [('skipped_reviews', 2, 2, 2, 6), ('repeat_desensitisation', 0, 2, 0, 6), ('exemplary', 2, 2, None, None)]
    >>> table.splitlines()[2].strip("| ").split(" | ")[3:]
    ['2/2 (100%)', '16% to 100%', '2/6 (33.3%)', '4% to 78%']
    >>> table.splitlines()[3].split(" | ")[2:5]
    ['rule `repeat_desensitisation`', 'not found: rule not registered', 'not computed: rule not registered']
    """
    rows = []
    lines = [
        "| effect | planted force | judged by | recall over seeds | 95% CI | false positives over unplanted forces "
        "| 95% CI |",
        "|---|---|---|---|---|---|---|",
    ]
    for effect, code in planted.items():
        found = sum(r["found"][effect] for r in runs)
        force = f"{get_force(code).name} ({code})"
        row = {"effect": effect, "force_code": code, "found": found, "seeds": len(runs)}
        if effect == "exemplary":
            rows.append(
                {**row, "judged_by": "no cause of concern", "registered": True, "flagged": None, "unplanted": None}
            )
            recall = f"{found}/{len(runs)} ({found / len(runs):.0%})"
            cells = [
                force,
                "no cause of concern",
                recall,
                _interval(found, len(runs)),
                "not computed: not a failure",
                "",
            ]
            lines.append(f"| {effect} | " + " | ".join(cells) + " |")
            continue
        kind, name = JUDGED_BY[effect][:2]
        known = is_registered((kind, name), rules)
        flagged = sum(len(r["flagged"][effect]) for r in runs)
        unplanted = sum(len(r["unplanted"]) for r in runs)
        rows.append(
            {**row, "judged_by": f"{kind} {name}", "registered": known, "flagged": flagged, "unplanted": unplanted}
        )
        judge = f"rule `{name}`" if kind == "rule" else f"any rule of area `{name}`"
        if len(JUDGED_BY[effect]) > 2:  # found with another judgement than a serious one
            judge += " (" + ", ".join(sorted(j.replace("_", " ") for j in JUDGED_BY[effect][2])) + ")"
        if known:
            cells = [
                f"{found}/{len(runs)} ({found / len(runs):.0%})",
                _interval(found, len(runs)),
                f"{flagged}/{unplanted} ({flagged / unplanted:.1%})",
                _interval(flagged, unplanted),
            ]
        else:  # a rule not registered finds nothing and flags nothing: no rate to give
            cells = ["not found: rule not registered", "not computed: rule not registered"] * 2
            cells[2] = "rule not registered"
        lines.append(f"| {effect} | {force} | {judge} | " + " | ".join(cells) + " |")
    return rows, "\n".join(lines)


def tabulate_rules(runs: list[dict]) -> tuple[list[dict], str]:
    """False-positive rate of every registered rule over the unplanted forces of every seed."""
    unplanted = sum(len(r["unplanted"]) for r in runs)
    rows, lines = [], ["| rule | area | unplanted forces flagged | 95% CI |", "|---|---|---|---|"]
    for rule in sorted(RULES):
        flagged = sum(len(r["flagged_by_rule"][rule]) for r in runs)
        rows.append({"rule": rule, "area": RULES[rule].area, "flagged": flagged, "unplanted": unplanted})
        lines.append(
            f"| `{rule}` | {RULES[rule].area} | {flagged}/{unplanted} ({flagged / unplanted:.1%}) | "
            f"{_interval(flagged, unplanted)} |"
        )
    return rows, "\n".join(lines)


def describe_results(record: dict, effects_table: str, rules_table: str) -> str:
    """The findings benchmark as the section of ``benchmarks/results.md`` that ``bench_pipeline.py`` includes."""
    return (
        f"## Findings on planted effects ({record['seeds']} seeds)\n\n"
        f"Written by `benchmarks/bench_findings.py`: {record['method']}. Planted effects found "
        f"{record['planted_found']}; the exemplary force without a cause of concern "
        f"{record['exemplary_without_concern']}; "
        f"unplanted forces given any cause of concern or area for improvement {record['unplanted_flagged']} "
        f"({record['unplanted_false_positive_rate']:.1%}); {record['seconds']:.0f} s.\n\n"
        f"{effects_table}\n\nEvery registered rule over the unplanted forces:\n\n{rules_table}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 200, 201, ... (default 5)")
    parser.add_argument("--out", type=Path, default=RESULTS / "findings.json", help="where to write the JSON")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    started = time.perf_counter()
    runs = []
    for seed in range(200, 200 + args.seeds):
        runs.append(_one(seed))
        print(json.dumps({k: runs[-1][k] for k in ("seed", "episodes", "found", "unplanted_flagged", "seconds")}))
    planted = {p.effect: p.force_code for p in generator.read_plan(PLANS_DIR / "demo.yaml")}
    effects, effects_table = tabulate_effects(runs, planted)
    rules, rules_table = tabulate_rules(runs)
    failures = [e for e in effects if e["effect"] != "exemplary"]
    unplanted = sum(len(r["unplanted"]) for r in runs)
    flagged = sum(len(r["unplanted_flagged"]) for r in runs)
    record = {
        "benchmark": "findings rules on the demo plan: recall of each planted effect, false positives of its rule",
        "toolkit_version": __version__,
        "seeds": args.seeds,
        "planted_found": f"{sum(e['found'] for e in failures)}/{sum(e['seeds'] for e in failures)}",
        "exemplary_without_concern": f"{sum(r['found']['exemplary'] for r in runs)}/{args.seeds}",
        "unplanted_false_positive_rate": round(flagged / unplanted, 4),
        "unplanted_flagged": f"{flagged}/{unplanted}",
        "method": "recall: seeds whose planted force the effect's rule (or area) gives a cause of concern or area "
        "for improvement; false positives: unplanted forces it so flags, over every seed; Clopper-Pearson 95% "
        "intervals; a rule not registered finds nothing",
        "effects": effects,
        "table": effects_table,
        "rules": rules,
        "rules_table": rules_table,
        "by_seed": runs,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    if args.out == RESULTS / "findings.json":  # the committed results: benchmarks/results.md shows this section
        (RESULTS / "findings.md").write_text(describe_results(record, effects_table, rules_table))
    print(f"\nPlanted effects over {args.seeds} seed(s) (200 on):\n\n{effects_table}\n")
    print(f"Every registered rule over the unplanted forces:\n\n{rules_table}\n")
    print(
        json.dumps(
            {
                k: record[k]
                for k in (
                    "planted_found",
                    "exemplary_without_concern",
                    "unplanted_flagged",
                    "unplanted_false_positive_rate",
                    "seconds",
                )
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
