"""How reliable each force's data is: a data-quality scorecard and what it can support.

The inspection found force data unreliable and forces that did not understand
their own problem. :func:`score_data_quality` measures, per force and for
England and Wales, from the cleaning result:

- **completeness** of each optional column (recorded, not blank or ``unknown``);
- **validity**: rows with no invalid value (not quarantined for one, no value corrected), and
  episodes dated within the extract's period (:func:`find_period_start`: one reported years before
  every other is most likely a mistyped year);
- **consistency**: rows whose dates and codes agree with each other;
- **uniqueness**: rows that are not duplicates;
- **timeliness**: episodes reported 28 days or more before the extract whose
  return has been recorded (a return left unrecorded makes every duration wrong).

:func:`assess_metric_support` says what share of episodes can support each
measure the reports publish. Every share has a Wilson 95% interval. The rules
that judge these figures are in :mod:`toolkit.findings.understanding`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from toolkit.dates import ExtractDate
from toolkit.forces import NATIONAL, read_forces_table
from toolkit.ingest.schema import COLUMNS, LINKAGE_COLUMNS, cast_to_text
from toolkit.stats.intervals import proportion_interval

if TYPE_CHECKING:  # for annotations only: the cleaning's imports (pandera) stay out of a report's kernel
    from toolkit.ingest.clean import CleanResult

__all__ = [
    "METRIC_REQUIREMENTS",
    "RECORDED_WHEN_DONE",
    "score_data_quality",
    "assess_metric_support",
    "KEY_FIELDS",
    "FIELD_LABELS",
    "EXPECTED_WHERE",
    "TIMELINESS_DAYS",
    "STRAY_YEARS",
    "find_period_start",
    "summarise_cleaning",
]

# An episode this many days before the extract should have its return (and its interviews) recorded.
TIMELINESS_DAYS = 28
# Reports that pause for longer than this many years, nationally, are not one extract's period: what came
# before the pause is implausibly early (a 2014 for a 2024), however valid each date is on its own.
STRAY_YEARS = 2
# The review time is not among them: a force that records reviews at all records them when they happen, so a
# blank is a review not done (the supervision measure), not a gap in the record.
KEY_FIELDS = ("returned_at", "looked_after", "risk_final", "return_interview", "officer_id")
# Each optional field of the contract in plain words, for every sentence and table a reader sees.
FIELD_LABELS = {
    "last_seen_at": "the time last seen",
    "returned_at": "the time of return",
    "sex": "the child's sex",
    "ethnicity": "the child's ethnicity",
    "looked_after": "whether the child is looked after",
    "missing_from": "where the child went missing from",
    "risk_final": "the final risk grade",
    "supervisor_review_at": "the time of the supervisor's review",
    "risk_factors": "the child's risk factors",
    "found_by": "who found the child",
    "harm": "whether the child came to harm",
    "prevention_interview": "the prevention interview's outcome",
    "prevention_interview_at": "the time of the prevention interview",
    "return_interview": "the return interview's outcome",
    "return_interview_at": "the time of the return interview",
    "officer_id": "the grading officer",
}

_VALIDITY = {"bad_date", "bad_age", "age_out_of_range", "bad_code", "missing_required", "unknown_force", "id_too_long"}
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
# Which episodes each field is expected in, by name: the denominator of its completeness.
EXPECTED_WHERE = {field: where for field, (_, where) in _EXPECTED.items()}

# Measure -> (what it is and what it needs, in plain words; the fields it needs). A measure's support is the
# share of the episodes where its first field is expected (as its completeness is scored, with the same
# denominator) that record every field it needs: the scorecard and the support list never give two shares
# for one field.
METRIC_REQUIREMENTS = {
    "volume": ("episodes, children and rates", "a force code", ()),
    "time_to_return": ("time to return", "the time of return", ("returned_at",)),
    "risk_consistency": (
        "consistency of risk grading between officers",
        "the grading officer and the child's care status",
        ("officer_id", "looked_after"),
    ),
    "supervision": ("supervisory review", "the time of the supervisor's review", ("supervisor_review_at",)),
    "return_interviews": (
        "return interviews within 72 hours",
        "the return interview's outcome",
        ("return_interview",),
    ),
    "prevention_interviews": (
        "prevention interviews",
        "the prevention interview's outcome",
        ("prevention_interview",),
    ),
    "harm": ("harm while missing", "whether the child came to harm", ("harm",)),
}
# Measures whose field a force records when the event happens, if it records it at all: once a force
# records any, a blank is an event that did not happen (a review not recorded is a review not done), so
# the measure is supported by any record rather than by a share of them. With none, a review not done
# cannot be told from one not recorded.
RECORDED_WHEN_DONE = frozenset({"supervision"})


def _expected_for(field: str | None, cutoff: pd.Timestamp):
    """Which episodes should record ``field``, and how to name them (the denominator of its completeness)."""
    if field is None or field not in _EXPECTED:
        return (lambda e, c: pd.Series(True, index=e.index)), "clean episodes"
    return _EXPECTED[field]


def _known(values: pd.Series) -> pd.Series:
    text = cast_to_text(values)
    return text.notna() & (text != "") & (text != "unknown")


def find_period_start(reported: pd.Series) -> pd.Timestamp:
    """When the extract's period starts: the first report after the last pause of over :data:`STRAY_YEARS`.

    An extract covers a run of months in which reports never stop for years. An episode before a
    pause of more than :data:`STRAY_YEARS` (nationally) is therefore at least that long before the
    period starts: implausibly early, and left out of the period the trends are fitted to. An
    extract of several years with no such pause keeps them all.

    Parameters
    ----------
    reported : pandas.Series of Timestamp
        When each episode was reported (of every force).

    Returns
    -------
    pandas.Timestamp
        The first report of the period; ``NaT`` when there is none.

    Examples
    --------
    >>> reported = pd.to_datetime(pd.Series(["2024-03-01", "2014-05-01", "2024-01-09", "2022-12-01"]))
    >>> find_period_start(reported)
    Timestamp('2022-12-01 00:00:00')
    >>> find_period_start(reported.iloc[:3]), find_period_start(reported.iloc[:0])
    (Timestamp('2024-01-09 00:00:00'), NaT)
    """
    times = np.sort(pd.to_datetime(reported).dropna().to_numpy())
    if len(times) == 0:
        return pd.NaT
    after_pause = np.flatnonzero(np.diff(times) > pd.Timedelta(days=365.25 * STRAY_YEARS).to_timedelta64())
    return pd.Timestamp(times[after_pause[-1] + 1] if len(after_pause) else times[0])


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
                "force_code": result.clean["force_code"].astype(str).array,
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


def _share_rows(
    frame: pd.DataFrame,
    dimension: str,
    measure: str,
    good: pd.Series,
    method: str,
    forces=(),
    over: str = "episodes",
) -> pd.DataFrame:
    """One share per force of ``frame`` and of ``forces``, and nationally, with its Wilson interval.

    A force of ``forces`` with no row in ``frame`` (none of its episodes is one the measure is taken
    over) is listed with 0 of 0, its value missing and its method saying why: it has no ``over``.

    Examples
    --------
    >>> f = pd.DataFrame({"force_code": ["E23000001", "E23000001"]})
    >>> t = _share_rows(f, "d", "m", pd.Series([True, False]), "share", ["E23000014"], "returned episodes")
    >>> t[["force_code", "numerator", "denominator", "method"]].to_numpy().tolist()
    [['E23000001', 1, 2, 'share'], ['E23000014', 0, 0, 'not measured: no returned episodes'], \
['england_and_wales', 1, 2, 'share']]
    """
    grouped = pd.DataFrame({"force_code": frame["force_code"], "good": good.astype(bool)})
    by_force = grouped.groupby("force_code")["good"].agg(["sum", "size"])
    listed = sorted(set(by_force.index) | set(forces))
    by_force = by_force.reindex(listed, fill_value=0)
    by_force = by_force[by_force.index != ""]
    by_force.loc[NATIONAL] = [grouped["good"].sum(), len(grouped)]
    ci = proportion_interval(by_force["sum"], by_force["size"])
    # A share of nothing is no figure: the row says why instead (a 0 of 0 the reader sees as "-").
    methods = pd.Series(method, index=by_force.index).where(by_force["size"] > 0, f"not measured: no {over}")
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
            "method": methods.to_numpy(),
        }
    )


def score_data_quality(result: CleanResult, extract_date: ExtractDate | date | str) -> pd.DataFrame:
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
    # Every force that sent a row has every measure, even one taken over episodes it has none of (a force
    # with no 'missing' episode has no supervisory reviews to record): 0 of 0, saying so.
    forces = sorted(set(rows["force_code"]) - {""})
    cutoff = ExtractDate.parse(extract_date).before(days=TIMELINESS_DAYS)  # as every cut-off: from its end
    for column in COLUMNS:
        # A blank risk-factor list means none known; the linkage columns (contract version 2) are for linking
        # children across forces, not a part of the force's record of the episode, and are not scored.
        if COLUMNS[column] or column == "risk_factors" or column in LINKAGE_COLUMNS:
            continue
        expected, where = _expected_for(column, cutoff)
        applicable = clean[expected(clean, cutoff).fillna(False).astype(bool)]
        parts.append(
            _share_rows(
                applicable,
                "completeness",
                column,
                _known(applicable[column]),
                f"{where} with {column} recorded (not blank or unknown); Wilson 95%",
                forces,
                where,
            )
        )
    start = find_period_start(clean["reported_at"])
    parts.append(
        _share_rows(
            clean,
            "validity",
            "episodes dated within the extract's period",
            ~(clean["reported_at"] < start),
            f"clean episodes, less those reported more than {STRAY_YEARS} years before the extract's period "
            f"(from {start.date() if pd.notna(start) else 'its first report'}); Wilson 95%",
            forces,
            "clean episodes",
        )
    )
    old = clean[clean["reported_at"] <= cutoff]
    parts.append(
        _share_rows(
            old,
            "timeliness",
            "returns recorded",
            old["returned_at"].notna(),
            f"episodes reported {TIMELINESS_DAYS}+ days before the extract with their return recorded; Wilson 95%",
            forces,
            f"episodes reported {TIMELINESS_DAYS}+ days before the extract",
        )
    )
    return pd.concat(parts, ignore_index=True)


def assess_metric_support(
    clean: pd.DataFrame, sufficient_share: float, extract_date: ExtractDate | date | str
) -> pd.DataFrame:
    """What share of each force's episodes can support each published measure.

    A measure's share is taken over the episodes where its first field is
    expected, the denominator its completeness has in the scorecard
    (:func:`score_data_quality`), and named in ``denominator_label``.

    Parameters
    ----------
    clean : pandas.DataFrame
        Clean episodes.
    sufficient_share : float
        The share a measure needs to be reported (the findings threshold
        ``support_sufficient``, :data:`toolkit.findings.THRESHOLDS`).
    extract_date : date or str
        When the data were taken (a return is expected 28 days after a report).

    Returns
    -------
    pandas.DataFrame
        ``force_code``, ``metric``, ``description``, ``needs`` (what it needs, in words), ``value`` (share),
        ``lower``, ``upper``, ``numerator``, ``denominator``,
        ``denominator_label`` (which episodes), ``sufficient`` (share at least ``sufficient_share``;
        for :data:`RECORDED_WHEN_DONE`, any record) and ``sufficient_share``.

    Examples
    --------
    >>> e = pd.DataFrame({column: [None] * 4 for column in COLUMNS}).assign(
    ...     force_code="E23000001", reported_at=pd.Timestamp("2024-01-01"),
    ...     category=["missing", "missing", "absent", "missing"],
    ...     supervisor_review_at=pd.to_datetime(["2024-01-01", None, None, "2024-01-02"]))
    >>> row = assess_metric_support(e, 0.7, "2025-01-31")
    >>> row = row.query("metric == 'supervision' and force_code == 'E23000001'").iloc[0]
    >>> int(row["numerator"]), int(row["denominator"]), row["denominator_label"]
    (2, 3, 'episodes categorised missing')
    """
    frame = clean.assign(force_code=clean["force_code"].astype(str))
    forces = sorted(set(frame["force_code"]))
    cutoff = ExtractDate.parse(extract_date).before(days=TIMELINESS_DAYS)
    parts = []
    for metric, (description, needs, fields) in METRIC_REQUIREMENTS.items():
        expected, label = _expected_for(fields[0] if fields else None, cutoff)
        applicable = frame[expected(frame, cutoff).fillna(False).astype(bool)]
        known = pd.Series(True, index=applicable.index)
        for field in fields:
            known &= _known(applicable[field])
        # A force with no episodes the measure applies to is listed with 0 of 0: not supported, not missing.
        part = _share_rows(applicable, "support", metric, known, f"{label} recording {needs}", forces, label)
        part["description"] = description
        part["needs"] = needs
        part["denominator_label"] = label
        parts.append(part)
    table = pd.concat(parts, ignore_index=True).rename(columns={"measure": "metric"})
    when_done = table["metric"].isin(RECORDED_WHEN_DONE)
    table["sufficient"] = (table["value"] >= sufficient_share).where(~when_done, table["numerator"] > 0)
    table["sufficient_share"] = sufficient_share
    return table[
        [
            "force_code",
            "metric",
            "description",
            "needs",
            "value",
            "lower",
            "upper",
            "numerator",
            "denominator",
            "denominator_label",
            "sufficient",
            "sufficient_share",
        ]
    ]


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
