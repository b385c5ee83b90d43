"""Rules on the force's response: categorisation, risk assessment, investigation, return and prevention,
repeat missing and volume.

Each rule is registered with :func:`toolkit.findings.rulebook.rule` and judges
one force from the prepared tables, writing one sentence with the figures,
interval and comparator filled in.
"""

from __future__ import annotations

import pandas as pd

from toolkit.findings.protection import HARM_C_STATISTIC
from toolkit.findings.rulebook import Threshold, describe_interval, group_share, make_finding, rule
from toolkit.forces import NATIONAL
from toolkit.stats.consistency import MIN_EPISODES
from toolkit.stats.intervals import proportion_interval
from toolkit.stats.practice import PRACTICE_MEASURES, REVIEW_DEADLINE_HOURS

__all__: list[str] = []  # nothing to call: the rules register themselves in the rulebook


@rule(
    "categorisation_flagged_absent",
    "categorisation",
    "share of episodes of children with exploitation flags given no active response ('absent', or graded no "
    "apparent risk)",
    "Wilson 95% interval against absolute standards (no_response_share_*) and the national 99.8% funnel limit; "
    "then the multilevel model's odds against the average force (flags and age only)",
    thresholds={
        "no_response_share_improve": Threshold(
            0.10,
            "area for improvement when even the 95% interval's lower end of the share of flagged children's "
            "episodes given no active response is above this",
        ),
        "no_response_share_concern": Threshold(
            0.25,
            "cause of concern when the interval's lower end is above this, or when above the improvement "
            "share and beyond England and Wales's 99.8% funnel limit",
        ),
        "absent_odds_good": Threshold(
            0.5, "good practice when the share is within the standard and the model's odds' upper end is below this"
        ),
    },
)
def judge_flagged_absent(evidence, t, code, name) -> list[dict]:
    row = evidence.row("practice", code, "flagged_no_active_response")
    if row is None or row["denominator"] < MIN_EPISODES:
        return []
    text = (
        f"{name} gave no active response (recorded 'absent', or graded no apparent risk) in {row['value']:.0%} of "
        f"the {int(row['denominator']):,} episodes of children with exploitation flags ({describe_interval(row)})."
    )
    model = (
        evidence.row("consistency_forces", code, "no_response_if_flagged") if "consistency_forces" in evidence else None
    )
    if model is not None and model["episodes"] >= MIN_EPISODES and row["band"] != "not_compared":
        text += (
            f" After their flags and age, its odds of no active response are {model['value']:.2f} times the average "
            f"force's ({describe_interval(model, '.2f', national=False)}); care status and earlier episodes are not "
            "adjusted for."
        )
    figures = {"comparator": None if row["band"] == "not_compared" else float(row["national"]), **group_share(row)}
    above_improve = row["lower"] > t["no_response_share_improve"]
    if row["lower"] > t["no_response_share_concern"] or (above_improve and row["band"] == "above_998"):
        return [
            make_finding(
                code,
                "categorisation_flagged_absent",
                "cause_of_concern",
                text,
                row,
                recommendation=f"{name} should give every child with exploitation flags an active response, "
                "review every such episode recorded 'absent' or graded no apparent risk in the last year, and "
                "audit categorisation monthly.",
                **figures,
            )
        ]
    if above_improve:
        return [make_finding(code, "categorisation_flagged_absent", "area_for_improvement", text, row, **figures)]
    if (
        model is not None
        and row["upper"] <= t["no_response_share_improve"]
        and model["upper"] <= t["absent_odds_good"]
        and row["band"] != "not_compared"
    ):
        return [make_finding(code, "categorisation_flagged_absent", "good_practice", text, row, **figures)]
    return []


def _does_not_discriminate(evidence, code, limit: float) -> bool:
    """Whether the force's first grades are shown not to tell apart the children who came to harm: the c-statistic's
    interval lies wholly below ``limit`` (``harm_discrimination``). A wide interval is no evidence either way."""
    if "harm_discrimination" not in evidence:
        return False
    row = evidence.row("harm_discrimination", code)
    return row is not None and pd.notna(row["upper"]) and row["upper"] < limit


# The measure behind an over-grading finding: the report draws its chart where a finding names it.
HIGH_GRADING_METRIC = (
    "odds of a high first grade for similar cases (every episode graded or recorded 'absent'), against the average "
    "force"
)


@rule(
    "risk_grading_out_of_line",
    "risk_assessment",
    "odds of a medium or high first grade for similar cases (every episode graded or recorded 'absent'), against "
    "the average force; for over-grading, the odds of a high first grade",
    "multilevel logistic models (medium or high; high), shrunken force estimates with 95% intervals; grading_odds_* "
    "thresholds; over-grading judged only where the grades do not discriminate harm (c-statistic)",
    thresholds={
        "grading_odds_under_concern": Threshold(
            0.5, "cause of concern when the interval's upper end is below this: children at risk graded too low"
        ),
        # Over-grading moves children from medium to high, so it is judged on the top grade alone: the share
        # graded medium or high barely changes. Published shares graded high run from 2% to 46% of reports.
        "grading_odds_high_over": Threshold(
            2.0,
            "grading high more than other forces when the interval's lower end of the odds of a high grade is "
            "above this",
        ),
        "harm_c_statistic_improve": HARM_C_STATISTIC,
    },
    compares=True,
)
def judge_risk_grading(evidence, t, code, name) -> list[dict]:
    row = evidence.row("consistency_forces", code, "risk_grading")
    if row is None or row["episodes"] < MIN_EPISODES:
        return []
    comparator = "average force in England and Wales, after case mix"
    if row["upper"] <= t["grading_odds_under_concern"]:
        odds = f"{row['value']:.2f} times the average force's ({describe_interval(row, '.2f', national=False)})"
        return [
            make_finding(
                code,
                "risk_grading_out_of_line",
                "cause_of_concern",
                f"{name} grades similar cases lower than other forces: its odds of a medium or high first grade "
                f"(counting 'absent' as no active response) are {odds} after adjustment for the children's risk "
                "factors, age, care status and history.",
                row,
                comparator,
                f"{name} should review how officers assess risk for missing children against national guidance, "
                "re-grade a sample of recent low-graded episodes with risk flags, and make supervisors check "
                "every first grade.",
            )
        ]
    high = evidence.row("consistency_forces", code, "high_grading")
    if high is None or high["lower"] < t["grading_odds_high_over"]:
        return []
    odds = f"{high['value']:.2f} times the average force's ({describe_interval(high, '.2f', national=False)})"
    statement = (
        f"{name} grades similar cases high more often than other forces: its odds of a high first grade are {odds} "
        "after adjustment for the children's risk factors, age, care status and history"
    )
    if _does_not_discriminate(evidence, code, t["harm_c_statistic_improve"]):
        return [
            make_finding(
                code,
                "risk_grading_out_of_line",
                "area_for_improvement",
                statement + "; and its first grades do not tell apart the children who came to harm (the "
                f"c-statistic's interval lies below {t['harm_c_statistic_improve']:.2f}).",
                high,
                comparator,
                metric=HIGH_GRADING_METRIC,
            )
        ]
    return [
        make_finding(
            code,
            "risk_grading_out_of_line",
            "observation",
            statement + ".",
            high,
            comparator,
            metric=HIGH_GRADING_METRIC,
        )
    ]


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


def _judge_practice_share(rule_id, measure, what, recommendation, concern_share=None, subject="In {name}", exempt=None):
    """A judge of one practice share: below the 99.8% funnel limit, and far below, and above.

    ``subject`` opens the sentence (a partnership finding names the force with its partners);
    ``exempt(code)`` gives why a force is not judged on the measure (an observation with its figure), or None.
    """

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
        opening = subject.format(name=name)
        reason = exempt(code) if exempt is not None else None
        if reason:
            statement = f"Not judged: {reason}. {opening}, {text}."
            return [make_finding(code, rule_id, "observation", statement, row, national, judged=False)]
        far_below = row["value"] < t["practice_concern_fraction"] * national
        too_low = concern_share is not None and row["value"] < t[concern_share]
        if row["band"] == "below_998" and (far_below or too_low):
            return [
                make_finding(
                    code,
                    rule_id,
                    "cause_of_concern",
                    f"{opening}, only {text}.",
                    row,
                    national,
                    recommendation.format(name=name, **t),
                    **group_share(row),
                )
            ]
        if row["band"] == "below_998":
            return [
                make_finding(
                    code, rule_id, "area_for_improvement", f"{opening}, {text}.", row, national, **group_share(row)
                )
            ]
        if row["band"] == "above_998":
            return [
                make_finding(code, rule_id, "good_practice", f"{opening}, {text}.", row, national, **group_share(row))
            ]
        return []

    return judge


def _welsh(code: str) -> str | None:
    """Why a Welsh force is not judged on return interviews, or None for a force in England."""
    if code.startswith("W"):
        return (
            "an independent return interview is a local authority's duty in England and is not statutory in Wales, "
            "so a Welsh force is not judged against it"
        )
    return None


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
    "share of returns (one per episode) followed by a prevention interview offered (completed, or declined by the "
    "child)",
    "proportion funnel against England and Wales (99.8%), practice_concern_fraction; returns in the 72 hours "
    "before the extract date are not yet due",
    thresholds={"practice_concern_fraction": _PRACTICE_CONCERN_FRACTION},
    support=PRACTICE_MEASURES["prevention_offered"].support,
    compares=True,
)(
    _judge_practice_share(
        "prevention_interviews",
        "prevention_offered",
        "returns (one per episode) were followed by a prevention interview offered to the child (completed, or "
        "declined by the child: a refusal is not counted as a failure)",
        "{name} should offer the child a prevention interview after every return and record its outcome.",
    )
)
rule(
    "return_interviews_72h",
    "return_and_prevention",
    "share of returns (one per episode) followed within 72 hours by an independent return interview (completed in "
    "time, or declined by the child), a partnership finding with the local authorities",
    "proportion funnel against England and Wales (99.8%), practice_concern_fraction; English forces only "
    "(not statutory in Wales); returns in the 72 hours before the extract date are not yet due",
    thresholds={"practice_concern_fraction": _PRACTICE_CONCERN_FRACTION},
    support=PRACTICE_MEASURES["return_offered_72h"].support,
    compares=True,
)(
    _judge_practice_share(
        "return_interviews_72h",
        "return_offered_72h",
        "returns (one per episode) were followed within 72 hours by an independent return interview, or the child "
        "declined one",
        "{name} and its local authorities should agree how a child is offered a return interview within 72 hours "
        "of every return, and share what children say with investigating officers.",
        subject="For {name} and its local authorities",
        exempt=_welsh,
    )
)


@rule(
    "long_durations",
    "investigation",
    "share of episodes ended by the child's return within 48 hours (Kaplan-Meier)",
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
    "share of episodes that were repeats (episodes beyond each child's first, over all episodes)",
    "Wilson 95% interval above England and Wales by repeat_share_gap (an observation: the data do not say why)",
    thresholds={
        "repeat_share_gap": Threshold(
            0.10,
            "observation when the share of episodes that were repeats is this far above England and Wales (interval)",
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
            "observation",
            f"Repeat episodes (each child's episodes after the first) make up {row['repeat_share']:.0%} of {name}'s "
            f"episodes (95% interval {row['repeat_share_lower']:.0%} to {row['repeat_share_upper']:.0%}; England and "
            f"Wales {national['repeat_share']:.0%}): more of its children go missing again than across England and "
            "Wales. The data do not say why.",
            None,
            float(national["repeat_share"]),
            value=float(row["repeat_share"]),
            lower=float(row["repeat_share_lower"]),
            upper=float(row["repeat_share_upper"]),
            numerator=int(row["repeat_episodes"]),
            denominator=int(row["episodes"]),
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


@rule(
    "repeat_desensitisation",
    "repeat_and_exploitation",
    "odds, per earlier episode of the same child in the extract, of a medium or high first grade and of no "
    "active response, within child",
    "conditional logistic regression within child (95% Wald interval, 99.8% band); desensitisation_odds_concern",
    thresholds={
        "desensitisation_odds_concern": Threshold(
            0.75,
            "cause of concern when the interval of the odds ratio per earlier episode of a medium or high grade "
            "lies below this (or, of no active response, above its reciprocal)",
        ),
    },
)
def judge_repeat_desensitisation(evidence, t, code, name) -> list[dict]:
    if "repeat_desensitisation" not in evidence:
        return []
    grade = evidence.row("repeat_desensitisation", code, "medium_or_high")
    response = evidence.row("repeat_desensitisation", code, "no_active_response")
    lower_graded = grade is not None and grade["band"] == "below_998"
    less_response = response is not None and response["band"] == "above_998"
    if not (lower_graded or less_response):
        return []
    concern = t["desensitisation_odds_concern"]
    row = grade if lower_graded else response
    parts = []
    if lower_graded:
        parts.append(
            f"each earlier episode multiplies a child's odds of a medium or high first grade by {grade['value']:.2f} "
            f"(95% interval {grade['lower']:.2f} to {grade['upper']:.2f})"
        )
    if less_response:
        parts.append(
            f"each earlier episode multiplies the odds of no active response by {response['value']:.2f} (95% interval "
            f"{response['lower']:.2f} to {response['upper']:.2f})"
        )
    text = (
        f"In {name}, children who go missing again are treated with less urgency each time: within the same child, "
        f"after the flags recorded and age, {' and '.join(parts)}. Earlier episodes are those in this extract; "
        "a change in the force's practice over the period would show the same way."
    )
    figures = {"value": float(row["value"]), "lower": float(row["lower"]), "upper": float(row["upper"])}
    figures |= {"numerator": None, "denominator": int(row["children"])}
    serious = (lower_graded and grade["upper"] < concern) or (less_response and response["lower"] > 1 / concern)
    if serious:
        return [
            make_finding(
                code,
                "repeat_desensitisation",
                "cause_of_concern",
                text,
                None,
                None,
                f"{name} should assess every episode of a repeatedly missing child afresh, with the child's history "
                "in front of the officer, and have supervisors check the grade of every repeat episode.",
                **figures,
            )
        ]
    return [make_finding(code, "repeat_desensitisation", "area_for_improvement", text, None, None, **figures)]


@rule(
    "frequently_missing",
    "repeat_and_exploitation",
    "share of the force's missing children who met the frequently-missing rule",
    "Wilson 95% intervals against England and Wales (an observation: the data do not say why)",
    compares=True,
)
def judge_frequently_missing(evidence, t, code, name) -> list[dict]:
    row, national = evidence.row("repeats", code), evidence.row("repeats", NATIONAL)
    if row is None or national is None or row["children"] < MIN_EPISODES:
        return []
    share = proportion_interval([row["frequently_missing"]], [row["children"]]).iloc[0]
    national_share = national["frequently_missing"] / national["children"] if national["children"] else float("nan")
    if not share["lower"] > national_share:
        return []
    text = (
        f"{share['value']:.0%} of {name}'s {int(row['children']):,} missing children met the frequently-missing rule "
        f"({row['rule']}; 95% interval {share['lower']:.0%} to {share['upper']:.0%}; England and Wales "
        f"{national_share:.0%}): more of its children go missing again and again than across England and Wales."
    )
    # How soon its children go missing again is in the report's repeats table, under disclosure control: a
    # share here, beside counts it does not rest on, could give a small count back.
    return [
        make_finding(
            code,
            "frequently_missing",
            "observation",
            text,
            None,
            national_share,
            value=float(share["value"]),
            lower=float(share["lower"]),
            upper=float(share["upper"]),
            numerator=int(row["frequently_missing"]),
            denominator=int(row["children"]),
        )
    ]
