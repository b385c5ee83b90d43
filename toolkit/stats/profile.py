"""The problem profile: what a force should know about its own area, for every force at once.

A force that understands the problem in its area knows when its children go
missing, where from, who they are, how concentrated its repeats are, which of
them are exploited or harmed, who finds them and how long it takes to report
them. Each measure here is computed for every force in the extract (zero
counts, and a reason, where the force records nothing the measure needs) and
for England and Wales, with its method named and a 95% interval:

- **shares** (:func:`summarise_profile_shares`): where children go missing
  from, looked-after status, out-of-area placements, exploitation flags, harm,
  who found them, reports more than 24 hours after last seen, reports on
  weekend nights, and the ethnicity of the children; Wilson score intervals on
  proportion funnels against England and Wales and against the comparator
  group (:func:`toolkit.stats.funnel.compare_shares`);
- **rates** of distinct children per 1,000 resident children by age band and
  sex (:func:`summarise_profile_rates`), with exact Poisson intervals on rate
  funnels;
- the **hour-by-weekday** counts of reports (:func:`tabulate_report_hours`);
- the **concentration of repeats** (:func:`summarise_repeat_concentration`):
  the share of episodes accounted for by the most often missing 10% of
  children, with a bootstrap interval over children;
- the **delay from last seen to report** (:func:`summarise_report_delay`):
  the median with a distribution-free (binomial order-statistic) interval;
- the **first response by ethnicity, after case mix**
  (:func:`compare_response_by_ethnicity`): each group's odds of no active
  response, and of a medium or high grade, against White children's,
  Mantel-Haenszel over the consistency models' case-mix strata, with
  Robins-Breslow-Greenland intervals.

:func:`summarise_problem_profile` makes all six prepared tables at once.
The first measure, kept as it was, is the share of episodes reported late at
night, 22:00 to 02:00 (:func:`summarise_night_reports`).

Vectorised: each measure is one pass (``bincount``) over every episode, the
comparator-group funnels of all forces are one matrix product per measure
(:func:`_compare_with_peers`, tested equal to the funnel module's per-force
loop, which took 13 s here for the 38 measures), and the concentration's
bootstrap draws each resample of a force's children as one multinomial over
its distinct episode counts. Speed on this project's 2-core machine, for one
generated national year (``generate_extract(2024, seed=1)``, cleaned: 179,528
episodes, 43 forces): :func:`summarise_problem_profile` 2.0 s (median of 3,
with the shared machine's load average at about 6, so less on a quiet one;
4.0 s when it describes the case mix itself); the night share 0.1 s. The
response by ethnicity adds 0.5 to 1.1 s (the demo year, 177,550 episodes;
medians of 5 in two sittings, the load average near 4 in both).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.forces import NATIONAL, POPULATION_FILE, read_comparator_groups
from toolkit.ingest.schema import CODES, cast_to_text
from toolkit.stats.consistency import (
    MIN_EPISODES,
    describe_case_mix,
    has_no_active_response,
    is_graded_higher,
    select_first_responses,
)
from toolkit.stats.funnel import LEVELS, MIN_FORCES_TO_COMPARE, compare_shares, compare_with_funnel, ratio_funnel_limits
from toolkit.stats.intervals import exact_poisson_limits, proportion_interval
from toolkit.stats.outcomes import HARMS

__all__ = [
    "NIGHT_HOURS",
    "NOT_KNOWN",
    "WEEKDAYS",
    "WEEKEND_NIGHT",
    "AGE_BANDS",
    "TOP_SHARE",
    "DELAY_HOURS",
    "BOOTSTRAP_RESAMPLES",
    "PROFILE_TABLES",
    "BREAKDOWNS",
    "summarise_night_reports",
    "summarise_problem_profile",
    "summarise_profile_shares",
    "summarise_profile_rates",
    "tabulate_report_hours",
    "summarise_repeat_concentration",
    "summarise_report_delay",
    "compare_response_by_ethnicity",
    "ETHNICITY_GROUPS",
    "REFERENCE_ETHNICITY",
    "RESPONSE_OUTCOMES",
    "describe_children",
    "find_median_ranks",
    "read_child_populations",
]

# Hours of the clock (0-23) that count as late at night: 22:00 up to, not including, 02:00.
NIGHT_HOURS = (22, 23, 0, 1)
# The category of a breakdown that holds the episodes (or children) whose value is blank or "unknown".
NOT_KNOWN = "not_known"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Late at night at the weekend: Friday and Saturday nights, 22:00 to 02:00 (weekday 0 is Monday). Children
# missing from residential care are reported then more than at other times.
WEEKEND_NIGHT = frozenset({(4, 22), (4, 23), (5, 0), (5, 1), (5, 22), (5, 23), (6, 0), (6, 1)})
# Age bands of children that the ONS child populations support (0-9, 10-17 and 12-17 are published, so 10-11
# is their difference; 16-17 is not separable), by the child's age at its first episode in the extract.
AGE_BANDS = {"0-9": (0, 9), "10-11": (10, 11), "12-17": (12, 17)}
SEXES_WITH_POPULATION = ("female", "male")
# The most often missing share of children whose episodes make the concentration of repeats.
TOP_SHARE = 0.1
# Reported more than this many hours after last seen.
DELAY_HOURS = 24
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240101  # fixed: the same extract gives the same intervals, and byte-identical reports
# Fewest children for a bootstrap interval of the concentration: below this the resamples are too coarse.
BOOTSTRAP_MIN_CHILDREN = 20
_SINGULAR = {"episodes": "episode", "children": "child"}
_NO_EPISODES = "not computed: no clean episodes of this force in the extract"
PROFILE_TABLES = (
    "profile_shares",
    "profile_rates",
    "profile_hours",
    "profile_concentration",
    "profile_delay",
    "profile_ethnicity",
)
# The first response by ethnicity (compare_response_by_ethnicity): each group against White children, the
# largest group nationally, fixed so that every force's odds ratios are against the same group; the episodes of
# children whose ethnicity is not known are counted, last, and not compared.
REFERENCE_ETHNICITY = "white"
ETHNICITY_GROUPS = (REFERENCE_ETHNICITY, "asian", "black", "mixed", "other", NOT_KNOWN)
# Each outcome compared: the function that marks an episode with it, and its name in a method.
RESPONSE_OUTCOMES = {
    "no_active_response": (has_no_active_response, "no active response ('absent', or graded no apparent risk)"),
    "higher_grade": (is_graded_higher, "a first grade of medium or high"),
}

# Breakdowns whose categories, with NOT_KNOWN, add up to the force's episodes (or children): the column, the
# unit counted, and what a reader is told when a force records none of it.
BREAKDOWNS = {
    "missing_from": ("episodes", "where the child went missing from"),
    "looked_after": ("episodes", "whether the child was looked after"),
    "found_by": ("episodes", "who found the child"),
    "ethnicity": ("children", "the child's ethnicity"),
}

_SHARE_COLUMNS = [
    "force_code",
    "measure",
    "category",
    "unit",
    "numerator",
    "denominator",
    "whole",
    "partition",
    "rests_on",
    "value",
    "lower",
    "upper",
    "band",
    "comparator_band",
    "national",
    "definition",
    "method",
    "reason",
    "dispersion_sentence",
]


def summarise_night_reports(
    episodes: pd.DataFrame, comparator_groups: dict[str, list[str]] | None = None
) -> pd.DataFrame:
    """The share of each force's episodes reported from 22:00 to 02:00, and England and Wales's.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes: ``force_code`` and ``reported_at`` (local time, as the contract says).
    comparator_groups : dict, optional
        Default: the shipped comparator groups.

    Returns
    -------
    pandas.DataFrame
        ``force_code`` (and :data:`~toolkit.forces.NATIONAL`), ``numerator``
        (episodes reported at night), ``denominator`` (episodes), ``value``,
        ``lower``, ``upper`` (Wilson 95%), ``band`` and ``comparator_band``
        (proportion funnels, see :func:`toolkit.stats.funnel.compare_shares`),
        ``national``, ``method`` and ``dispersion_sentence``.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["E23000014"] * 4,
    ...     "reported_at": pd.to_datetime(["2024-01-01 21:59", "2024-01-01 22:00", "2024-01-02 01:59",
    ...                                    "2024-01-02 02:00"])})
    >>> t = summarise_night_reports(e, {})
    >>> t[["force_code", "numerator", "denominator", "value"]].to_numpy().tolist()
    [['E23000014', 2, 4, 0.5], ['england_and_wales', 2, 4, 0.5]]
    """
    groups = comparator_groups if comparator_groups is not None else read_comparator_groups()
    night = episodes["reported_at"].dt.hour.isin(NIGHT_HOURS)
    counts = (
        pd.DataFrame({"force_code": episodes["force_code"].astype(str), "night": night})
        .groupby("force_code", sort=True)["night"]
        .agg(numerator="sum", denominator="size")
        .reset_index()
    )
    rows = compare_shares(counts, groups)
    columns = ["force_code", "numerator", "denominator", "value", "lower", "upper", "band", "comparator_band"]
    return rows.reindex(columns=[*columns, "national", "method", "dispersion_sentence"])


# ---------------------------------------------------------------------------------------------------------
# Shared pieces: which forces, each episode's force as a number, counting by force.


def _list_forces(episodes: pd.DataFrame, covered: list[str] | None) -> list[str]:
    """Every force of the extract: those it covers (rows clean or set aside) and any with a clean episode."""
    present = {str(code) for code in episodes["force_code"].dropna().unique()}
    return sorted(present | set(covered or []))


def _codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Each value's position in ``categories``, -1 for a blank or any other value.

    Factorised first, so that only the distinct values are looked up (a tenth of
    the time of a categorical of the whole column).

    Examples
    --------
    >>> _codes(pd.Series(["b", None, "a", "unknown", "b"]), ["a", "b"]).tolist()
    [1, -1, 0, -1, 1]
    """
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    lookup = pd.Index(categories).get_indexer(pd.Index(distinct).astype(str))
    return np.append(lookup, -1)[codes].astype(np.int64)  # the sentinel -1 reads the appended -1


def _force_index(episodes: pd.DataFrame, forces: list[str]) -> np.ndarray:
    """Each episode's force as its position in ``forces`` (every force of the episodes is among them)."""
    return _codes(episodes["force_code"], forces)


def _count(index: np.ndarray, mask, size: int) -> np.ndarray:
    """How many of the rows picked by ``mask`` fall in each of ``size`` groups (one pass, no loop)."""
    mask = np.asarray(mask, dtype=bool)
    return np.bincount(index[mask], minlength=size).astype(np.int64)


def _known(values: pd.Series) -> pd.Series:
    """A coded column as text, with blanks (missing or empty) and "unknown" all missing: the value is not known."""
    text = cast_to_text(values)
    return text.mask(text.isin(["unknown", ""]))


def read_child_populations() -> pd.DataFrame:
    """Resident children of each force by age band and sex, ONS mid-2023.

    Read from ``data/reference/ons_mid2023_population_by_pfa23_children.csv``
    (:data:`toolkit.forces.POPULATION_FILE`); 10-11 is 10-17 less 12-17.

    Returns
    -------
    pandas.DataFrame
        Indexed by force code: ``0-9``, ``10-11``, ``12-17``, ``female``,
        ``male`` and ``children`` (0-17), all integers.

    Examples
    --------
    >>> p = read_child_populations()
    >>> int(p[["0-9", "10-11", "12-17"]].sum(axis=1).sub(p["children"]).abs().max())
    0
    >>> int(p.loc["E23000002", "10-11"])  # Cumbria: 43,794 aged 10-17, 33,064 aged 12-17
    10730
    """
    raw = pd.read_csv(POPULATION_FILE, dtype={"pfa23cd": str}).set_index("pfa23cd")
    table = pd.DataFrame(
        {
            "0-9": raw["population_0_9_mid2023"],
            "10-11": raw["population_10_17_mid2023"] - raw["population_12_17_mid2023"],
            "12-17": raw["population_12_17_mid2023"],
            "female": raw["female_0_17_mid2023"],
            "male": raw["male_0_17_mid2023"],
            "children": raw["population_0_17_mid2023"],
        }
    )
    return table.astype("int64").rename_axis("force_code")


def describe_children(episodes: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct child within each force: its episodes, age band, sex and ethnicity.

    A child is a ``person_id`` within a force (the same pseudonym in two forces
    is two children). Its age band is that of its age at its first episode in
    the extract; its sex and ethnicity are the first known value (not blank,
    not "unknown") over its episodes in report order, so that one episode
    recorded "unknown" does not make a known child unknown.

    Returns
    -------
    pandas.DataFrame
        ``force_code``, ``person_id``, ``episodes`` (int), ``age_band`` (a key
        of :data:`AGE_BANDS`), ``sex`` and ``ethnicity`` (missing where never known).

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["F"] * 3, "person_id": ["a", "a", "b"],
    ...     "reported_at": pd.to_datetime(["2024-03-01", "2024-01-01", "2024-01-01"]), "age": [12, 11, 4],
    ...     "sex": ["female", "unknown", None], "ethnicity": ["white", "white", "asian"]})
    >>> describe_children(e)[["person_id", "episodes", "age_band", "sex"]].to_numpy().tolist()
    [['a', 2, '10-11', 'female'], ['b', 1, '0-9', <NA>]]
    """
    frame = pd.DataFrame(
        {
            "force_code": episodes["force_code"].astype(str),
            "person_id": episodes["person_id"].astype(str),
            "reported_at": episodes["reported_at"],
            "age": pd.to_numeric(episodes["age"]).astype(float),
            "sex": _known(episodes["sex"]),
            "ethnicity": _known(episodes["ethnicity"]),
        }
    ).sort_values("reported_at", kind="stable")
    # "first" skips missing values: the first known sex and ethnicity; age is required, so its first episode's.
    children = (
        frame.groupby(["force_code", "person_id"], sort=True)
        .agg(
            episodes=("reported_at", "size"),
            age=("age", "first"),
            sex=("sex", "first"),
            ethnicity=("ethnicity", "first"),
        )
        .reset_index()
    )
    bands = pd.Series(pd.NA, index=children.index, dtype="string")
    for band, (low, high) in AGE_BANDS.items():
        bands = bands.mask(children["age"].between(low, high), band)
    return children.assign(episodes=children["episodes"].astype("int64"), age_band=bands).drop(columns="age")[
        ["force_code", "person_id", "episodes", "age_band", "sex", "ethnicity"]
    ]


# ---------------------------------------------------------------------------------------------------------
# Funnels: England and Wales by compare_with_funnel; comparator groups for all forces in one pass.


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(1 - (1 - confidence) / 2))


def _limits(statistic: str, baseline: np.ndarray, n: np.ndarray, confidence: float, multiplier: float, tau2):
    """:func:`toolkit.stats.funnel.funnel_limits` with one baseline per unit (that takes one for all).

    The same limits, element by element: the exact ones (Wilson inversion for
    proportions, the exact Poisson test for rates), and with ``tau2`` the
    random-effects limits on the variance-stabilised scale, never narrower
    than the exact ones. Tested equal to ``funnel_limits`` at random inputs.
    """
    z = _z(confidence)
    if statistic == "proportion":
        p = baseline / multiplier
        z2 = z**2
        a = 1 / z2 + 1 / n
        b = p * (n / z2 + 1)
        root = np.sqrt(np.maximum(b**2 - a * p * (p * (n + z2) ** 2 / z2 - (n + z2)), 0))
        exact = np.clip((b - root) / a / n, 0, 1) * multiplier, np.clip((b + root) / a / n, 0, 1) * multiplier
    else:
        ratio_lower, ratio_upper = ratio_funnel_limits(baseline * n / multiplier, confidence)
        exact = ratio_lower * baseline, ratio_upper * baseline
    if tau2 is None:
        return exact
    if statistic == "proportion":
        target = np.arcsin(np.sqrt(baseline / multiplier))
        half = z * np.sqrt(1 / (4 * n) + tau2)
        lower = np.sin(np.clip(target - half, 0, np.pi / 2)) ** 2 * multiplier
        upper = np.sin(np.clip(target + half, 0, np.pi / 2)) ** 2 * multiplier
    else:
        half = z * np.sqrt(multiplier / (baseline * n) + tau2)
        lower, upper = baseline * np.exp(-half), baseline * np.exp(half)
    return np.fmin(lower, exact[0]), np.fmax(upper, exact[1])


def _classify(value: np.ndarray, limits: dict) -> np.ndarray:
    """Band of each value against its 95% and 99.8% limits, as the funnel module classifies."""
    return np.select(
        [value > limits[0.998][1], value > limits[0.95][1], value < limits[0.998][0], value < limits[0.95][0]],
        ["above_998", "above_95", "below_998", "below_95"],
        "within",
    )


def _compare_with_peers(comparison: pd.DataFrame, groups: dict, statistic: str, multiplier: float, tau2):
    """Each unit against limits around its comparator group's pooled figure, at its own denominator.

    What :func:`toolkit.stats.funnel.compare_with_funnel` gives as
    ``comparator_band``, for every unit at once: the peers are the group's
    other members on the funnel, pooled by one matrix product; a group with
    no events (or no member) gives ``no_comparators``.
    """
    units = comparison["unit"].tolist()
    where = {unit: i for i, unit in enumerate(units)}
    members = np.zeros((len(units), len(units)))
    for i, unit in enumerate(units):
        peers = [where[p] for p in groups.get(unit, []) if p in where and p != unit]
        members[i, peers] = 1
    x = comparison["numerator"].to_numpy(dtype=float)
    n = comparison["denominator"].to_numpy(dtype=float)
    pooled_x, pooled_n = members @ x, members @ n
    usable = (pooled_n > 0) & (pooled_x > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        baseline = np.where(usable, pooled_x / np.where(usable, pooled_n, 1) * multiplier, np.nan)
        safe = np.where(usable, baseline, 1.0)  # limits at a stand-in baseline, discarded below
        limits = {level: _limits(statistic, safe, n, level, multiplier, tau2) for level in LEVELS}
    return np.where(usable, _classify(comparison["value"].to_numpy(dtype=float), limits), "no_comparators")


def _place_on_funnels(numerator, denominator, forces: list[str], groups: dict, statistic: str, multiplier: float = 1):
    """Every force's band against England and Wales and against its comparator group, in the order of ``forces``.

    Returns ``band``, ``comparator_band`` and ``method`` arrays (``not_compared``
    and None for a force off the funnel: no denominator, or nothing compared)
    and the sentence on over-dispersion, or why nothing is compared.
    """
    units = pd.DataFrame({"unit": forces, "numerator": numerator, "denominator": denominator})
    band = np.full(len(forces), "not_compared", dtype=object)
    comparator_band, method = band.copy(), np.full(len(forces), None, dtype=object)
    try:
        comparison, dispersion = compare_with_funnel(units, statistic, multiplier, min_units=MIN_FORCES_TO_COMPARE)
    except ValueError as reason:  # too few forces, or no events anywhere: nothing to compare
        return band, comparator_band, method, str(reason)
    tau2 = dispersion["tau2"] if dispersion["adjusted"] else None
    placed = np.asarray(denominator) > 0  # the funnel's units, in their order
    band[placed] = comparison["band"].to_numpy()
    comparator_band[placed] = _compare_with_peers(comparison, groups, statistic, multiplier, tau2)
    method[placed] = comparison["method"].to_numpy()
    return band, comparator_band, method, dispersion["sentence"]


# ---------------------------------------------------------------------------------------------------------
# Shares.


def _share_block(
    forces: list[str],
    groups: dict,
    measure: str,
    category: str,
    numerator: np.ndarray,
    denominator: np.ndarray,
    whole: np.ndarray,
    unit: str,
    definition: str,
    reasons: np.ndarray,
    partition: str = "",
    rests_on: str = "",
) -> dict[str, np.ndarray]:
    """One share's columns for every force and England and Wales (last), placed on funnels.

    As :func:`toolkit.stats.funnel.compare_shares` (tested equal), with every
    comparator band in one pass; the Wilson intervals are added to all shares
    at once (:func:`_gather_shares`).
    """
    numerator = np.asarray(numerator, dtype=np.int64)
    denominator = np.asarray(denominator, dtype=np.int64)
    band, comparator_band, method, sentence = _place_on_funnels(numerator, denominator, forces, groups, "proportion")
    empty = np.append(denominator == 0, denominator.sum() == 0)
    reason = np.append(np.asarray(reasons, dtype=object), "")
    # A force with nothing to share over is not on the funnel: it says why instead of carrying a bare NaN.
    reason = np.where(empty & (reason == ""), f"not computed: no {unit} of the force to take the share over", reason)
    method = np.append(method, None)
    method = np.where(
        empty,
        reason,
        np.where(
            pd.isna(method), "share with Wilson score 95% interval", "Wilson score interval; " + method.astype(str)
        ),
    )
    rows = len(forces) + 1
    return {
        "force_code": np.array([*forces, NATIONAL], dtype=object),
        "measure": np.full(rows, measure, dtype=object),
        "category": np.full(rows, category, dtype=object),
        "unit": np.full(rows, unit, dtype=object),
        "numerator": np.append(numerator, numerator.sum()),
        "denominator": np.append(denominator, denominator.sum()),
        "whole": np.append(np.asarray(whole, dtype=np.int64), int(np.sum(whole))),
        "partition": np.full(rows, partition, dtype=object),
        "rests_on": np.full(rows, rests_on, dtype=object),
        "band": np.append(band, "not_compared"),
        "comparator_band": np.append(comparator_band, "not_compared"),
        "definition": np.full(rows, definition, dtype=object),
        "method": method,
        "reason": np.where(empty, reason, ""),
        "dispersion_sentence": np.full(rows, sentence, dtype=object),
    }


def _gather_shares(blocks: list[dict]) -> pd.DataFrame:
    """The shares' blocks as one table, with every Wilson interval computed at once and each share's
    England and Wales figure on each of its rows."""
    columns = {name: np.concatenate([block[name] for block in blocks]) for name in blocks[0]}
    table = pd.DataFrame(columns)
    interval = proportion_interval(table["numerator"], table["denominator"])
    table[["value", "lower", "upper"]] = interval[["value", "lower", "upper"]].to_numpy()
    national = np.repeat(
        table.loc[table["force_code"] == NATIONAL, "value"].to_numpy(), [len(b["unit"]) for b in blocks]
    )
    table["national"] = national
    return table.reindex(columns=_SHARE_COLUMNS)


def _breakdown_blocks(
    forces, groups, measure: str, index: np.ndarray, values: pd.Series, whole: np.ndarray
) -> list[pd.DataFrame]:
    """A coded column's categories as shares of the force's episodes (or children) that record it, and
    the count not known as a share of them all: the cells add up to ``whole``."""
    unit, what = BREAKDOWNS[measure]
    categories = [c for c in CODES[measure] if c != "unknown"]
    size = len(forces)
    # One pass: each row's (force, category) cell; the last column of each force holds the not known.
    # Blank and "unknown" are not among the categories: their code is -1, the not known.
    code = _codes(values, categories)
    code = np.where(code < 0, len(categories), code)
    cells = np.bincount(index * (len(categories) + 1) + code, minlength=size * (len(categories) + 1))
    cells = cells.reshape(size, len(categories) + 1).astype(np.int64)
    known = cells[:, :-1].sum(axis=1)
    reasons = np.where(
        whole == 0,
        _NO_EPISODES,
        np.where(known == 0, f"not recorded: no {_SINGULAR[unit]} of this force records {what}", ""),
    )
    blocks = [
        _share_block(
            forces,
            groups,
            measure,
            category,
            cells[:, i],
            known,
            whole,
            unit,
            f"share of the force's {unit} that record {what}",
            reasons,
            partition=measure,
            rests_on=f"{measure}:{NOT_KNOWN}",
        )
        for i, category in enumerate(categories)
    ]
    blocks.append(
        _share_block(
            forces,
            groups,
            measure,
            NOT_KNOWN,
            cells[:, -1],
            whole,
            whole,
            unit,
            f"share of the force's {unit} with {what} blank or 'unknown'",
            np.where(whole == 0, _NO_EPISODES, ""),
            partition=measure,
        )
    )
    return blocks


def summarise_profile_shares(
    episodes: pd.DataFrame,
    comparator_groups: dict[str, list[str]] | None = None,
    covered: list[str] | None = None,
    case_mix: pd.DataFrame | None = None,
    children: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every share of the problem profile, for every force and England and Wales, on funnels.

    Breakdowns (``partition`` names them: their cells, with :data:`NOT_KNOWN`,
    add up to the force's ``whole``): ``missing_from``, ``looked_after`` and
    ``found_by`` of episodes, ``ethnicity`` of distinct children (no child
    population by ethnicity is published for police force areas, so it is
    compared with other forces' children, not with residents). A category's
    share is of the episodes (children) that record the column; the not known
    share is of all.

    Single shares: ``out_of_area`` (episodes of looked-after children with the
    risk factor ``out_of_area_placement``, of looked-after children's episodes),
    ``exploitation`` (``cse``, ``cce``, ``trafficking`` flags, of all episodes),
    ``harm`` (``harmed``: harm other than none or unknown, of the episodes that
    record harm), ``weekend_night`` (reported Friday or Saturday night, 22:00
    to 02:00, of all episodes and of those missing from residential care) and
    ``last_seen_delay`` (``over_24h``: reported more than :data:`DELAY_HOURS`
    hours after last seen, of the episodes that record when).

    Risk factors are one optional column where a blank means none known: a
    force that lists none on any episode cannot tell a flag from none, so its
    exploitation and out-of-area shares are not computed (denominator 0) and
    say so.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes.
    comparator_groups : dict, optional
        Default: the shipped comparator groups.
    covered : list of str, optional
        Every force of the extract (:meth:`~toolkit.ingest.clean.CleanResult.covered_forces`):
        each has its rows, with zero counts where it has no clean episode.
    case_mix, children : pandas.DataFrame, optional
        :func:`~toolkit.stats.consistency.describe_case_mix` and
        :func:`describe_children` of ``episodes``, when already computed.

    Returns
    -------
    pandas.DataFrame
        One row per force (and :data:`~toolkit.forces.NATIONAL`), ``measure`` and
        ``category``: ``unit`` (episodes or children), integer counts
        ``numerator``, ``denominator`` and ``whole`` (the force's episodes or
        children, or the denominator itself where that is a count published
        elsewhere), ``partition``, ``rests_on`` (the ``measure:category`` cell
        whose count the denominator gives back, "" if none), ``value``,
        ``lower``, ``upper`` (Wilson 95%), ``band``, ``comparator_band``,
        ``national``, ``definition``, ``method``, ``reason`` ("" or why the
        share is not computed) and ``dispersion_sentence``.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["E23000014"] * 4, "person_id": list("abcd"),
    ...     "reported_at": pd.to_datetime(["2024-01-05 23:00", "2024-01-06 10:00", "2024-01-07 01:00",
    ...                                    "2024-01-08 23:00"]),
    ...     "last_seen_at": pd.to_datetime(["2024-01-05 20:00", "2024-01-04 10:00", None, None]),
    ...     "age": 14, "sex": "female", "ethnicity": "white", "looked_after": ["yes", "yes", "no", None],
    ...     "missing_from": ["residential_care", "residential_care", "home", None],
    ...     "risk_factors": ["cse;out_of_area_placement", None, None, "cce"],
    ...     "found_by": "police", "harm": ["none", "injury", "unknown", None]})
    >>> t = summarise_profile_shares(e, {}).query("force_code == 'E23000014'").set_index(["measure", "category"])
    >>> t.loc[[("missing_from", "home"), ("missing_from", "not_known"), ("out_of_area", "out_of_area_placement"),
    ...        ("harm", "harmed"), ("weekend_night", "residential_care"), ("last_seen_delay", "over_24h")],
    ...       ["numerator", "denominator"]].to_numpy().tolist()
    [[1, 3], [1, 4], [1, 2], [1, 2], [1, 2], [1, 2]]
    """
    groups = comparator_groups if comparator_groups is not None else read_comparator_groups()
    forces = _list_forces(episodes, covered)
    size = len(forces)
    index = _force_index(episodes, forces)
    everything = np.ones(len(episodes), dtype=bool)
    total = _count(index, everything, size)
    no_episodes = np.where(total == 0, _NO_EPISODES, "")
    mix = case_mix if case_mix is not None else describe_case_mix(episodes)
    people = children if children is not None else describe_children(episodes)

    blocks = []
    for measure in ("missing_from", "looked_after", "found_by"):
        blocks += _breakdown_blocks(forces, groups, measure, index, episodes[measure], total)

    # Risk factors: a force listing none anywhere cannot tell a flag from none.
    listed = _count(index, cast_to_text(episodes["risk_factors"]).fillna("").str.strip().ne("").to_numpy(), size)
    unlisted = (total > 0) & (listed == 0)
    no_factors = np.where(
        unlisted, "not recorded: the force lists no risk factor on any episode, so a flag cannot be told from none", ""
    )
    looked_after = (cast_to_text(episodes["looked_after"]) == "yes").fillna(False).to_numpy()
    in_care = np.where(unlisted, 0, _count(index, looked_after, size))
    out_of_area = mix["out_of_area_placement"].to_numpy() == 1
    blocks.append(
        _share_block(
            forces,
            groups,
            "out_of_area",
            "out_of_area_placement",
            np.where(unlisted, 0, _count(index, looked_after & out_of_area, size)),
            in_care,
            in_care,
            "episodes",
            "share of looked-after children's episodes recorded as placed out of area",
            np.where(
                no_factors != "",
                no_factors,
                np.where(total > 0, "not computed: no episode of a looked-after child", no_episodes),
            ),
            rests_on="looked_after:yes",
        )
    )
    flagged_total = np.where(unlisted, 0, total)
    for flag, words in (
        ("cse", "child sexual exploitation"),
        ("cce", "child criminal exploitation"),
        ("trafficking", "trafficking"),
    ):
        blocks.append(
            _share_block(
                forces,
                groups,
                "exploitation",
                flag,
                np.where(unlisted, 0, _count(index, mix[flag].to_numpy() == 1, size)),
                flagged_total,
                flagged_total,
                "episodes",
                f"share of the force's episodes with a {words} flag",
                np.where(no_factors != "", no_factors, no_episodes),
            )
        )

    harm = cast_to_text(episodes["harm"])
    harm_known = harm.isin(["none", *HARMS]).fillna(False).to_numpy()
    blocks.append(
        _share_block(
            forces,
            groups,
            "harm",
            "harmed",
            _count(index, harm.isin(HARMS).fillna(False).to_numpy(), size),
            _count(index, harm_known, size),
            total,
            "episodes",
            "share of the episodes that record harm (not blank or 'unknown') in which the child came to harm",
            np.where(
                total > 0, "not recorded: no episode of this force records whether the child came to harm", no_episodes
            ),
        )
    )

    reported = episodes["reported_at"]
    slot = (reported.dt.day_of_week * 24 + reported.dt.hour).to_numpy(dtype=np.int64)
    weekend = np.isin(slot, [day * 24 + hour for day, hour in WEEKEND_NIGHT])
    blocks.append(
        _share_block(
            forces,
            groups,
            "weekend_night",
            "all",
            _count(index, weekend, size),
            total,
            total,
            "episodes",
            "share of the force's episodes reported on Friday or Saturday night, 22:00 to 02:00",
            no_episodes,
        )
    )
    residential = (cast_to_text(episodes["missing_from"]) == "residential_care").fillna(False).to_numpy()
    residential_total = _count(index, residential, size)
    blocks.append(
        _share_block(
            forces,
            groups,
            "weekend_night",
            "residential_care",
            _count(index, residential & weekend, size),
            residential_total,
            residential_total,
            "episodes",
            "share of the episodes of children missing from residential care reported on Friday or Saturday "
            "night, 22:00 to 02:00",
            np.where(total > 0, "not computed: no episode of a child missing from residential care", no_episodes),
            rests_on="missing_from:residential_care",
        )
    )

    delay = (reported - episodes["last_seen_at"]).dt.total_seconds().to_numpy() / 3600
    recorded = ~np.isnan(delay)
    blocks.append(
        _share_block(
            forces,
            groups,
            "last_seen_delay",
            "over_24h",
            _count(index, recorded & (np.nan_to_num(delay) > DELAY_HOURS), size),
            _count(index, recorded, size),
            total,
            "episodes",
            f"share of the episodes that record when the child was last seen reported more than {DELAY_HOURS} "
            "hours after it",
            np.where(
                total > 0, "not recorded: no episode of this force records when the child was last seen", no_episodes
            ),
        )
    )

    child_index = _force_index(people, forces)
    child_total = _count(child_index, np.ones(len(people), dtype=bool), size)
    blocks += _breakdown_blocks(forces, groups, "ethnicity", child_index, people["ethnicity"], child_total)

    return _gather_shares(blocks)


# ---------------------------------------------------------------------------------------------------------
# Rates of children per 1,000 resident children.


def summarise_profile_rates(
    episodes: pd.DataFrame,
    comparator_groups: dict[str, list[str]] | None = None,
    covered: list[str] | None = None,
    children: pd.DataFrame | None = None,
    populations: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Distinct children by age band and by sex, per 1,000 resident children of the same age band or sex.

    Each force's children (:func:`describe_children`) against its resident
    children (:func:`read_child_populations`): a rate per 1,000 with the exact
    Poisson (Garwood) 95% interval of the count, on exact Poisson rate funnels
    (widened for over-dispersion, :func:`toolkit.stats.funnel.compare_with_funnel`)
    against England and Wales and the comparator group. Children whose sex is
    ``other`` or not known are counted but have no resident population, so no rate.

    Returns
    -------
    pandas.DataFrame
        One row per force (and :data:`~toolkit.forces.NATIONAL`), ``measure``
        (``age_band``, ``sex``) and ``category``: ``children`` (int), ``whole``
        (the force's children, int), ``partition`` (the measure: a force's
        categories add up to its children), ``population`` (resident children
        of the band or sex), ``value``, ``lower``, ``upper`` (per 1,000),
        ``band``, ``comparator_band``, ``national``, ``method``, ``reason``.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["E23000002"] * 3, "person_id": ["a", "a", "b"],
    ...     "reported_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01"]), "age": [15, 15, 8],
    ...     "sex": ["female", "female", None], "ethnicity": None})
    >>> t = summarise_profile_rates(e, {}).query("force_code == 'E23000002'")
    >>> t[["category", "children", "population"]].to_numpy().tolist()[:3]
    [['0-9', 1, 46952.0], ['10-11', 0, 10730.0], ['12-17', 1, 33064.0]]
    >>> round(float(t.query("category == '12-17'")["value"].iloc[0]), 4)  # 1 of 33,064, per 1,000
    0.0302
    """
    groups = comparator_groups if comparator_groups is not None else read_comparator_groups()
    forces = _list_forces(episodes, covered)
    size = len(forces)
    people = children if children is not None else describe_children(episodes)
    pops = (populations if populations is not None else read_child_populations()).reindex(forces)
    index = _force_index(people, forces)
    child_total = _count(index, np.ones(len(people), dtype=bool), size)
    parts = [("age_band", band, people["age_band"] == band, band) for band in AGE_BANDS]
    sex = cast_to_text(people["sex"])
    parts += [("sex", s, sex == s, s if s in SEXES_WITH_POPULATION else None) for s in ("female", "male", "other")]
    parts.append(("sex", NOT_KNOWN, sex.isna(), None))
    blocks = []
    for measure, category, mask, population_column in parts:
        count = _count(index, mask.fillna(False).to_numpy(dtype=bool), size)
        population = pops[population_column].to_numpy(dtype=float) if population_column else np.full(size, np.nan)
        block = pd.DataFrame(
            {
                "force_code": [*forces, NATIONAL],
                "measure": measure,
                "category": category,
                "children": np.append(count, count.sum()),
                "whole": np.append(child_total, child_total.sum()),
                "population": np.append(population, np.nansum(population) if population_column else np.nan),
            }
        )
        blocks.append(_rate_figures(block, groups, population_column))
    table = pd.concat(blocks, ignore_index=True)
    table = table.assign(partition=table["measure"])
    table[["children", "whole"]] = table[["children", "whole"]].astype("int64")
    columns = ["force_code", "measure", "category", "children", "whole", "partition", "population"]
    columns += ["value", "lower", "upper", "band", "comparator_band", "national", "method", "reason"]
    return table[columns]


def _rate_figures(block: pd.DataFrame, groups: dict, population_column: str | None) -> pd.DataFrame:
    """Rates per 1,000 with exact Poisson intervals and funnel bands, for one age band or sex."""
    if population_column is None:
        what = "other" if (block["category"] == "other").all() else "not known"
        reason = f"not computed: no resident population of children whose sex is {what}"
        return block.assign(
            value=np.nan,
            lower=np.nan,
            upper=np.nan,
            band="not_compared",
            comparator_band="not_compared",
            national=np.nan,
            method=reason,
            reason=reason,
        )
    count = block["children"].to_numpy(dtype=float)
    population = block["population"].to_numpy(dtype=float)
    lower, upper = exact_poisson_limits(count)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(population > 0, 1000 / population, np.nan)
    who = f"aged {population_column}" if population_column in AGE_BANDS else population_column
    method = f"distinct children per 1,000 resident children {who} (ONS mid-2023), exact Poisson (Garwood) 95% interval"
    out = block.assign(value=count * scale, lower=lower * scale, upper=upper * scale, method=method, reason="")
    forces = out[out["force_code"] != NATIONAL]
    band, comparator_band, funnel_method, sentence = _place_on_funnels(
        forces["children"].to_numpy(),
        forces["population"].to_numpy(),
        forces["force_code"].tolist(),
        groups,
        "rate",
        1000,
    )
    out["band"] = np.append(band, "not_compared")
    out["comparator_band"] = np.append(comparator_band, "not_compared")
    placed = [m for m in funnel_method if m is not None]
    funnel = f"; {placed[0]}" if placed else f"; not compared: {sentence}"
    out["method"] = np.where(out["force_code"] == NATIONAL, method, method + funnel)
    out["national"] = out.loc[out["force_code"] == NATIONAL, "value"].iloc[0]
    return out


# ---------------------------------------------------------------------------------------------------------
# When: hour by weekday.


def tabulate_report_hours(episodes: pd.DataFrame, covered: list[str] | None = None) -> pd.DataFrame:
    """Episodes by weekday and hour of the report (local time, as recorded), for every force and England and Wales.

    Each force has all 7 x 24 cells, zeros included. ``group`` sorts the cells
    into three sets whose totals other published figures give back
    (``weekend_night``: the :data:`WEEKEND_NIGHT` hours; ``other_night``: the
    rest of 22:00 to 02:00, :data:`NIGHT_HOURS`; ``day``), so that
    complementary suppression can be applied within each.

    Returns
    -------
    pandas.DataFrame
        ``force_code``, ``weekday`` (0 = Monday), ``hour`` (0-23), ``slot``
        (``weekday * 24 + hour``), ``group``, ``episodes`` (int) and ``share``
        of the force's episodes (NaN for a force without any, ``method`` says).

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["E23000014"] * 3,
    ...                   "reported_at": pd.to_datetime(["2024-01-05 22:10", "2024-01-05 22:50", "2024-01-01 09:00"])})
    >>> t = tabulate_report_hours(e)
    >>> t[t["episodes"] > 0][["force_code", "weekday", "hour", "group", "episodes"]].to_numpy().tolist()[:2]
    [['E23000014', 0, 9, 'day', 1], ['E23000014', 4, 22, 'weekend_night', 2]]
    >>> len(t)  # the force's 168 cells and England and Wales's
    336
    """
    forces = _list_forces(episodes, covered)
    size = len(forces)
    index = _force_index(episodes, forces)
    slot = (episodes["reported_at"].dt.day_of_week * 24 + episodes["reported_at"].dt.hour).to_numpy(dtype=np.int64)
    cells = np.bincount(index * 168 + slot, minlength=size * 168).reshape(size, 168).astype(np.int64)
    cells = np.vstack([cells, cells.sum(axis=0)])
    weekday, hour = np.divmod(np.arange(168), 24)
    night = np.isin(hour, NIGHT_HOURS)
    weekend = np.array([(d, h) in WEEKEND_NIGHT for d, h in zip(weekday, hour, strict=True)])
    group = np.where(weekend, "weekend_night", np.where(night, "other_night", "day"))
    totals = cells.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(totals > 0, cells / totals, np.nan)
    codes = [*forces, NATIONAL]
    return pd.DataFrame(
        {
            "force_code": np.repeat(codes, 168),
            "weekday": np.tile(weekday, len(codes)),
            "hour": np.tile(hour, len(codes)),
            "slot": np.tile(np.arange(168), len(codes)),
            "group": np.tile(group, len(codes)),
            "episodes": cells.ravel(),
            "share": share.ravel(),
            "method": np.repeat(
                np.where(
                    totals[:, 0] > 0,
                    "count of episodes by weekday and hour of the recorded report time (local time)",
                    _NO_EPISODES,
                ),
                168,
            ),
        }
    )


# ---------------------------------------------------------------------------------------------------------
# Concentration of repeats.


def _top_episodes(counts: np.ndarray, top: int) -> int:
    """Episodes of the ``top`` children most often missing: the sum of the ``top`` largest counts."""
    if top <= 0:
        return 0
    return int(np.sort(counts)[::-1][:top].sum())


def _bootstrap_concentration(counts: np.ndarray, top: int, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the top children's share, resampling children with replacement.

    A resample of children is a multinomial draw over the distinct episode
    counts (children with the same count are interchangeable), so each of
    :data:`BOOTSTRAP_RESAMPLES` resamples costs the number of distinct counts,
    not of children.
    """
    values, frequency = np.unique(counts, return_counts=True)
    values, frequency = values[::-1], frequency[::-1]  # most episodes first
    draws = rng.multinomial(len(counts), frequency / frequency.sum(), size=BOOTSTRAP_RESAMPLES)
    before = np.cumsum(draws, axis=1) - draws
    taken = np.clip(top - before, 0, draws)
    share = (taken @ values) / (draws @ values)
    low, high = np.quantile(share, [0.025, 0.975])
    return float(low), float(high)


def summarise_repeat_concentration(
    episodes: pd.DataFrame, covered: list[str] | None = None, children: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The share of each force's episodes accounted for by its most often missing 10% of children.

    Children are distinct ``person_id`` within the force. The top 10% is
    ``ceil(0.1 * children)`` children (at least one): the sum of the largest
    that many episode counts. Ties need no rule: children tied at the cut-off
    have the same count, so the sum is the same whichever of them is taken.
    England and Wales ranks all children of all forces together (a child is
    still a pseudonym within its force). The 95% interval is a percentile
    bootstrap over children (:data:`BOOTSTRAP_RESAMPLES` resamples, a fixed
    seed), from :data:`BOOTSTRAP_MIN_CHILDREN` children; it is not a funnel:
    one child's episodes are not independent trials, so binomial funnel limits
    would be far too narrow.

    Returns
    -------
    pandas.DataFrame
        ``force_code`` (and :data:`~toolkit.forces.NATIONAL`), ``children``,
        ``episodes``, ``top_children``, ``top_episodes`` (ints), ``value``,
        ``lower``, ``upper``, ``method`` and ``reason``.

    Examples
    --------
    Ten children, one missing 5 times, two 3 times (tied), seven once: the top
    10% is one child, 5 of 18 episodes.

    >>> e = pd.DataFrame({"force_code": "E23000014", "person_id": list("aaaaabbbccc") + list("defghij"),
    ...                   "reported_at": pd.Timestamp("2024-01-01")})
    >>> t = summarise_repeat_concentration(e).iloc[0]
    >>> int(t["children"]), int(t["top_children"]), int(t["top_episodes"]), int(t["episodes"]), t["reason"]
    (10, 1, 5, 18, 'interval not computed: fewer than 20 children')
    """
    forces = _list_forces(episodes, covered)
    if children is None:  # only each child's count of episodes is needed
        codes = episodes["force_code"].astype(str).rename("force_code")
        people = episodes.groupby([codes, episodes["person_id"].astype(str)]).size().rename("episodes").reset_index()
    else:
        people = children
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    by_force = {code: g.to_numpy() for code, g in people.groupby("force_code", sort=True)["episodes"]}
    units = [(code, by_force.get(code, np.zeros(0, dtype=np.int64))) for code in forces]
    units.append((NATIONAL, people["episodes"].to_numpy()))
    rows = []
    for code, counts in units:
        n = len(counts)
        top = -(-n // 10) if n else 0  # ceil(n / 10) in whole numbers: 10% of children, at least one
        top_episodes, total = _top_episodes(counts, top), int(counts.sum())
        lower = upper = np.nan
        if n == 0:
            reason = _NO_EPISODES
        elif n < BOOTSTRAP_MIN_CHILDREN:
            reason = f"interval not computed: fewer than {BOOTSTRAP_MIN_CHILDREN} children"
        else:
            reason = ""
            lower, upper = _bootstrap_concentration(counts, top, rng)
        rows.append(
            {
                "force_code": code,
                "children": n,
                "episodes": total,
                "top_children": top,
                "top_episodes": top_episodes,
                "value": top_episodes / total if total else np.nan,
                "lower": lower,
                "upper": upper,
                "reason": reason,
            }
        )
    table = pd.DataFrame(rows)
    method = (
        "share of episodes of the ceil(10%) of distinct children with the most episodes (ties at the cut-off "
        f"have equal counts, so do not change it); percentile bootstrap 95% interval over children "
        f"({BOOTSTRAP_RESAMPLES:,} resamples, fixed seed); no funnel: a child's episodes are not independent"
    )
    table["method"] = np.where(table["children"] == 0, table["reason"], method)
    ints = ["children", "episodes", "top_children", "top_episodes"]
    table[ints] = table[ints].astype("int64")
    return table[["force_code", *ints, "value", "lower", "upper", "method", "reason"]]


# ---------------------------------------------------------------------------------------------------------
# Delay from last seen to report.


def find_median_ranks(n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (1-based) of the order statistics that bound a distribution-free interval for the median.

    For a sample of ``n``, the interval from the ``l``-th to the ``u``-th
    smallest value, ``u = n - l + 1``, covers the median with probability
    ``1 - 2 P(B <= l - 1)`` for B binomial(n, 1/2); ``l`` is the largest rank
    keeping that at least ``confidence``. Below 6 values no interval reaches
    95% (``2 / 2**5 > 0.05``): ``l`` and ``u`` are 0 there.

    Examples
    --------
    >>> lower, upper = find_median_ranks([5, 6, 10, 100])
    >>> lower.tolist(), upper.tolist()
    ([0, 1, 2, 40], [0, 6, 9, 61])
    """
    n = np.asarray(n, dtype=np.int64)
    tail = (1 - confidence) / 2
    # ppf gives the smallest k with P(B <= k) >= tail; P(B <= k - 1) < tail, so l = k (never equal:
    # binomial(n, 1/2) probabilities are multiples of 2**-n and the tail is not).
    lower = stats.binom.ppf(tail, np.maximum(n, 1), 0.5).astype(np.int64)
    lower = np.where((n > 0) & (lower >= 1), lower, 0)
    upper = np.where(lower >= 1, n - lower + 1, 0)
    return lower, upper


def _medians(values: np.ndarray, groups: np.ndarray, size: int):
    """Median of each group's values with its order-statistic 95% interval, all groups in one sort."""
    order = np.lexsort((values, groups))
    values, groups = values[order], groups[order]
    n = np.bincount(groups, minlength=size).astype(np.int64)
    start = np.cumsum(n) - n
    safe = np.append(values, np.nan)  # an index past the end reads NaN: a group without values
    none = len(values)
    low_mid = np.where(n > 0, start + (n - 1) // 2, none)
    high_mid = np.where(n > 0, start + n // 2, none)
    median = (safe[low_mid] + safe[high_mid]) / 2
    lower_rank, upper_rank = find_median_ranks(n)
    lower = safe[np.where(lower_rank > 0, start + lower_rank - 1, none)]
    upper = safe[np.where(upper_rank > 0, start + upper_rank - 1, none)]
    return n, median, lower, upper, lower_rank, upper_rank


def summarise_report_delay(episodes: pd.DataFrame, covered: list[str] | None = None) -> pd.DataFrame:
    """Hours from last seen to the report: each force's median with a 95% interval, and England and Wales's.

    The delay is ``reported_at - last_seen_at`` in hours, over the episodes
    that record when the child was last seen. The interval is the
    distribution-free binomial order-statistic interval of the median
    (:func:`find_median_ranks`), which needs at least 6 episodes; it treats
    episodes as independent. The share reported more than
    :data:`DELAY_HOURS` hours after last seen is in the shares table
    (:func:`summarise_profile_shares`, ``last_seen_delay``).

    Returns
    -------
    pandas.DataFrame
        ``force_code`` (and :data:`~toolkit.forces.NATIONAL`), ``episodes``,
        ``recorded`` (ints), ``median_hours``, ``median_lower``,
        ``median_upper``, ``lower_rank``, ``upper_rank``, ``method``, ``reason``.

    Examples
    --------
    >>> seen = pd.to_datetime(["2024-01-01 10:00"] * 7)
    >>> e = pd.DataFrame({"force_code": "E23000014", "last_seen_at": seen,
    ...     "reported_at": seen + pd.to_timedelta([1, 2, 3, 4, 5, 6, 30], unit="h")})
    >>> t = summarise_report_delay(e).iloc[0]
    >>> float(t["median_hours"]), float(t["median_lower"]), float(t["median_upper"]), int(t["recorded"])
    (4.0, 1.0, 30.0, 7)
    """
    forces = _list_forces(episodes, covered)
    size = len(forces)
    index = _force_index(episodes, forces)
    hours = (episodes["reported_at"] - episodes["last_seen_at"]).dt.total_seconds().to_numpy(dtype=float) / 3600
    recorded = ~np.isnan(hours)
    total = np.append(_count(index, np.ones(len(episodes), dtype=bool), size), len(episodes))
    per_force = _medians(hours[recorded], index[recorded], size)
    national = _medians(hours[recorded], np.zeros(int(recorded.sum()), dtype=np.int64), 1)
    n, median, lower, upper, lower_rank, upper_rank = (
        np.append(force, whole) for force, whole in zip(per_force, national, strict=True)
    )
    reason = np.select(
        [total == 0, n == 0, lower_rank == 0],
        [
            _NO_EPISODES,
            "not recorded: no episode of this force records when the child was last seen",
            "interval not computed: fewer than 6 episodes record when the child was last seen",
        ],
        "",
    )
    method = np.where(
        n == 0,
        reason,
        "median hours from last seen to report; distribution-free 95% interval from the binomial order "
        "statistics (episodes treated as independent)",
    )
    return pd.DataFrame(
        {
            "force_code": [*forces, NATIONAL],
            "episodes": total.astype("int64"),
            "recorded": n.astype("int64"),
            "median_hours": median,
            "median_lower": lower,
            "median_upper": upper,
            "lower_rank": lower_rank.astype("int64"),
            "upper_rank": upper_rank.astype("int64"),
            "method": method,
            "reason": reason,
        }
    )


# ---------------------------------------------------------------------------------------------------------
# The first response by ethnicity, after case mix.


def _pool_odds_ratios(a, b, c, d) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mantel-Haenszel log odds ratios with the Robins-Breslow-Greenland standard error, for many at once.

    Each of ``a`` (the group with the outcome), ``b`` (the group without), ``c``
    and ``d`` (the reference group with and without) holds 2x2 strata along its
    last axis; every leading cell is pooled over them in one pass. A stratum
    with no episode of the group, or none of the reference, carries no
    information and drops out. Where no stratum has a group episode with the
    outcome beside a reference one without (or the other way round), the odds
    ratio is 0 or infinite: NaN here, and the caller says why. Tested equal to
    statsmodels' ``StratifiedTable`` at random inputs.

    Returns
    -------
    log_odds, std_error : numpy.ndarray
        NaN where not estimable.
    informative : numpy.ndarray
        The strata that hold both groups' episodes, counted.

    Examples
    --------
    Two strata; the group's odds are twice the reference's in each:

    >>> lo, se, k = _pool_odds_ratios(np.array([20, 40]), np.array([10, 10]), np.array([10, 20]), np.array([10, 10]))
    >>> round(float(np.exp(lo)), 3), round(float(se), 3), int(k)
    (2.0, 0.392, 2)
    """
    a, b, c, d = (np.asarray(x, dtype=float) for x in (a, b, c, d))
    n = a + b + c + d
    informative = ((a + b) > 0) & ((c + d) > 0)
    safe = np.where(informative, n, 1.0)
    ad = np.where(informative, a * d / safe, 0.0)
    bc = np.where(informative, b * c / safe, 0.0)
    p = np.where(informative, (a + d) / safe, 0.0)
    q = np.where(informative, (b + c) / safe, 0.0)
    r, s = ad.sum(axis=-1), bc.sum(axis=-1)
    estimable = (r > 0) & (s > 0)
    r_, s_ = np.where(estimable, r, 1.0), np.where(estimable, s, 1.0)
    variance = (
        (p * ad).sum(axis=-1) / (2 * r_**2)
        + (p * bc + q * ad).sum(axis=-1) / (2 * r_ * s_)
        + (q * bc).sum(axis=-1) / (2 * s_**2)
    )
    log_odds = np.where(estimable, np.log(r_) - np.log(s_), np.nan)
    return log_odds, np.where(estimable, np.sqrt(variance), np.nan), informative.sum(axis=-1)


def _pool_forces_and_nation(cells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_pool_odds_ratios` of each force over its strata, then of England and Wales over every force's.

    ``cells`` are the four counts ``a, b, c, d``, each shaped (force, group, stratum). England and Wales
    (the last row) pools the strata of every force: children are compared with White children of the same
    force and case mix, as in each force's own figure, so that where each group lives does not enter it.
    """
    per_force = _pool_odds_ratios(*cells)
    nation = _pool_odds_ratios(*(x.transpose(1, 0, 2).reshape(1, x.shape[1], -1) for x in cells))
    return tuple(np.concatenate([force, whole]) for force, whole in zip(per_force, nation, strict=True))


def _find_children(episodes: pd.DataFrame, children: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    """Each episode's child (its row of ``children``, :func:`describe_children`) and that child's ethnicity.

    The ethnicity is the child's first known one, missing where never known.
    """
    keys = pd.MultiIndex.from_arrays([children["force_code"].astype(str), children["person_id"].astype(str)])
    wanted = pd.MultiIndex.from_arrays([episodes["force_code"].astype(str), episodes["person_id"].astype(str)])
    position = keys.get_indexer(wanted)  # every episode's child is among them: described from the same episodes
    values = np.append(cast_to_text(children["ethnicity"]).to_numpy(dtype=object), pd.NA)
    return position, pd.Series(values[position], index=episodes.index, dtype="string")


def _stratify_case_mix(case_mix: pd.DataFrame) -> np.ndarray:
    """Each row's stratum: its combination of the 0/1 case-mix columns, numbered from 0.

    Examples
    --------
    >>> _stratify_case_mix(pd.DataFrame({"x": [1.0, 0.0, 1.0], "y": [0.0, 0.0, 0.0]})).tolist()
    [1, 0, 1]
    """
    bits = case_mix.to_numpy(dtype=float) > 0
    code = bits @ (np.int64(1) << np.arange(bits.shape[1], dtype=np.int64)) if bits.shape[1] else np.zeros(len(bits))
    return np.unique(code, return_inverse=True)[1].astype(np.int64).ravel()


def compare_response_by_ethnicity(
    episodes: pd.DataFrame,
    covered: list[str] | None = None,
    case_mix: pd.DataFrame | None = None,
    children: pd.DataFrame | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each ethnic group's odds of no active response, and of a medium or high grade, against White children's.

    For every force and England and Wales at once: among the episodes whose first
    response is known (every "missing" episode graded, and every "absent" one, as
    the risk-grading model takes them), the odds of each outcome for the
    episodes of children of each group against those of White children
    (:data:`REFERENCE_ETHNICITY`), pooled by Mantel-Haenszel over the strata of
    the case mix (:func:`_pool_odds_ratios`). A stratum is one combination of
    every case-mix covariate the consistency models adjust for
    (:func:`~toolkit.stats.consistency.describe_case_mix`: the recorded risk
    factors, under 12, looked after, one or more earlier episodes), so children
    are compared only with White children of the same recorded risks, care
    status and history. Unlike the categorisation model, care status and history
    are adjusted for: the question is whether a group is treated differently
    from children like them, and whether whole groups in care are classed
    absent is judged elsewhere (``groups_classed_absent``).

    No active response is :func:`~toolkit.stats.consistency.has_no_active_response`;
    a higher grade :func:`~toolkit.stats.consistency.is_graded_higher` ("absent" is
    not graded medium or high). A child's ethnicity is the first known on its
    episodes (:func:`describe_children`); its not-known episodes are counted, not
    compared. England and Wales's odds ratio pools the strata of force and case
    mix (:func:`_pool_forces_and_nation`). The crude odds ratio, without the case
    mix (England and Wales: over forces alone), is beside the adjusted one;
    ``z`` and ``band`` compare a force's log odds ratio with England and Wales's
    (as :func:`~toolkit.stats.consistency.compare_flag_grading` does).

    Vectorised: every episode's (force, group, stratum) cell is counted in one
    ``bincount`` per outcome, and every force's and group's odds ratio pooled
    at once. On the demo's national year (177,550 episodes, 43 forces) it takes
    0.5 to 1.1 s given the case mix and the children, and 1.3 to 3.3 s
    describing them itself (medians on the shared 2-core machine, load
    average near 4).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes.
    covered : list of str, optional
        Every force of the extract: each has its rows, zero counts where it has no clean episode.
    case_mix, children : pandas.DataFrame, optional
        :func:`~toolkit.stats.consistency.describe_case_mix` and :func:`describe_children` of ``episodes``.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per force (and :data:`~toolkit.forces.NATIONAL`), ``measure`` (a key of
        :data:`RESPONSE_OUTCOMES`) and ``group`` (:data:`ETHNICITY_GROUPS`): integer counts
        ``episodes``, ``events`` (with the outcome) and distinct ``children`` of the group, the same of
        the reference (``reference_episodes``, ``reference_events``, ``reference_children``),
        ``compared_episodes`` (the group's
        episodes in strata that also hold White children's) and ``strata``; ``value``, ``lower``,
        ``upper`` (the adjusted odds ratio), ``log_odds``, ``std_error``, ``crude_value``,
        ``crude_lower``, ``crude_upper``, ``national``, ``national_lower``, ``national_upper``,
        ``z``, ``band``, ``reference``, ``method`` and ``reason`` ("" or why there is no odds
        ratio; ``method`` is then the reason).

    Examples
    --------
    A force whose Black children's episodes are recorded absent three times as often, at equal case mix:

    >>> rng = np.random.default_rng(3)
    >>> n = 6000
    >>> black = rng.random(n) < 0.3
    >>> absent = rng.random(n) < np.where(black, 0.3, 0.1)
    >>> e = pd.DataFrame({"force_code": "E23000014", "person_id": np.arange(n).astype(str),
    ...     "reported_at": pd.Timestamp("2024-01-01"), "age": 15, "looked_after": "no", "risk_factors": None,
    ...     "sex": "female", "ethnicity": np.where(black, "black", "white"),
    ...     "category": np.where(absent, "absent", "missing"), "risk_initial": np.where(absent, None, "low")})
    >>> t = compare_response_by_ethnicity(e).set_index(["force_code", "measure", "group"])
    >>> row = t.loc[("E23000014", "no_active_response", "black")]
    >>> int(row["episodes"]), int(row["reference_episodes"]), bool(2 < row["lower"] < row["upper"] < 5)
    (1844, 4156, True)
    >>> t.loc[("E23000014", "no_active_response", "asian"), "reason"]
    'not computed: fewer than 20 episodes of the group'
    """
    forces = _list_forces(episodes, covered)
    size = len(forces)
    mix = case_mix if case_mix is not None else describe_case_mix(episodes)
    people = children if children is not None else describe_children(episodes)
    data = select_first_responses(episodes)
    groups = len(ETHNICITY_GROUPS)
    child, ethnicity = _find_children(data, people)
    group = _codes(ethnicity, list(ETHNICITY_GROUPS[:-1]))
    group = np.where(group < 0, groups - 1, group)  # not known: the last group
    stratum = _stratify_case_mix(mix.loc[data.index])
    strata = int(stratum.max()) + 1 if len(stratum) else 1
    force = _force_index(data, forces)
    cell = (force * groups + group) * strata + stratum
    shape = (size, groups, strata)
    # Distinct children of each force and group (a child has one ethnicity): an odds ratio resting on a few
    # children is withheld, however many episodes they have.
    _, first = np.unique(child, return_index=True)
    kids = np.bincount(force[first] * groups + group[first], minlength=size * groups).reshape(size, groups)
    kids = np.concatenate([kids, kids.sum(axis=0, keepdims=True)]).astype(np.int64)

    def tally(weights=None) -> np.ndarray:
        return np.bincount(cell, weights=weights, minlength=size * groups * strata).reshape(shape).astype(np.int64)

    def with_nation(per_force: np.ndarray) -> np.ndarray:  # England and Wales last: the sum of the forces
        return np.concatenate([per_force, per_force.sum(axis=0, keepdims=True)])

    n = tally()
    units = [*forces, NATIONAL]
    compared = slice(1, groups - 1)  # the groups against the reference (position 0)
    z = _z(confidence)
    blocks = []
    for measure, (outcome, what) in RESPONSE_OUTCOMES.items():
        e = tally(outcome(data).to_numpy(dtype=float))
        a, n1 = e[:, compared], n[:, compared]
        c, n0 = e[:, :1], n[:, :1]
        cells = np.broadcast_arrays(a, n1 - a, c, n0 - c)
        log_odds, se, informative = _pool_forces_and_nation(cells)
        crude, crude_se, _ = _pool_forces_and_nation([x.sum(axis=-1, keepdims=True) for x in cells])
        in_strata = with_nation(np.where(n0 > 0, n1, 0).sum(axis=-1))

        def full(values, fill=np.nan) -> np.ndarray:  # the compared groups' figures among every group's rows
            out = np.full((len(units), groups), fill, dtype=float)
            out[:, compared] = values
            return out

        episodes_ = with_nation(n.sum(axis=-1))
        events = with_nation(e.sum(axis=-1))
        reference_n = np.repeat(episodes_[:, :1], groups, axis=1)
        reason = np.select(
            [
                np.repeat(episodes_.sum(axis=1, keepdims=True) == 0, groups, axis=1),
                np.arange(groups)[None, :] == 0,
                np.arange(groups)[None, :] == groups - 1,
                episodes_ < MIN_EPISODES,
                reference_n < MIN_EPISODES,
                full(informative.astype(float)) == 0,
                np.isnan(full(log_odds)),
            ],
            [
                _NO_EPISODES,
                "not computed: the reference group (White children), against which the others are compared",
                "not computed: ethnicity not known, so not compared",
                f"not computed: fewer than {MIN_EPISODES} episodes of the group",
                f"not computed: fewer than {MIN_EPISODES} episodes of White children",
                "not computed: no episode of the group shares its case mix with a White child's",
                "not computed: the odds ratio is 0 or unbounded (the response does not differ both ways in any "
                "stratum)",
            ],
            "",
        )
        ok = reason == ""
        lo, sd = np.where(ok, full(log_odds), np.nan), np.where(ok, full(se), np.nan)
        clo, csd = np.where(ok, full(crude), np.nan), np.where(ok, full(crude_se), np.nan)
        nat_lo, nat_sd = lo[-1:], sd[-1:]
        with np.errstate(invalid="ignore"):
            versus = (lo - nat_lo) / np.hypot(sd, nat_sd)
        versus[-1] = np.nan
        band = np.select(
            [versus > _z(0.998), versus > z, versus < -_z(0.998), versus < -z],
            ["above_998", "above_95", "below_998", "below_95"],
            "within",
        )
        band = np.where(np.isnan(versus), "not_compared", band)
        method = (
            f"Mantel-Haenszel odds ratio of {what} for the group's episodes against White children's, over strata of "
            "every combination of the case mix (recorded risk factors, under 12, looked after, earlier episodes; "
            f"England and Wales: of force and case mix), Robins-Breslow-Greenland {confidence:.0%} interval"
        )
        blocks.append(
            pd.DataFrame(
                {
                    "force_code": np.repeat(units, groups),
                    "measure": measure,
                    "group": np.tile(ETHNICITY_GROUPS, len(units)),
                    "episodes": episodes_.ravel(),
                    "events": events.ravel(),
                    "children": kids.ravel(),
                    "reference_episodes": reference_n.ravel(),
                    "reference_events": np.repeat(events[:, :1], groups, axis=1).ravel(),
                    "reference_children": np.repeat(kids[:, :1], groups, axis=1).ravel(),
                    "compared_episodes": full(in_strata, 0).astype(np.int64).ravel(),
                    "strata": full(informative, 0).astype(np.int64).ravel(),
                    "value": np.exp(lo).ravel(),
                    "lower": np.exp(lo - z * sd).ravel(),
                    "upper": np.exp(lo + z * sd).ravel(),
                    "log_odds": lo.ravel(),
                    "std_error": sd.ravel(),
                    "crude_value": np.exp(clo).ravel(),
                    "crude_lower": np.exp(clo - z * csd).ravel(),
                    "crude_upper": np.exp(clo + z * csd).ravel(),
                    "national": np.repeat(np.exp(nat_lo), len(units), axis=0).ravel(),
                    "national_lower": np.repeat(np.exp(nat_lo - z * nat_sd), len(units), axis=0).ravel(),
                    "national_upper": np.repeat(np.exp(nat_lo + z * nat_sd), len(units), axis=0).ravel(),
                    "z": versus.ravel(),
                    "band": band.ravel(),
                    "reference": REFERENCE_ETHNICITY,
                    "method": np.where(ok, method, reason).ravel(),
                    "reason": reason.ravel(),
                }
            )
        )
    return pd.concat(blocks, ignore_index=True)


def summarise_problem_profile(
    episodes: pd.DataFrame,
    comparator_groups: dict[str, list[str]] | None = None,
    covered: list[str] | None = None,
    case_mix: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table of the problem profile (:data:`PROFILE_TABLES`), for every force at once.

    The children are described once (:func:`describe_children`) for the
    shares, rates, concentration and response by ethnicity, and the case mix
    once for the shares and the response by ethnicity.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``profile_shares`` (:func:`summarise_profile_shares`),
        ``profile_rates`` (:func:`summarise_profile_rates`), ``profile_hours``
        (:func:`tabulate_report_hours`), ``profile_concentration``
        (:func:`summarise_repeat_concentration`) and ``profile_delay``
        (:func:`summarise_report_delay`) and ``profile_ethnicity``
        (:func:`compare_response_by_ethnicity`).
    """
    groups = comparator_groups if comparator_groups is not None else read_comparator_groups()
    children = describe_children(episodes)
    mix = case_mix if case_mix is not None else describe_case_mix(episodes)
    return {
        "profile_shares": summarise_profile_shares(episodes, groups, covered, mix, children),
        "profile_rates": summarise_profile_rates(episodes, groups, covered, children),
        "profile_hours": tabulate_report_hours(episodes, covered),
        "profile_concentration": summarise_repeat_concentration(episodes, covered, children),
        "profile_delay": summarise_report_delay(episodes, covered),
        "profile_ethnicity": compare_response_by_ethnicity(episodes, covered, mix, children),
    }
