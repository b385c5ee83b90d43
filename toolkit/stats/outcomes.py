"""Outcomes: do the first risk grades protect children? For every force at once.

A first risk grade is meant to send help where harm is likely. Three tables ask
whether it does, from the harm recorded for each episode (``harm``: ``none``, a
harm, or ``unknown``):

- **harm by first response** (:func:`summarise_harm_by_grade`): of the episodes
  recorded absent, or missing at each grade, the share in which the child came
  to harm, with a Wilson 95% interval; and the distinct children harmed in an
  episode graded low or no apparent risk, or recorded absent;
- **grade changes** (:func:`summarise_grade_changes`): how often the final
  grade is higher, lower or the same as the first;
- **discrimination** (:func:`measure_harm_discrimination`): the c-statistic
  (area under the ROC curve) of the first response for harm, with DeLong's 95%
  interval: 0.5 is a grade no better than chance at telling apart the episodes
  that end in harm, 1 a grade that always puts them higher.

Episodes whose harm is ``unknown`` or blank are counted apart and left out of
every share and of the c-statistic: an unrecorded outcome is neither harm nor
safety. Every force given (by default every force in the episodes) has its rows,
with zero counts and the reason where a figure cannot be computed.

Speed: each column is factorised once and every episode counted into its
force's cells by one ``numpy.bincount``; the c-statistic and DeLong's variance
then come from each force's 2 x 4 table of harm by score. The three tables
take 0.2 to 0.35 s together on a generated national year (179,528 clean
episodes, 43 forces; seed 1) on this project's shared 2-core machine.

Examples
--------
>>> e = pd.DataFrame({"force_code": ["E23000014"] * 3, "person_id": ["a", "a", "b"],
...     "category": ["absent", "missing", "missing"], "risk_initial": ["no_apparent_risk", "low", "high"],
...     "risk_final": ["no_apparent_risk", "medium", None], "harm": ["injury", "none", "unknown"]})
>>> t = summarise_harm_by_grade(e)
>>> t.loc[t["force_code"] == "E23000014", ["response", "episodes", "harmed", "harm_unknown"]].to_numpy().tolist()
[['absent', 1, 1, 0], ['no_apparent_risk', 0, 0, 0], ['low', 1, 0, 0], ['medium', 0, 0, 0], ['high', 0, 0, 1]]
>>> summarise_grade_changes(e)[["force_code", "episodes", "upgraded", "unchanged"]].to_numpy().tolist()
[['E23000014', 2, 1, 1], ['england_and_wales', 2, 1, 1]]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.forces import NATIONAL
from toolkit.ingest.schema import RISK_GRADES
from toolkit.stats.intervals import proportion_interval

__all__ = [
    "HARMS",
    "LOW_RESPONSES",
    "MIN_GROUP",
    "OUTCOME_TABLES",
    "RESPONSE_LEVELS",
    "RESPONSE_SCORES",
    "classify_first_response",
    "measure_c_statistic",
    "measure_harm_discrimination",
    "summarise_grade_changes",
    "summarise_harm_by_grade",
    "summarise_outcomes",
]

# The first response to an episode, in order: recorded absent (whatever grade it carries), or missing at a grade.
RESPONSE_LEVELS = ("absent", *RISK_GRADES)
# Its ordinal score for the c-statistic: absent is no response beyond monitoring, as no apparent risk is.
RESPONSE_SCORES = {"absent": 0, "no_apparent_risk": 0, "low": 1, "medium": 2, "high": 3}
# The harms of the contract; ``none`` is no harm, and ``unknown`` or blank is harm not recorded.
HARMS = ("injury", "sexual_offence", "other_crime_victim", "died")
# Responses that send no urgent search: a child harmed after one of these was not protected by the grade.
LOW_RESPONSES = ("absent", "no_apparent_risk", "low")
# Fewer harmed (or unharmed) episodes than this: no c-statistic, its variance would mean nothing.
MIN_GROUP = 5
OUTCOME_TABLES = ("harm_by_grade", "grade_changes", "harm_discrimination")

_SCORES = len(RISK_GRADES)  # scores 0 to 3
_CHANGES = ("upgraded", "downgraded", "unchanged")
METHOD_HARM = (
    "episodes harmed while missing (injury, sexual offence, other crime victim, died) among those whose harm is"
    " recorded, 'unknown' and blank set aside; Wilson score 95% interval"
)
METHOD_CHANGES = (
    "final risk grade against the first, ordered no_apparent_risk < low < medium < high, among episodes with"
    " both; Wilson score 95% intervals"
)
METHOD_C = (
    "c-statistic (area under the ROC curve) of the first response (absent and no apparent risk 0, low 1,"
    " medium 2, high 3; ties count one half) for harm while missing, among episodes whose harm is recorded;"
    " DeLong's variance, 95% Wald interval clipped to [0, 1]"
)


def classify_first_response(episodes: pd.DataFrame) -> pd.Series:
    """Each episode's first response: ``absent`` (any grade), or the first grade of a ``missing`` episode.

    Returns
    -------
    pandas.Series
        Categorical over :data:`RESPONSE_LEVELS`, in their order; missing
        (NaN) for an episode of neither category or with no first grade.

    Examples
    --------
    >>> e = pd.DataFrame({"category": ["absent", "missing", "missing", None],
    ...     "risk_initial": ["low", "high", None, "low"]})
    >>> classify_first_response(e).tolist()
    ['absent', 'high', nan, nan]
    """
    level = _response_positions(episodes)
    return pd.Series(pd.Categorical.from_codes(level, RESPONSE_LEVELS), index=episodes.index, name="response")


def _positions(values: pd.Series, allowed: tuple[str, ...]) -> np.ndarray:
    """Each value's position in ``allowed``, -1 for any other value or a blank.

    Factorising first touches each distinct value once, not each row: the
    clean columns are categorical or Arrow strings, whose rows as Python text
    would cost a second a national year.
    """
    codes, uniques = pd.factorize(values)
    lookup = np.array([allowed.index(str(u)) if str(u) in allowed else -1 for u in uniques] + [-1], dtype="int64")
    return lookup[codes]  # a blank's code, -1, reads the -1 appended last


def _optional(episodes: pd.DataFrame, column: str) -> pd.Series:
    """An optional column, blank throughout when the extract does not have it."""
    if column in episodes:
        return episodes[column]
    return pd.Series(pd.NA, index=episodes.index, dtype="string")


def _response_positions(episodes: pd.DataFrame) -> np.ndarray:
    """Each episode's position in :data:`RESPONSE_LEVELS`, -1 where it has none."""
    category = _positions(episodes["category"], ("missing", "absent"))
    grade = _positions(episodes["risk_initial"], RISK_GRADES)
    return np.where(category == 1, 0, np.where((category == 0) & (grade >= 0), grade + 1, -1))


def _force_positions(episodes: pd.DataFrame, forces: list[str] | None) -> tuple[list[str], np.ndarray]:
    """Every force to report (those given, and any other with an episode, sorted), and each episode's position."""
    codes, uniques = pd.factorize(episodes["force_code"])
    names = sorted({str(u) for u in uniques} | set(forces or ()))
    lookup = np.array([names.index(str(u)) for u in uniques] + [-1], dtype="int64")
    return names, lookup[codes]


def _harm_flags(episodes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Whether each episode's harm is recorded (``none`` or a harm), and whether it is a harm."""
    harm = _positions(_optional(episodes, "harm"), ("none", *HARMS))
    return harm >= 0, harm >= 1


def _count(cell: np.ndarray, shape: tuple[int, ...], weights: np.ndarray | None = None) -> np.ndarray:
    """Episodes in each cell of a grid (cells numbered row-major; -1 for none), as integers of that shape."""
    used = cell >= 0
    weights = None if weights is None else weights[used].astype("float64")
    counts = np.bincount(cell[used], weights, minlength=int(np.prod(shape)))
    return counts.astype("int64").reshape(shape)


def summarise_harm_by_grade(
    episodes: pd.DataFrame, forces: list[str] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Harm while missing by first response, per force and for England and Wales.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes: ``force_code``, ``person_id``, ``category``,
        ``risk_initial`` and (optional) ``harm``.
    forces : list of str, optional
        Forces that get rows even with no episode (those the extract covers);
        every force with an episode gets them anyway.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per force and level of :data:`RESPONSE_LEVELS`, then
        :data:`~toolkit.forces.NATIONAL`'s: ``force_code``, ``response``,
        ``episodes`` (episodes whose harm is recorded), ``harmed`` (of them,
        episodes with a harm), ``harm_unknown`` (episodes at the level whose
        harm is ``unknown`` or blank), ``share`` (harmed / episodes) with
        ``share_lower`` and ``share_upper`` (Wilson), ``children_harmed_after_low``
        (the force's distinct children, by ``person_id`` within the force,
        harmed in an episode recorded absent or graded no apparent risk or low:
        one figure per force, the same on each of its rows; England and Wales's
        is the sum of the forces') and ``method`` (why not, where no share).

    Examples
    --------
    A child harmed twice after low grades is one child; one harmed at medium is not counted:

    >>> e = pd.DataFrame({"force_code": ["F"] * 5, "person_id": ["a", "a", "b", "c", "c"],
    ...     "category": ["missing", "absent", "missing", "missing", "missing"],
    ...     "risk_initial": ["low", "no_apparent_risk", "medium", "low", "low"],
    ...     "harm": ["injury", "died", "injury", "none", None]})
    >>> t = summarise_harm_by_grade(e).set_index(["force_code", "response"])
    >>> t.loc["F", ["episodes", "harmed", "harm_unknown", "children_harmed_after_low"]].loc["low"].tolist()
    [2, 1, 1, 1]
    >>> round(float(t.loc[("F", "low"), "share_lower"]), 4), t.loc[("F", "medium"), "method"][:24]
    (0.0945, 'episodes harmed while mi')
    >>> t.loc[("F", "high"), "method"]
    'not computed: no episode with this first response'
    """
    codes, force = _force_positions(episodes, forces)
    known, harmed = _harm_flags(episodes)
    response = _response_positions(episodes)
    # Every force by every level, zeros where none; England and Wales is their sum.
    cell = np.where(response >= 0, force * len(RESPONSE_LEVELS) + response, -1)
    shape = (len(codes), len(RESPONSE_LEVELS))
    grids = {
        "all": _count(cell, shape),
        "episodes": _count(cell, shape, known),
        "harmed": _count(cell, shape, harmed),
    }
    grids["harm_unknown"] = grids["all"] - grids["episodes"]
    table = pd.DataFrame(
        {
            "force_code": np.repeat([*codes, NATIONAL], len(RESPONSE_LEVELS)),
            "response": np.tile(RESPONSE_LEVELS, len(codes) + 1),
            **{name: np.vstack([grid, grid.sum(axis=0)]).ravel() for name, grid in grids.items()},
        }
    )

    # Distinct children harmed after a low response, within their force; England and Wales adds the forces up.
    low = np.isin(response, [RESPONSE_LEVELS.index(level) for level in LOW_RESPONSES]) & harmed & (force >= 0)
    children = pd.DataFrame({"force": force[low], "person_id": episodes["person_id"][low].to_numpy()})
    per_force = np.bincount(children.drop_duplicates()["force"], minlength=len(codes)).astype("int64")
    table["children_harmed_after_low"] = np.repeat([*per_force, per_force.sum()], len(RESPONSE_LEVELS))

    share = proportion_interval(table["harmed"], table["episodes"], confidence=confidence)
    table["share"] = share["value"].to_numpy()
    table["share_lower"] = share["lower"].to_numpy()
    table["share_upper"] = share["upper"].to_numpy()
    table["method"] = np.select(
        [table["all"] == 0, table["episodes"] == 0],
        [
            "not computed: no episode with this first response",
            "not computed: harm not recorded for any episode with this first response",
        ],
        METHOD_HARM,
    )
    columns = ["force_code", "response", "episodes", "harmed", "harm_unknown", "share", "share_lower"]
    return table[[*columns, "share_upper", "children_harmed_after_low", "method"]]


def summarise_grade_changes(
    episodes: pd.DataFrame, forces: list[str] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """How often the final risk grade is above, below or the same as the first, per force and England and Wales.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes: ``force_code``, ``risk_initial`` and (optional) ``risk_final``.
    forces : list of str, optional
        Forces that get a row even with no episode; see :func:`summarise_harm_by_grade`.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per force, then :data:`~toolkit.forces.NATIONAL`: ``episodes``
        (with both grades), ``upgraded``, ``downgraded``, ``unchanged`` (their
        sum is ``episodes``), each share with its interval
        (``upgraded_share``, ``upgraded_lower``, ``upgraded_upper``, ...) and
        ``method``. An ``absent`` episode counts with the grade it carries (no
        apparent risk), so one given a final grade of low is upgraded.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["F", "F", "F", "G"], "risk_initial": ["low", "high", "medium", "low"],
    ...     "risk_final": ["medium", "no_apparent_risk", "medium", None]})
    >>> t = summarise_grade_changes(e).set_index("force_code")
    >>> t[["episodes", "upgraded", "downgraded", "unchanged"]].to_numpy().tolist()
    [[3, 1, 1, 1], [0, 0, 0, 0], [3, 1, 1, 1]]
    >>> t.loc["G", "method"]
    'not computed: no episode has both a first and a final risk grade'
    """
    codes, force = _force_positions(episodes, forces)
    first = _positions(episodes["risk_initial"], RISK_GRADES)
    final = _positions(_optional(episodes, "risk_final"), RISK_GRADES)
    # 0 upgraded, 1 downgraded, 2 unchanged (the order of _CHANGES); -1 without both grades.
    change = np.select([final > first, final < first], [0, 1], 2)
    change = np.where((first >= 0) & (final >= 0), change, -1)
    grid = _count(np.where((force >= 0) & (change >= 0), force * len(_CHANGES) + change, -1), (len(codes), 3))
    grid = np.vstack([grid, grid.sum(axis=0)])
    table = pd.DataFrame({"force_code": [*codes, NATIONAL], "episodes": grid.sum(axis=1)})
    for position, name in enumerate(_CHANGES):
        table[name] = grid[:, position]
    for change in _CHANGES:
        share = proportion_interval(table[change], table["episodes"], confidence=confidence)
        table[f"{change}_share"] = share["value"].to_numpy()
        table[f"{change}_lower"] = share["lower"].to_numpy()
        table[f"{change}_upper"] = share["upper"].to_numpy()
    table["method"] = np.where(
        table["episodes"] == 0, "not computed: no episode has both a first and a final risk grade", METHOD_CHANGES
    )
    return table


def measure_c_statistic(harmed_counts, unharmed_counts, confidence: float = 0.95) -> pd.DataFrame:
    """The c-statistic of an ordinal score, and DeLong's 95% interval, from counts of episodes at each score.

    For harmed episodes at score :math:`x` and unharmed at :math:`y`, the
    c-statistic is the share of (harmed, unharmed) pairs with :math:`x > y`,
    ties counting one half (the Mann-Whitney U over :math:`n_1 n_0`). DeLong's
    variance is :math:`S_{10}/n_1 + S_{01}/n_0`, the sample variances of each
    harmed episode's share of unharmed below it (:math:`V_{10}`) and each
    unharmed episode's share of harmed above it (:math:`V_{01}`), ties one
    half; with ordinal scores both take one value per score, so each is a
    weighted sum over the scores.

    Parameters
    ----------
    harmed_counts, unharmed_counts : array-like, shape (units, scores)
        Episodes at each score (lowest first), one row per unit (force).
        A 1-d array is one unit.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``c_statistic``, ``standard_error``, ``lower``,
        ``upper`` (Wald, clipped to [0, 1]). No check of sizes here (see
        :func:`measure_harm_discrimination`); a unit without harmed or
        unharmed episodes gets NaN.

    Examples
    --------
    Harmed at scores 0, 1, 2, 3, 3 and unharmed at 0, 0, 0, 1, 2: 19.5 of the
    25 pairs are ordered (0.78); :math:`S_{10}` = 0.348 / 4, :math:`S_{01}` =
    0.128 / 4, so the variance is 0.0174 + 0.0064 = 0.0238:

    >>> c = measure_c_statistic([1, 1, 1, 2], [3, 1, 1, 0]).iloc[0]
    >>> [round(float(c[k]), 4) for k in ("c_statistic", "standard_error", "lower", "upper")]
    [0.78, 0.1543, 0.4776, 1.0]
    """
    h = np.atleast_2d(np.asarray(harmed_counts, dtype=float))
    u = np.atleast_2d(np.asarray(unharmed_counts, dtype=float))
    n1 = h.sum(axis=1, keepdims=True)
    n0 = u.sum(axis=1, keepdims=True)
    below = np.cumsum(u, axis=1) - u  # unharmed strictly below each score
    above = h.sum(axis=1, keepdims=True) - np.cumsum(h, axis=1)  # harmed strictly above each score
    with np.errstate(divide="ignore", invalid="ignore"):
        v10 = (below + 0.5 * u) / n0  # per harmed episode at each score
        v01 = (above + 0.5 * h) / n1  # per unharmed episode at each score
        auc = (h * v10).sum(axis=1, keepdims=True) / n1
        s10 = (h * (v10 - auc) ** 2).sum(axis=1, keepdims=True) / (n1 - 1)
        s01 = (u * (v01 - auc) ** 2).sum(axis=1, keepdims=True) / (n0 - 1)
        se = np.sqrt(s10 / n1 + s01 / n0)
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    auc, se = auc[:, 0], se[:, 0]
    return pd.DataFrame(
        {
            "c_statistic": auc,
            "standard_error": se,
            "lower": np.clip(auc - z * se, 0, 1),
            "upper": np.clip(auc + z * se, 0, 1),
        }
    )


def measure_harm_discrimination(
    episodes: pd.DataFrame, forces: list[str] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """How well each force's first response tells apart the episodes that end in harm: the c-statistic.

    The score is :data:`RESPONSE_SCORES` (absent and no apparent risk 0, low 1,
    medium 2, high 3), among episodes whose harm is recorded; the interval is
    DeLong's (:func:`measure_c_statistic`).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes: ``force_code``, ``category``, ``risk_initial`` and (optional) ``harm``.
    forces : list of str, optional
        Forces that get a row even with no episode; see :func:`summarise_harm_by_grade`.
    confidence : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        One row per force, then :data:`~toolkit.forces.NATIONAL`:
        ``episodes`` (harm recorded), ``harmed``, ``c_statistic``,
        ``standard_error``, ``lower``, ``upper``, ``discriminates`` (nullable
        boolean: the interval's lower end above 0.5; missing where there is no
        interval) and ``method``. Fewer than :data:`MIN_GROUP` harmed or
        unharmed episodes, or every episode at one score: no c-statistic, and
        ``method`` says why. A c-statistic of 0 or 1 (the groups never
        overlap) has no interval: DeLong's variance is zero there.

    Examples
    --------
    >>> scores = ["absent", "low", "medium", "high", "high", "absent", "absent", "absent", "low", "medium"]
    >>> e = pd.DataFrame({"force_code": "F", "category": ["absent" if s == "absent" else "missing" for s in scores],
    ...     "risk_initial": ["no_apparent_risk" if s == "absent" else s for s in scores],
    ...     "harm": ["injury"] * 5 + ["none"] * 5})
    >>> t = measure_harm_discrimination(e).set_index("force_code")
    >>> r = t.loc["F"]
    >>> int(r["episodes"]), int(r["harmed"]), round(float(r["c_statistic"]), 4), bool(r["discriminates"])
    (10, 5, 0.78, False)
    >>> t.loc["F", "method"][:27], measure_harm_discrimination(e.head(6)).loc[0, "method"]
    ('c-statistic (area under the', 'not computed: fewer than 5 episodes without harm')
    """
    codes, force = _force_positions(episodes, forces)
    known, harmed = _harm_flags(episodes)
    score = np.array([RESPONSE_SCORES[level] for level in RESPONSE_LEVELS] + [-1])[_response_positions(episodes)]
    # Each force's 2 x 4 table of harm by score: all the c-statistic and DeLong's variance need.
    cell = np.where(known & (score >= 0) & (force >= 0), (force * 2 + harmed) * _SCORES + score, -1)
    grid = _count(cell, (len(codes), 2, _SCORES))
    grid = np.concatenate([grid, grid.sum(axis=0, keepdims=True)])  # England and Wales: the forces pooled
    unharmed, harm = grid[:, 0, :], grid[:, 1, :]
    c = measure_c_statistic(harm, unharmed, confidence)

    n1, n0 = harm.sum(axis=1), unharmed.sum(axis=1)
    one_score = ((harm + unharmed) > 0).sum(axis=1) <= 1
    reasons = np.select(
        [
            n1 + n0 == 0,
            n1 < MIN_GROUP,
            n0 < MIN_GROUP,
            one_score,
        ],
        [
            "not computed: no episode with its harm recorded",
            f"not computed: fewer than {MIN_GROUP} episodes with harm",
            f"not computed: fewer than {MIN_GROUP} episodes without harm",
            "not computed: every episode has the same first response score",
        ],
        "",
    )
    computed = reasons == ""
    separated = computed & ~(c["standard_error"].to_numpy() > 0)
    table = pd.DataFrame(
        {
            "force_code": [*codes, NATIONAL],
            "episodes": (n1 + n0).astype("int64"),
            "harmed": n1.astype("int64"),
            "c_statistic": np.where(computed, c["c_statistic"], np.nan),
            "standard_error": np.where(computed & ~separated, c["standard_error"], np.nan),
            "lower": np.where(computed & ~separated, c["lower"], np.nan),
            "upper": np.where(computed & ~separated, c["upper"], np.nan),
        }
    )
    above = pd.array(table["lower"].to_numpy() > 0.5, dtype="boolean")
    above[~(computed & ~separated)] = pd.NA
    table["discriminates"] = above
    table["method"] = np.where(
        computed,
        np.where(separated, METHOD_C + "; interval not computed: harmed and unharmed never share a score", METHOD_C),
        reasons,
    )
    return table


def summarise_outcomes(
    episodes: pd.DataFrame, forces: list[str] | None = None, confidence: float = 0.95
) -> dict[str, pd.DataFrame]:
    """The three outcome tables of :data:`OUTCOME_TABLES`, by name, for every force at once.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["F"], "person_id": ["a"], "category": ["missing"],
    ...     "risk_initial": ["low"], "risk_final": ["low"], "harm": ["none"]})
    >>> sorted(summarise_outcomes(e, ["F", "G"])) == sorted(OUTCOME_TABLES)
    True
    """
    return {
        "harm_by_grade": summarise_harm_by_grade(episodes, forces, confidence),
        "grade_changes": summarise_grade_changes(episodes, forces, confidence),
        "harm_discrimination": measure_harm_discrimination(episodes, forces, confidence),
    }
