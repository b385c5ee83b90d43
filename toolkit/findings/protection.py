"""Rules on whether what a force knows protects the child: known risks, exploitation flags, absent children
left open, whole groups classed absent, and whether the grades tell apart the children who come to harm.

The inspection found children with known risks recorded "absent" or graded too low "even where good
information was available on the police database", absent children not looked for when circumstances
escalated, and whole groups (every child missing from care) classed absent. Each rule below judges one of
those from the prepared tables, against a standard where guidance sets one and against England and Wales.
"""

from __future__ import annotations

import pandas as pd

from toolkit.findings.rulebook import Threshold, describe_interval, group_share, make_finding, rule
from toolkit.forces import NATIONAL
from toolkit.stats.consistency import MIN_EPISODES

__all__ = ["HARM_C_STATISTIC"]  # the rules register themselves in the rulebook

# Shared with the risk-grading rule, whose over-grading is an area for improvement only where the grades do not
# discriminate harm by this test.
HARM_C_STATISTIC = Threshold(
    0.55,
    "the first grade barely tells apart the children who come to harm when even the 95% interval's upper end of "
    "its c-statistic is below this (0.5 is chance): an area for improvement, and over-grading one too",
)


def _share_text(row) -> str:
    return f"{row['value']:.0%} ({describe_interval(row)})"


def _comparator(row) -> float | None:
    return None if row["band"] == "not_compared" else float(row["national"])


def _judged(code, rule_id, judgement, text, row, recommendation=None, **figures) -> dict:
    """A finding on a practice share, with England and Wales's and the comparator group's shares beside it."""
    return make_finding(
        code, rule_id, judgement, text, row, _comparator(row), recommendation, **group_share(row), **figures
    )


def _practice_row(evidence, code: str, measure: str):
    """The force's row of a practice measure, or None when it has too few episodes to judge."""
    row = evidence.row("practice", code, measure)
    return None if row is None or row["denominator"] < MIN_EPISODES else row


@rule(
    "known_risk_not_recorded",
    "risk_assessment",
    "share of episodes of children whose earlier episodes in the force recorded a risk (a flag, or harm) that "
    "leave one of those risks out",
    "Wilson 95% interval against known_risk_share_* and the national 99.8% funnel limit",
    thresholds={
        "known_risk_share_improve": Threshold(
            0.40,
            "area for improvement when the 95% interval's lower end of the share of episodes leaving out a risk "
            "the force recorded before is above this, or the share is beyond England and Wales's 99.8% limit",
        ),
        "known_risk_share_concern": Threshold(0.60, "cause of concern when the interval's lower end is above this"),
    },
)
def judge_known_risk(evidence, t, code, name) -> list[dict]:
    row = _practice_row(evidence, code, "known_risk_not_recorded")
    if row is None:
        return []
    text = (
        f"{row['value']:.0%} of {name}'s {int(row['denominator']):,} episodes of children whose earlier episodes in "
        f"the force recorded a risk (an exploitation or other flag, or harm) leave one of those risks out of the "
        f"record ({describe_interval(row)}): the force held the information."
    )
    # How many of them were graded low is in the report's table, where disclosure control sees its count: a
    # share in this sentence, over the count already given, would give a small count back.
    if row["lower"] > t["known_risk_share_concern"]:
        return [
            _judged(
                code,
                "known_risk_not_recorded",
                "cause_of_concern",
                text,
                row,
                f"{name} should make officers check a child's earlier episodes before grading risk, and carry every "
                "recorded risk into the new record.",
            )
        ]
    if row["lower"] > t["known_risk_share_improve"] or row["band"] == "above_998":
        return [_judged(code, "known_risk_not_recorded", "area_for_improvement", text, row)]
    return []


@rule(
    "exploitation_moves_grade",
    "risk_assessment",
    "odds of a medium or high first grade for children with exploitation flags against other children, after age "
    "and care status",
    "Mantel-Haenszel odds ratio with 95% interval against flag_grade_odds_concern, and against England and Wales "
    "(z test of the log odds ratios, 99.8%)",
    thresholds={
        "flag_grade_odds_concern": Threshold(
            1.5,
            "cause of concern when the 95% interval's upper end of the odds ratio is below this: an exploitation "
            "flag barely changes the grade",
        ),
    },
    compares=True,
)
def judge_flag_moves_grade(evidence, t, code, name) -> list[dict]:
    if "flag_grading" not in evidence:
        return []
    row = evidence.row("flag_grading", code)
    if row is None or pd.isna(row["value"]):
        return []
    text = (
        f"In {name}, {row['flagged_share']:.0%} of the {int(row['flagged_episodes']):,} episodes of children with "
        f"exploitation flags were graded medium or high; after age and care status, their odds of such a grade are "
        f"{row['value']:.2f} times other children's (95% interval {row['lower']:.2f} to {row['upper']:.2f}; "
        f"England and Wales {row['national']:.2f})."
    )
    figures = {"numerator": int(row["flagged_higher"]), "denominator": int(row["flagged_episodes"])}
    figures |= {"value": float(row["value"]), "lower": float(row["lower"]), "upper": float(row["upper"])}
    comparator = float(row["national"])
    if row["upper"] < t["flag_grade_odds_concern"]:
        return [
            make_finding(
                code,
                "exploitation_moves_grade",
                "cause_of_concern",
                text + " An exploitation flag barely changes the grade a child receives.",
                None,
                comparator,
                f"{name} should make an exploitation flag part of every risk assessment, and have supervisors check "
                "the grade of every flagged child.",
                **figures,
            )
        ]
    if row["band"] == "below_998":
        return [
            make_finding(code, "exploitation_moves_grade", "area_for_improvement", text, None, comparator, **figures)
        ]
    return []


@rule(
    "absent_not_looked_for",
    "categorisation",
    "share of episodes given no active response ('absent', or no apparent risk) still open a day after the "
    "report that were re-graded",
    "Wilson 95% interval against regrade_share_improve and the national 99.8% funnel limit",
    thresholds={
        "regrade_share_improve": Threshold(
            0.5,
            "area for improvement when the 95% interval's upper end of the share re-graded is below this, or the "
            "share is below England and Wales's 99.8% limit",
        ),
    },
)
def judge_absent_not_looked_for(evidence, t, code, name) -> list[dict]:
    row = _practice_row(evidence, code, "absent_regraded_24h")
    if row is None:
        return []
    if not (row["upper"] < t["regrade_share_improve"] or row["band"] == "below_998"):
        return []
    text = (
        f"In {name}, of {int(row['denominator']):,} episodes recorded 'absent' or graded no apparent risk whose child "
        f"was still missing a day after the report, {_share_text(row)} were re-graded: the others were left without "
        "an active response when their absence went on."
    )
    return [_judged(code, "absent_not_looked_for", "area_for_improvement", text, row)]


@rule(
    "groups_classed_absent",
    "categorisation",
    "share of episodes given no active response for looked-after children and for children missing from "
    "residential care (unadjusted)",
    "Wilson 95% interval beyond England and Wales's 99.8% funnel limit; cause of concern above group_absent_concern",
    thresholds={
        "group_absent_concern": Threshold(
            0.5,
            "cause of concern when a whole group's share given no active response is beyond England and Wales's "
            "99.8% limit and the 95% interval's lower end is above this",
        ),
    },
    compares=True,
)
def judge_groups_classed_absent(evidence, t, code, name) -> list[dict]:
    findings = []
    for measure, group, who in (
        ("residential_no_active_response", "children missing from residential care", "a child in residential care"),
        ("looked_after_no_active_response", "looked-after children", "a looked-after child"),
    ):
        row = _practice_row(evidence, code, measure)
        if row is None or row["band"] != "above_998":
            continue
        text = (
            f"{name} gave no active response (recorded 'absent', or graded no apparent risk) in {_share_text(row)} "
            f"of the {int(row['denominator']):,} episodes of {group}, more than across England and Wales."
        )
        if row["lower"] > t["group_absent_concern"]:
            findings.append(
                _judged(
                    code,
                    "groups_classed_absent",
                    "cause_of_concern",
                    text + " Most of these children are being classed absent as a group.",
                    row,
                    f"{name} should assess every report of {who} going missing on its own facts, not by where "
                    "the child lives, and review its policy with the local authorities and care homes.",
                    metric=f"share of episodes of {group} given no active response",
                )
            )
        else:
            findings.append(
                _judged(
                    code,
                    "groups_classed_absent",
                    "area_for_improvement",
                    text,
                    row,
                    metric=f"share of episodes of {group} given no active response",
                )
            )
        break  # one finding: residential care is the sharper of the two groups
    return findings


@rule(
    "grades_discriminate_harm",
    "risk_assessment",
    "c-statistic of the first response (absent or no apparent risk, low, medium, high) for harm while missing",
    "DeLong 95% interval against harm_c_statistic_improve",
    thresholds={"harm_c_statistic_improve": HARM_C_STATISTIC},
)
def judge_grades_discriminate_harm(evidence, t, code, name) -> list[dict]:
    if "harm_discrimination" not in evidence:
        return []
    row = evidence.row("harm_discrimination", code)
    if row is None or pd.isna(row["upper"]) or row["upper"] >= t["harm_c_statistic_improve"]:
        return []
    national = evidence.row("harm_discrimination", NATIONAL)
    beside = (
        ""
        if national is None or pd.isna(national["c_statistic"])
        else f"; England and Wales {national['c_statistic']:.2f}"
    )
    text = (
        f"{name}'s first responses barely tell apart the children who came to harm while missing: the c-statistic "
        f"of the first grade for harm is {row['c_statistic']:.2f} (95% interval {row['lower']:.2f} to "
        f"{row['upper']:.2f}{beside}; 0.5 is chance), over {int(row['episodes']):,} episodes whose harm is known."
    )
    figures = {"value": float(row["c_statistic"]), "lower": float(row["lower"]), "upper": float(row["upper"])}
    figures |= {"numerator": int(row["harmed"]), "denominator": int(row["episodes"])}
    comparator = None if national is None or pd.isna(national["c_statistic"]) else float(national["c_statistic"])
    return [make_finding(code, "grades_discriminate_harm", "area_for_improvement", text, None, comparator, **figures)]
