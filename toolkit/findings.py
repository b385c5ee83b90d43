"""Findings: rules that turn the prepared statistics into an inspection's judgements.

Each rule has a stable id, an area of the findings vocabulary, the metric and
test it rests on, and writes one sentence with the figures, interval and
comparator filled in. A cause of concern always carries a recommendation.
Every threshold is in :data:`THRESHOLDS` (documented there, overridable from a
YAML file with :func:`read_thresholds`); rules never hold numbers of their own.

Judgements follow the inspectorate's words: a *cause of concern* is a serious
or systemic shortcoming; an *area for improvement* is less serious; *good
practice* is a force reliably better than others; an *observation* records a
fact worth knowing (including that the data cannot support a measure).

Examples
--------
>>> sorted({rule.area for rule in RULES})[:3]
['categorisation', 'investigation', 'repeat_and_exploitation']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from toolkit.config import read_yaml_config
from toolkit.consistency import MIN_EPISODES
from toolkit.disclosure import rests_on_small_count
from toolkit.errors import ConfigError
from toolkit.forces import get_force
from toolkit.quality import find_data_quality_issues, support_statement
from toolkit.summary import NATIONAL

__all__ = ["THRESHOLDS", "RULES", "Rule", "read_thresholds", "find_issues", "publish_findings", "JUDGEMENT_ORDER"]

JUDGEMENT_ORDER = ("cause_of_concern", "area_for_improvement", "good_practice", "observation")

THRESHOLDS = {
    # Categorisation: odds that a child with exploitation flags is recorded "absent", against the
    # average force after case mix (95% interval). Concern when even the interval's lower end is
    # this many times the average; improvement when beyond the 99.8% limit and at least this much.
    "absent_odds_concern": 4.0,
    "absent_odds_improve": 2.0,
    "absent_odds_good": 0.5,  # good practice when the interval's upper end is below this
    # Risk grading: adjusted odds of a medium or high grade against the average force.
    "grading_odds_under_concern": 0.5,  # upper end below: children at risk graded too low
    "grading_odds_over_improve": 2.0,  # lower end above: grading inflated, resources spread thin
    # Between officers: the force's officer variance against the national within-force variance.
    "officer_variance_ratio_concern": 2.0,  # lower end at least this many times the national
    # Practice shares (funnel bands against England and Wales, Spiegelhalter-adjusted).
    "practice_concern_fraction": 0.5,  # below the 99.8% limit and under this fraction of national
    "review_share_concern": 0.5,  # supervisory review within 24 hours for under this share
    # Time to return: share returned within 48 hours this far under England and Wales (interval).
    "returned_48h_gap": 0.05,
    # Repeats: share of episodes that were repeats this far above England and Wales (interval).
    "repeat_share_gap": 0.10,
}


def read_thresholds(path: str | Path | None = None) -> dict:
    """The default thresholds, with any overrides from a YAML mapping of name to number.

    Raises
    ------
    ConfigError
        An unknown name or a value that is not a positive number.
    """
    thresholds = dict(THRESHOLDS)
    if path is None:
        return thresholds
    overrides = read_yaml_config(path, "findings thresholds") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{path}: thresholds must be a mapping of name to number")
    for name, value in overrides.items():
        if name not in THRESHOLDS:
            raise ConfigError(f"{path}: unknown threshold {name!r}; known: {', '.join(sorted(THRESHOLDS))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{path}: threshold {name!r} must be a positive number, not {value!r}")
        thresholds[name] = float(value)
    return thresholds


@dataclass(frozen=True)
class Rule:
    """What a rule judges and how (documentation; the logic is in its function)."""

    id: str
    area: str
    metric: str
    test: str


RULES = (
    Rule(
        "categorisation_flagged_absent",
        "categorisation",
        "odds that a child with exploitation flags is recorded 'absent', against the average force",
        "multilevel logistic model, shrunken force estimate with 95% interval; absent_odds_* thresholds",
    ),
    Rule(
        "risk_grading_out_of_line",
        "risk_assessment",
        "odds of a medium or high risk grade for similar cases, against the average force",
        "multilevel logistic model, shrunken force estimate with 95% interval; grading_odds_* thresholds",
    ),
    Rule(
        "officer_inconsistency",
        "risk_assessment",
        "variance of officers' grading tendencies within the force",
        "Wald test of the log variance against the national within-force variance (99.8%)",
    ),
    Rule(
        "supervisory_review",
        "investigation",
        "share of episodes with a supervisory review within 24 hours",
        "proportion funnel against England and Wales (99.8%), review_share_concern",
    ),
    Rule(
        "long_durations",
        "investigation",
        "share of children returned within 48 hours (Kaplan-Meier)",
        "95% interval below England and Wales by returned_48h_gap",
    ),
    Rule(
        "prevention_interviews",
        "return_and_prevention",
        "share of returned children given a prevention interview",
        "proportion funnel against England and Wales (99.8%), practice_concern_fraction",
    ),
    Rule(
        "return_interviews_72h",
        "return_and_prevention",
        "share of returned children given a return interview within 72 hours",
        "proportion funnel against England and Wales (99.8%), practice_concern_fraction",
    ),
    Rule(
        "repeat_missing",
        "repeat_and_exploitation",
        "share of episodes that were repeats; children meeting the frequently-missing rule",
        "95% interval above England and Wales by repeat_share_gap",
    ),
    Rule(
        "volume_rate",
        "volume",
        "episodes per 1,000 children",
        "rate funnel against England and Wales (99.8%)",
    ),
)
_RULES = {rule.id: rule for rule in RULES}


def _finding(code, rule_id, judgement, statement, row=None, comparator=None, recommendation=None, **figures) -> dict:
    rule = _RULES[rule_id]
    finding = {
        "force_code": code,
        "force": get_force(code).name,
        "area": rule.area,
        "judgement": judgement,
        "rule": rule.id,
        "metric": rule.metric,
        "test": rule.test,
        "statement": statement,
        "value": None,
        "lower": None,
        "upper": None,
        "numerator": None,
        "denominator": None,
        "comparator": comparator,
    }
    if row is not None:
        for key in ("value", "lower", "upper", "numerator", "denominator"):
            if key in row and pd.notna(row[key]):
                finding[key] = float(row[key]) if key in ("value", "lower", "upper") else int(row[key])
    finding.update(figures)
    if judgement == "cause_of_concern" and not recommendation:
        raise ValueError(f"rule {rule_id}: a cause of concern needs a recommendation")
    if recommendation:
        finding["recommendation"] = recommendation
    return finding


def _row(table: pd.DataFrame, key) -> pd.Series | None:
    """The row of an indexed table at ``key``, or None."""
    return table.loc[key] if key in table.index else None


def _index_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables the rules read, indexed once for lookups by force."""
    return {
        "support": tables["support"],
        "effects": tables["consistency_forces"].set_index(["measure", "force_code"]),
        "practice": tables["practice"].set_index(["force_code", "measure"]),
        "officer_spread": tables["officer_spread"].set_index("force_code"),
        "time_to_return": tables["time_to_return"].set_index("force_code"),
        "repeats": tables["repeats"].set_index("force_code"),
        "funnel_volume": tables["funnel_volume"].set_index("force_code"),
    }


def _flagged_absent(tables, t, code, name) -> list[dict]:
    row = _row(tables["effects"], ("absent_if_flagged", code))
    if row is None or row["episodes"] < MIN_EPISODES:
        return []
    share = _row(tables["practice"], (code, "flagged_recorded_absent"))
    national = share["national"] if share is not None else None
    raw = (
        f" {share['value']:.0%} of its flagged children's episodes were recorded 'absent' "
        f"(England and Wales {national:.0%})."
        if share is not None
        else ""
    )
    odds = f"{row['value']:.1f} times the average force (95% interval {row['lower']:.1f} to {row['upper']:.1f})"
    comparator = "average force in England and Wales, after case mix"
    if row["lower"] >= t["absent_odds_concern"]:
        return [
            _finding(
                code,
                "categorisation_flagged_absent",
                "cause_of_concern",
                f"{name} records children with exploitation flags as 'absent', so not looked for, at odds "
                f"{odds} after adjustment for case mix.{raw}",
                row,
                comparator,
                f"{name} should stop using the 'absent' category for children with exploitation or other risk "
                "flags, review every such episode recorded 'absent' in the last year, and audit categorisation "
                "monthly.",
            )
        ]
    if row["band"] == "above_998" and row["lower"] >= t["absent_odds_improve"]:
        return [
            _finding(
                code,
                "categorisation_flagged_absent",
                "area_for_improvement",
                f"{name} records children with exploitation flags as 'absent' at odds {odds} after case mix.{raw}",
                row,
                comparator,
            )
        ]
    if row["upper"] <= t["absent_odds_good"]:
        return [
            _finding(
                code,
                "categorisation_flagged_absent",
                "good_practice",
                f"{name} rarely records children with exploitation flags as 'absent': odds {odds}.{raw}",
                row,
                comparator,
            )
        ]
    return []


def _grading(tables, t, code, name) -> list[dict]:
    row = _row(tables["effects"], ("risk_grading", code))
    if row is None or row["episodes"] < MIN_EPISODES:
        return []
    odds = f"{row['value']:.2f} times the average force's (95% interval {row['lower']:.2f} to {row['upper']:.2f})"
    comparator = "average force in England and Wales, after case mix"
    if row["upper"] <= t["grading_odds_under_concern"]:
        return [
            _finding(
                code,
                "risk_grading_out_of_line",
                "cause_of_concern",
                f"{name} grades similar cases lower than other forces: its odds of a medium or high risk grade are "
                f"{odds} after adjustment for the children's risk factors, age, care status and history.",
                row,
                comparator,
                f"{name} should review how officers assess risk for missing children against national guidance, "
                "re-grade a sample of recent low-graded episodes with risk flags, and make supervisors check "
                "every first grade.",
            )
        ]
    if row["lower"] >= t["grading_odds_over_improve"]:
        return [
            _finding(
                code,
                "risk_grading_out_of_line",
                "area_for_improvement",
                f"{name} grades similar cases higher than other forces: odds of a medium or high grade {odds}; "
                "over-grading spreads investigative resources thinly.",
                row,
                comparator,
            )
        ]
    return []


def _officers(tables, t, code, name) -> list[dict]:
    row = _row(tables["officer_spread"], code)
    if row is None or row["band"] == "not_estimable":
        return []
    text = (
        f"variance between its {int(row['officers'])} officers' grading of similar cases is {row['variance']:.2f} on "
        f"the log-odds scale (95% interval {row['lower']:.2f} to {row['upper']:.2f}) against "
        f"{row['national_variance']:.2f} within forces nationally"
    )
    comparator = "within-force variance, England and Wales"
    figures = {"value": float(row["variance"]), "lower": float(row["lower"]), "upper": float(row["upper"])}
    if row["band"] == "above_998":
        if row["lower"] >= t["officer_variance_ratio_concern"] * row["national_variance"]:
            return [
                _finding(
                    code,
                    "officer_inconsistency",
                    "cause_of_concern",
                    f"In {name} the risk grade a child receives depends on which officer grades it: the {text}.",
                    None,
                    comparator,
                    f"{name} should train officers and supervisors in risk assessment for missing children and "
                    "check grading consistency between officers and teams regularly.",
                    **figures,
                )
            ]
        return [
            _finding(
                code,
                "officer_inconsistency",
                "area_for_improvement",
                f"In {name} officers grade similar cases less consistently than elsewhere: the {text}.",
                None,
                comparator,
                **figures,
            )
        ]
    if row["band"] == "below_998":
        return [
            _finding(
                code,
                "officer_inconsistency",
                "good_practice",
                f"{name}'s officers grade similar cases consistently: the {text}.",
                None,
                comparator,
                **figures,
            )
        ]
    return []


def _practice_rule(rule_id, measure, support_metric, what, recommendation, concern_share=None):
    """A rule on one practice share: below the 99.8% funnel limit, and far below, and above."""

    def judge(tables, t, code, name) -> list[dict]:
        if support_statement(tables["support"], code, support_metric):
            return []  # the data cannot support it: the understanding findings say so
        row = _row(tables["practice"], (code, measure))
        if row is None or pd.isna(row["band"]) or row["band"] == "not_compared":
            return []
        if row["denominator"] < MIN_EPISODES:
            return []
        national = float(row["national"])
        text = (
            f"{row['value']:.0%} of {what} (95% interval {row['lower']:.0%} to {row['upper']:.0%}; "
            f"England and Wales {national:.0%})"
        )
        far_below = row["value"] < t["practice_concern_fraction"] * national
        too_low = concern_share is not None and row["value"] < t[concern_share]
        if row["band"] == "below_998" and (far_below or too_low):
            return [
                _finding(
                    code,
                    rule_id,
                    "cause_of_concern",
                    f"In {name}, only {text}.",
                    row,
                    national,
                    recommendation.format(name=name),
                )
            ]
        if row["band"] == "below_998":
            return [_finding(code, rule_id, "area_for_improvement", f"In {name}, {text}.", row, national)]
        if row["band"] == "above_998":
            return [_finding(code, rule_id, "good_practice", f"In {name}, {text}.", row, national)]
        return []

    return judge


def _durations(tables, t, code, name) -> list[dict]:
    if support_statement(tables["support"], code, "time_to_return"):
        return []
    table = tables["time_to_return"]
    if code not in table.index:
        return []
    row, national = table.loc[code], table.loc[NATIONAL]
    if pd.isna(row["within_48h_upper"]) or row["within_48h_upper"] >= national["within_48h"] - t["returned_48h_gap"]:
        return []
    return [
        _finding(
            code,
            "long_durations",
            "area_for_improvement",
            f"Children in {name} stay missing longer: {row['within_48h']:.0%} returned within 48 hours (95% interval "
            f"{row['within_48h_lower']:.0%} to {row['within_48h_upper']:.0%}; England and Wales "
            f"{national['within_48h']:.0%}).",
            None,
            float(national["within_48h"]),
            value=float(row["within_48h"]),
            lower=float(row["within_48h_lower"]),
            upper=float(row["within_48h_upper"]),
        )
    ]


def _repeats(tables, t, code, name) -> list[dict]:
    table = tables["repeats"]
    if code not in table.index:
        return []
    row, national = table.loc[code], table.loc[NATIONAL]
    if (
        pd.isna(row["repeat_share_lower"])
        or row["repeat_share_lower"] < national["repeat_share"] + t["repeat_share_gap"]
    ):
        return []
    return [
        _finding(
            code,
            "repeat_missing",
            "area_for_improvement",
            f"Repeat episodes make up {row['repeat_share']:.0%} of {name}'s episodes (95% interval "
            f"{row['repeat_share_lower']:.0%} to {row['repeat_share_upper']:.0%}; England and Wales "
            f"{national['repeat_share']:.0%}): prevention after each return is not stopping children going missing "
            "again.",
            None,
            float(national["repeat_share"]),
            value=float(row["repeat_share"]),
            lower=float(row["repeat_share_lower"]),
            upper=float(row["repeat_share_upper"]),
        )
    ]


def _volume(tables, t, code, name) -> list[dict]:
    table = tables["funnel_volume"]
    if code not in table.index or table.loc[code, "band"] not in ("above_998", "below_998"):
        return []
    row = table.loc[code]
    direction = "more" if row["band"] == "above_998" else "fewer"
    return [
        _finding(
            code,
            "volume_rate",
            "observation",
            f"{name} recorded {direction} missing and absent episodes per 1,000 children than England and Wales "
            f"({row['value']:.1f} against {row['baseline']:.1f}), beyond the funnel's 99.8% limit; "
            "a difference in recording can explain this as well as a difference in children going missing.",
            row,
            float(row["baseline"]),
        )
    ]


_JUDGES = {
    "categorisation_flagged_absent": _flagged_absent,
    "risk_grading_out_of_line": _grading,
    "officer_inconsistency": _officers,
    "supervisory_review": _practice_rule(
        "supervisory_review",
        "review_within_24h",
        "supervision",
        "episodes had a supervisory review of the risk grade within 24 hours",
        "{name} should make sure a supervisor reviews the risk grade of every missing child within 24 hours, "
        "and sooner for higher grades, and record the review.",
        concern_share="review_share_concern",
    ),
    "long_durations": _durations,
    "prevention_interviews": _practice_rule(
        "prevention_interviews",
        "prevention_completed",
        "prevention_interviews",
        "returned children were given a prevention interview",
        "{name} should give every returned child a prevention interview and record its outcome.",
    ),
    "return_interviews_72h": _practice_rule(
        "return_interviews_72h",
        "return_interview_72h",
        "return_interviews",
        "returned children had an independent return interview within 72 hours",
        "{name} should agree with its local authorities how every returned child is offered a return interview "
        "within 72 hours, and share what children say with investigating officers.",
    ),
    "repeat_missing": _repeats,
    "volume_rate": _volume,
}


def find_issues(tables: dict[str, pd.DataFrame], thresholds: dict | None = None) -> list[dict]:
    """Every finding for every force, from the prepared tables.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The tables :func:`toolkit.runner.prepare_tables` computes: ``quality``,
        ``support``, ``consistency_forces``, ``officer_spread``, ``practice``,
        ``time_to_return``, ``repeats``, ``funnel_volume``.
    thresholds : dict, optional
        Default :data:`THRESHOLDS`.

    Returns
    -------
    list of dict
        Findings in the vocabulary of the extract specification, ordered by
        force, then judgement (causes of concern first), then rule.
    """
    t = thresholds or THRESHOLDS
    findings = find_data_quality_issues(tables["quality"], tables["support"])
    for finding in findings:
        finding.setdefault("force", get_force(finding["force_code"]).name)
    codes = sorted(set(tables["summary"].query("area == 'force' and metric == 'episodes' and value > 0")["force_code"]))
    indexed = _index_tables(tables)
    for code in codes:
        name = get_force(code).name
        for rule in RULES:
            findings.extend(_JUDGES[rule.id](indexed, t, code, name))
    order = {j: i for i, j in enumerate(JUDGEMENT_ORDER)}
    return sorted(findings, key=lambda f: (f["force_code"], order[f["judgement"]], f["rule"]))


def publish_findings(findings: list[dict], threshold: int) -> list[dict]:
    """Findings fit to publish: nothing in them may give away a count from 1 to ``threshold - 1``.

    A finding on a share that rests on such a count (its numerator, its
    denominator, or their difference: 38 of 40 tells that 2 were not) keeps its
    judgement and recommendation, but its share, interval (whose width gives
    the denominator away), counts and the figures in its statement are
    withheld; ``withheld`` lists what was. Otherwise a small count alone is
    withheld. Reports and ``findings.json`` both publish through this.

    Examples
    --------
    >>> finding = {"force_code": "E23000034", "force": "City of London", "metric": "interviews",
    ...            "test": "proportion funnel (99.8%)", "statement": "In City of London, 3 of 40 ...",
    ...            "value": 0.075, "lower": 0.03, "upper": 0.2, "numerator": 3, "denominator": 40}
    >>> published = publish_findings([finding], 5)[0]
    >>> published["withheld"], published["value"], published["denominator"]
    (['value', 'lower', 'upper', 'numerator', 'denominator'], None, None)
    >>> print(published["statement"])
    In City of London, the finding on interviews rests on a count of fewer than 5, so its figures are withheld.
    >>> publish_findings([dict(finding, numerator=20, value=0.5)], 5)[0].get("withheld") is None
    True
    """
    published = []
    for finding in findings:
        finding = dict(finding)
        numerator, denominator = finding.get("numerator"), finding.get("denominator")
        if numerator is not None and denominator is not None:
            share_is_small = bool(rests_on_small_count(numerator, denominator, threshold))
        else:
            share_is_small = False
        if share_is_small:
            withheld = ["value", "lower", "upper", "numerator", "denominator"]
            force = finding.get("force") or get_force(finding["force_code"]).name
            finding["statement"] = (
                f"In {force}, the finding on {finding.get('metric') or 'data quality'} rests on a count of fewer "
                f"than {threshold}, so its figures are withheld."
            )
        else:
            withheld = [key for key in ("numerator", "denominator") if _is_small_count(finding.get(key), threshold)]
        for key in withheld:
            finding[key] = None
        if withheld:
            finding["withheld"] = withheld
        published.append(finding)
    return published


def _is_small_count(count, threshold: int) -> bool:
    return count is not None and 0 < count < threshold
