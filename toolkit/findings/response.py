"""Rules on the force's response: categorisation, risk assessment, investigation, return and prevention,
repeat missing and volume.

Each rule is registered with :func:`toolkit.findings.rulebook.rule` and judges
one force from the prepared tables, writing one sentence with the figures,
interval and comparator filled in.
"""

from __future__ import annotations

import pandas as pd

from toolkit.findings.rulebook import Threshold, make_finding, rule
from toolkit.forces import NATIONAL
from toolkit.stats.consistency import MIN_EPISODES
from toolkit.stats.practice import PRACTICE_MEASURES, REVIEW_DEADLINE_HOURS

__all__: list[str] = []  # nothing to call: the rules register themselves in the rulebook


@rule(
    "categorisation_flagged_absent",
    "categorisation",
    "odds that a child with exploitation flags is recorded 'absent', against the average force",
    "multilevel logistic model, shrunken force estimate with 95% interval; absent_odds_* thresholds",
    thresholds={
        "absent_odds_concern": Threshold(
            4.0,
            "cause of concern when even the 95% interval's lower end of the adjusted odds is this many "
            "times the average force's",
        ),
        "absent_odds_improve": Threshold(
            2.0, "area for improvement when beyond the 99.8% limit and the interval's lower end is at least this"
        ),
        "absent_odds_good": Threshold(0.5, "good practice when the interval's upper end is below this"),
    },
    compares=True,
)
def judge_flagged_absent(evidence, t, code, name) -> list[dict]:
    row = evidence.row("consistency_forces", code, "absent_if_flagged")
    if row is None or row["episodes"] < MIN_EPISODES:
        return []
    share = evidence.row("practice", code, "flagged_recorded_absent")
    national = share["national"] if share is not None else None
    raw = (
        f" {share['value']:.0%} of its flagged children's episodes were recorded 'absent' "
        f"(England and Wales {national:.0%})."
        if share is not None
        else ""
    )
    odds = f"{row['value']:.2f} times the average force (95% interval {row['lower']:.2f} to {row['upper']:.2f})"
    comparator = "average force in England and Wales, after case mix"
    if row["lower"] >= t["absent_odds_concern"]:
        return [
            make_finding(
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
            make_finding(
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
            make_finding(
                code,
                "categorisation_flagged_absent",
                "good_practice",
                f"{name} rarely records children with exploitation flags as 'absent': odds {odds}.{raw}",
                row,
                comparator,
            )
        ]
    return []


@rule(
    "risk_grading_out_of_line",
    "risk_assessment",
    "odds of a medium or high risk grade for similar cases, against the average force",
    "multilevel logistic model, shrunken force estimate with 95% interval; grading_odds_* thresholds",
    thresholds={
        "grading_odds_under_concern": Threshold(
            0.5, "cause of concern when the interval's upper end is below this: children at risk graded too low"
        ),
        "grading_odds_over_improve": Threshold(
            2.0, "area for improvement when the interval's lower end is above this: grading inflated"
        ),
    },
    compares=True,
)
def judge_risk_grading(evidence, t, code, name) -> list[dict]:
    row = evidence.row("consistency_forces", code, "risk_grading")
    if row is None or row["episodes"] < MIN_EPISODES:
        return []
    odds = f"{row['value']:.2f} times the average force's (95% interval {row['lower']:.2f} to {row['upper']:.2f})"
    comparator = "average force in England and Wales, after case mix"
    if row["upper"] <= t["grading_odds_under_concern"]:
        return [
            make_finding(
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
            make_finding(
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


@rule(
    "officer_inconsistency",
    "risk_assessment",
    "variance of officers' grading tendencies within the force",
    "Wald test of the log variance against the national within-force variance (99.8%)",
    thresholds={
        "officer_variance_ratio_concern": Threshold(
            2.0,
            "cause of concern when the interval's lower end is at least this many times the national "
            "within-force variance",
        ),
    },
    support="risk_consistency",
    compares=True,
)
def judge_officer_inconsistency(evidence, t, code, name) -> list[dict]:
    row = evidence.row("officer_spread", code)
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
                make_finding(
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
            make_finding(
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
            make_finding(
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


def _judge_practice_share(rule_id, measure, what, recommendation, concern_share=None):
    """A judge of one practice share: below the 99.8% funnel limit, and far below, and above."""

    def judge(evidence, t, code, name) -> list[dict]:
        row = evidence.row("practice", code, measure)
        if row is None or pd.isna(row["band"]) or row["band"] == "not_compared":
            return []
        if row["denominator"] < MIN_EPISODES:
            return []
        national = float(row["national"])
        text = (
            f"{row['value']:.0%} of {what.format(**t)} (95% interval {row['lower']:.0%} to {row['upper']:.0%}; "
            f"England and Wales {national:.0%})"
        )
        far_below = row["value"] < t["practice_concern_fraction"] * national
        too_low = concern_share is not None and row["value"] < t[concern_share]
        if row["band"] == "below_998" and (far_below or too_low):
            return [
                make_finding(
                    code,
                    rule_id,
                    "cause_of_concern",
                    f"In {name}, only {text}.",
                    row,
                    national,
                    recommendation.format(name=name, **t),
                )
            ]
        if row["band"] == "below_998":
            return [make_finding(code, rule_id, "area_for_improvement", f"In {name}, {text}.", row, national)]
        if row["band"] == "above_998":
            return [make_finding(code, rule_id, "good_practice", f"In {name}, {text}.", row, national)]
        return []

    return judge


_PRACTICE_CONCERN_FRACTION = Threshold(
    0.5,
    "cause of concern when a practice share is below the 99.8% funnel limit and under this fraction "
    "of England and Wales",
)

rule(
    "supervisory_review",
    "investigation",
    "share of missing episodes still open at the deadline whose risk grade a supervisor reviewed in time "
    "(a missing review time is a review not done)",
    "proportion funnel against England and Wales (99.8%), review_share_concern, review_hours_high, review_hours_other",
    thresholds={
        "practice_concern_fraction": _PRACTICE_CONCERN_FRACTION,
        "review_share_concern": Threshold(
            0.5,
            "cause of concern when below the 99.8% limit and supervisory review in time is under this share",
        ),
        "review_hours_high": Threshold(
            REVIEW_DEADLINE_HOURS["review_hours_high"],
            "hours after the report by which a supervisor should review a high-risk grade",
        ),
        "review_hours_other": Threshold(
            REVIEW_DEADLINE_HOURS["review_hours_other"],
            "hours after the report by which a supervisor should review any other grade of a missing child",
        ),
    },
    support=PRACTICE_MEASURES["review_in_time"].support,
    compares=True,
)(
    _judge_practice_share(
        "supervisory_review",
        "review_in_time",
        "missing episodes still open at the deadline had a supervisor's review of the risk grade in time "
        "(within {review_hours_high:g} hours for high risk, {review_hours_other:g} for other grades; "
        "a review not recorded is counted as not done)",
        "{name} should make sure a supervisor reviews the risk grade of every missing child in time (within "
        "{review_hours_high:g} hours for high risk, {review_hours_other:g} for other grades), and records "
        "the review.",
        concern_share="review_share_concern",
    )
)
rule(
    "prevention_interviews",
    "return_and_prevention",
    "share of returned children given a prevention interview",
    "proportion funnel against England and Wales (99.8%), practice_concern_fraction",
    thresholds={"practice_concern_fraction": _PRACTICE_CONCERN_FRACTION},
    support=PRACTICE_MEASURES["prevention_completed"].support,
    compares=True,
)(
    _judge_practice_share(
        "prevention_interviews",
        "prevention_completed",
        "returned children were given a prevention interview",
        "{name} should give every returned child a prevention interview and record its outcome.",
    )
)
rule(
    "return_interviews_72h",
    "return_and_prevention",
    "share of returned children given a return interview within 72 hours",
    "proportion funnel against England and Wales (99.8%), practice_concern_fraction",
    thresholds={"practice_concern_fraction": _PRACTICE_CONCERN_FRACTION},
    support=PRACTICE_MEASURES["return_interview_72h"].support,
    compares=True,
)(
    _judge_practice_share(
        "return_interviews_72h",
        "return_interview_72h",
        "returned children had an independent return interview within 72 hours",
        "{name} should agree with its local authorities how every returned child is offered a return interview "
        "within 72 hours, and share what children say with investigating officers.",
    )
)


@rule(
    "long_durations",
    "investigation",
    "share of children returned within 48 hours (Kaplan-Meier)",
    "95% interval below England and Wales by returned_48h_gap",
    thresholds={
        "returned_48h_gap": Threshold(
            0.05,
            "area for improvement when the share returned within 48 hours is this far under England and "
            "Wales (interval)",
        ),
    },
    support="time_to_return",
    compares=True,
)
def judge_long_durations(evidence, t, code, name) -> list[dict]:
    row, national = evidence.row("time_to_return", code), evidence.row("time_to_return", NATIONAL)
    if row is None:
        return []
    if pd.isna(row["within_48h_upper"]) or row["within_48h_upper"] >= national["within_48h"] - t["returned_48h_gap"]:
        return []
    return [
        make_finding(
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


@rule(
    "repeat_missing",
    "repeat_and_exploitation",
    "share of episodes that were repeats; children meeting the frequently-missing rule",
    "95% interval above England and Wales by repeat_share_gap",
    thresholds={
        "repeat_share_gap": Threshold(
            0.10,
            "area for improvement when the share of episodes that were repeats is this far above England "
            "and Wales (interval)",
        ),
    },
    compares=True,
)
def judge_repeat_missing(evidence, t, code, name) -> list[dict]:
    row, national = evidence.row("repeats", code), evidence.row("repeats", NATIONAL)
    if row is None:
        return []
    if (
        pd.isna(row["repeat_share_lower"])
        or row["repeat_share_lower"] < national["repeat_share"] + t["repeat_share_gap"]
    ):
        return []
    return [
        make_finding(
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


@rule(
    "volume_rate",
    "volume",
    "episodes per 1,000 children",
    "rate funnel against England and Wales (99.8%)",
    compares=True,
)
def judge_volume_rate(evidence, t, code, name) -> list[dict]:
    row = evidence.row("funnel_volume", code)
    if row is None or row["band"] not in ("above_998", "below_998"):
        return []
    direction = "more" if row["band"] == "above_998" else "fewer"
    return [
        make_finding(
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
