"""Rules on the force's understanding of the problem: how far its own data can be trusted.

The inspection found force data unreliable and forces that did not understand
their own problem. These rules read the data-quality scorecard and what the
data can support (:mod:`toolkit.stats.quality`): weak completeness of a key
field, validity or timeliness is an area for improvement or, below the lower
threshold, a cause of concern with a recommendation; a measure the data
cannot support gets an explicit observation that it is not judged, and why. A force that
sent too few records is not judged on its data at all: a share of a handful of
records judges nothing and could identify a child.
"""

from __future__ import annotations

import pandas as pd

from toolkit.findings.rulebook import Threshold, make_finding, rule
from toolkit.forces import NATIONAL
from toolkit.stats.consistency import MIN_EPISODES
from toolkit.stats.quality import EXPECTED_WHERE, FIELD_LABELS, KEY_FIELDS, RECORDED_WHEN_DONE, TIMELINESS_DAYS

__all__: list[str] = []  # rules only: registered with the rulebook when imported

_MIN_RECORDS = Threshold(20, "fewer records than this: too few to judge a force's data quality")


def _judgeable(evidence, code: str, t: dict) -> pd.DataFrame | None:
    """The force's scorecard when it sent enough records to be judged on it, else None."""
    card = evidence.scorecard(code)
    if card is None or "completeness" not in card.index.get_level_values("dimension"):
        return None
    key = card.loc["completeness"].reindex(list(KEY_FIELDS))
    return card if key["denominator"].max() >= t["min_records"] else None


def _national(evidence, dimension: str, measure: str) -> float:
    return float(evidence.scorecard(NATIONAL).loc[(dimension, measure), "value"])


@rule(
    "dq_too_few_records",
    "understanding",
    "records received from the force",
    "fewer than min_records records where a key field is expected: data quality not judged",
    thresholds={"min_records": _MIN_RECORDS},
)
def judge_too_few_records(evidence, t, code, name) -> list[dict]:
    if evidence.scorecard(code) is None or _judgeable(evidence, code, t) is not None:
        return []
    return [
        make_finding(
            code,
            "dq_too_few_records",
            "observation",
            f"{name} sent too few records (under {t['min_records']:g}) for its data quality to be judged.",
        )
    ]


@rule(
    "dq_completeness_key_fields",
    "understanding",
    "episodes with a key field recorded, where it is expected (the force's least complete key field)",
    "share against completeness_improve and completeness_concern, Wilson 95% interval",
    thresholds={
        "min_records": _MIN_RECORDS,
        "completeness_improve": Threshold(0.90, "a key field recorded in under this share: area for improvement"),
        "completeness_concern": Threshold(0.70, "a key field recorded in under this share: cause of concern"),
    },
)
def judge_key_field_completeness(evidence, t, code, name) -> list[dict]:
    card = _judgeable(evidence, code, t)
    if card is None:
        return []
    key = card.loc["completeness"].loc[list(KEY_FIELDS)]
    worst = key["value"].idxmin()
    row = key.loc[worst]
    comparator = _national(evidence, "completeness", worst)
    figures = f"(95% interval {row['lower']:.0%} to {row['upper']:.0%}; England and Wales {comparator:.0%})"
    field = FIELD_LABELS[worst]
    where = EXPECTED_WHERE.get(worst, "clean episodes")
    metric = f"{where} with {field} recorded"
    if row["value"] < t["completeness_concern"]:
        return [
            make_finding(
                code,
                "dq_completeness_key_fields",
                "cause_of_concern",
                f"{name} records {field} in only {row['value']:.0%} of its {where} {figures}.",
                row,
                comparator,
                f"{name} should make {field} a mandatory field and audit its recording, so that its "
                "response to missing children can be measured.",
                metric=metric,
            )
        ]
    if row["value"] < t["completeness_improve"]:
        return [
            make_finding(
                code,
                "dq_completeness_key_fields",
                "area_for_improvement",
                f"{name} records {field} in {row['value']:.0%} of its {where} {figures}.",
                row,
                comparator,
                metric=metric,
            )
        ]
    return []


def _judge_share(rule_id: str, dimension: str, measure: str, what: str, improve: str, concern: str):
    """A judge of one scorecard share against an improvement and a concern threshold."""

    def judge(evidence, t, code, name) -> list[dict]:
        card = _judgeable(evidence, code, t)
        if card is None or (dimension, measure) not in card.index:
            return []
        row = card.loc[(dimension, measure)]
        if pd.isna(row["value"]):
            return []
        comparator = _national(evidence, dimension, measure)
        text = (
            f"{name}: {row['value']:.0%} of {what} (95% interval {row['lower']:.0%} to {row['upper']:.0%}; "
            f"England and Wales {comparator:.0%})."
        )
        if row["value"] < t[concern]:
            recommendation = (
                f"{name} should review how its system records {what.split(' with ')[0]} and correct the records."
            )
            return [make_finding(code, rule_id, "cause_of_concern", text, row, comparator, recommendation, metric=what)]
        if row["value"] < t[improve]:
            return [make_finding(code, rule_id, "area_for_improvement", text, row, comparator, metric=what)]
        return []

    return judge


rule(
    "dq_validity",
    "understanding",
    "rows free of invalid values",
    "share against validity_improve and validity_concern, Wilson 95% interval",
    thresholds={
        "min_records": _MIN_RECORDS,
        "validity_improve": Threshold(0.98, "rows without invalid values under this share: area for improvement"),
        "validity_concern": Threshold(0.90, "rows without invalid values under this share: cause of concern"),
    },
)(
    _judge_share(
        "dq_validity",
        "validity",
        "rows without invalid values",
        "rows free of invalid values",
        "validity_improve",
        "validity_concern",
    )
)
rule(
    "dq_timeliness",
    "understanding",
    f"episodes over {TIMELINESS_DAYS} days old with the child's return recorded",
    "share against timeliness_improve and timeliness_concern, Wilson 95% interval",
    thresholds={
        "min_records": _MIN_RECORDS,
        "timeliness_improve": Threshold(
            0.95,
            f"episodes {TIMELINESS_DAYS}+ days old with their return recorded under this share: area for improvement",
        ),
        "timeliness_concern": Threshold(
            0.80, f"episodes {TIMELINESS_DAYS}+ days old with their return recorded under this share: cause of concern"
        ),
    },
)(
    _judge_share(
        "dq_timeliness",
        "timeliness",
        "returns recorded",
        f"episodes over {TIMELINESS_DAYS} days old with the child's return recorded",
        "timeliness_improve",
        "timeliness_concern",
    )
)


@rule(
    "dq_insufficient_data",
    "understanding",
    "records supporting a published measure",
    "share of episodes with the fields the measure needs, against support_sufficient",
    thresholds={
        "support_sufficient": Threshold(
            0.70, "a measure is reported only where at least this share of episodes records what it needs"
        ),
    },
)
def judge_insufficient_data(evidence, t, code, name) -> list[dict]:
    support = evidence.force_rows("support", code)
    # Judged against the threshold given, which is the one the run's support table was marked with; a measure
    # recorded when done is supported by any record (a blank is an event that did not happen).
    when_done = support["metric"].isin(RECORDED_WHEN_DONE)
    short = (~(support["value"] >= t["support_sufficient"])).where(~when_done, ~support["sufficient"].astype(bool))
    rows = support[short]
    findings = []
    for _, row in rows.iterrows():
        what, needs, label = row["description"], row["needs"], row["denominator_label"]
        if row["denominator"] == 0:
            statement = f"{name} has no {label}, so the measure of {what} is not judged."
        elif row["metric"] in RECORDED_WHEN_DONE:
            statement = (
                f"None of {name}'s {label} record {needs}, so one not done cannot be told from one not recorded, "
                f"and the measure of {what} is not judged."
            )
        else:
            statement = (
                f"Only {row['value']:.0%} of {name}'s {label} record {needs} (at least "
                f"{t['support_sufficient']:.0%} needed), so the measure of {what} is not judged."
            )
        metric = f"share of {label} recording {needs}"
        findings.append(
            make_finding(code, "dq_insufficient_data", "observation", statement, row, metric=metric, judged=False)
        )
    return findings


# What a profile beyond England and Wales's 99.8% limit tells a force about its own area, by measure, category
# and direction: facts to plan by, not judgements of practice (the data do not say why).
PROFILE_SIGNALS = (
    (
        "weekend_night",
        "residential_care",
        "above_998",
        "episodes of children missing from residential care are reported late on Friday and Saturday nights more "
        "often than across England and Wales: a pattern to plan who is on duty by",
    ),
    (
        "exploitation",
        "cse",
        "below_998",
        "fewer of its episodes record a child sexual exploitation flag than across England and Wales: the risk may "
        "be under-identified, or less common",
    ),
    (
        "exploitation",
        "cce",
        "below_998",
        "fewer of its episodes record a child criminal exploitation flag than across England and Wales: the risk "
        "may be under-identified, or less common",
    ),
    (
        "last_seen_delay",
        "over_24h",
        "above_998",
        "more of its children are reported over 24 hours after they were last seen than across England and Wales",
    ),
    ("harm", "harmed", "above_998", "more of its children come to harm while missing than across England and Wales"),
)


@rule(
    "profile_out_of_line",
    "understanding",
    "shares of the problem profile (late weekend nights from residential care, exploitation flags, reports over a "
    "day after last seen, harm) against England and Wales",
    "Wilson 95% interval beyond England and Wales's 99.8% funnel limit (an observation: the data do not say why)",
    compares=True,
)
def judge_profile(evidence, t, code, name) -> list[dict]:
    if "profile_shares" not in evidence:
        return []
    shares = evidence.force_rows("profile_shares", code)
    findings = []
    for measure, category, band, meaning in PROFILE_SIGNALS:
        rows = shares[(shares["measure"] == measure) & (shares["category"] == category)]
        if rows.empty or rows["band"].iloc[0] != band:
            continue
        row = rows.iloc[0]
        # Its counts sit inside other published profile counts (weekend nights from residential care within all
        # weekend nights), whose differences the report's own disclosure control watches: the finding gives the
        # share alone, and only where neither it nor its complement rests on fewer than MIN_EPISODES episodes.
        if min(row["numerator"], row["denominator"] - row["numerator"]) < MIN_EPISODES:
            continue
        statement = (
            f"In {name}, {meaning}: {row['value']:.0%} (95% interval {row['lower']:.0%} to {row['upper']:.0%}; "
            f"England and Wales {row['national']:.0%}; {row['definition']})."
        )
        findings.append(
            make_finding(
                code,
                "profile_out_of_line",
                "observation",
                statement,
                None,
                float(row["national"]),
                metric=f"profile: {row['definition']}",
                value=float(row["value"]),
                lower=float(row["lower"]),
                upper=float(row["upper"]),
            )
        )
    return findings
