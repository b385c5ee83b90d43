"""Realistic synthetic episode extracts, with known effects planted on request.

No record-level data on missing children is public, so tests, demos and
benchmarks use extracts made here. A national year is calibrated to the
published figures in ``docs/calibration.md`` (the targets below, each with its
source) and per-force volumes follow each force's ONS child population.

How an extract is made, in one vectorised pass per year:

1. **Forces**: each gets random practice parameters (its tendency to record
   "absent", to grade risk high, to review, to hold return interviews, the
   completeness of its records) and officers whose grading varies around the
   force's (within-force inconsistency).
2. **Children**: counts per force follow child population; each child has an
   age, sex, ethnicity, looked-after status, risk factors and a heavy-tailed
   number of episodes (looked-after children go missing more often).
3. **Episodes**: report times with seasonality and an evening peak; category,
   risk grades, durations, who found the child, harm, reviews, prevention and
   return interviews, each depending on the case and the force.

Intercepts are solved at run time so that the national shares meet their
targets in expectation (:func:`solve_shift`); the test suite checks the
realised shares against the published figures, which it holds on its own.

A plan (YAML, see ``data/plans/demo.yaml``) plants force-level effects; the
ground truth, including every force's practice parameters and the realised
figures of each planted force (:func:`measure_practice`), is written beside
the data (``<out>.truth.json``). Six failures of practice (skipped reviews,
flags ignored in grading, desensitisation to repeats, residential children
recorded absent, harm after a low grade, flags left out of later episodes) are
planted after the natural year, in the planted forces' records only and from
the natural year's own draws (:func:`_plant_failures`): every other force is
record for record what the same seed gives without them.

Same seed, same bytes: for the same seed and arguments every form the
extract is written in (CSV, Parquet, Excel) is byte-identical, and so are its
ground truth and provenance (:func:`write_extract`).

Examples
--------
>>> episodes, truth = generate_extract(year=2024, seed=1, scale=0.01)
>>> 1500 < len(episodes) < 2200
True
>>> list(episodes.columns) == list(COLUMNS)
True
>>> truth["planted"]
[]
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import optimize, special

import toolkit
from toolkit.config import read_yaml_config
from toolkit.dates import ExtractDate
from toolkit.errors import ConfigError, ToolkitError
from toolkit.forces import get_force, read_forces_table
from toolkit.ingest.provenance import write_provenance
from toolkit.ingest.schema import CODES, COLUMNS, LINKAGE_COLUMNS, RISK_FACTORS, format_iso_datetimes
from toolkit.synthetic.exports import text_array
from toolkit.synthetic.identities import (
    CROSS_FORCE_SHARE,
    NATIONAL_KEY_MISSING,
    VARIATION,
    draw_identities,
    local_authorities,
)

__all__ = [
    "TARGETS",
    "EFFECTS",
    "PlantedEffect",
    "read_plan",
    "generate_extract",
    "write_extract",
    "solve_shift",
    "measure_practice",
    "measure_failures",
]

# Published national figures the generator aims at (docs/calibration.md).
TARGETS = {
    # NCA UK Missing Persons Unit data report 2016/17: child missing incidents, England and Wales.
    "episodes_per_year": 179_953,
    # NCA data report 2014/15: 60,657 children for 127,424 incidents (2.1 per child).
    "episodes_per_child": 2.1,
    # NCA 2016/17: 63% of child incidents attributable to repeats.
    "repeat_share": 0.63,
    # NCA 2015/16: 93% of child incidents aged 12-17, 58% aged 15-17.
    "age_12_17": 0.93,
    "age_15_17": 0.58,
    # NCA 2016/17: 47% found within 8 hours, 87% within 48 hours, 3% after more than a week.
    "returned_8h": 0.47,
    "returned_48h": 0.87,
    # NCA 2016/17: no harm in 96% of incidents.
    "no_harm": 0.96,
    # NCA about 2019/20: child sexual exploitation flag on 9% of child incidents.
    "cse": 0.09,
    # NCA 2018/19 via The Children's Society: 43% returned of own accord, police found 29%.
    "returned_self": 0.43,
    "found_by_police": 0.29,
    # DfE 2018: 65% of looked-after children who went missing did so more than once.
    "looked_after_repeat": 0.65,
    # ACPO 2013 pilots: 31% and 39% of cases classed absent; the generator aims between.
    "absent": 0.35,
}

# Model constants (not published figures): documented assumptions of the generator.
LOOKED_AFTER_SHARE = 0.14  # of missing children: DfE 2018, 11,530 of about 85,000 missing children
LOOKED_AFTER_EPISODES = 6.1  # per looked-after missing child: DfE 2018, 70,170 / 11,530
NEGBIN_SHAPE = 0.7  # heavy tail of episodes per repeat child
MAX_EPISODES = 150
DURATION_SIGMA = 1.49  # log-hours spread that puts ~87% within 48h when 47% are within 8h
RISK_SHARES = (0.30, 0.55, 0.15)  # low, medium, high among "missing" episodes (assumption)
# Per episode, for the truth only (generate_extract's response_probabilities), never in an extract.
RESPONSE_TRUTH = ("graded_higher", "no_active_response")
OFFICER_SD = 0.6  # within-force SD of officers' grading tendency (log-odds)
FORCE_RISK_SD = 0.35  # between-force SD of grading tendency (log-odds)
FORCE_ABSENT_SD = 0.5  # between-force SD of the tendency to record "absent" (log-odds)
EXPLOITATION = ("cse", "cce", "trafficking")
EXPLOITATION_GRADE_WEIGHTS = {"cse": 1.3, "cce": 1.1}  # log odds a flag adds to the first grade
REVIEWED_SHARE = {"missing": 0.96, "absent": 0.7}  # episodes a supervisor reviews, by category
REPEAT_CAP = 4  # earlier episodes of a child that repeat_desensitisation counts, at most
# Of a harmed child's later episodes, the share whose record carries the harm as a "previous_harm" flag: force
# systems keep a warning marker, and the rest are the ordinary gaps in recording (assumption).
HARM_FLAGGED_SHARE = 0.9
HARM_KINDS = ("injury", "sexual_offence", "other_crime_victim", "died")  # the contract's harms, as drawn
RISK_FACTOR_BASE = {  # person-level prevalence before calibration (cse is calibrated)
    "cse": 0.06,
    "cce": 0.06,
    "trafficking": 0.008,
    "self_harm": 0.08,
    "mental_health": 0.14,
    "substance_misuse": 0.09,
    "out_of_area_placement": 0.20,  # of looked-after children only
    "previous_harm": 0.05,
}
AGE_WEIGHTS = np.array(  # of children at their first report; tuned to the published age shares
    [0.002, 0.002, 0.002, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.010, 0.014, 0.014]
    + [0.09, 0.16, 0.20, 0.19, 0.16, 0.11]
)
HOUR_WEIGHTS = np.array([4, 3, 2, 2, 1, 1, 1, 2, 3, 3, 3, 3, 3, 3, 4, 5, 6, 6, 7, 8, 8, 8, 7, 6], dtype=float)

# Planted effects: name -> (parameter defaults, what it does).
EFFECTS: dict[str, dict] = {
    "absent_overuse": {
        "defaults": {"flagged_absent_share": 0.45},
        "doc": "exploitation-flagged children recorded 'absent' at this share (nationally about 6%)",
    },
    "risk_undergrading": {
        "defaults": {"high_share": 0.02},
        "doc": "risk graded high in this share of all reports, whatever the case (published low: 2%)",
    },
    "risk_overgrading": {
        "defaults": {"high_share": 0.46},
        "doc": "risk graded high in this share of all reports (published high: 46%)",
    },
    "officer_inconsistency": {
        "defaults": {"officer_sd": 1.6},
        "doc": "officers' grading tendencies spread this widely (log-odds SD; elsewhere 0.6)",
    },
    "poor_data_quality": {
        "defaults": {"blank_share": 0.45},
        "doc": "optional fields left blank or 'unknown' in this share of records",
    },
    "few_return_interviews": {
        "defaults": {"within_72h_share": 0.08},
        "doc": "return interviews completed within 72 hours for this share of returns",
    },
    "exemplary": {
        "defaults": {},
        "doc": "good practice throughout: flagged children never 'absent', prompt reviews, "
        "most return interviews within 72 hours, complete records",
    },
    "skipped_reviews": {
        "defaults": {"review_share": 0.35},
        "doc": "supervisors review only this share of 'missing' episodes (elsewhere about 96%); the rest have "
        "no supervisor_review_at, though the force records reviews",
    },
    "flag_ignored_grading": {
        "defaults": {},
        "doc": "children with cse or cce flags graded like everyone else: the flags' weight on the first grade "
        "removed (elsewhere flagged children are graded medium or high about 20 points more often)",
    },
    "repeat_desensitisation": {
        "defaults": {"per_episode": 0.7},
        "doc": "each later episode of a child graded lower: the log odds of medium or high fall by this much per "
        "earlier episode of the child (at most 4 counted), and the log odds of 'absent' rise as much",
    },
    "residential_absent": {
        "defaults": {"absent_share": 0.9},
        "doc": "episodes of children missing from residential care recorded 'absent' at this share "
        "(nationally about 28%)",
    },
    "harm_after_low_grade": {
        "defaults": {"harm_share": 0.15},
        "doc": "children graded low or no apparent risk, or recorded 'absent', come to harm at this share, so the "
        "first grade does not tell who comes to harm (elsewhere about 3% of them, 7% of those graded high)",
    },
    "flags_underrecorded": {
        "defaults": {"drop_share": 0.7},
        "doc": "a child's later episodes leave out this share of the risk flags its earlier episodes in the force "
        "recorded, and those episodes are graded low (no apparent risk if recorded 'absent')",
    },
}
# Parameters whose range is not 0 to 1 (every other parameter is a share).
PARAMETER_LIMITS = {"officer_sd": 5.0, "per_episode": 3.0}
# Effects that plant the force's first grade: a force takes at most one (their changes to the grade would
# compound, and a planted high share is solved for the force's grading as it stands).
GRADING_EFFECTS = frozenset(
    {
        "risk_undergrading",
        "risk_overgrading",
        "exemplary",
        "flag_ignored_grading",
        "repeat_desensitisation",
        "flags_underrecorded",
    }
)
# Other pairs one force cannot take, and why: each would undo or overwrite part of the other.
CONFLICTS = {
    **{
        frozenset({"exemplary", failure}): "exemplary plants good practice throughout"
        for failure in EFFECTS
        if failure not in GRADING_EFFECTS
    },
    frozenset({"absent_overuse", "residential_absent"}): "both set the share of flagged children in residential "
    "care recorded 'absent'",
}


@dataclass(frozen=True)
class PlantedEffect:
    """One effect planted in one force."""

    force_code: str
    effect: str
    parameters: dict = field(default_factory=dict)


def read_plan(path: str | Path) -> list[PlantedEffect]:
    """Read a plan of planted effects from YAML and check it.

    The file holds ``effects:``, a list of ``{force, effect, ...parameters}``.

    Raises
    ------
    ConfigError
        For a file that is not YAML, an unknown force or effect, an unknown parameter,
        a parameter that is not a number in range (NaN, infinity, a boolean such as
        YAML's ``yes``), a force given two effects on its first grade
        (:data:`GRADING_EFFECTS`) or the same effect twice, or a pair of effects one
        force cannot take (:data:`CONFLICTS`).

    Examples
    --------
    >>> from toolkit.config import PLANS_DIR
    >>> plan = read_plan(PLANS_DIR / "demo.yaml")
    >>> sorted({p.effect for p in plan}) == sorted(EFFECTS)
    True
    >>> import tempfile
    >>> clash = Path(tempfile.mkdtemp()) / "clash.yaml"
    >>> _ = clash.write_text("effects: [{force: E23000001, effect: exemplary}, "
    ...                      "{force: E23000001, effect: skipped_reviews, review_share: 0.2}]")
    >>> try:
    ...     read_plan(clash)
    ... except ConfigError as error:
    ...     print(str(error).split("clash.yaml: ")[1])
    entry 2: E23000001 cannot take both exemplary and skipped_reviews: exemplary plants good practice throughout
    """
    path = Path(path)
    document = read_yaml_config(path, "plan")
    if not isinstance(document, dict) or not isinstance(document.get("effects"), list):
        raise ConfigError(f"plan {path} needs 'effects:', a list of {{force, effect}} entries")
    plan, problems, seen, taken = [], [], set(), {}
    for i, entry in enumerate(document["effects"], start=1):
        if not isinstance(entry, dict):
            problems.append(f"entry {i} is not a mapping")
            continue
        entry = dict(entry)
        force, effect = entry.pop("force", None), entry.pop("effect", None)
        try:
            get_force(force)
        except ToolkitError as error:
            problems.append(f"entry {i}: {error}")
            continue
        if effect not in EFFECTS:
            problems.append(f"entry {i}: unknown effect {effect!r}; known: {', '.join(EFFECTS)}")
            continue
        defaults = EFFECTS[effect]["defaults"]
        unknown = sorted(set(entry) - set(defaults))
        if unknown:
            problems.append(f"entry {i}: {effect} takes no parameter {', '.join(unknown)}")
            continue
        parameters = {**defaults, **entry}
        for name, value in parameters.items():
            limit = PARAMETER_LIMITS.get(name, 1.0)
            # YAML's yes is True, an int to Python; NaN fails the range (every comparison with it is false).
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= limit:
                problems.append(f"entry {i}: {name} must be a number from 0 to {limit:g}")
        key = (force, "grading" if effect in GRADING_EFFECTS else effect)
        if key in seen:
            problems.append(f"entry {i}: {force} already has a {key[1]} effect")
        seen.add(key)
        for other in taken.get(force, []):
            reason = CONFLICTS.get(frozenset({other, effect}))
            if reason:
                problems.append(f"entry {i}: {force} cannot take both {other} and {effect}: {reason}")
        taken.setdefault(force, []).append(effect)
        plan.append(PlantedEffect(force, effect, parameters))
    if problems:
        raise ConfigError(f"plan {path}: " + "; ".join(problems))
    return plan


def solve_shift(linear: np.ndarray, target: float, link: str = "logit") -> float:
    """Find the shift ``c`` so that the mean probability ``F(linear + c)`` equals ``target``.

    Used to calibrate intercepts so that national shares meet published figures
    in expectation, whatever the case mix.

    Parameters
    ----------
    linear : numpy.ndarray
        Linear predictor per record.
    target : float
        Wanted mean probability, strictly between 0 and 1.
    link : {"logit", "probit"}

    Examples
    --------
    >>> c = solve_shift(np.array([-1.0, 0.0, 1.0]), 0.5)
    >>> round(c, 6)
    0.0
    """
    cdf = special.expit if link == "logit" else special.ndtr
    return float(optimize.brentq(lambda c: cdf(linear + c).mean() - target, -30, 30, xtol=1e-10))


def _force_parameters(rng: np.random.Generator, codes: list[str]) -> pd.DataFrame:
    n = len(codes)
    return pd.DataFrame(
        {
            "volume": rng.lognormal(0, 0.2, n),
            "absent": rng.normal(0, FORCE_ABSENT_SD, n),
            "risk": rng.normal(0, FORCE_RISK_SD, n),
            "officer_sd": np.full(n, OFFICER_SD),
            "review_delay": rng.lognormal(0, 0.3, n),
            "prevention": rng.normal(0, 0.4, n),
            "rhi_completed": rng.normal(0, 0.4, n),
            "rhi_72h": rng.normal(0, 0.5, n),
            "blank": rng.uniform(0.005, 0.03, n),
            "duration": rng.normal(0, 0.1, n),
            "flagged_absent_share": np.full(n, np.nan),
            "high_share": np.full(n, np.nan),
            "within_72h_share": np.full(n, np.nan),
            # The six failures planted after the natural year (_plant_failures): NaN or the natural value
            # (cse and cce weigh fully on the grade, no log-odds drop, no flag left out) where not planted.
            "review_share": np.full(n, np.nan),
            "flag_grading_weight": np.ones(n),
            "repeat_log_odds_drop": np.zeros(n),
            "residential_absent_share": np.full(n, np.nan),
            "low_grade_harm_share": np.full(n, np.nan),
            "flag_drop_share": np.zeros(n),
        },
        index=pd.Index(codes, name="force_code"),
    )


def _apply_plan(params: pd.DataFrame, plan: list[PlantedEffect]) -> pd.DataFrame:
    params = params.copy()
    for planted in plan:
        if planted.force_code not in params.index:
            continue
        p, f = planted.parameters, planted.force_code
        if planted.effect == "absent_overuse":
            params.loc[f, "flagged_absent_share"] = p["flagged_absent_share"]
        elif planted.effect in ("risk_undergrading", "risk_overgrading"):
            params.loc[f, "high_share"] = p["high_share"]
        elif planted.effect == "officer_inconsistency":
            params.loc[f, "officer_sd"] = p["officer_sd"]
        elif planted.effect == "poor_data_quality":
            params.loc[f, "blank"] = p["blank_share"]
        elif planted.effect == "few_return_interviews":
            params.loc[f, "within_72h_share"] = p["within_72h_share"]
        elif planted.effect == "skipped_reviews":
            params.loc[f, "review_share"] = p["review_share"]
        elif planted.effect == "flag_ignored_grading":
            params.loc[f, "flag_grading_weight"] = 0.0
        elif planted.effect == "repeat_desensitisation":
            params.loc[f, "repeat_log_odds_drop"] = p["per_episode"]
        elif planted.effect == "residential_absent":
            params.loc[f, "residential_absent_share"] = p["absent_share"]
        elif planted.effect == "harm_after_low_grade":
            params.loc[f, "low_grade_harm_share"] = p["harm_share"]
        elif planted.effect == "flags_underrecorded":
            params.loc[f, "flag_drop_share"] = p["drop_share"]
        elif planted.effect == "exemplary":
            params.loc[f, ["absent", "risk", "prevention", "rhi_completed", "rhi_72h"]] = [
                0.0,
                0.0,
                1.5,
                1.0,
                2.0,
            ]
            params.loc[f, ["flagged_absent_share", "officer_sd", "review_delay", "blank"]] = [
                0.0,
                0.2,
                0.5,
                0.002,
            ]
    return params


def _children(rng, params: pd.DataFrame, children_pop: pd.Series, scale: float) -> pd.DataFrame:
    weight = children_pop * params["volume"]
    expected_episodes = TARGETS["episodes_per_year"] * scale * weight / weight.sum()
    n_children = rng.poisson(expected_episodes / TARGETS["episodes_per_child"])
    force = np.repeat(params.index.to_numpy(), n_children)
    n = len(force)
    looked_after = rng.random(n) < LOOKED_AFTER_SHARE
    # Episodes per child: repeat or not, then 2 + a heavy-tailed negative binomial.
    # Means solve the published figures: 2.1 per child overall, 6.1 per looked-after child,
    # 65% of looked-after children repeat, 63% of episodes are repeats.
    singles = (1 - TARGETS["repeat_share"]) * TARGETS["episodes_per_child"]  # share of children
    p_repeat_lac = TARGETS["looked_after_repeat"]
    p_repeat_other = (1 - singles - LOOKED_AFTER_SHARE * p_repeat_lac) / (1 - LOOKED_AFTER_SHARE)
    other_mean = (TARGETS["episodes_per_child"] - LOOKED_AFTER_SHARE * LOOKED_AFTER_EPISODES) / (1 - LOOKED_AFTER_SHARE)
    mean_if_repeat = np.where(
        looked_after,
        (LOOKED_AFTER_EPISODES - (1 - p_repeat_lac)) / p_repeat_lac,
        (other_mean - (1 - p_repeat_other)) / p_repeat_other,
    )
    repeat = rng.random(n) < np.where(looked_after, p_repeat_lac, p_repeat_other)
    extra_mean = mean_if_repeat - 2
    extra = rng.negative_binomial(NEGBIN_SHAPE, NEGBIN_SHAPE / (NEGBIN_SHAPE + extra_mean))
    episodes = np.where(repeat, np.minimum(2 + extra, MAX_EPISODES), 1)

    sex = rng.choice(["female", "male", "other", "unknown"], n, p=[0.52, 0.46, 0.005, 0.015])
    ethnicity = rng.choice(list(CODES["ethnicity"]), n, p=[0.08, 0.09, 0.07, 0.72, 0.02, 0.02])
    age = rng.choice(18, n, p=AGE_WEIGHTS / AGE_WEIGHTS.sum())
    children = pd.DataFrame(
        {
            "force_code": force,
            "looked_after": looked_after,
            "episodes": episodes,
            "sex": sex,
            "ethnicity": ethnicity,
            "age": age,
            "birthday": rng.random(n),  # fraction of the year at which the child turns a year older
        }
    )
    # Risk factors belong to the child. CSE is calibrated to 9% of episodes.
    for factor, base in RISK_FACTOR_BASE.items():
        propensity = np.full(n, base)
        propensity *= np.where(looked_after, 2.0, 1.0)
        if factor == "cse":
            propensity *= np.where(sex == "female", 1.6, 0.4) * np.where(age >= 12, 1.0, 0.2)
            propensity *= TARGETS["cse"] * episodes.sum() / (propensity * episodes).sum()
        if factor == "cce":
            propensity *= np.where(sex == "male", 1.6, 0.4) * np.where(age >= 12, 1.0, 0.2)
        if factor == "out_of_area_placement":
            propensity = np.where(looked_after, base, 0.0)
        children[factor] = rng.random(n) < np.clip(propensity, 0, 1)
    return children


def _report_times(rng, n: int, year: int) -> np.ndarray:
    start = pd.Timestamp(year=year, month=1, day=1)
    days = 366 if pd.Timestamp(year=year, month=12, day=31).day_of_year == 366 else 365
    # Mild seasonality: more reports in late spring and early autumn than midwinter.
    doy = np.arange(days)
    intensity = 1 + 0.12 * np.sin(2 * np.pi * (doy - 60) / days) + 0.05 * np.sin(4 * np.pi * doy / days)
    cumulative = np.cumsum(intensity) / intensity.sum()
    day = np.searchsorted(cumulative, rng.random(n))
    hour = rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    minute = rng.integers(0, 60, n)
    offset = day.astype("int64") * 86400 + hour * 3600 + minute * 60
    return start.to_datetime64().astype("datetime64[s]") + offset.astype("timedelta64[s]")


def _ordinal_grades(latent, noise, thresholds) -> np.ndarray:
    """Grade 0 (low), 1 (medium) or 2 (high) from a latent variable and its logistic noise.

    The noise is drawn once per episode and kept, so that a planted change to the latent
    variable regrades an episode with the same draw (:func:`_plant_failures`).

    Examples
    --------
    >>> _ordinal_grades(np.array([0.0, 0.0, 0.0]), np.array([-2.0, 0.5, 3.0]), [-1.0, 1.0])
    array([0, 1, 2])
    """
    return np.searchsorted(np.asarray(thresholds), latent + noise)


def _review_median_hours(absent: np.ndarray, risk_initial: np.ndarray) -> np.ndarray:
    """Median hours to a supervisor's first review: sooner for higher grades, latest for "absent"."""
    return np.select([absent, risk_initial == "low", risk_initial == "medium"], [12, 6, 2], 0.5)


def _pseudonyms(rng, prefix: str, n: int) -> np.ndarray:
    numbers = rng.choice(16**10, size=n, replace=False)
    return np.char.add(prefix, np.char.zfill(np.char.mod("%x", numbers).astype(str), 10))


def _one_year(rng, plant_rng, year: int, extract_end: pd.Timestamp, params: pd.DataFrame, scale: float, linkage):
    forces = read_forces_table().loc[params.index]
    children = _children(rng, params, forces["children"], scale)
    children["person_id"] = _pseudonyms(rng, "C", len(children))
    # Identities from a stream of their own (linkage: the stream and the options), so no draw here moves.
    identity_rng, cross_force_share, national_key_missing = linkage
    records, identity_truth = draw_identities(
        identity_rng, children, year, cross_force_share=cross_force_share, national_key_missing=national_key_missing
    )
    identity_truth["force_code"] = children["force_code"].tolist()
    identity_truth["person_id"] = children["person_id"].tolist()
    e = children.loc[children.index.repeat(children["episodes"])].reset_index(drop=True)
    n = len(e)
    fp = params.loc[e["force_code"]].reset_index(drop=True)

    # Times: sorted within each child; each episode ends before the child's next report.
    e["reported_at"] = _report_times(rng, n, year)
    e = e.sort_values(["person_id", "reported_at"], kind="stable").reset_index(drop=True)
    fp = params.loc[e["force_code"]].reset_index(drop=True)
    next_report = e.groupby("person_id", sort=False)["reported_at"].shift(-1)
    e["age"] = np.minimum(e["age"] + ((e["reported_at"].dt.day_of_year / 366) > e["birthday"]).astype(int), 17)
    flagged = e[list(EXPLOITATION)].any(axis=1).to_numpy()
    la = e["looked_after"].to_numpy()
    age = e["age"].to_numpy()

    # Category: "absent" less likely for flagged, looked-after and younger children.
    linear = fp["absent"].to_numpy() - 2.5 * flagged - 0.3 * la - 0.6 * (age < 12)
    linear = linear + solve_shift(linear, TARGETS["absent"])
    p_absent = special.expit(linear)
    planted = fp["flagged_absent_share"].notna().to_numpy() & flagged
    p_absent = np.where(planted, fp["flagged_absent_share"].to_numpy(), p_absent)
    category_u = rng.random(n)
    absent = category_u < p_absent

    # Risk grade of "missing" episodes: proportional odds on the case, force and officer.
    case = (
        EXPLOITATION_GRADE_WEIGHTS["cse"] * e["cse"]
        + EXPLOITATION_GRADE_WEIGHTS["cce"] * e["cce"]
        + 1.6 * e["trafficking"]
        + 0.9 * e["self_harm"]
        + 0.5 * e["mental_health"]
        + 0.4 * e["substance_misuse"]
        + 0.7 * e["previous_harm"]
        + 0.9 * (age < 12)
        + 0.2 * la
    ).to_numpy(dtype=float)
    officers = _assign_officers(rng, e["force_code"], params)
    e["officer_id"] = officers["officer_id"].to_numpy()
    latent = case + fp["risk"].to_numpy() + officers["effect"].to_numpy()
    missing_idx = ~absent
    base = latent[missing_idx]
    # P(low) = mean expit(t1 - latent) = 30%; P(low or medium) = mean expit(t2 - latent) = 85%.
    low_cut = solve_shift(-base, RISK_SHARES[0])
    mid_cut = solve_shift(-base, RISK_SHARES[0] + RISK_SHARES[1])
    latent = latent + _grading_shift(e["force_code"], latent, missing_idx, params, mid_cut)
    grade_noise = rng.logistic(size=n)
    grade = _ordinal_grades(latent, grade_noise, [low_cut, mid_cut])
    risk_names = np.array(["low", "medium", "high"])
    risk_initial = np.where(absent, "no_apparent_risk", risk_names[grade])
    # Reviews move a grade up for some cases (escalation), down for a few.
    move = rng.choice([-1, 0, 1], n, p=[0.04, 0.84, 0.12])
    final_grade = np.clip(grade + move, 0, 2)
    final_low = rng.random(n) < 0.1
    risk_final = np.where(absent, np.where(final_low, "low", "no_apparent_risk"), risk_names[final_grade])
    is_high = risk_initial == "high"

    # Durations: lognormal hours, calibrated so 47% return within 8 hours.
    mu = -0.4 * absent + 0.25 * la + 0.35 * flagged - 0.15 * is_high + fp["duration"].to_numpy()
    # P(hours < 8) = Phi((ln 8 - mu) / sigma): shift mu so its mean meets the target.
    below_8h = (np.log(8) - mu) / DURATION_SIGMA
    mu = mu - DURATION_SIGMA * solve_shift(below_8h, TARGETS["returned_8h"], link="probit")
    hours = np.exp(rng.normal(mu, DURATION_SIGMA))
    gap_hours = (next_report - e["reported_at"]).dt.total_seconds().to_numpy() / 3600
    hours = np.where(np.isnan(gap_hours), hours, np.minimum(hours, 0.9 * gap_hours))
    returned = e["reported_at"] + pd.to_timedelta(np.round(hours * 60), unit="min")
    returned = returned.where(returned > e["reported_at"], e["reported_at"] + pd.Timedelta(minutes=1))
    open_episode = (returned > extract_end).to_numpy()
    e["returned_at"] = returned.where(~open_episode)
    seen_gap = np.exp(rng.normal(np.log(np.where(absent, 1.0, 2.5)), 1.0))
    e["last_seen_at"] = e["reported_at"] - pd.to_timedelta(np.round(seen_gap * 60), unit="min")

    # Who found the child, and harm.
    found = np.where(
        is_high[:, None],
        [[0.30, 0.45, 0.12, 0.08, 0.03, 0.02]],
        [[0.445, 0.272, 0.145, 0.08, 0.038, 0.02]],
    )
    e["found_by"] = _choose_rows(rng, list(CODES["found_by"]), found)
    e.loc[open_episode, "found_by"] = ""
    harm_risk = 1 + 2.0 * flagged + 0.8 * is_high + 0.5 * la
    harm_risk = harm_risk * (1 - TARGETS["no_harm"]) * n / harm_risk.sum()
    harm_u = rng.random(n)
    harmed = harm_u < harm_risk
    kind = rng.choice(list(HARM_KINDS), n, p=[0.45, 0.2, 0.3495, 0.0005])
    # Children at risk of sexual exploitation who come to harm more often suffer sexual offences.
    cse_harm = e["cse"].to_numpy() & (kind == "injury") & (rng.random(n) < 0.5)
    kind = np.where(cse_harm, "sexual_offence", kind)
    e["harm"] = np.where(open_episode, "unknown", np.where(harmed, kind, "none"))

    # Supervisory review: sooner for higher grades, scaled by the force's promptness.
    median_hours = _review_median_hours(absent, risk_initial)
    delay = np.exp(rng.normal(np.log(median_hours * fp["review_delay"].to_numpy()), 0.7))
    review_u = rng.random(n)
    reviewed = review_u < np.where(absent, REVIEWED_SHARE["absent"], REVIEWED_SHARE["missing"])
    review_at = e["reported_at"] + pd.to_timedelta(np.round(delay * 60), unit="min")
    e["supervisor_review_at"] = review_at.where(reviewed & (review_at <= extract_end))

    # Prevention (police safe and well) and return home interviews, after return.
    p_prev = special.expit(1.6 + fp["prevention"].to_numpy())
    prev_status = np.where(
        rng.random(n) < p_prev,
        "completed",
        rng.choice(["declined", "not_completed", "unknown"], n, p=[0.45, 0.4, 0.15]),
    )
    prev_at = returned + pd.to_timedelta(np.round(np.exp(rng.normal(np.log(10), 0.8)) * 60), unit="min")
    prev_late = (prev_at > extract_end).to_numpy()
    e["prevention_interview"] = np.where(
        open_episode, "", np.where(prev_late & (prev_status == "completed"), "unknown", prev_status)
    )
    e["prevention_interview_at"] = prev_at.where((e["prevention_interview"] == "completed").to_numpy())

    p_rhi = special.expit(0.0 + fp["rhi_completed"].to_numpy())
    rhi_status = np.where(
        rng.random(n) < p_rhi,
        "completed",
        rng.choice(["declined", "not_offered", "unknown"], n, p=[0.5, 0.45, 0.05]),
    )
    p_72 = special.expit(0.2 + fp["rhi_72h"].to_numpy())
    share_72 = fp["within_72h_share"].to_numpy()
    # A planted share of returns interviewed within 72h: completion then timing.
    planted_72 = ~np.isnan(share_72)
    p_72 = np.where(planted_72, np.clip(share_72 / np.maximum(p_rhi, 1e-9), 0, 1), p_72)
    within = rng.random(n) < p_72
    rhi_hours = np.where(within, rng.uniform(2, 72, n), rng.uniform(72, 480, n))
    rhi_at = returned + pd.to_timedelta(np.round(rhi_hours * 60), unit="min")
    # Where a planted force's returns go without interviews, they were not offered: a decline is an offer.
    rhi_status = np.where(planted_72 & (rhi_status == "declined"), "not_offered", rhi_status)
    rhi_late = (rhi_at > extract_end).to_numpy()
    rhi_status = np.where(rhi_late & (rhi_status == "completed"), "", rhi_status)
    e["return_interview"] = np.where(open_episode, "", rhi_status)
    e["return_interview_at"] = rhi_at.where((e["return_interview"] == "completed").to_numpy())

    missing_from = np.where(
        la,
        rng.choice(["residential_care", "foster_care", "other_care"], n, p=[0.45, 0.45, 0.10]),
        rng.choice(["home", "school", "hospital", "other", "unknown"], n, p=[0.85, 0.05, 0.02, 0.06, 0.02]),
    )
    listed = pd.Series("", index=e.index)
    for factor in RISK_FACTORS:
        listed = listed + np.where(e[factor], factor + ";", "")
    e["risk_factors"] = listed.str.rstrip(";")
    e["looked_after"] = np.where(la, "yes", "no")
    e["missing_from"] = missing_from
    e["category"] = np.where(absent, "absent", "missing")
    e["risk_initial"] = risk_initial
    e["risk_final"] = risk_final
    drawn = {
        "category_u": category_u,
        "p_absent": p_absent,
        "latent": latent,
        "grade_noise": grade_noise,
        "move": move,
        "final_low": final_low,
        "harm_u": harm_u,
        "harmed": harmed,
        "harm_kind": kind,
        "open": open_episode,
        "review_u": review_u,
        "review_delay": delay,
        "review_median_hours": median_hours,
    }
    # The truth of each first response as drawn, against which the consistency models are checked
    # (benchmarks/bench_consistency.py): a "missing" episode is graded medium or high when its latent
    # grade with logistic noise passes the lower cut point.
    e[RESPONSE_TRUTH[0]] = (1 - p_absent) * special.expit(latent - low_cut)
    e[RESPONSE_TRUTH[1]] = p_absent
    _plant_failures(plant_rng, e, fp, drawn, (low_cut, mid_cut), extract_end)
    _flag_earlier_harm(rng, e, fp["flag_drop_share"].to_numpy())
    # An absent child still gone a day after the report is looked at afresh, as guidance on escalating absent
    # cases expects: most are re-graded; the rest keep no apparent risk.
    day_on = (e["reported_at"] + pd.Timedelta(hours=24) <= extract_end).to_numpy()
    looked_again = (e["category"] == "absent").to_numpy() & (hours > 24) & day_on & (rng.random(n) < 0.75)
    e["risk_final"] = np.where(looked_again, rng.choice(["low", "medium"], n, p=[0.6, 0.4]), e["risk_final"])
    e = _blank_optional_fields(rng, e, fp["blank"].to_numpy())
    e["episode_id"] = _episode_ids(e, year)
    # A child's linkage columns are the same on every one of its episodes in a force: its force record's.
    records = records.set_index("person_id")
    for column in LINKAGE_COLUMNS:
        e[column] = e["person_id"].map(records[column]).to_numpy()
    return e[[*COLUMNS, *RESPONSE_TRUTH]], identity_truth


def _flag_earlier_harm(rng, e: pd.DataFrame, drop_share: np.ndarray) -> None:
    """Record harm from a child's earlier episode as a "previous_harm" flag on its later episodes, in place.

    A force's system keeps a warning marker on the child: for most harmed children
    (:data:`HARM_FLAGGED_SHARE`, decided once, at the first episode after the harm) every later record
    holds it, and for the rest none does. A force planted with ``flags_underrecorded`` marks fewer, by
    its ``drop_share``. A marker once recorded is never dropped, so no flag an earlier record held goes
    missing here. Rows are sorted by child and report time; the draws do not depend on the plan.

    Examples
    --------
    >>> e = pd.DataFrame({"person_id": ["a", "a", "a", "b"], "harm": ["injury", "none", "none", "none"],
    ...     "risk_factors": ["", "cse", "", ""]})
    >>> _flag_earlier_harm(np.random.default_rng(0), e, np.zeros(4))
    >>> e["risk_factors"].tolist()
    ['', 'cse;previous_harm', 'previous_harm', '']
    """
    child = e["person_id"].to_numpy()
    harmed = pd.Series(np.isin(e["harm"].to_numpy(), HARM_KINDS))
    earlier = harmed.groupby(child, sort=False).cummax().groupby(child, sort=False).shift(1, fill_value=False)
    first = earlier & ~earlier.groupby(child, sort=False).shift(1, fill_value=False)
    marks = rng.random(len(e)) < HARM_FLAGGED_SHARE * (1 - drop_share)
    marked = pd.Series(np.where(first, marks, np.nan)).groupby(child, sort=False).ffill()
    carry = earlier.to_numpy(dtype=bool) & marked.eq(1).to_numpy()
    flags = e["risk_factors"].fillna("").astype(str)
    carry &= ~flags.str.contains("previous_harm", regex=False).to_numpy()
    e.loc[carry, "risk_factors"] = (flags[carry] + ";previous_harm").str.lstrip(";")


def _planted_failure_rows(fp: pd.DataFrame) -> np.ndarray:
    """Rows (episodes) of forces planted with any of the six failures :func:`_plant_failures` plants."""
    return np.flatnonzero(
        (
            fp["review_share"].notna()
            | (fp["flag_grading_weight"] != 1)
            | (fp["repeat_log_odds_drop"] > 0)
            | fp["residential_absent_share"].notna()
            | fp["low_grade_harm_share"].notna()
            | (fp["flag_drop_share"] > 0)
        ).to_numpy()
    )


def _plant_failures(rng, e: pd.DataFrame, fp: pd.DataFrame, drawn: dict, cuts, extract_end) -> None:
    """Plant six failures of practice in the records of the forces planned to have them, in place.

    The natural year is drawn first; then, in the planted forces' rows only, what the force records
    is drawn again from the same draws: the same uniform decides the category, the same logistic
    noise the grade (against the national cut points), the same uniform and log-normal delay the
    review, the same uniform the harm. A row the plan does not change comes out exactly as drawn,
    and so does every force without a failure: the national calibration (solved on the natural
    year) and every unplanted force's records are those of the same seed without the plan. What
    happens to the child (how long missing, who found them) is not changed, only how the force
    records and responds, but for ``harm_after_low_grade``, which plants harm.

    - ``skipped_reviews``: a "missing" episode is reviewed with probability ``review_share``
      (elsewhere 0.96), its review time otherwise blank.
    - ``flag_ignored_grading``: the cse and cce weights on the first grade are taken off.
    - ``repeat_desensitisation``: with ``k`` earlier episodes of the child (at most
      :data:`REPEAT_CAP`), the latent grade falls and the log odds of "absent" rise by
      ``per_episode * k``.
    - ``residential_absent``: an episode missing from residential care is "absent" with
      probability ``absent_share``.
    - ``harm_after_low_grade``: an episode graded low or no apparent risk, or "absent", comes to
      harm with probability ``harm_share``.
    - ``flags_underrecorded``: on a later episode of a child each of the child's risk flags (all
      recorded on its first episode) is left out with probability ``drop_share`` (draws from
      ``rng``, a stream of their own); an episode that leaves one out is graded low (an "absent"
      one keeps no apparent risk).

    Examples
    --------
    Nothing planted: nothing changes.

    >>> e = pd.DataFrame({"force_code": ["E23000001"], "category": ["missing"]})
    >>> fp = _force_parameters(np.random.default_rng(0), ["E23000001"]).reset_index(drop=True)
    >>> _plant_failures(np.random.default_rng(0), e, fp, {}, (0.0, 1.0), None)
    >>> e["category"].tolist()
    ['missing']
    """
    rows = _planted_failure_rows(fp)
    if len(rows) == 0:
        return
    p = fp.iloc[rows]
    d = {name: values[rows] for name, values in drawn.items()}
    sub = e.iloc[rows]  # sorted by child and report time, as the year is drawn
    earlier = np.minimum(sub.groupby("person_id", sort=False).cumcount().to_numpy(), REPEAT_CAP)
    drop = p["repeat_log_odds_drop"].to_numpy() * earlier

    # Category, from the natural draw: rows without a change keep their probability, so their category.
    p_absent = d["p_absent"]
    shifted = special.expit(special.logit(np.clip(p_absent, 1e-12, 1 - 1e-12)) + drop)
    p_absent = np.where(drop > 0, shifted, p_absent)
    share = p["residential_absent_share"].to_numpy()
    residential = ~np.isnan(share) & (sub["missing_from"].to_numpy() == "residential_care")
    p_absent = np.where(residential, share, p_absent)
    absent = d["category_u"] < p_absent

    # First grade: the same noise against the national cut points.
    ignored = 1 - p["flag_grading_weight"].to_numpy()
    weight_of_flags = sum(w * sub[flag].to_numpy() for flag, w in EXPLOITATION_GRADE_WEIGHTS.items())
    grade = _ordinal_grades(d["latent"] - drop - ignored * weight_of_flags, d["grade_noise"], cuts)

    # Flags left out on later episodes; such an episode is graded low.
    recorded = sub[list(RISK_FACTORS)].to_numpy(dtype=bool)
    drop_share = p["flag_drop_share"].to_numpy()
    later = np.flatnonzero((earlier > 0) & (drop_share > 0))
    if len(later):
        left_out = recorded[later] & (rng.random((len(later), len(RISK_FACTORS))) < drop_share[later, None])
        recorded[later] &= ~left_out
        grade[later] = np.where(left_out.any(axis=1), 0, grade[later])
        listed = np.full(len(sub), "", dtype=object)
        for j, factor in enumerate(RISK_FACTORS):
            listed = listed + np.where(recorded[:, j], factor + ";", "")
        e.loc[sub.index, "risk_factors"] = pd.Series(listed, index=sub.index).str.rstrip(";")

    names = np.array(["low", "medium", "high"])
    risk_initial = np.where(absent, "no_apparent_risk", names[grade])
    risk_final = np.where(
        absent, np.where(d["final_low"], "low", "no_apparent_risk"), names[np.clip(grade + d["move"], 0, 2)]
    )

    # Review: the same log-normal draw, scaled to the new grade's median; a planted share reviewed.
    delay = d["review_delay"] * (_review_median_hours(absent, risk_initial) / d["review_median_hours"])
    reviewed_share = p["review_share"].fillna(REVIEWED_SHARE["missing"]).to_numpy()
    reviewed = d["review_u"] < np.where(absent, REVIEWED_SHARE["absent"], reviewed_share)
    review_at = sub["reported_at"] + pd.to_timedelta(np.round(delay * 60), unit="min")

    # Harm: a planted share of the children graded low, no apparent risk or "absent".
    harm_share = p["low_grade_harm_share"].to_numpy()
    low = ~np.isnan(harm_share) & (absent | np.isin(risk_initial, ["low", "no_apparent_risk"]))
    harmed = np.where(low, d["harm_u"] < harm_share, d["harmed"])

    e.loc[sub.index, "category"] = np.where(absent, "absent", "missing")
    e.loc[sub.index, "risk_initial"] = risk_initial
    e.loc[sub.index, "risk_final"] = risk_final
    e.loc[sub.index, "supervisor_review_at"] = review_at.where(reviewed & (review_at <= extract_end))
    e.loc[sub.index, "harm"] = np.where(d["open"], "unknown", np.where(harmed, d["harm_kind"], "none"))


def _grading_shift(force_codes, latent, missing_idx, params, mid_cut) -> np.ndarray:
    """Shift a planted force's grading so its high share of all reports hits the plan."""
    shift = np.zeros(len(latent))
    codes = force_codes.to_numpy()
    for code, target in params["high_share"].dropna().items():
        in_force = codes == code
        sub = latent[in_force & missing_idx]
        if len(sub) == 0 or in_force.sum() == 0:
            continue
        share_missing = len(sub) / in_force.sum()
        wanted = min(target / share_missing, 0.99)
        shift[in_force] = solve_shift(sub - mid_cut, wanted)
    return shift


def _assign_officers(rng, force_codes: pd.Series, params: pd.DataFrame) -> pd.DataFrame:
    out_id = np.empty(len(force_codes), dtype=object)
    out_effect = np.zeros(len(force_codes))
    codes = force_codes.to_numpy()
    for code in params.index:
        where = np.flatnonzero(codes == code)
        if len(where) == 0:
            continue
        k = max(3, len(where) // 60)  # about 60 first grades per officer or unit a year
        names = _pseudonyms(rng, "O", k)
        effects = rng.normal(0, params.loc[code, "officer_sd"], k)
        pick = rng.integers(0, k, len(where))
        out_id[where] = names[pick]
        out_effect[where] = effects[pick]
    return pd.DataFrame({"officer_id": out_id, "effect": out_effect})


def _choose_rows(rng, values: list[str], probabilities: np.ndarray) -> np.ndarray:
    cumulative = probabilities.cumsum(axis=1)
    cumulative /= cumulative[:, -1:]
    pick = (rng.random((len(cumulative), 1)) > cumulative).sum(axis=1)
    return np.asarray(values)[pick]


_BLANKABLE = (
    "last_seen_at",
    "sex",
    "ethnicity",
    "missing_from",
    "risk_final",
    "supervisor_review_at",
    "found_by",
    "harm",
    "prevention_interview",
    "return_interview",
    "officer_id",
    "looked_after",
)


def _blank_optional_fields(rng, e: pd.DataFrame, blank: np.ndarray) -> pd.DataFrame:
    """Leave optional fields blank or 'unknown' at each force's rate (its data quality)."""
    for column in _BLANKABLE:
        hit = rng.random(len(e)) < blank
        if column in CODES and "unknown" in CODES[column]:
            e[column] = np.where(hit & (e[column] != ""), "unknown", e[column])
        elif column in ("supervisor_review_at", "last_seen_at"):
            e[column] = e[column].where(~hit)
        else:
            e[column] = np.where(hit, "", e[column].astype(object))
    return e


def _episode_ids(e: pd.DataFrame, year: int) -> np.ndarray:
    order = e.groupby("force_code", sort=False)["reported_at"].rank(method="first").astype(int)
    prefix = e["force_code"].map(
        {code: "".join(w[0] for w in get_force(code).slug.split("-")).upper() for code in e["force_code"].unique()}
    )
    return (prefix + f"-{year}-" + order.map("{:06d}".format)).to_numpy()


def generate_extract(
    year: int,
    seed: int,
    years: int = 1,
    scale: float = 1.0,
    plan: list[PlantedEffect] | None = None,
    extract_date: date | str | None = None,
    growth: float = 0.02,
    yearly: bool = False,
    cross_force_share: float = CROSS_FORCE_SHARE,
    national_key_missing: float = NATIONAL_KEY_MISSING,
    response_probabilities: bool = False,
) -> tuple[pd.DataFrame, dict]:
    """Generate a synthetic national extract and its ground truth.

    Parameters
    ----------
    year : int
        First calendar year of reports.
    seed : int
        Random seed: the same seed and arguments give the same extract.
    years : int, default 1
        Number of consecutive years.
    scale : float, default 1.0
        Fraction of the national volume (about 180,000 episodes a year at 1.0).
        Small scales make quick test data.
    plan : list of PlantedEffect, optional
        Effects to plant (see :func:`read_plan`).
    extract_date : date or str, optional
        When the data were taken; default 31 January after the last year.
    growth : float, default 0.02
        Growth in volume from one year to the next (a planted national trend).
    yearly : bool, default False
        Record each year as a yearly export taken a month after it ends (31 January after it)
        would: an episode still open then, a review or interview not yet made then, is blank,
        where otherwise the one extract date decides for every year. No ``extract_date`` is
        given; the truth's ``extract_dates`` holds each year's, and its ``realised`` practice is
        measured year by year. Every draw is as without it, so the last year is the same either way.
    cross_force_share : float, default 0.03
        Of the true children, the share who also go missing in another force (most of them looked after
        and placed out of area), where they are that force's child (:mod:`toolkit.synthetic.identities`).
    national_key_missing : float, default 0.5
        Of the force records, the share whose national key is not known.
    response_probabilities : bool, default False
        Add to the truth, under ``response_probabilities``, every episode's probability (as the
        generator drew it) of an active response graded medium or high (``graded_higher``) and of no
        active response (``no_active_response``), in step with the episodes' rows and their
        ``force_code`` and ``episode_id``; blank in a planted
        force, whose rows are drawn again after them. The truth of the consistency models' benchmark
        (large: left out unless asked for).

    Returns
    -------
    episodes : pandas.DataFrame
        The canonical extract, sorted by force and report time.
    truth : dict
        Arguments, planted effects and every force's practice parameters; under ``linkage`` the true
        child of every ``(force_code, person_id)`` and the number of children there truly are.
    """
    if not 0 < scale <= 20:
        raise ToolkitError(f"scale must be above 0 and at most 20, not {scale}")
    if not 1 <= years <= 30:
        raise ToolkitError(f"years must be from 1 to 30, not {years}")
    if not 1990 <= year <= 2100:
        raise ToolkitError(f"year must be from 1990 to 2100, not {year}")
    if not (0 <= cross_force_share <= 0.2 and 0 <= national_key_missing <= 1):
        raise ToolkitError("cross_force_share must be from 0 to 0.2 and national_key_missing from 0 to 1")
    plan = plan or []
    last_year = year + years - 1
    if yearly and extract_date is not None:
        raise ToolkitError("yearly extracts take no extract date: each year's is 31 January after it")
    extract = ExtractDate.parse(extract_date if extract_date is not None else date(last_year + 1, 1, 31))
    if extract.day < date(last_year, 12, 31):
        raise ToolkitError(f"the extract date {extract} is before the end of {last_year}")
    taken = [ExtractDate.parse(date(y + 1, 1, 31)) if yearly else extract for y in range(year, last_year + 1)]
    sequence = np.random.SeedSequence(seed)
    seeds = sequence.spawn(years + 1)
    # Spawned after the first: the draws of the six failures planted after the natural year come from
    # streams of their own, so every natural draw (and every unplanted force) is as without them.
    plant_seeds = sequence.spawn(years)
    identity_seeds = sequence.spawn(years)  # and the identities' after those
    codes = list(read_forces_table().index)
    params = _apply_plan(_force_parameters(np.random.default_rng(seeds[0]), codes), plan)
    frames, identities = [], []
    for i in range(years):
        rng = np.random.default_rng(seeds[i + 1])
        plant_rng = np.random.default_rng(plant_seeds[i])
        linkage = (np.random.default_rng(identity_seeds[i]), cross_force_share, national_key_missing)
        # The last whole second of the extract day: times are whole seconds.
        extract_end = taken[i].end.floor("s")
        frame, identity = _one_year(rng, plant_rng, year + i, extract_end, params, scale * (1 + growth) ** i, linkage)
        frames.append(frame)
        identities.append(identity)
    episodes = pd.concat(frames, ignore_index=True)
    episodes = episodes.sort_values(["force_code", "reported_at", "episode_id"], kind="stable")
    episodes = episodes.reset_index(drop=True)
    probabilities = episodes.pop(RESPONSE_TRUTH[0]), episodes.pop(RESPONSE_TRUTH[1])
    truth = {
        "generator": f"toolkit {toolkit.__version__}",
        "year": year,
        "years": years,
        "seed": seed,
        "scale": scale,
        "growth_per_year": growth,
        "extract_date": extract.isoformat(),
        "targets": TARGETS,
        "officer_sd": OFFICER_SD,
        "force_risk_sd": FORCE_RISK_SD,
        "planted": [
            {
                "force_code": p.force_code,
                "force": get_force(p.force_code).name,
                "effect": p.effect,
                "parameters": p.parameters,
                "meaning": EFFECTS[p.effect]["doc"],
            }
            for p in plan
        ],
        "force_parameters": params.reset_index().round(6).replace({np.nan: None}).to_dict("records"),
        "linkage": _linkage_truth(identities, cross_force_share, national_key_missing),
    }
    measured = [*dict.fromkeys(p.force_code for p in plan), "national"]
    if yearly:  # each year taken, and measured, as its own export holds it
        truth["extract_dates"] = {str(year + i): day.isoformat() for i, day in enumerate(taken)}
        reported = episodes["reported_at"].dt.year.to_numpy()
        truth["realised"] = {
            str(y): _realised(measure_practice(episodes[reported == y]), measured) for y in range(year, last_year + 1)
        }
    else:
        truth["realised"] = _realised(measure_practice(episodes), measured)
    if response_probabilities:
        # A planted force's rows are drawn again after these probabilities (_plant_failures): blank.
        natural = ~episodes["force_code"].isin({p.force_code for p in plan}).to_numpy()
        truth["response_probabilities"] = {
            "force_code": episodes["force_code"].tolist(),
            "episode_id": episodes["episode_id"].tolist(),
            **{
                name: np.where(natural, p, np.nan).tolist()
                for name, p in zip(RESPONSE_TRUTH, probabilities, strict=True)
            },
        }
    return episodes, truth


def estimate_true_effects(probability, covariates: pd.DataFrame, forces: pd.Series) -> pd.Series:
    """Each force's true log odds against the forces' mean, for a model of force and case mix.

    The value a multilevel model of ``logit P = case mix + force`` reaches on endless draws of the same
    episodes: the same model with a fixed effect for each force, fitted (statsmodels' GLM) to the
    probability the generator gave each episode (``generate_extract(..., response_probabilities=True)``).
    The generator draws a response from more than one parameter (how a force grades and how often it
    records "absent"), so no one parameter is the truth of a model of the response.

    Parameters
    ----------
    probability : array-like
        Each episode's probability of the response.
    covariates : pandas.DataFrame
        The model's case-mix columns (an ``intercept`` column is dropped: the forces' effects hold it).
    forces : pandas.Series
        Each episode's force, in step with ``covariates``.

    Returns
    -------
    pandas.Series
        Log odds by force, with mean zero.

    Examples
    --------
    >>> x = pd.DataFrame({"flag": [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]})
    >>> p = np.array([0.2, 0.5, 0.6, 0.9, 0.3, 0.7])  # a flagged child of each force more often
    >>> estimate_true_effects(p, x, pd.Series(["A", "A", "B", "B", "C", "C"])).round(2).to_dict()
    {'A': -0.9, 'B': 1.08, 'C': -0.18}
    """
    import statsmodels.api as sm  # only for checking models against the truth: not every generator run

    dummies = pd.get_dummies(pd.Series(np.asarray(forces, dtype=object), index=covariates.index), dtype=float)
    design = pd.concat([covariates.drop(columns="intercept", errors="ignore"), dummies], axis=1)
    fit = sm.GLM(np.asarray(probability, dtype=float), design, family=sm.families.Binomial()).fit()
    effects = fit.params[dummies.columns]
    return effects - effects.mean()


def _linkage_truth(identities: list[dict], cross_force_share: float, national_key_missing: float) -> dict:
    """The truth of linkage: every force's child's true child, and how many children there truly are."""
    return {
        "key": "toolkit.synthetic.identities.DEMO_KEY: public, for synthetic data only, never a real key",
        "cross_force_share": cross_force_share,
        "national_key_missing": national_key_missing,
        "variation": VARIATION,
        "force_children": sum(year["force_children"] for year in identities),
        "children": sum(year["children"] for year in identities),
        "children_in_more_than_one_force": sum(year["children_in_more_than_one_force"] for year in identities),
        "local_authorities": {la: force for force, las in local_authorities().items() for la in las},
        # Every (force_code, person_id) with its true child: three lists in step.
        "records": {key: [v for year in identities for v in year[key]] for key in ("force_code", "person_id", "child")},
    }


def _realised(practice: pd.DataFrame, codes: list[str]) -> dict:
    """The measured practice of these forces (and ``national``), for the ground truth: blanks as None."""
    return {code: practice.loc[code].replace({np.nan: None}).to_dict() for code in codes}


def measure_practice(episodes: pd.DataFrame) -> pd.DataFrame:
    """Measure, per force, the practices that planted effects change.

    Plain shares with no modelling, recorded in the ground truth so that the
    analysis can be judged against what the data really hold.

    Returns
    -------
    pandas.DataFrame
        Indexed by force code (plus ``national``): ``flagged_absent_share``
        (exploitation-flagged episodes recorded absent), ``high_share``
        (reports graded high), ``officer_high_or_medium_sd`` (spread between
        officers with 30+ missing episodes in their share graded medium or
        high), ``blank_share`` (optional values blank or unknown),
        ``rhi_72h_share`` (returns with a return interview within 72 hours),
        and the measures of the six failures planted after the natural year
        (:func:`measure_failures`).
    """
    e = episodes
    flagged = e["risk_factors"].astype(str).str.contains("|".join(EXPLOITATION))
    returned = e["returned_at"].notna()
    rhi_hours = (e["return_interview_at"] - e["returned_at"]).dt.total_seconds() / 3600
    blank = pd.DataFrame({c: (e[c].isna() | e[c].astype(str).isin(["", "unknown"])) for c in _BLANKABLE}).mean(axis=1)
    frame = pd.DataFrame(
        {
            "force_code": e["force_code"].astype(str),
            "flagged": flagged,
            "flagged_absent": flagged & (e["category"] == "absent"),
            "high": e["risk_initial"] == "high",
            "blank": blank,
            "returned": returned,
            "rhi_72h": returned & (e["return_interview"] == "completed") & (rhi_hours <= 72),
        }
    )

    def shares(d: pd.DataFrame) -> pd.Series:
        return pd.Series(
            {
                "flagged_absent_share": d["flagged_absent"].sum() / max(d["flagged"].sum(), 1),
                "high_share": d["high"].mean(),
                "blank_share": d["blank"].mean(),
                "rhi_72h_share": d["rhi_72h"].sum() / max(d["returned"].sum(), 1),
            }
        )

    table = frame.groupby("force_code").apply(shares)
    table.loc["national"] = shares(frame)
    missing = e[(e["category"] == "missing") & e["officer_id"].notna() & (e["officer_id"] != "")]
    by_officer = (
        missing.assign(hm=missing["risk_initial"].isin(["medium", "high"]))
        .groupby(["force_code", "officer_id"], observed=True)["hm"]
        .agg(["mean", "size"])
    )
    by_officer = by_officer[by_officer["size"] >= 30]
    table["officer_high_or_medium_sd"] = by_officer.groupby(level="force_code", observed=True)["mean"].std()
    return table.join(measure_failures(e)).round(6)


def _weighted_log_odds_slope(events: pd.DataFrame, trials: pd.DataFrame) -> pd.Series:
    """Weighted least-squares slope of empirical log odds on the column number, per row.

    Each cell's log odds has 0.5 added to its events and non-events (Haldane), and its weight is
    the inverse of its approximate variance, ``1 / (1 / (y + 0.5) + 1 / (n - y + 0.5))``; cells
    with no trials are left out, and a row with fewer than two cells has no slope (NaN).

    Examples
    --------
    10, 50 and 90 events in 100 trials give log odds ``-log(90.5 / 10.5)``, 0 and ``log(90.5 / 10.5)``,
    the outer two equally weighted, so the slope is ``log(90.5 / 10.5)``; a row with one cell has none:

    >>> y = pd.DataFrame([[10, 50, 90], [5, 0, 0]])
    >>> n = pd.DataFrame([[100, 100, 100], [10, 0, 0]])
    >>> slope = _weighted_log_odds_slope(y, n)
    >>> round(float(slope[0]), 6), round(float(np.log(90.5 / 10.5)), 6), bool(np.isnan(slope[1]))
    (2.153975, 2.153975, True)
    """
    y, n = events.to_numpy(dtype=float), trials.to_numpy(dtype=float)
    x = np.broadcast_to(np.arange(y.shape[1], dtype=float), y.shape)
    used = n > 0
    log_odds = np.log((y + 0.5) / (n - y + 0.5))
    w = np.where(used, 1 / (1 / (y + 0.5) + 1 / (n - y + 0.5)), 0.0)
    sw = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        x_bar = (w * x).sum(axis=1, keepdims=True) / sw
        l_bar = (w * np.where(used, log_odds, 0)).sum(axis=1, keepdims=True) / sw
        sxy = (w * (x - x_bar) * np.where(used, log_odds - l_bar, 0)).sum(axis=1)
        sxx = (w * (x - x_bar) ** 2).sum(axis=1)
        slope = np.where(used.sum(axis=1) >= 2, sxy / sxx, np.nan)
    return pd.Series(slope, index=events.index)


def measure_failures(episodes: pd.DataFrame) -> pd.DataFrame:
    """Measure, per force, the six failures planted after the natural year.

    Plain counts and shares, with no modelling but one weighted slope, from the records as
    published (blank and unknown values as recorded); a share without a denominator is NaN.

    Returns
    -------
    pandas.DataFrame
        Indexed by force code (plus ``national``):

        - ``review_share``: "missing" episodes with a supervisor's review recorded;
        - ``flagged_medium_high_gap``: share of "missing" episodes graded medium or high among
          children with a cse or cce flag, less that among children with neither;
        - ``repeat_medium_high_slope`` and ``repeat_absent_slope``: the weighted slope
          (:func:`_weighted_log_odds_slope`) of the log odds of a medium or high grade (among
          "missing" episodes) and of "absent" (among all) on the child's earlier episodes in
          the force, 0 to 4 or more;
        - ``residential_absent_share``: episodes missing from residential care recorded "absent";
        - ``low_grade_harm_share`` and ``higher_grade_harm_share``: harm (not ``none``) among
          episodes with harm known, graded low or no apparent risk or recorded "absent", and
          graded medium or high;
        - ``flags_left_out_share``: of each later episode's risk flags recorded on an earlier
          episode of the child in the force, the share it does not record;
        - ``left_out_low_share``: episodes that leave out such a flag graded low or no apparent
          risk.

    Examples
    --------
    A child recorded with cse, then without it and graded low:

    >>> e = pd.DataFrame({
    ...     "force_code": ["E23000001"] * 2, "person_id": ["C1", "C1"], "category": ["missing"] * 2,
    ...     "reported_at": pd.to_datetime(["2024-01-01 09:00", "2024-02-01 09:00"]),
    ...     "risk_initial": ["high", "low"], "risk_factors": ["cse;self_harm", "self_harm"],
    ...     "supervisor_review_at": pd.to_datetime(["2024-01-01 10:00", None]),
    ...     "missing_from": ["home", "home"], "harm": ["none", "injury"]})
    >>> m = measure_failures(e).loc["E23000001"]
    >>> m[["review_share", "flags_left_out_share", "left_out_low_share", "low_grade_harm_share"]].tolist()
    [0.5, 0.5, 1.0, 1.0]
    """
    e = episodes
    force, forces = pd.factorize(e["force_code"].astype(str), sort=True)
    # Risk-flag lists take a few hundred distinct values: read each once.
    lists, distinct = pd.factorize(e["risk_factors"].fillna("").astype(str))
    flags = np.column_stack([distinct.str.contains(factor, regex=False) for factor in RISK_FACTORS])
    flags = flags[lists] if len(distinct) else np.zeros((len(e), len(RISK_FACTORS)), dtype=bool)
    # Each child's episodes in report order; a flag is recorded before an episode when the child's
    # running count of it, less this episode's own, is positive.
    person, _ = pd.factorize(e["person_id"].astype(str))
    child = force.astype(np.int64) * (person.max(initial=0) + 1) + person
    order = np.lexsort((e["reported_at"].to_numpy(), child))
    first = np.r_[True, child[order][1:] != child[order][:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    earlier, before = np.empty(len(e), dtype=np.int64), np.empty_like(flags)
    earlier[order] = np.arange(len(e)) - starts[group]
    running = np.cumsum(flags[order], axis=0, dtype=np.int32)
    running_before = np.vstack([np.zeros((1, len(RISK_FACTORS)), dtype=np.int32), running])[starts][group]
    before[order] = running - running_before - flags[order] > 0

    missing = (e["category"] == "missing").to_numpy()
    absent = (e["category"] == "absent").to_numpy()
    medium_high = e["risk_initial"].isin(["medium", "high"]).to_numpy()
    low = absent | e["risk_initial"].isin(["low", "no_apparent_risk"]).to_numpy()
    known = ~e["harm"].fillna("").isin(["", "unknown"]).to_numpy()
    harmed = known & (e["harm"] != "none").to_numpy()
    exploited = flags[:, list(RISK_FACTORS).index("cse")] | flags[:, list(RISK_FACTORS).index("cce")]
    residential = (e["missing_from"] == "residential_care").fillna(False).to_numpy(dtype=bool)
    left_out = (before & ~flags).sum(axis=1)
    columns = {
        "missing": missing,
        "missing_reviewed": missing & e["supervisor_review_at"].notna().to_numpy(),
        "exploited_missing": missing & exploited,
        "exploited_medium_high": missing & exploited & medium_high,
        "other_missing": missing & ~exploited,
        "other_medium_high": missing & ~exploited & medium_high,
        "residential": residential,
        "residential_absent": residential & absent,
        "low_known": low & known,
        "low_harmed": low & harmed,
        "higher_known": medium_high & known,
        "higher_harmed": medium_high & harmed,
        "flag_pairs": before.sum(axis=1),
        "flags_left_out": left_out,
        "leaving_out": left_out > 0,
        "leaving_out_low": (left_out > 0) & low,
    }
    counts = pd.DataFrame(
        {name: np.bincount(force, weights=values, minlength=len(forces)) for name, values in columns.items()},
        index=forces,
    )
    counts.loc["national"] = counts.sum()
    step = force * (REPEAT_CAP + 1) + np.minimum(earlier, REPEAT_CAP)

    def by_step(values: np.ndarray) -> pd.DataFrame:
        cells = np.bincount(step, weights=values, minlength=len(forces) * (REPEAT_CAP + 1))
        table = pd.DataFrame(cells.reshape(len(forces), REPEAT_CAP + 1), index=forces)
        table.loc["national"] = table.sum()
        return table

    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "review_share": counts["missing_reviewed"] / counts["missing"],
                "flagged_medium_high_gap": counts["exploited_medium_high"] / counts["exploited_missing"]
                - counts["other_medium_high"] / counts["other_missing"],
                "repeat_medium_high_slope": _weighted_log_odds_slope(by_step(missing & medium_high), by_step(missing)),
                "repeat_absent_slope": _weighted_log_odds_slope(by_step(absent), by_step(np.ones(len(e)))),
                "residential_absent_share": counts["residential_absent"] / counts["residential"],
                "low_grade_harm_share": counts["low_harmed"] / counts["low_known"],
                "higher_grade_harm_share": counts["higher_harmed"] / counts["higher_known"],
                "flags_left_out_share": counts["flags_left_out"] / counts["flag_pairs"],
                "left_out_low_share": counts["leaving_out_low"] / counts["leaving_out"],
            }
        )
    return table.astype(float)


def _to_text(episodes: pd.DataFrame) -> pd.DataFrame:
    out = episodes.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = format_iso_datetimes(out[column])
    out["age"] = out["age"].astype(int).astype(str)
    return out.fillna("")


def _text_columns(text: pd.DataFrame) -> list[pa.Array]:
    """Each column of an all-text frame as an Arrow string array, blanks (and missing values) as ""."""
    return [text_array(text[c]) for c in text.columns]


def _write_text_csv(text: pd.DataFrame, path: Path) -> None:
    r"""Write an all-text frame as CSV: UTF-8, ``\n`` line ends, a field quoted only when it must be.

    A field is quoted when it holds a comma, a quote (doubled inside) or a line end, as pandas
    writes it (but for a carriage return, which pandas leaves bare); built in Arrow, many times
    faster than pandas for the hundreds of thousands of rows of a national year.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.csv"
    >>> _write_text_csv(pd.DataFrame({"a": ["1", 'say "hi" now', ""], "b, c": ["x,y", "", "z"]}), path)
    >>> print(path.read_text(), end="")
    a,"b, c"
    1,"x,y"
    "say ""hi"" now",
    ,z
    """

    def fields(values: pa.Array) -> pa.Array:
        special = pc.match_substring_regex(values, '[",\r\n]')
        if len(text.columns) == 1:  # a blank line would be no row: a lone blank is written ""
            special = pc.or_(special, pc.equal(values, ""))
        if not pc.any(special).as_py():  # most columns: nothing to quote
            return values
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
        return pc.if_else(special, quoted, values)

    header = pa.array([str(c) for c in text.columns], pa.string())
    lines = [",".join(fields(header).to_pylist())]
    if len(text):
        lines += pc.binary_join_element_wise(*map(fields, _text_columns(text)), ",").to_pylist()
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


_XLSX_PARTS = {  # an Excel workbook's package: one sheet of shared strings, and the parts around it
    "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    "</Types>",
    "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    '<Relationship Id="rId2" Target="docProps/core.xml" '
    'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"/>'
    "</Relationships>",
    "docProps/core.xml": '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>toolkit.synthetic</dc:creator>'
    '<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified></cp:coreProperties>',
    "xl/workbook.xml": '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    '<Relationship Id="rId2" Target="styles.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"/>'
    '<Relationship Id="rId3" Target="sharedStrings.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
    "</Relationships>",
    "xl/styles.xml": '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>',
}
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # no XML 1.0 document may hold these


def _column_letters(index: int) -> str:
    """A spreadsheet's name for the column at ``index`` (from 0): A, ..., Z, AA, ...

    >>> [_column_letters(i) for i in (0, 25, 26, 701, 702)]
    ['A', 'Z', 'AA', 'ZZ', 'AAA']
    """
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _shared_strings(strings: pa.Array) -> str:
    """Each string as an item of a workbook's shared strings, in order, escaped for XML.

    >>> _shared_strings(pa.array(["R&D", " x"]))
    '<si><t>R&amp;D</t></si><si><t xml:space="preserve"> x</t></si>'
    """
    if pc.any(pc.match_substring_regex(strings, _XML_ILLEGAL.pattern)).as_py():
        raise ToolkitError("the export holds a control character no Excel workbook can hold; write it as CSV")
    escaped = strings
    for character, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")):
        escaped = pc.replace_substring(escaped, character, entity)
    spaced = pc.not_equal(pc.utf8_trim_whitespace(strings), strings)  # kept as written, not trimmed by Excel
    opening = pc.if_else(spaced, '<si><t xml:space="preserve">', "<si><t>")
    return "".join(pc.binary_join_element_wise(opening, escaped, "</t></si>", "").to_pylist())


def _write_steady_xlsx(text: pd.DataFrame, path: Path, when: datetime) -> None:
    """Write an all-text frame as an Excel workbook whose bytes depend only on ``text`` and ``when``.

    One sheet, ``Sheet1``: the header, then a row per record, every value a (shared) string and a
    blank left empty, as Excel keeps text. The package is written here, not by openpyxl, which
    takes minutes over a national year (and stamps the clock into the file): its document's
    created and modified times, and every zip member's, are ``when``.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.xlsx"
    >>> _write_steady_xlsx(pd.DataFrame({"age": ["14", ""], "sex": ["male", "R&D <x> "]}), path, datetime(2025, 1, 31))
    >>> with zipfile.ZipFile(path) as workbook:
    ...     times = {member.date_time for member in workbook.infolist()}
    ...     core = workbook.read("docProps/core.xml").decode()
    >>> times, core.count("2025-01-31T00:00:00Z")
    ({(2025, 1, 31, 0, 0, 0)}, 2)
    >>> pd.read_excel(path, dtype=str, engine="openpyxl").fillna("").to_dict("list")
    {'age': ['14', ''], 'sex': ['male', 'R&D <x> ']}
    """
    header = [str(c) for c in text.columns]
    columns = _text_columns(text)
    n = len(text)
    # Every text once, in the shared strings (the header's, then each column's); a cell holds its number there.
    everything = pa.concat_arrays([pa.array(header, pa.string()), *columns])
    encoded = pc.dictionary_encode(everything)
    numbers = encoded.indices.cast(pa.string())
    row_numbers = pa.array(np.arange(2, n + 2)).cast(pa.string())
    letters = [_column_letters(j) for j in range(len(header))]
    head = "".join(f'<c r="{letter}1" t="s"><v>{numbers[j].as_py()}</v></c>' for j, letter in enumerate(letters))
    body = [f'<row r="1">{head}</row>']
    if n:
        cells = []
        for j, (letter, values) in enumerate(zip(letters, columns, strict=True)):
            own = numbers.slice(len(header) + j * n, n)
            cell = pc.binary_join_element_wise(f'<c r="{letter}', row_numbers, '" t="s"><v>', own, "</v></c>", "")
            cells.append(pc.if_else(pc.equal(values, ""), "", cell))
        body += pc.binary_join_element_wise('<row r="', row_numbers, '">', *cells, "</row>", "").to_pylist()
    last = f"{_column_letters(max(len(header) - 1, 0))}{n + 1}"
    parts = dict(_XLSX_PARTS)
    parts["docProps/core.xml"] = parts["docProps/core.xml"].format(when=when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    parts["xl/sharedStrings.xml"] = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="{len(header) + sum(pc.sum(pc.not_equal(c, "")).as_py() or 0 for c in columns)}" '
        f'uniqueCount="{len(encoded.dictionary)}">' + _shared_strings(encoded.dictionary) + "</sst>"
    )
    parts["xl/worksheets/sheet1.xml"] = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:{last}"/><sheetData>' + "".join(body) + "</sheetData></worksheet>"
    )
    # The fastest compression: a sheet still shrinks six times, in a quarter of the time the default level takes.
    with zipfile.ZipFile(path, "w") as workbook:
        for name, xml in parts.items():
            member = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16  # read and write for the owner, as openpyxl leaves it
            xml = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + xml
            workbook.writestr(member, xml, compresslevel=1)


def write_extract(episodes: pd.DataFrame, truth: dict, out: str | Path) -> tuple[Path, Path]:
    """Write an extract (CSV, Parquet or Excel by its ending), its ground truth and its provenance beside it.

    ``episodes`` is a canonical extract (typed) or a force system's export (all text).
    The provenance file, ``<out>.provenance.json``
    (:func:`toolkit.ingest.provenance.provenance_path`), says the data are
    synthetic and how they were made, so that a run on them marks every page
    as synthetic.

    Every form is byte-identical for the same extract and truth, so for the same
    seed and arguments: an Excel workbook is dated the extract date (its document
    properties and zip members), not the time it was written.

    Returns
    -------
    tuple of Path
        The extract and ``<out>.truth.json``.

    Examples
    --------
    >>> import tempfile
    >>> from toolkit.ingest.provenance import read_provenance
    >>> episodes, truth = generate_extract(year=2024, seed=1, scale=0.002)
    >>> out, _ = write_extract(episodes, truth, Path(tempfile.mkdtemp()) / "tiny.csv")
    >>> made = read_provenance(out)
    >>> made["synthetic"], made["generator"], made["year"], made["seed"], made["scale"]
    (True, 'toolkit.synthetic', 2024, 1, 0.002)
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".xlsx"):
        raise ToolkitError(f"{out}: write a .csv, .parquet or .xlsx file")
    out.parent.mkdir(parents=True, exist_ok=True)
    # A canonical extract is typed; a force system's export (see toolkit.synthetic.exports) is already text.
    canonical = "age" in episodes.columns and pd.api.types.is_datetime64_any_dtype(episodes["reported_at"])
    text = _to_text(episodes) if canonical else episodes
    temporary = out.with_name(out.name + ".partial")
    if suffix == ".csv":
        _write_text_csv(text, temporary)
    elif suffix == ".parquet":
        typed = episodes.copy()
        if canonical:
            typed["age"] = typed["age"].astype("int8")
        typed.to_parquet(temporary, index=False)
    else:
        _write_steady_xlsx(text, temporary, datetime.combine(ExtractDate.parse(truth["extract_date"]).day, time()))
    temporary.replace(out)
    truth_path = out.with_name(out.name + ".truth.json")
    truth_path.write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    made = {key: truth[key] for key in ("year", "years", "seed", "scale", "extract_date") if key in truth}
    if "dialect" in truth:
        made["dialect"] = truth["dialect"]["name"]
    write_provenance(
        out, {"synthetic": True, "generator": "toolkit.synthetic", "toolkit_version": toolkit.__version__, **made}
    )
    return out, truth_path
