"""How reliable each force's data is: a data-quality scorecard, what it can support, findings.

The inspection found force data unreliable and forces that did not understand
their own problem. :func:`score_data_quality` measures, per force and for
England and Wales, from the cleaning result:

- **completeness** of each optional column (recorded, not blank or ``unknown``);
- **validity**: rows with no invalid value (not quarantined for one, no value corrected);
- **consistency**: rows whose dates and codes agree with each other;
- **uniqueness**: rows that are not duplicates;
- **timeliness**: episodes reported 28 days or more before the extract whose
  return has been recorded (a return left unrecorded makes every duration wrong).

:func:`assess_metric_support` says what share of episodes can support each
measure the reports publish, and :func:`find_data_quality_issues` turns both
into findings in the inspection's vocabulary (area ``understanding``), with
the thresholds in :data:`QUALITY_THRESHOLDS`. Every share has a Wilson 95% interval.
"""

from __future__ import annotations

import pandas as pd

from toolkit.clean import CleanResult
from toolkit.forces import get_force, read_forces_table
from toolkit.intervals import proportion_interval
from toolkit.schema import COLUMNS
from toolkit.summary import NATIONAL

__all__ = [
    "QUALITY_THRESHOLDS",
    "METRIC_REQUIREMENTS",
    "score_data_quality",
    "assess_metric_support",
    "find_data_quality_issues",
    "support_statement",
    "summarise_cleaning",
]

# One place for every threshold a data-quality finding uses (shares from 0 to 1).
QUALITY_THRESHOLDS = {
    "support_sufficient": 0.70,  # a measure needs its fields in at least this share of episodes
    "completeness_improve": 0.90,  # key fields below this: area for improvement
    "completeness_concern": 0.70,  # key fields below this: cause of concern
    "validity_improve": 0.98,  # rows without invalid values below this: area for improvement
    "validity_concern": 0.90,
    "timeliness_improve": 0.95,  # old episodes with their return recorded
    "timeliness_concern": 0.80,
    "timeliness_days": 28,
    "min_records": 20,  # fewer records than this: too few to judge a force's data quality
}
KEY_FIELDS = ("returned_at", "looked_after", "risk_final", "supervisor_review_at", "return_interview", "officer_id")

_VALIDITY = {"bad_date", "bad_age", "age_out_of_range", "bad_code", "missing_required", "unknown_force"}
_CONSISTENCY = {"after_extract_date", "returned_before_reported", "absent_with_risk_grade", "overlaps_episode"}
_UNIQUENESS = {"duplicate_episode_id", "near_duplicate"}
_VALUE_FIXES = {"unrecognised_code", "unrecognised_risk_factor", "unparseable_date"}
_ORDER_FIXES = {"date_after_extract", "last_seen_after_reported"}


# Where a field is expected to be recorded (completeness is measured there), and how to say so.
def _returned_before(e: pd.DataFrame, cutoff: pd.Timestamp) -> pd.Series:
    return e["returned_at"].notna() & (e["returned_at"] <= cutoff)


_EXPECTED = {
    "returned_at": (lambda e, c: e["reported_at"] <= c, "episodes reported 28+ days before the extract"),
    "supervisor_review_at": (lambda e, c: e["category"] == "missing", "episodes categorised missing"),
    "found_by": (lambda e, c: e["returned_at"].notna(), "episodes with a return"),
    "harm": (lambda e, c: e["returned_at"].notna(), "episodes with a return"),
    "prevention_interview": (_returned_before, "episodes returned 28+ days before the extract"),
    "return_interview": (_returned_before, "episodes returned 28+ days before the extract"),
    "prevention_interview_at": (
        lambda e, c: e["prevention_interview"] == "completed",
        "completed prevention interviews",
    ),
    "return_interview_at": (lambda e, c: e["return_interview"] == "completed", "completed return interviews"),
}

# Measure -> (what it is, a function of the clean table giving which episodes support it).
METRIC_REQUIREMENTS = {
    "volume": ("episodes, children and rates", lambda e: pd.Series(True, index=e.index)),
    "time_to_return": ("time to return (needs returned_at)", lambda e: e["returned_at"].notna()),
    "risk_consistency": (
        "consistency of risk grading between officers (needs officer_id and looked_after)",
        lambda e: _known(e["officer_id"]) & _known(e["looked_after"]),
    ),
    "supervision": ("supervisory review (needs supervisor_review_at)", lambda e: e["supervisor_review_at"].notna()),
    "return_interviews": (
        "return interviews within 72 hours (needs returned_at and return_interview)",
        lambda e: e["returned_at"].notna() & _known(e["return_interview"]),
    ),
    "prevention_interviews": (
        "prevention interviews (needs returned_at and prevention_interview)",
        lambda e: e["returned_at"].notna() & _known(e["prevention_interview"]),
    ),
    "harm": ("harm while missing (needs harm)", lambda e: _known(e["harm"])),
}


def _known(values: pd.Series) -> pd.Series:
    text = values.astype("string")
    return text.notna() & (text != "") & (text != "unknown")


def _row_forces(result: CleanResult) -> pd.DataFrame:
    """Every input row with the force it belongs to and what happened to it.

    A quarantined row belongs to its force where its code is a known force;
    otherwise (an unknown or missing code) to no force, and it counts only
    nationally. A merged duplicate belongs to the force of the row it repeats.
    """
    codes = set(read_forces_table().index)
    quarantine = result.quarantine
    rows = [
        pd.DataFrame(
            {
                "source_row": result.clean["source_row"].to_numpy(),
                "force_code": result.clean["force_code"].astype(str).to_numpy(),
                "outcome": "clean",
            }
        ),
        pd.DataFrame(
            {
                "source_row": quarantine["source_row"].to_numpy(),
                "force_code": quarantine["force_code"].where(quarantine["force_code"].isin(codes), "").to_numpy(),
                "outcome": quarantine["all_reasons"].to_numpy(),
            }
        ),
    ]
    if len(result.merged):
        kept = pd.concat(rows).set_index("source_row")["force_code"]
        rows.append(
            pd.DataFrame(
                {
                    "source_row": result.merged["source_row"].to_numpy(),
                    "force_code": result.merged["kept_row"].map(kept).fillna("").to_numpy(),
                    "outcome": "merged",
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _share_rows(frame: pd.DataFrame, dimension: str, measure: str, good: pd.Series, method: str) -> pd.DataFrame:
    grouped = pd.DataFrame({"force_code": frame["force_code"], "good": good.astype(bool)})
    by_force = grouped.groupby("force_code")["good"].agg(["sum", "size"])
    by_force = by_force[by_force.index != ""]
    by_force.loc[NATIONAL] = [grouped["good"].sum(), len(grouped)]
    ci = proportion_interval(by_force["sum"], by_force["size"])
    return pd.DataFrame(
        {
            "force_code": by_force.index,
            "dimension": dimension,
            "measure": measure,
            "value": ci["value"].to_numpy(),
            "lower": ci["lower"].to_numpy(),
            "upper": ci["upper"].to_numpy(),
            "numerator": by_force["sum"].to_numpy(),
            "denominator": by_force["size"].to_numpy(),
            "unit": "share",
            "method": method,
        }
    )


def score_data_quality(result: CleanResult, extract_date) -> pd.DataFrame:
    """The data-quality scorecard of every force and of England and Wales.

    Parameters
    ----------
    result : CleanResult
        The outcome of cleaning the extract.
    extract_date : date or str

    Returns
    -------
    pandas.DataFrame
        Tidy: ``force_code`` (or ``england_and_wales``), ``dimension``
        (completeness, validity, consistency, uniqueness, timeliness),
        ``measure``, ``value`` (a share), ``lower`` and ``upper`` (Wilson 95%),
        ``numerator``, ``denominator``, ``unit``, ``method``.
    """
    rows = _row_forces(result)
    outcome = rows["outcome"]
    changes = result.changes

    def has(reasons: set[str]) -> pd.Series:
        return outcome.str.contains(r"(?:^|;)(?:" + "|".join(sorted(reasons)) + r")(?:;|$)", regex=True)

    def fixed(rules: set[str]) -> pd.Series:
        return rows["source_row"].isin(changes.loc[changes["rule"].isin(rules), "source_row"])

    parts = [
        _share_rows(
            rows,
            "validity",
            "rows without invalid values",
            ~has(_VALIDITY) & ~fixed(_VALUE_FIXES),
            "rows received, less those quarantined or corrected for an invalid value; Wilson 95%",
        ),
        _share_rows(
            rows,
            "consistency",
            "rows whose dates and codes agree",
            ~has(_CONSISTENCY) & ~fixed(_ORDER_FIXES),
            "rows received, less those with events out of order, overlapping, or absent but graded; Wilson 95%",
        ),
        _share_rows(
            rows,
            "uniqueness",
            "rows that are not duplicates",
            ~has(_UNIQUENESS) & (outcome != "merged"),
            "rows received, less exact and near duplicates; Wilson 95%",
        ),
    ]
    clean = result.clean.assign(force_code=result.clean["force_code"].astype(str))
    cutoff = pd.Timestamp(extract_date) - pd.Timedelta(days=QUALITY_THRESHOLDS["timeliness_days"])
    for column in COLUMNS:
        if COLUMNS[column] or column == "risk_factors":  # a blank risk-factor list means none known
            continue
        expected, where = _EXPECTED.get(column, (lambda e, c: pd.Series(True, index=e.index), "clean episodes"))
        applicable = clean[expected(clean, cutoff)]
        parts.append(
            _share_rows(
                applicable,
                "completeness",
                column,
                _known(applicable[column]),
                f"{where} with {column} recorded (not blank or unknown); Wilson 95%",
            )
        )
    old = clean[clean["reported_at"] <= cutoff]
    parts.append(
        _share_rows(
            old,
            "timeliness",
            "returns recorded",
            old["returned_at"].notna(),
            f"episodes reported {QUALITY_THRESHOLDS['timeliness_days']}+ days before the extract "
            "with their return recorded; Wilson 95%",
        )
    )
    return pd.concat(parts, ignore_index=True)


def assess_metric_support(clean: pd.DataFrame) -> pd.DataFrame:
    """What share of each force's episodes can support each published measure.

    Returns
    -------
    pandas.DataFrame
        ``force_code``, ``metric``, ``description``, ``value`` (share),
        ``numerator``, ``denominator``, ``sufficient`` (share at least
        ``QUALITY_THRESHOLDS["support_sufficient"]``).
    """
    frame = clean.assign(force_code=clean["force_code"].astype(str))
    parts = []
    for metric, (description, supports) in METRIC_REQUIREMENTS.items():
        part = _share_rows(frame, "support", metric, supports(frame), f"episodes with the fields {description}")
        part["description"] = description
        parts.append(part)
    table = pd.concat(parts, ignore_index=True).rename(columns={"measure": "metric"})
    table["sufficient"] = table["value"] >= QUALITY_THRESHOLDS["support_sufficient"]
    return table[
        ["force_code", "metric", "description", "value", "lower", "upper", "numerator", "denominator", "sufficient"]
    ]


def _finding(force_code, judgement, rule, statement, row, recommendation=None, metric=None) -> dict:
    finding = {
        "force_code": force_code,
        "area": "understanding",
        "judgement": judgement,
        "rule": rule,
        "metric": metric,
        "statement": statement,
        "value": None if row is None else float(row["value"]),
        "lower": None if row is None else float(row["lower"]),
        "upper": None if row is None else float(row["upper"]),
        "numerator": None if row is None else int(row["numerator"]),
        "denominator": None if row is None else int(row["denominator"]),
        "comparator": None,
    }
    if recommendation:
        finding["recommendation"] = recommendation
    return finding


def find_data_quality_issues(scorecard: pd.DataFrame, support: pd.DataFrame) -> list[dict]:
    """Findings on data quality for every force, from the thresholds in :data:`QUALITY_THRESHOLDS`.

    A measure a force's data cannot support gets an explicit "insufficient
    data" observation; weak completeness, validity or timeliness become an
    area for improvement or, below the lower threshold, a cause of concern
    with a recommendation.
    """
    t = QUALITY_THRESHOLDS
    findings = []
    national = scorecard[scorecard["force_code"] == NATIONAL].set_index(["dimension", "measure"])["value"]
    for code, card in scorecard[scorecard["force_code"] != NATIONAL].groupby("force_code"):
        name = get_force(code).name
        card = card.set_index(["dimension", "measure"])
        key = card.loc["completeness"].loc[list(KEY_FIELDS)]
        if not key["denominator"].max() >= t["min_records"]:
            # A share of a handful of records judges nothing and could identify a child.
            findings.append(
                _finding(
                    code,
                    "observation",
                    "dq_too_few_records",
                    f"{name} sent too few records (under {t['min_records']}) for its data quality to be judged.",
                    None,
                )
            )
            continue
        worst = key["value"].idxmin()
        row = key.loc[worst]
        comparator = float(national[("completeness", worst)])
        if row["value"] < t["completeness_concern"]:
            f = _finding(
                code,
                "cause_of_concern",
                "dq_completeness_key_fields",
                f"{name} records {worst} in only {row['value']:.0%} of episodes "
                f"(95% CI {row['lower']:.0%} to {row['upper']:.0%}; England and Wales {comparator:.0%}).",
                row,
                f"{name} should make {worst} a mandatory field and audit its recording, so that its "
                "response to missing children can be measured.",
                metric=f"episodes with {worst} recorded",
            )
            findings.append({**f, "comparator": comparator})
        elif row["value"] < t["completeness_improve"]:
            f = _finding(
                code,
                "area_for_improvement",
                "dq_completeness_key_fields",
                f"{name} records {worst} in {row['value']:.0%} of episodes "
                f"(95% CI {row['lower']:.0%} to {row['upper']:.0%}; England and Wales {comparator:.0%}).",
                row,
                metric=f"episodes with {worst} recorded",
            )
            findings.append({**f, "comparator": comparator})
        for dimension, measure, improve, concern, what in (
            (
                "validity",
                "rows without invalid values",
                "validity_improve",
                "validity_concern",
                "rows free of invalid values",
            ),
            (
                "timeliness",
                "returns recorded",
                "timeliness_improve",
                "timeliness_concern",
                f"episodes over {t['timeliness_days']} days old with the child's return recorded",
            ),
        ):
            if (dimension, measure) not in card.index:
                continue
            row = card.loc[(dimension, measure)]
            if pd.isna(row["value"]):
                continue
            comparator = float(national[(dimension, measure)])
            text = (
                f"{name}: {row['value']:.0%} of {what} (95% CI {row['lower']:.0%} to {row['upper']:.0%}; "
                f"England and Wales {comparator:.0%})."
            )
            if row["value"] < t[concern]:
                f = _finding(
                    code,
                    "cause_of_concern",
                    f"dq_{dimension}",
                    text,
                    row,
                    f"{name} should review how its system records {what.split(' with ')[0]} and correct the records.",
                    metric=what,
                )
                findings.append({**f, "comparator": comparator})
            elif row["value"] < t[improve]:
                findings.append(
                    {
                        **_finding(code, "area_for_improvement", f"dq_{dimension}", text, row, metric=what),
                        "comparator": comparator,
                    }
                )
    for _, row in support[(support["force_code"] != NATIONAL) & ~support["sufficient"]].iterrows():
        name = get_force(row["force_code"]).name
        findings.append(
            _finding(
                row["force_code"],
                "observation",
                "dq_insufficient_data",
                f"Insufficient data: {name}'s records support the measure of {row['description']} for only "
                f"{row['value']:.0%} of episodes (at least {t['support_sufficient']:.0%} needed), "
                "so it is not reported.",
                row,
                metric=f"records supporting the measure of {row['description']}",
            )
        )
    return findings


def support_statement(support: pd.DataFrame, force_code: str, metric: str) -> str | None:
    """The 'insufficient data' sentence for one force and measure, or None when the data suffice."""
    row = support[(support["force_code"] == force_code) & (support["metric"] == metric)]
    if row.empty or bool(row["sufficient"].iloc[0]):
        return None
    share = float(row["value"].iloc[0])
    return (
        f"Insufficient data: only {share:.0%} of this force's episodes record what the measure of "
        f"{row['description'].iloc[0]} needs."
    )


def summarise_cleaning(result: CleanResult) -> pd.DataFrame:
    """Rows received per force and what became of them: clean, merged, or quarantined (by reason).

    Returns
    -------
    pandas.DataFrame
        ``force_code`` (``""`` for rows with no known force; ``england_and_wales``
        for all rows), ``outcome`` and ``rows``.
    """
    rows = _row_forces(result)
    primary = rows["outcome"].str.split(";").str[0]
    outcome = primary.where(primary.isin(["clean", "merged"]), "quarantined: " + primary)
    table = pd.DataFrame({"force_code": rows["force_code"], "outcome": outcome})
    by_force = table.value_counts(["force_code", "outcome"]).rename("rows").reset_index()
    national = table["outcome"].value_counts().rename("rows").reset_index().assign(force_code=NATIONAL)
    return pd.concat([by_force, national], ignore_index=True)[["force_code", "outcome", "rows"]]
