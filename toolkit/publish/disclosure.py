"""Statistical disclosure control: the one gate everything published passes through.

Every published table, chart, sentence and file applies the one small-count
predicate here (:func:`is_small_count`, and :func:`rests_on_small_count` for
shares), through these functions: the prepared tables a page reads, charts
included (:func:`publish_tables`: primary suppression, pooled rows summed from
published cells, complementary suppression of cells that add up to a published
total), prose and table cells (:func:`format_count`, :func:`format_figure`,
:func:`explain_withheld`), findings (:func:`publish_findings`) and the published
provenance (:func:`publish_provenance`).

No published figure may rest on a count small enough to identify a child.
Counts from 1 to ``threshold - 1`` (default 1 to 4) are suppressed, and so is
every figure computed from such a count (a rate whose numerator is 3, an
average over 2 children), and every share whose complement is such a count
(998 of 1,000 tells that 2 were not). Zero is published: it identifies nobody.
Suppressed values are shown with the Government Statistical Service symbol
``[c]`` (confidential).

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"metric": ["episodes", "rate"], "value": [3.0, 1.2],
...                       "numerator": [None, 3.0], "denominator": [None, 2500.0]})
>>> suppress_small_counts(table)[["value", "suppressed"]].to_dict("list")
{'value': [nan, nan], 'suppressed': [True, True]}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.errors import ToolkitError
from toolkit.forces import NATIONAL, get_force

# toolkit.stats.intervals (and toolkit.stats.volume over it) loads scipy and statsmodels, seconds of a command
# that only checks a threshold (`run --suppress-below`, toolkit.cli): the two functions that pool import it.

__all__ = [
    "SUPPRESSED",
    "DEFAULT_THRESHOLD",
    "COUNT_UNITS",
    "SMALLEST_SAFE_THRESHOLD",
    "check_threshold",
    "is_small_count",
    "rests_on_small_count",
    "format_count",
    "publish_findings",
    "published_threshold",
    "suppress_tidy_figures",
    "SHOWN_NATIONALLY",
    "SHARE_PRECISION",
    "round_share_as_shown",
    "round_published_figures",
    "publish_tables",
    "publish_year_on_year",
    "publish_cross_border",
    "publish_profile",
    "publish_profile_rates",
    "publish_response_odds",
    "publish_concentration",
    "publish_delay",
    "PROFILE_LINKS",
    "CROSS_BORDER_SHARE",
    "withhold_national_counts",
    "withhold_linked_counts",
    "LINKED_COUNTS",
    "LinkedCount",
    "CountCell",
    "withhold_complements",
    "withhold_parts",
    "publish_parts",
    "pool_published_cells",
    "publish_cleaning",
    "publish_counts_by_part",
    "suppress_small_counts",
    "suppress_volume_summary",
    "format_figure",
    "explain_withheld",
    "publish_provenance",
    "PROVENANCE_COUNTS",
]

SUPPRESSED = "[c]"
DEFAULT_THRESHOLD = 5
# Below this a threshold withholds too little to protect anyone (2 withholds only the 1s): such a run
# must say it publishes everything (a threshold of 0, `--no-suppression`).
SMALLEST_SAFE_THRESHOLD = 3
# Units whose value is itself a count of people or events.
COUNT_UNITS = frozenset({"episodes", "children"})
# An England and Wales figure beside a withheld force's: as precise as the reports print it, and no more.
SHOWN_NATIONALLY = (
    "England and Wales as the reports show it ({precision}), with no interval or counts: a national total to more "
    "figures, less the published forces' counts, could give a withheld count of a force back"
)
SHARE_PRECISION = "whole per cent from 10%, a tenth of a per cent below"
# Denominators that are resident populations (ONS estimates, not counts of children in the data).
_POPULATION_DENOMINATOR_UNITS = frozenset({"episodes per 1,000 children"})


def check_threshold(threshold: object, allow_off: bool = True) -> str | None:
    """Check a run's suppression threshold before anything is read; a warning to show, or None.

    ``0`` switches disclosure control off (internal use only, what
    ``--no-suppression`` asks for; refused when ``allow_off`` is false, as for
    ``--suppress-below``); any other value must be a whole number of
    at least :data:`SMALLEST_SAFE_THRESHOLD`, and one below
    :data:`DEFAULT_THRESHOLD` is allowed with a warning.

    Raises
    ------
    ToolkitError
        A threshold that is not a whole number, or that would quietly switch suppression (nearly) off.

    Examples
    --------
    >>> check_threshold(5) is None, check_threshold(0) is None
    (True, True)
    >>> print(check_threshold(3))
    counts of 3 and 4 will be published: the default withholds every count below 5
    >>> check_threshold(1)
    Traceback (most recent call last):
    ...
    toolkit.errors.ToolkitError: a suppression threshold of 1 would publish counts that identify children: use at least 3, or --no-suppression for an internal run
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise ToolkitError(f"the suppression threshold must be a whole number, not {threshold!r}")
    if threshold == 0 and allow_off:
        return None
    if threshold < SMALLEST_SAFE_THRESHOLD:
        raise ToolkitError(
            f"a suppression threshold of {threshold} would publish counts that identify children: use at least "
            f"{SMALLEST_SAFE_THRESHOLD}, or --no-suppression for an internal run"
        )
    if threshold < DEFAULT_THRESHOLD:
        shown = " and ".join(str(n) for n in range(threshold, DEFAULT_THRESHOLD))
        return f"counts of {shown} will be published: the default withholds every count below {DEFAULT_THRESHOLD}"
    return None


def is_small_count(values, threshold: int = DEFAULT_THRESHOLD):
    """Whether a count is from 1 to ``threshold - 1``: small enough to identify a child.

    The one small-count predicate: every table, chart, sentence and file
    decides with it (directly, or through the functions below). Works on
    numbers and on Series; zero and a missing count are not small.

    Examples
    --------
    >>> [bool(is_small_count(n)) for n in (0, 1, 4, 5, None)]
    [False, True, True, False, False]
    >>> bool(is_small_count(3, threshold=0))
    False
    """
    v = pd.to_numeric(values, errors="coerce")
    return (v > 0) & (v < threshold)


def _is_small_scalar(count, threshold: int) -> bool:
    return count is not None and bool(is_small_count(count, threshold))


def rests_on_small_count(numerator, denominator, threshold: int = DEFAULT_THRESHOLD):
    """Whether a share ``numerator / denominator`` would give away a count from 1 to ``threshold - 1``.

    The numerator, the denominator or the complement (``denominator -
    numerator``, those without the attribute) may be that count. Works on
    numbers and on Series; a missing part counts as not small.

    Examples
    --------
    >>> [bool(rests_on_small_count(n, 1000)) for n in (3, 500, 998, 1000)]
    [True, False, True, False]
    >>> bool(rests_on_small_count(2, 3, threshold=0))
    False
    """
    numerator = pd.to_numeric(numerator, errors="coerce")
    denominator = pd.to_numeric(denominator, errors="coerce")
    small = is_small_count(numerator, threshold) | is_small_count(denominator, threshold)
    return small | is_small_count(denominator - numerator, threshold)


def suppress_small_counts(table: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Blank every figure that is, or rests on, a count from 1 to ``threshold - 1``.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy figures with ``value`` and optionally ``lower``, ``upper``,
        ``numerator``, ``denominator``, ``unit`` and ``metric``.
    threshold : int, default 5
        Smallest count that may be published. ``0`` or ``1`` switches
        suppression off (for internal use only).

    Returns
    -------
    pandas.DataFrame
        A copy with suppressed figures set to NaN (value, interval, numerator
        and denominator) and a boolean ``suppressed`` column.
    """
    out = table.copy()
    if threshold <= 1:
        out["suppressed"] = False
        return out
    unit = out["unit"] if "unit" in out else pd.Series("", index=out.index)
    metric = out["metric"] if "metric" in out else pd.Series("", index=out.index)
    is_count = unit.isin(COUNT_UNITS) | metric.isin(COUNT_UNITS)
    small = is_count & is_small_count(out["value"], threshold)
    if "numerator" in out:
        small |= is_small_count(out["numerator"], threshold)
    if "denominator" in out:
        population = unit.isin(_POPULATION_DENOMINATOR_UNITS)
        small |= ~population & is_small_count(out["denominator"], threshold)
        if "numerator" in out:  # a share's complement (a rate of episodes per child has none: it is negative)
            small |= ~population & rests_on_small_count(out["numerator"], out["denominator"], threshold)
    for column in ("value", "lower", "upper", "numerator", "denominator"):
        if column in out:
            out[column] = out[column].astype(float).mask(small)
    out["suppressed"] = small.to_numpy()
    return out


def suppress_volume_summary(
    summary: pd.DataFrame, comparator_groups: dict[str, list[str]], threshold: int = DEFAULT_THRESHOLD
) -> pd.DataFrame:
    """Primary and secondary suppression of the volume summary (forces, comparator groups, England and Wales).

    Primary: :func:`suppress_small_counts`. Secondary: a published total
    that included a withheld force would give its count away by subtraction
    (England and Wales minus the other 42 forces), so comparator-group and
    national figures are pooled without the forces whose own figures are
    withheld, and say so in ``leaves_out``. Every force keeps its own figures.

    Returns
    -------
    pandas.DataFrame
        As :func:`toolkit.stats.volume.summarise_volume`, with ``suppressed`` and
        ``leaves_out`` (codes left out of a pooled row, ``;``-separated).

    Examples
    --------
    >>> from toolkit.stats.volume import summarise_volume
    >>> episodes = pd.DataFrame({"force_code": ["E23000034"] * 3 + ["E23000001"] * 10,
    ...                          "person_id": list("abc") + list("defghijklm")})
    >>> published = suppress_volume_summary(summarise_volume(episodes), {})
    >>> national = published.query("area == 'national' and metric == 'episodes'")
    >>> int(national["value"].iloc[0]), national["leaves_out"].iloc[0]
    (10, 'E23000034')
    """
    marked = suppress_small_counts(summary, threshold)
    marked["leaves_out"] = ""
    forces = marked[marked["area"] == "force"]
    withheld = frozenset(forces.loc[forces["suppressed"], "force_code"])
    if not withheld:
        return marked
    raw = summary[summary["area"] == "force"]
    counts = raw.pivot(index="force_code", columns="metric", values="value")[["episodes", "children"]]
    counts["population"] = raw[raw["metric"] == "rate_per_1000_children"].set_index("force_code")["denominator"]
    from toolkit.stats.volume import pool_volume

    pooled = suppress_small_counts(pool_volume(counts, comparator_groups, withheld), threshold)
    note = ";".join(sorted(withheld))
    pooled["leaves_out"] = [
        note if area == "national" or withheld & set(comparator_groups.get(code, [])) else ""
        for code, area in zip(pooled["force_code"], pooled["area"], strict=True)
    ]
    return pd.concat([forces, pooled], ignore_index=True).reindex(columns=marked.columns)


def format_figure(value: float, suppressed: bool = False, decimals: int = 0) -> str:
    """Format a figure for a report: thousands separators, ``[c]`` when suppressed.

    Examples
    --------
    >>> format_figure(12345), format_figure(3.14159, decimals=2), format_figure(float("nan"), True)
    ('12,345', '3.14', '[c]')
    >>> format_figure(float("nan"))
    '-'

    A figure under 1 that its decimals would round towards 0 keeps two significant
    figures instead (a lower limit of 0.036 per 1,000 is not 0.0):

    >>> format_figure(0.036, decimals=1), format_figure(0.0, decimals=1), format_figure(13.44, decimals=1)
    ('0.036', '0.0', '13.4')
    """
    if suppressed:
        return SUPPRESSED
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if decimals and 0 < abs(value) < 10 ** (1 - decimals):
        return f"{value:#.2g}"
    return f"{value:,.{decimals}f}"


def round_share_as_shown(value: float) -> float:
    """A share to the precision the reports print it (``43%``, ``5.6%``: :data:`SHARE_PRECISION`), as a number.

    Examples
    --------
    >>> round_share_as_shown(0.43125), round_share_as_shown(0.05612), bool(np.isnan(round_share_as_shown(np.nan)))
    (0.43, 0.056, True)
    """
    if pd.isna(value):
        return np.nan
    text = f"{value:.1%}" if value < 0.1 else f"{value:.0%}"
    return round(float(text[:-1]) / 100, 4)


def suppress_tidy_figures(table: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD, withheld=None) -> pd.DataFrame:
    """Primary and secondary suppression of tidy figures of forces and England and Wales (not volume).

    Primary: :func:`suppress_small_counts`. Secondary: a national total's
    counts, less the published forces', would give a withheld force's away,
    so national rows carry no numerator or denominator, and a national count
    is withheld where any force's count of the same measure is. A national
    share beside a withheld force's is given as the reports print it, with
    no interval (:data:`SHOWN_NATIONALLY`): to four figures with its Wilson
    interval it gave back the national numerator and denominator (two
    equations in two unknowns), and so the withheld forces' counts less the
    published ones'. A withheld figure loses its funnel band too.

    Parameters
    ----------
    table : pandas.DataFrame
        ``force_code``, ``area`` (``force`` or ``national``), ``section``,
        ``metric``, ``value``, ``lower``, ``upper``, ``numerator``,
        ``denominator``, ``unit``, ``band``.
    withheld : array of bool, optional
        Rows withheld already, whatever their counts (linked counts).

    Examples
    --------
    >>> t = pd.DataFrame({"force_code": ["E23000034", "E23000014", "england_and_wales"],
    ...     "area": ["force", "force", "national"], "section": "repeats", "metric": "children_2_plus",
    ...     "value": [3.0, 120.0, 123.0], "lower": None, "upper": None, "numerator": None,
    ...     "denominator": None, "unit": "children", "band": None})
    >>> suppress_tidy_figures(t)[["value", "suppressed"]].to_numpy().tolist()
    [[nan, True], [120.0, False], [nan, True]]
    >>> shares = t.assign(metric="repeat_share", unit="share", value=[0.5, 0.41, 0.41183], lower=[None, 0.39, 0.4102],
    ...                   upper=[None, 0.43, 0.4135], numerator=[2, 49, None], denominator=[4, 120, None])
    >>> suppress_tidy_figures(shares).iloc[2][["value", "lower", "upper"]].astype(float).tolist()
    [0.41, nan, nan]
    """
    out = suppress_small_counts(table, threshold)
    if withheld is not None:  # withheld already, as a linked count (:func:`withhold_linked_counts`)
        mark = pd.Series(withheld, index=out.index).fillna(False).astype(bool)
        out.loc[mark, ["value", "lower", "upper", "numerator", "denominator"]] = np.nan
        out["suppressed"] = out["suppressed"] | mark
    national = out["area"] == "national"
    out.loc[national, ["numerator", "denominator"]] = np.nan
    withheld = out.loc[out["suppressed"] & ~national, ["section", "metric"]].drop_duplicates()
    keys = pd.MultiIndex.from_frame(out[["section", "metric"]])
    beside_withheld = national & keys.isin(pd.MultiIndex.from_frame(withheld))
    hit = beside_withheld & out["unit"].isin(COUNT_UNITS)
    out.loc[hit, ["value", "lower", "upper"]] = np.nan
    out.loc[hit, "suppressed"] = True
    beside = beside_withheld & (out["unit"] == "share") & ~out["suppressed"]
    beside &= pd.to_numeric(out["value"], errors="coerce").notna()  # a share not computed keeps its reason alone
    if beside.any():
        out["value"] = out["value"].astype(float)
        out.loc[beside, "value"] = out.loc[beside, "value"].map(round_share_as_shown)
        out.loc[beside, ["lower", "upper"]] = np.nan
        if "method" in out.columns:
            shown = SHOWN_NATIONALLY.format(precision=SHARE_PRECISION)
            out["method"] = out["method"].astype(object)
            out.loc[beside, "method"] = [f"{m}; {shown}" if m else shown for m in out.loc[beside, "method"].fillna("")]
    out["band"] = out["band"].where(~out["suppressed"])
    return out


SIGNIFICANT_FIGURES = 4


def _round(values: pd.Series) -> pd.Series:
    """Round to :data:`SIGNIFICANT_FIGURES` significant figures (missing stays missing)."""
    v = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = SIGNIFICANT_FIGURES - 1 - np.floor(np.log10(np.abs(v)))
    digits = np.where(np.isfinite(digits), digits, 0).astype(int)
    return pd.Series([round(x, d) if np.isfinite(x) else x for x, d in zip(v, digits, strict=True)], index=values.index)


def round_published_figures(table: pd.DataFrame) -> pd.DataFrame:
    """Figures that are not counts rounded to :data:`SIGNIFICANT_FIGURES` significant figures.

    A rate or share to full precision, with a published denominator, could give
    a withheld count back; four figures are all a reader needs.

    Examples
    --------
    >>> t = pd.DataFrame({"value": [0.123456, 1234.0], "lower": None, "upper": None,
    ...                   "unit": ["share", "episodes"]})
    >>> round_published_figures(t)["value"].tolist()
    [0.1235, 1234.0]
    """
    out = table.copy()
    counts = out["unit"].isin(COUNT_UNITS)
    for column in ("value", "lower", "upper"):
        out[column] = out[column].where(counts, _round(out[column]))
    return out


def published_threshold(run: dict) -> int:
    """The smallest count a run publishes, from its parameters (``run_parameters.json``).

    Examples
    --------
    >>> published_threshold({"suppression_threshold": 10}), published_threshold({})
    (10, 5)
    """
    return run.get("suppression_threshold", DEFAULT_THRESHOLD)


def withhold_national_counts(
    table: pd.DataFrame, columns: list[str], threshold: int = DEFAULT_THRESHOLD
) -> pd.DataFrame:
    """Blank (NaN) the England and Wales count in each column where any force's count is small or withheld.

    A national count less the published forces' counts would give a withheld force's count away by
    subtraction (102 children nationally, 100 in the only other force: the withheld force had 2).

    Examples
    --------
    >>> t = pd.DataFrame({"force_code": ["E23000034", "E23000014", "england_and_wales"],
    ...                   "children_2_plus": [2, 100, 102], "children_3_plus": [0, 40, 40]})
    >>> published = withhold_national_counts(t, ["children_2_plus", "children_3_plus"])
    >>> published.iloc[2][["children_2_plus", "children_3_plus"]].astype(float).tolist()
    [nan, 40.0]
    """
    out = table.copy()
    national = out["force_code"] == NATIONAL
    for column in columns:
        forces = out.loc[~national, column]
        # A blank force cell was withheld already (it would give back a linked count): the total would too.
        if (is_small_count(forces, threshold) | forces.isna()).any():
            out[column] = out[column].astype(float).mask(national)
    return out


# Count columns of wide prepared tables that have a national row, by table (their national count is withheld
# where a force's count is).
NATIONAL_COUNT_COLUMNS = {"repeats": ["children_2_plus", "children_3_plus", "frequently_missing"]}


@dataclass(frozen=True)
class CountCell:
    """Where one count of a force is published: a prepared table, the rows that hold it, the column.

    ``where`` pairs a column with the value that picks the rows (``(("measure", "higher_grade"),)``);
    ``figures`` are the columns blanked with it when it is withheld (the count and whatever gives it back,
    such as a ratio beside its expected count); empty means the count's column alone.
    """

    table: str
    column: str
    where: tuple[tuple[str, str], ...] = ()
    figures: tuple[str, ...] = ()

    def rows(self, table: pd.DataFrame) -> pd.Series:
        """Which rows of ``table`` hold this count for a force."""
        chosen = table["force_code"] != NATIONAL
        for column, value in self.where:
            chosen &= table[column] == value
        return chosen


@dataclass(frozen=True)
class LinkedCount:
    """A count (``part``) that is a subset of a count published elsewhere (``whole``) for the same force.

    Their difference is a third count that no table publishes but subtraction gives back; when it is
    small, the part is withheld (:func:`withhold_linked_counts`).
    """

    part: CountCell
    whole: CountCell


# Standardised ratios print the observed count, whose population the multilevel model's row counts.
_RATIO_FIGURES = ("observed", "expected", "value", "ratio_lower", "ratio_upper", "z", "band", "comparator_band")
_CHILDREN = CountCell("summary", "value", (("metric", "children"), ("area", "force")))
_TWICE, _THRICE, _FREQUENT = (
    CountCell("repeats", c) for c in ("children_2_plus", "children_3_plus", "frequently_missing")
)

# The share of the children another force knew at risk whom the force first graded low, withheld with its count.
CROSS_BORDER_SHARE = ("graded_low_here", "graded_low_share", "graded_low_share_lower", "graded_low_share_upper")
_CROSS_BORDER, _MISSING_ELSEWHERE, _PLACED_ELSEWHERE = (
    CountCell("cross_border", c) for c in ("cross_border", "missing_elsewhere", "placed_from_elsewhere")
)
_KNOWN_ELSEWHERE = CountCell("cross_border", "known_elsewhere", (), ("known_elsewhere", *CROSS_BORDER_SHARE))

# The register of linked counts: every pair of published counts of one force where one counts part of the
# other. A new table that publishes such a pair declares it here.
LINKED_COUNTS = (
    LinkedCount(
        CountCell("standardised_practice", "observed", (("measure", "higher_grade"),), _RATIO_FIGURES),
        CountCell("consistency_forces", "episodes", (("measure", "risk_grading"),)),
    ),
    LinkedCount(
        CountCell("standardised_practice", "observed", (("measure", "no_response_if_flagged"),), _RATIO_FIGURES),
        CountCell("consistency_forces", "episodes", (("measure", "no_response_if_flagged"),)),
    ),
    *(LinkedCount(part, whole) for part, whole in ((_TWICE, _CHILDREN), (_THRICE, _TWICE), (_THRICE, _CHILDREN))),
    # Frequently missing (3 episodes in 90 days by default) is part of missing three times or more; with a
    # rule of 2 episodes it may not be, and the pair then only ever withholds more.
    *(LinkedCount(_FREQUENT, whole) for whole in (_CHILDREN, _TWICE, _THRICE)),
    # A force's children who cross its borders (missing in another force too, placed from another force's area,
    # either) are parts of its children and of one another; those another force knew at risk are part of the
    # children missing elsewhere. Where the two parts overlap by a small count, publish_cross_border withholds.
    *(
        LinkedCount(part, whole)
        for part, whole in (
            (_MISSING_ELSEWHERE, _CROSS_BORDER),
            (_PLACED_ELSEWHERE, _CROSS_BORDER),
            (_KNOWN_ELSEWHERE, _MISSING_ELSEWHERE),
            *((cell, _CHILDREN) for cell in (_CROSS_BORDER, _MISSING_ELSEWHERE, _PLACED_ELSEWHERE, _KNOWN_ELSEWHERE)),
        )
    ),
)


def withhold_linked_counts(
    tables: dict[str, pd.DataFrame], threshold: int = DEFAULT_THRESHOLD, links=LINKED_COUNTS, before=None
) -> tuple[dict[str, pd.DataFrame], set[tuple[str, str, str]]]:
    """Withhold each count of :data:`LINKED_COUNTS` whose difference from the count it is part of is small.

    The risk-grading model counts a force's graded "missing" episodes (674) and the standardised ratio
    prints how many were graded medium or high (670): the 4 graded low are given back by subtraction. So
    where ``whole - part`` is a count from 1 to ``threshold - 1`` the part is withheld (with its
    ``figures``), and so is any part of a small whole, zero or not; a part withheld makes no pair it is
    in a way back. Repeated until nothing changes, since links chain (children, twice or more, three
    times or more). ``before`` holds the tables as they were before any was published, where a whole
    already withheld (blank) is read to see if it was small.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        Copies of the tables with the withheld cells blank (NaN).
    withheld : set of (table, force_code, column)
        Every count withheld, for the tidy figures of ``metrics.csv``.

    Examples
    --------
    >>> repeats = pd.DataFrame({"force_code": ["a", "b"], "children_2_plus": [40, 40],
    ...                         "children_3_plus": [38, 20], "frequently_missing": [0, 0]})
    >>> published, withheld = withhold_linked_counts({"repeats": repeats})
    >>> published["repeats"]["children_3_plus"].tolist(), sorted(withheld)
    ([nan, 20.0], [('repeats', 'a', 'children_3_plus')])
    """
    out = dict(tables)
    withheld: set[tuple[str, str, str]] = set()
    if threshold <= 1:
        return out, withheld
    changed = True
    while changed:
        changed = False
        for link in links:
            part, whole = link.part, link.whole
            if part.table not in out or whole.table not in out:
                continue
            parts, wholes = out[part.table], out[whole.table]
            mine = parts[part.rows(parts)].set_index("force_code")[part.column].astype(float)
            totals = wholes[whole.rows(wholes)].set_index("force_code")[whole.column].astype(float)
            totals = totals.reindex(mine.index)
            was = totals
            if before is not None and whole.table in before:
                unpublished = before[whole.table]
                own = unpublished[whole.rows(unpublished)].set_index("force_code")[whole.column].astype(float)
                was = totals.fillna(own.reindex(mine.index))
            # Only a pair of published counts gives a difference back: a small whole is withheld itself, and so
            # is every part of it, zeros included (none of a force's three children missing twice says that
            # all three went missing once).
            shown = mine.notna() & ~is_small_count(mine, threshold) & ~is_small_count(totals, threshold)
            of_small = mine.notna() & is_small_count(was, threshold)
            hit = mine.index[(is_small_count(totals - mine, threshold) & shown) | of_small]
            if len(hit) == 0:
                continue
            rows = part.rows(parts) & parts["force_code"].isin(hit)
            blanked = parts.copy()
            for column in part.figures or (part.column,):
                if pd.api.types.is_numeric_dtype(blanked[column]):
                    blanked[column] = blanked[column].astype(float)
                else:
                    blanked[column] = blanked[column].astype(object)
                blanked.loc[rows, column] = np.nan
            out[part.table] = blanked
            withheld |= {(part.table, code, part.column) for code in hit}
            changed = True
    return out, withheld


def withhold_complements(counts, sets, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """Which cells to withhold from sets of counts that each add up to a published total.

    Primary: every small count (:func:`is_small_count`). Secondary: where a set
    has exactly one withheld cell, its total less the other cells would give
    that cell back, so the smallest other non-zero cell of the set is withheld
    too (the usual complementary suppression). Two or more withheld cells
    reveal only their sum. Zeros stay published, except in a set whose total
    is itself small: there the zeros would say that every one of a handful of
    children has the other cells' attributes (all of a force's three children
    White, none looked after), so every cell of the set is withheld.

    Parameters
    ----------
    counts : array-like
        The cells.
    sets : array-like
        For each cell, the set (a force's months, a force's grades) it belongs to.
    threshold : int
        Smallest count that may be published (0 or 1: nothing is withheld).

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> withhold_complements([33, 1, 0, 12, 10, 9], ["a", "a", "a", "b", "b", "b"]).tolist()
    [True, True, False, False, False, False]
    >>> withhold_complements([2, 3, 40], ["a", "a", "a"]).tolist()  # two withheld already: their sum only
    [True, True, False]
    >>> withhold_complements(pd.Series([40, 50, 33, 1, 12]).iloc[2:], ["a"] * 3).tolist()  # any index
    [False, True, True]
    >>> withhold_complements([0, 3, 0, 0], ["a"] * 4).tolist()  # a total of 3: its zeros too
    [True, True, True, True]
    """
    # Positions, not the caller's labels: the result is indexed by position.
    counts = pd.to_numeric(pd.Series(counts), errors="coerce").reset_index(drop=True)
    frame = pd.DataFrame({"count": counts, "set": list(sets)})
    if threshold <= 1:
        return np.zeros(len(frame), dtype=bool)
    small = (
        is_small_count(frame["count"], threshold)
        | is_small_count(frame.groupby("set")["count"].transform("sum"), threshold)
    ).to_numpy()
    lone = frame.assign(small=small).groupby("set")["small"].transform("sum").to_numpy() == 1
    candidate = frame[lone & ~small & (frame["count"] > 0).to_numpy()]
    smallest = candidate.sort_values("count", kind="stable").groupby("set").head(1).index
    withheld = small.copy()
    withheld[smallest] = True
    return withheld


def withhold_parts(numerators, denominators, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """Which parts of one whole to withhold, each published as its denominator and a share of it.

    The parts (a force's episodes at each first response, with the share of them that came to harm) add
    up to totals published elsewhere, in their denominators and in their numerators alike. A part is
    withheld where its share rests on a small count (:func:`rests_on_small_count`) or its denominator is
    small; where only one part would be, the smallest other is withheld too (:func:`withhold_complements`).

    Examples
    --------
    >>> withhold_parts([3, 10, 20], [100, 200, 300]).tolist()  # 3 harmed: its share, and one other, withheld
    [True, True, False]
    >>> withhold_parts([10, 20, 30], [100, 200, 300]).tolist()
    [False, False, False]
    """
    numerators = pd.to_numeric(pd.Series(numerators), errors="coerce").reset_index(drop=True)
    denominators = pd.to_numeric(pd.Series(denominators), errors="coerce").reset_index(drop=True)
    if threshold <= 1:
        return np.zeros(len(numerators), dtype=bool)
    primary = np.array(rests_on_small_count(numerators, denominators, threshold), dtype=bool)
    primary |= is_small_count(denominators, threshold).to_numpy()
    # A withheld part counts as small, so that a lone one gets its complement.
    marked = denominators.where(~primary, 1)
    return withhold_complements(marked, ["whole"] * len(marked), threshold)


def publish_parts(
    table: pd.DataFrame, numerator: str, denominator: str, figures: tuple[str, ...], threshold: int = DEFAULT_THRESHOLD
) -> pd.DataFrame:
    """A long table of each force's parts of one whole with the parts :func:`withhold_parts` withholds blanked.

    ``figures`` are the columns blanked with a withheld part (its counts, share and interval); the column
    ``withheld`` marks its rows. The national rows are left as they are: they publish no count
    (:func:`suppress_tidy_figures`).

    Examples
    --------
    >>> t = pd.DataFrame({"force_code": ["a"] * 3, "harmed": [3, 10, 20], "episodes": [100, 200, 300]})
    >>> publish_parts(t, "harmed", "episodes", ("harmed", "episodes"))["harmed"].tolist()
    [nan, nan, 20.0]
    """
    out = table.copy()
    hidden = np.zeros(len(out), dtype=bool)
    forces = out["force_code"] != NATIONAL
    for _, rows in out[forces].groupby("force_code", sort=False):
        positions = out.index.get_indexer(rows.index)
        hidden[positions] = withhold_parts(rows[numerator], rows[denominator], threshold)
    for column in figures:
        out[column] = out[column].astype(float).mask(hidden)
    out["withheld"] = hidden
    return out


def pool_published_cells(cells: pd.DataFrame, members: dict[str, list[str]], by: list[str], columns: list[str]):
    """Pooled rows (comparator groups, England and Wales) summed from the published cells of their members.

    A pooled total that included a withheld cell would give it back by
    subtraction (England and Wales less the other forces), so each pooled
    count is the sum of its members' published counts of the same kind: one
    rule for every table with pooled rows.

    Parameters
    ----------
    cells : pandas.DataFrame
        Force rows: ``force_code``, the ``by`` columns and the count ``columns``,
        with withheld counts already NaN.
    members : dict
        Pooled code (a force's code for its comparator group, or
        ``england_and_wales``) to the forces it pools.
    by : list of str
        Columns that say which counts are of the same kind (``measure``, ``grade``).
    columns : list of str
        The counts summed.

    Returns
    -------
    pandas.DataFrame
        ``force_code`` (the pooled code), ``by``, ``columns`` and ``leaves_out``
        (the members whose cell was withheld, ``;``-separated).

    Examples
    --------
    >>> cells = pd.DataFrame({"force_code": ["a", "b", "c"], "grade": "high", "episodes": [40.0, None, 7.0]})
    >>> pool_published_cells(cells, {"england_and_wales": ["a", "b", "c"]}, ["grade"], ["episodes"]).to_dict("records")
    [{'force_code': 'england_and_wales', 'grade': 'high', 'episodes': 47.0, 'leaves_out': 'b'}]
    """
    pairs = pd.DataFrame(
        [(code, member) for code, group in members.items() for member in group], columns=["pooled", "force_code"]
    )
    joined = pairs.merge(cells, on="force_code")
    if joined.empty:
        return pd.DataFrame(columns=["force_code", *by, *columns, "leaves_out"])
    joined["withheld"] = joined[columns].isna().any(axis=1)
    grouped = joined.groupby(["pooled", *by], sort=False)
    pooled = grouped[columns].sum(min_count=1)  # all withheld: withheld.reset_index()
    left_out = grouped.apply(
        lambda g: ";".join(sorted(g.loc[g["withheld"], "force_code"])), include_groups=False
    ).rename("leaves_out")
    pooled = pooled.merge(left_out.reset_index(), on=["pooled", *by])
    return pooled.rename(columns={"pooled": "force_code"})


def _pool_shares(table: pd.DataFrame, by: list[str], threshold: int, withhold=None) -> pd.DataFrame:
    """A tidy table of shares with primary suppression (and the rows ``withhold`` marks), and its national
    rows pooled from the published forces."""
    out = suppress_small_counts(table, threshold)
    if withhold is not None and threshold > 1:
        withhold = pd.Series(withhold, index=out.index).fillna(False).astype(bool)
        out.loc[withhold, ["value", "lower", "upper", "numerator", "denominator"]] = np.nan
        out["suppressed"] = out["suppressed"] | withhold
    national = out["force_code"] == NATIONAL
    forces = out[~national & (out["force_code"] != "")]
    codes = sorted(set(forces["force_code"]))
    pooled = pool_published_cells(forces, {NATIONAL: codes}, by, ["numerator", "denominator"])
    rows = out[national].drop(columns=["numerator", "denominator"]).merge(pooled, on=["force_code", *by], how="left")
    from toolkit.stats.intervals import proportion_interval

    interval = proportion_interval(rows["numerator"].fillna(0), rows["denominator"].fillna(0))
    rows[["value", "lower", "upper"]] = interval[["value", "lower", "upper"]].to_numpy()
    rows = suppress_small_counts(rows.drop(columns="suppressed"), threshold)
    return pd.concat([out[~national].assign(leaves_out=""), rows], ignore_index=True).reindex(
        columns=[*out.columns, "leaves_out"]
    )


def publish_cleaning(cleaning: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """What became of each force's rows, with the outcomes that would give a small count away withheld.

    A force's clean rows are its episodes, published everywhere, so the rows it
    had set aside (quarantined or merged) add up to its rows received less a
    published figure. Those cells get complementary suppression among
    themselves (:func:`withhold_complements`), and where any of them is
    withheld the rows received are withheld too: received less clean would
    give back their sum, and with it a lone cell. The England and Wales rows
    pool the published cells.

    Returns
    -------
    pandas.DataFrame
        ``force_code``, ``outcome``, ``rows`` (NaN where withheld),
        ``received`` (the force's rows, NaN where withheld), ``suppressed`` and ``leaves_out``.

    Examples
    --------
    >>> c = pd.DataFrame({"force_code": ["a"] * 4, "outcome": ["clean", "quarantined: x", "quarantined: y", "merged"],
    ...                   "rows": [9551, 1, 30, 10]})
    >>> publish_cleaning(c).query("force_code == 'a'")[["rows", "received"]].to_numpy().tolist()
    [[9551.0, nan], [nan, nan], [30.0, nan], [nan, nan]]
    """
    national = cleaning["force_code"] == NATIONAL
    forces = cleaning[~national].copy().reset_index(drop=True)
    forces["received"] = forces.groupby("force_code")["rows"].transform("sum").astype(float)
    small_force = is_small_count(forces["received"], threshold).to_numpy()
    set_aside = (forces["outcome"] != "clean").to_numpy()
    withheld = small_force.copy()
    withheld[set_aside] |= withhold_complements(
        forces.loc[set_aside, "rows"], forces.loc[set_aside, "force_code"], threshold
    )
    any_withheld = pd.Series(withheld).groupby(forces["force_code"]).transform("any").to_numpy()
    forces["rows"] = forces["rows"].astype(float).mask(withheld)
    forces["received"] = forces["received"].mask(any_withheld)
    forces["suppressed"] = withheld
    pooled = pool_published_cells(forces, {NATIONAL: sorted(set(forces["force_code"]))}, ["outcome"], ["rows"])
    pooled["received"] = pooled["rows"].sum()
    pooled["suppressed"] = False
    return pd.concat([forces.assign(leaves_out=""), pooled], ignore_index=True)[
        ["force_code", "outcome", "rows", "received", "suppressed", "leaves_out"]
    ]


# Scorecard measures taken over a force's rows received: withheld where its rows received are.
_OVER_ROWS_RECEIVED = ("validity", "consistency", "uniqueness")


def publish_counts_by_part(
    table: pd.DataFrame, part: str, threshold: int = DEFAULT_THRESHOLD, comparator_groups: dict | None = None
) -> pd.DataFrame:
    """Each force's counts by ``part`` (month, grade) with complementary suppression, and pooled rows rebuilt.

    A force's counts add up to its published episodes, so they get
    :func:`withhold_complements`; comparator-group (``area="comparators"``)
    and England and Wales rows are summed from the published force cells
    (:func:`pool_published_cells`). A ``share`` column, where there is one,
    is recomputed from the published counts of pooled rows and withheld
    with its count.

    Examples
    --------
    >>> months = pd.DataFrame({"force_code": ["a", "a", "b", "b", "england_and_wales", "england_and_wales"],
    ...                        "month": [1, 2, 1, 2, 1, 2], "episodes": [108, 3, 50, 60, 158, 63]})
    >>> publish_counts_by_part(months, "month")["episodes"].tolist()
    [nan, nan, 50.0, 60.0, 50.0, 60.0]
    """
    area = table["area"] if "area" in table else pd.Series("", index=table.index)
    is_force = (table["force_code"] != NATIONAL) & area.isin(["force", ""])
    forces = table[is_force].copy()
    withheld = withhold_complements(forces["episodes"], forces["force_code"], threshold)
    forces["episodes"] = forces["episodes"].astype(float).mask(withheld)
    if "share" in forces:
        forces["share"] = forces["share"].mask(withheld)
    members = {NATIONAL: sorted(set(forces["force_code"]))}
    pools = [(NATIONAL, members, table["force_code"] == NATIONAL)]
    if "area" in table and comparator_groups is not None:
        pools.append(("comparators", comparator_groups, area == "comparators"))
    rebuilt = []
    for _, groups, where in pools:
        pooled = pool_published_cells(forces, groups, [part], ["episodes"])
        old = table[where].drop(columns=["episodes", *(["share"] if "share" in table else [])])
        rows = old.merge(pooled, on=["force_code", part], how="left")
        if "share" in table:
            totals = rows.groupby("force_code")["episodes"].transform("sum")
            rows["share"] = rows["episodes"] / totals.where(totals > 0)
        rebuilt.append(rows)
    out = pd.concat([forces.assign(suppressed=withheld, leaves_out=""), *rebuilt], ignore_index=True)
    out["suppressed"] = out["suppressed"].fillna(False).astype(bool)
    return out[[*table.columns, "suppressed", "leaves_out"]]


def publish_tables(tables: dict[str, pd.DataFrame], run: dict) -> dict[str, pd.DataFrame]:
    """The prepared tables a page publishes, each after the disclosure control it needs.

    Primary suppression withholds every small count and what rests on one.
    Secondary suppression follows one rule: no published total, less the
    published cells it adds up, may give a withheld cell back. So

    - pooled rows (comparator groups, England and Wales) are summed from the
      published cells of their members: the volume summary
      (:func:`suppress_volume_summary`), the data-quality scorecard and the
      measures the data support (shares, by :func:`pool_published_cells`),
      what became of the rows (:func:`publish_cleaning`), the monthly series
      and the mix of risk grades (:func:`publish_counts_by_part`);
    - cells that add up to a published force total (a force's months, grades
      and cleaning outcomes) get complementary suppression
      (:func:`withhold_complements`); so do a force's harm at each first
      response, which adds up to the episodes and harm the c-statistic is
      published over (:func:`publish_parts`);
    - a count that is part of another published count of the force (of
      :data:`LINKED_COUNTS`) is withheld when their difference is small
      (:func:`withhold_linked_counts`); a force's cross-border children, whose
      parts overlap, first pass :func:`publish_cross_border`;
    - the national counts of :data:`NATIONAL_COUNT_COLUMNS` are withheld where a
      force's are (:func:`withhold_national_counts`).

    Every other table is shown through the functions of this module where it is
    used (:func:`format_count`, :func:`rests_on_small_count`). The run's
    parameters give the threshold and the comparator groups.
    """
    threshold = published_threshold(run)
    groups = run.get("comparator_groups", {})
    published = dict(tables)
    if "summary" in published:
        published["summary"] = suppress_volume_summary(published["summary"], groups, threshold)
    if "cleaning" in published:
        published["cleaning"] = publish_cleaning(published["cleaning"], threshold)
    if "quality" in published:
        quality, over_rows = published["quality"], None
        if "cleaning" in published:  # a share of the rows received would give them back where cleaning withholds them
            cleaning = published["cleaning"]
            hidden = cleaning.loc[cleaning["received"].isna() & (cleaning["force_code"] != NATIONAL), "force_code"]
            over_rows = quality["dimension"].isin(_OVER_ROWS_RECEIVED) & quality["force_code"].isin(set(hidden))
        published["quality"] = _pool_shares(quality, ["dimension", "measure"], threshold, over_rows)
    if "support" in published:
        published["support"] = _pool_shares(published["support"], ["metric"], threshold)
    if "monthly" in published:
        published["monthly"] = publish_counts_by_part(published["monthly"], "month", threshold)
    if "grade_mix" in published:
        published["grade_mix"] = publish_counts_by_part(published["grade_mix"], "grade", threshold, groups)
    if "profile_hours" in published:
        published["profile_hours"] = publish_hours(published["profile_hours"], threshold)
    if "profile_shares" in published:
        published["profile_shares"] = publish_profile(
            published["profile_shares"], published.get("night_reports"), threshold
        )
    if "profile_rates" in published:
        published["profile_rates"] = publish_profile_rates(published["profile_rates"], threshold)
    if "profile_ethnicity" in published:
        published["profile_ethnicity"] = publish_response_odds(published["profile_ethnicity"], threshold)
    if "profile_concentration" in published:
        published["profile_concentration"] = publish_concentration(published["profile_concentration"], threshold)
    if "profile_delay" in published:
        published["profile_delay"] = publish_delay(published["profile_delay"], threshold)
    if "harm_by_grade" in published:
        published["harm_by_grade"] = publish_parts(
            published["harm_by_grade"], "harmed", "episodes", HARM_FIGURES, threshold
        )
    if "year_on_year" in published:
        published["year_on_year"] = publish_year_on_year(published["year_on_year"], threshold)
    if "cross_border" in published:
        published["cross_border"], _ = publish_cross_border(published["cross_border"], threshold)
    published, _ = withhold_linked_counts(published, threshold, before=tables)
    for name, columns in NATIONAL_COUNT_COLUMNS.items():
        if name in published:
            published[name] = withhold_national_counts(published[name], columns, threshold)
    return published


_CROSS_BORDER_COUNTS = ("children", "missing_elsewhere", "placed_from_elsewhere", "cross_border", "known_elsewhere")


def publish_cross_border(table: pd.DataFrame, threshold: int) -> tuple[pd.DataFrame, set[tuple[str, str, str]]]:
    """Each force's cross-border children fit to publish: no small count, given or given back by the others.

    Primary: a small count is withheld, and so is the share of the children another force knew at risk
    whom the force first graded low where it rests on a small count (:data:`CROSS_BORDER_SHARE`). The
    children missing in another force too and those placed from another force's area overlap, and the
    children who are either is published too, so their overlap is ``missing + placed - either``: where it
    is a small count and all three are published, the placed count is withheld. The other differences
    (either less one part, a force's children less any of them, the children missing elsewhere less those
    known at risk) are pairs of :data:`LINKED_COUNTS`, withheld by :func:`withhold_linked_counts`.

    Returns
    -------
    table : pandas.DataFrame
        A copy with the withheld figures blank (NaN).
    withheld : set of (table, force_code, column)
        The counts withheld here, for ``metrics.csv`` to mark.

    Examples
    --------
    >>> t = pd.DataFrame({"force_code": ["A", "B"], "children": [500, 400], "missing_elsewhere": [30, 3],
    ...     "placed_from_elsewhere": [20, 12], "cross_border": [48, 15], "known_elsewhere": [10, 0],
    ...     "graded_low_here": [8, 0], "graded_low_share": [0.8, None], "graded_low_share_lower": [0.5, None],
    ...     "graded_low_share_upper": [0.9, None]})
    >>> published, withheld = publish_cross_border(t, 5)
    >>> published["placed_from_elsewhere"].tolist(), published["graded_low_share"].tolist()[0], sorted(withheld)
    ([nan, 12.0], nan, [('cross_border', 'A', 'graded_low_here'), ('cross_border', 'A', 'placed_from_elsewhere'), ('cross_border', 'B', 'missing_elsewhere')])
    """
    out = table.copy()
    withheld: set[tuple[str, str, str]] = set()
    if threshold <= 1:
        return out, withheld
    codes = out["force_code"].astype(str).to_numpy()
    hidden = {column: is_small_count(out[column], threshold).to_numpy() for column in _CROSS_BORDER_COUNTS}
    share = rests_on_small_count(out["graded_low_here"], out["known_elsewhere"], threshold).to_numpy()
    hidden["graded_low_here"] = share | hidden["known_elsewhere"]
    overlap = out["missing_elsewhere"] + out["placed_from_elsewhere"] - out["cross_border"]
    shown = ~(hidden["missing_elsewhere"] | hidden["placed_from_elsewhere"] | hidden["cross_border"])
    hidden["placed_from_elsewhere"] = hidden["placed_from_elsewhere"] | (shown & is_small_count(overlap, threshold))
    for column, rows in hidden.items():
        figures = CROSS_BORDER_SHARE if column in ("graded_low_here", "known_elsewhere") else ()
        for name in (column, *figures):
            out[name] = out[name].astype(float).mask(rows)
        withheld |= {("cross_border", code, column) for code in codes[rows & table[column].notna().to_numpy()]}
    return out, withheld


_YEAR_FIGURES = ("episodes_before", "rate_ratio", "lower", "upper")


def publish_year_on_year(table: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """The year-on-year change fit to publish: no year's small count, given or given back by the rate ratio.

    A force whose episodes in either year are a small count has the year before, the rate ratio and its
    interval withheld (the ratio and this year's published count would give the other back); England and
    Wales pools the forces compared, so it is withheld too when any of theirs is.

    Examples
    --------
    >>> t = pd.DataFrame({"force_code": ["A", "B", "england_and_wales"], "episodes": [120, 40, 160],
    ...     "episodes_before": [100, 3, 103], "rate_ratio": [1.2, 13.3, 1.55], "lower": [0.9, 4.0, 1.2],
    ...     "upper": [1.6, 44.0, 2.0], "method": ["m", "m", "m"]})
    >>> out = publish_year_on_year(t, 5)
    >>> out["rate_ratio"].isna().tolist(), out["withheld"].tolist(), out["method"].tolist()[1].split(":")[0]
    ([False, True, True], [False, True, True], 'withheld')
    """
    table = table.copy()
    forces = table["force_code"] != NATIONAL
    computed = table["rate_ratio"].notna()  # a row not computed says why already, and gives nothing back
    counts = is_small_count(table["episodes"], threshold) | is_small_count(table["episodes_before"], threshold)
    small = forces & computed & counts
    if small.any():
        small |= ~forces & computed
    table["rate_ratio"] = table["rate_ratio"].astype("float64")
    for column in _YEAR_FIGURES:
        table[column] = table[column].astype("float64").where(~small)
    reason = f"withheld: a count under {threshold} in one of the two years, or pooled over one"
    table["method"] = table["method"].where(~small, reason)
    table["withheld"] = small.to_numpy()  # metrics.csv marks these rows suppressed
    return table


# The groups of a force's hour cells (:func:`toolkit.stats.profile.tabulate_report_hours`), and the totals other
# tables publish as rows over them: the episodes, the night share's numerator, the weekend-night share's.
_HOUR_GROUPS = ("weekend_night", "other_night", "day")
_HOUR_TOTALS = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]])
# Every union of groups (weekend nights, other nights, day, ..., all): the sets whose withheld sum may come back.
_HOUR_UNIONS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]])


def publish_hours(hours: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """The hour-by-weekday cells with the count each may publish (``published``; missing where withheld).

    A force's cells fall in three groups (``group``: weekend nights, other
    nights, day) whose totals other figures give back, nested: its episodes
    (all the cells, published), the night share's numerator (weekend and other
    nights, ``night_reports``) and the weekend-night share's (the profile),
    each where it is shown (:func:`_show_hour_totals` decides as those tables
    do). From them and the visible cells the sum of the withheld cells of a
    union of groups comes back wherever the union is a combination of the
    shown totals and of groups with no withheld cell: the day is the episodes
    less the night, the night the episodes less a day withheld nowhere. So
    suppression runs over every such union, not within each group alone, until
    each union whose withheld sum comes back withholds nothing or at least two
    cells adding up to at least ``threshold``; a withheld share (the night of
    3 day episodes in 200) is then not the sum of visible cells either. England
    and Wales is pooled from every force's published cells, so that no withheld
    cell comes back as national less the other forces. ``episodes`` keeps the
    counts (a force's total is published).

    Examples
    --------
    A force's 2 day episodes in one cell are withheld, with the next smallest
    day cell, 9, which would give them back; nationally b's cells alone:

    >>> cells = pd.DataFrame({"force_code": ["a", "a", "a", "b", "b", "b", NATIONAL, NATIONAL, NATIONAL],
    ...                       "slot": [0, 1, 2] * 3, "group": ["day"] * 9, "episodes": [2, 9, 30, 8, 7, 6, 10, 16, 36]})
    >>> published = publish_hours(cells)
    >>> published["published"].tolist()
    [nan, nan, 30.0, 8.0, 7.0, 6.0, 8.0, 7.0, 36.0]

    3 day episodes in 200: the night share is withheld (3 were not at night)
    and so are the day's 1s, but with every night cell shown the episodes less
    the night cells would give the 3 back; the weekend nights' total is
    published, so the other nights' cell is withheld:

    >>> force = pd.DataFrame({"force_code": "a", "slot": range(6),
    ...     "group": ["weekend_night", "weekend_night", "other_night", "day", "day", "day"],
    ...     "episodes": [60, 50, 87, 1, 1, 1]})
    >>> publish_hours(force)["published"].tolist()
    [60.0, 50.0, nan, nan, nan, nan]

    A force of 3 episodes shows none of its cells, its empty hours included:

    >>> few = pd.DataFrame({"force_code": "a", "slot": range(3), "group": "day", "episodes": [3, 0, 0]})
    >>> publish_hours(few)["published"].tolist()
    [nan, nan, nan]
    """
    forces = (hours["force_code"] != NATIONAL).to_numpy()
    cells = hours[forces]
    codes, force = np.unique(cells["force_code"].astype(str).to_numpy(), return_inverse=True)
    slot = cells["slot"].to_numpy(dtype=np.int64)
    group = pd.Categorical(cells["group"], categories=_HOUR_GROUPS).codes
    if (group < 0).any():
        unknown = sorted(set(cells["group"][group < 0].astype(str)))
        raise ToolkitError(f"hour cells of an unknown group {unknown}: expected one of {list(_HOUR_GROUPS)}")
    # One row of cells per force, a slot's column for each cell (a slot missing is a zero).
    counts = np.zeros((len(codes), 168), dtype=np.int64)
    groups = np.full((len(codes), 168), _HOUR_GROUPS.index("day"))
    counts[force, slot] = cells["episodes"].to_numpy(dtype=np.int64)
    groups[force, slot] = group
    withheld = _withhold_nested_hours(counts, groups, threshold)
    # A force of a handful of episodes shows no cell, zeros included: its empty hours would say when they were.
    withheld |= np.asarray(is_small_count(counts.sum(axis=1), threshold), dtype=bool)[:, None]
    withheld = withheld[force, slot]
    published = np.full(len(hours), np.nan)
    published[forces] = cells["episodes"].astype(float).where(~withheld).to_numpy()
    pooled = pd.Series(published[forces]).groupby(slot).sum(min_count=1)
    published[~forces] = hours.loc[~forces, "slot"].map(pooled).to_numpy(dtype=float)
    return hours.assign(published=published)


def _show_hour_totals(totals: np.ndarray, threshold: int) -> np.ndarray:
    """Which of each force's episodes, night numerator and weekend-night numerator (columns of ``totals``) are
    published, decided as the tables that publish them decide (the volume summary, ``night_reports`` in the
    report and :func:`publish_profile` with :data:`PROFILE_LINKS`).

    Examples
    --------
    >>> _show_hour_totals(np.array([[200, 197, 110], [200, 40, 38], [3, 1, 0]]), 5).tolist()
    [[True, False, True], [True, True, False], [False, False, False]]
    """
    episodes, night, weekend = totals.T
    shown_night = ~np.asarray(rests_on_small_count(night, episodes, threshold), dtype=bool)
    shown_weekend = ~np.asarray(rests_on_small_count(weekend, episodes, threshold), dtype=bool)
    shown_weekend &= ~(shown_night & np.asarray(is_small_count(night - weekend, threshold), dtype=bool))
    return np.column_stack([~np.asarray(is_small_count(episodes, threshold), dtype=bool), shown_night, shown_weekend])


def _derive_unions(known: np.ndarray) -> np.ndarray:
    """Which unions of groups (:data:`_HOUR_UNIONS`) have a total that the rows of ``known`` (per force: rows
    over the groups, zero rows for none) give back: those in the span of the rows."""
    rank = np.linalg.matrix_rank(known)
    stacked = np.broadcast_to(known[:, None], (len(known), len(_HOUR_UNIONS), *known.shape[1:]))
    unions = np.broadcast_to(_HOUR_UNIONS[None, :, None, :], (len(known), len(_HOUR_UNIONS), 1, 3))
    return np.linalg.matrix_rank(np.concatenate([stacked, unions], axis=2).astype(float)) == rank[:, None]


def _withhold_nested_hours(counts: np.ndarray, groups: np.ndarray, threshold: int) -> np.ndarray:
    """Which of each force's hour cells to withhold (:func:`publish_hours`): ``counts`` and ``groups`` (an index
    into :data:`_HOUR_GROUPS`) are one row of cells per force.

    Primary suppression first; then, while some force has a union of groups whose withheld sum comes back and
    is small or one cell, one more cell of that force is withheld: the union's smallest visible non-zero cell,
    or where it has none (its withheld cells are all its episodes), the smallest of a group with no withheld
    cell whose total would otherwise give the union's back. A cell that a published total gives back alone
    (the one non-zero cell of a shown union) is never chosen: withholding it would hide nothing.
    """
    if threshold <= 1:
        return np.zeros(counts.shape, dtype=bool)
    member = (groups[:, :, None] == np.arange(3)).astype(np.int64)  # force, cell, group (int: einsum counts)
    nonzero = counts > 0
    sums = np.einsum("fc,fcg->fg", counts, member)
    totals = np.column_stack([sums.sum(axis=1), sums[:, :2].sum(axis=1), sums[:, 0]])
    published = _HOUR_TOTALS[None] * _show_hour_totals(totals, threshold)[:, :, None]  # force, total, group

    def known(rest: np.ndarray) -> np.ndarray:
        """The published totals' rows with a row for each group whose withheld sum is known to be 0."""
        return np.concatenate([published, np.eye(3, dtype=np.int64)[None] * rest[:, :, None]], axis=1)

    in_union = np.einsum("fcg,ug->fcu", member, _HOUR_UNIONS) > 0  # force, cell, union
    # A union whose total the published totals give back and that has one non-zero cell gives that cell back.
    shown = _derive_unions(known(sums == 0))
    alone = shown & (np.einsum("fc,fcu->fu", nonzero.astype(np.int64), in_union.astype(np.int64)) == 1)
    pinned = np.einsum("fcu,fu->fc", in_union & nonzero[:, :, None], alone.astype(np.int64)) > 0
    withheld = np.asarray(is_small_count(counts.ravel(), threshold), dtype=bool).reshape(counts.shape)
    rows = np.arange(len(counts))
    for _ in range(counts.size):
        hidden = np.einsum("fc,fcg->fg", withheld.astype(np.int64), member)
        hidden_sum = np.einsum("fc,fcg->fg", counts * withheld, member)
        derivable = _derive_unions(known(hidden == 0))
        cells, total = hidden @ _HOUR_UNIONS.T, hidden_sum @ _HOUR_UNIONS.T
        leaks = derivable & (cells > 0) & ((total < threshold) | (cells < 2))
        bad = leaks.any(axis=1)
        if not bad.any():
            break
        union = leaks.argmax(axis=1)
        free = nonzero & ~withheld & ~pinned
        inside = free & in_union[rows, :, union]
        # Outside the union: a group with nothing withheld whose total would give the union's back.
        breaks = np.zeros((len(counts), 3), dtype=bool)
        for g in range(3):
            rest = (hidden == 0) & (np.arange(3) != g)
            breaks[:, g] = (hidden[:, g] == 0) & ~_derive_unions(known(rest))[rows, union]
        outside = free & ~in_union[rows, :, union] & (np.einsum("fcg,fg->fc", member, breaks.astype(np.int64)) > 0)
        outside |= (
            free
            & ~in_union[rows, :, union]
            & ~outside.any(axis=1, keepdims=True)
            & (hidden == 0)[rows[:, None], groups]
        )
        choice = np.where(inside.any(axis=1, keepdims=True), inside, outside) & bad[:, None]
        stuck = bad & ~choice.any(axis=1)
        # No cell left to choose: every non-zero cell of the force's groups that could hide anything is withheld.
        before = int(withheld.sum())
        withheld[stuck] |= nonzero[stuck] & ~pinned[stuck]
        picked = choice.any(axis=1)
        smallest = np.where(choice, counts, np.iinfo(np.int64).max).argmin(axis=1)
        withheld[rows[picked], smallest[picked]] = True
        if int(withheld.sum()) == before:
            break
    return withheld


# Shares of the problem profile that count part of another share's episodes (``measure:category``; "night" is
# the night_reports share, 22:00 to 02:00, of which the weekend nights are part): where the difference of a
# part from its whole is a small count, the part is withheld.
PROFILE_LINKS = (("weekend_night:residential_care", "weekend_night:all"), ("weekend_night:all", "night"))


def _withhold_partition_cells(rows: pd.DataFrame, count: str, threshold: int) -> np.ndarray:
    """Complementary suppression of the cells of each force's partitions (``partition`` names the set whose cells
    add up to a published total; ``""``: a row of no partition, left alone)."""
    withheld = np.zeros(len(rows), dtype=bool)
    cells = (rows["partition"] != "").to_numpy()
    if cells.any():
        sets = rows.loc[cells, "force_code"].astype(str) + ":" + rows.loc[cells, "partition"].astype(str)
        withheld[cells] = withhold_complements(rows.loc[cells, count], sets, threshold)
    return withheld


def publish_profile(
    shares: pd.DataFrame, night_reports: pd.DataFrame | None = None, threshold: int = DEFAULT_THRESHOLD
) -> pd.DataFrame:
    """The problem profile's shares with what each force may publish of them marked.

    Each force's row gets ``count_withheld`` (its count, ``numerator``, is
    not shown) and ``figure_withheld`` (its share, interval and bands are
    not shown):

    - the cells of a partition (``partition``: a force's episodes by where
      they went missing from, its children by ethnicity, ...) add up to a
      published total, so their counts get complementary suppression
      (:func:`withhold_complements`) and their shares are withheld with them;
    - a share is withheld where it rests on a small count
      (:func:`rests_on_small_count`), where its denominator is a small count
      short of its ``whole`` (the rest would be given back), or where the
      cell its denominator rests on (``rests_on``: the not known cell, the
      looked-after children's episodes) is withheld; a row of no partition
      shows its count only where its share is shown;
    - a part of another published share (:data:`PROFILE_LINKS`; the night
      share is ``night_reports``) whose difference from it is small is
      withheld, count and share.

    England and Wales is published as shares only: its rows have their
    counts withheld and their figures shown.

    Parameters
    ----------
    shares : pandas.DataFrame
        ``profile_shares`` (:func:`toolkit.stats.profile.summarise_problem_profile`).
    night_reports : pandas.DataFrame, optional
        ``night_reports``: its force rows' ``numerator`` and ``denominator``.
    threshold : int
        Smallest count that may be published (0 or 1: nothing is withheld).

    Returns
    -------
    pandas.DataFrame
        A copy of ``shares`` with ``count_withheld`` and ``figure_withheld``.

    Examples
    --------
    A force's episodes by where they went missing from: 3 from school is withheld, and so is the next
    smallest cell, 9 from hospital, which would give it back; the shares of the others stay:

    >>> rows = pd.DataFrame({"force_code": "a", "measure": "missing_from",
    ...     "category": ["home", "school", "hospital", "not_known"], "numerator": [80, 3, 9, 0],
    ...     "denominator": 92, "whole": 92, "partition": "missing_from", "rests_on": "missing_from:not_known"})
    >>> published = publish_profile(rows, threshold=5)
    >>> published["count_withheld"].tolist(), published["figure_withheld"].tolist()
    ([False, True, True, False], [False, True, True, False])

    The weekend nights' 12 episodes are 2 short of the night share's 14: the part is withheld.

    >>> weekend = pd.DataFrame({"force_code": "a", "measure": "weekend_night", "category": ["all"],
    ...     "numerator": [12], "denominator": [92], "whole": [92], "partition": [""], "rests_on": [""]})
    >>> night = pd.DataFrame({"force_code": ["a"], "numerator": [14], "denominator": [92]})
    >>> publish_profile(weekend, night, threshold=5)["figure_withheld"].tolist()
    [True]
    """
    out = shares.reset_index(drop=True)
    national = (out["force_code"] == NATIONAL).to_numpy()
    key = (out["measure"] + ":" + out["category"]).to_numpy()
    cells = _withhold_partition_cells(out, "numerator", threshold) & ~national
    partitioned = (out["partition"] != "").to_numpy()
    # A share whose denominator is the rest of a withheld cell (the not known) would give that cell back.
    withheld_cells = pd.Series(
        cells[partitioned], index=pd.MultiIndex.from_arrays([out["force_code"], key])[partitioned]
    )
    depends = withheld_cells.reindex(pd.MultiIndex.from_arrays([out["force_code"], out["rests_on"]])).to_numpy()
    figure = (
        cells
        | pd.Series(depends).fillna(False).astype(bool).to_numpy()
        | rests_on_small_count(out["numerator"], out["denominator"], threshold).to_numpy(dtype=bool)
        | rests_on_small_count(out["denominator"], out["whole"], threshold).to_numpy(dtype=bool)
    ) & ~national
    counts = np.where(partitioned, cells, figure)
    if threshold > 1:
        totals = pd.DataFrame({"force_code": out["force_code"], "key": key})
        totals["total"] = out["numerator"].astype(float).where(~figure)
        wide = totals[~national].pivot(index="force_code", columns="key", values="total")
        if night_reports is not None:
            night = night_reports[night_reports["force_code"] != NATIONAL].set_index("force_code")
            shown = ~rests_on_small_count(night["numerator"], night["denominator"], threshold)
            wide["night"] = night["numerator"].astype(float).where(shown)
        for part, whole in PROFILE_LINKS:
            if part not in wide or whole not in wide:
                continue
            hit = wide[part].notna() & wide[whole].notna() & is_small_count(wide[whole] - wide[part], threshold)
            rows = (key == part) & out["force_code"].isin(hit.index[hit]).to_numpy() & ~national
            counts, figure = counts | rows, figure | rows
            wide.loc[hit, part] = np.nan
    return out.assign(count_withheld=counts | national, figure_withheld=figure)


def publish_profile_rates(rates: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """The problem profile's children per 1,000 resident children with what each force may publish marked.

    A force's children by age band, and by sex, add up to its children, so
    each partition's counts get complementary suppression
    (:func:`withhold_complements`); a rate is withheld with its count
    (``count_withheld`` and ``figure_withheld`` are the same). England and
    Wales is published as rates only: its rows have their counts withheld.

    Examples
    --------
    >>> rates = pd.DataFrame({"force_code": ["a"] * 4 + [NATIONAL], "partition": "sex",
    ...     "category": ["female", "male", "other", "not_known", "female"], "children": [40, 38, 2, 9, 900]})
    >>> published = publish_profile_rates(rates, threshold=5)
    >>> published["figure_withheld"].tolist(), published["count_withheld"].tolist()
    ([False, False, True, True, False], [False, False, True, True, True])
    """
    out = rates.reset_index(drop=True)
    national = (out["force_code"] == NATIONAL).to_numpy()
    withheld = _withhold_partition_cells(out, "children", threshold) & ~national
    return out.assign(count_withheld=withheld | national, figure_withheld=withheld)


def publish_response_odds(table: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """The first response by ethnicity with what each force, and England and Wales, may publish marked.

    A force's groups' episodes with a first response (one ``measure``) add up
    to its episodes with a first response, which the grade mix gives back, so
    they get complementary suppression (``count_withheld``), and a count of a
    group of few children is withheld however many episodes they have. An
    odds ratio is withheld (``odds_withheld``) where its group's count is, or
    where the group's or White children's episodes with, or without, the
    response, or their children, are a small count. England and Wales shows
    no count (``count_withheld``) and its odds ratios by the same rule.

    Examples
    --------
    A force's White, then groups of 40 episodes, 3 (of 3 children: withheld, and 40 beside it) and 60 (2 with
    the response):

    >>> rows = pd.DataFrame({"force_code": "a", "measure": "higher_grade", "episodes": [900, 40, 3, 60],
    ...     "events": [300, 12, 1, 2], "children": [400, 30, 3, 50],
    ...     "reference_episodes": 900, "reference_events": 300, "reference_children": 400})
    >>> published = publish_response_odds(rows, threshold=5)
    >>> published["count_withheld"].tolist(), published["odds_withheld"].tolist()
    ([False, True, True, False], [False, True, True, True])
    """
    out = table.reset_index(drop=True)
    national = (out["force_code"] == NATIONAL).to_numpy()
    small = is_small_count(out["children"], threshold).to_numpy(dtype=bool)
    sets = out["force_code"].astype(str) + ":" + out["measure"].astype(str)
    counts = withhold_complements(out["episodes"].where(~small, 1), sets, threshold) & ~national
    odds = (
        counts
        | small
        | is_small_count(out["reference_children"], threshold).to_numpy(dtype=bool)
        | rests_on_small_count(out["events"], out["episodes"], threshold).to_numpy(dtype=bool)
        | rests_on_small_count(out["reference_events"], out["reference_episodes"], threshold).to_numpy(dtype=bool)
    )
    return out.assign(count_withheld=counts | national, odds_withheld=odds)


def publish_concentration(table: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """How concentrated repeat missing is, with the rows to withhold marked (``withheld``).

    The share of episodes of the 10% of children most often missing is
    withheld, with the count of those children, where that count is small or
    the share rests on a small count of episodes (:func:`rests_on_small_count`).

    Examples
    --------
    >>> t = pd.DataFrame({"top_children": [3, 12, 30], "top_episodes": [40, 118, 100], "episodes": [80, 120, 300]})
    >>> publish_concentration(t)["withheld"].tolist()  # 3 children; 2 episodes not theirs
    [True, True, False]
    """
    small = is_small_count(table["top_children"], threshold) | rests_on_small_count(
        table["top_episodes"], table["episodes"], threshold
    )
    return table.assign(withheld=small.to_numpy(dtype=bool))


def publish_delay(table: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """The delay from last seen to report, with the rows to withhold marked (``withheld``).

    The median and the count of episodes that record when the child was last
    seen are withheld where that count, or the episodes that do not record it,
    are a small count.

    Examples
    --------
    >>> t = pd.DataFrame({"recorded": [3, 97, 90], "episodes": [100, 100, 100]})
    >>> publish_delay(t)["withheld"].tolist()
    [True, True, False]
    """
    small = rests_on_small_count(table["recorded"], table["episodes"], threshold)
    return table.assign(withheld=small.to_numpy(dtype=bool))


# The figures of a first response's harm that are withheld together: its episodes add up, with the others', to
# the episodes the c-statistic is published over, and its harmed to the harmed.
HARM_FIGURES = ("episodes", "harmed", "share", "share_lower", "share_upper")

# Counts in a run's provenance: of every row and force in the extract, before disclosure control.
PROVENANCE_COUNTS = ("rows_in", "episodes", "rows_quarantined", "rows_merged")


def publish_provenance(provenance: dict, summary: pd.DataFrame) -> dict:
    """A run's provenance fit to publish (``reports/run.json``): no count that disclosure control would withhold.

    The extract's totals (rows received, episodes, rows quarantined and merged)
    include the forces whose figures are withheld, so each total less the
    published forces would give theirs back. They are replaced by England and
    Wales's episodes and children as every page publishes them (pooled without
    the withheld forces, :func:`suppress_volume_summary`); the full provenance
    stays in the work folder.

    Examples
    --------
    >>> from toolkit.stats.volume import summarise_volume
    >>> episodes = pd.DataFrame({"force_code": ["E23000034"] * 3 + ["E23000001"] * 10,
    ...                          "person_id": list("abc") + list("defghijklm")})
    >>> run = {"episodes": 13, "rows_in": 14, "suppression_threshold": 5, "comparator_groups": {}}
    >>> published = publish_provenance(run, summarise_volume(episodes))
    >>> "rows_in" in published, published["published_national_counts"]
    (False, {'episodes': 10, 'children': 10, 'leaves_out': ['E23000034']})
    """
    published = {key: value for key, value in provenance.items() if key not in PROVENANCE_COUNTS}
    volume = suppress_volume_summary(
        summary, provenance.get("comparator_groups", {}), published_threshold(provenance)
    ).set_index(["area", "metric"])
    national = {metric: volume.loc[("national", metric)] for metric in ("episodes", "children")}
    published["published_national_counts"] = {
        **{metric: None if row["suppressed"] else int(row["value"]) for metric, row in national.items()},
        "leaves_out": sorted(filter(None, str(national["episodes"]["leaves_out"]).split(";"))),
    }
    return published


def explain_withheld(threshold: int, drawn: bool = False) -> str:
    """The sentence that explains a withheld figure, beside every table (or chart) that withholds one.

    Government Statistical Service practice: explain the symbol where it is used.

    Examples
    --------
    >>> print(explain_withheld(5))  # doctest: +NORMALIZE_WHITESPACE
    [c]: withheld to protect children's identities (statistical disclosure control): the figure is a count of
    fewer than 5 episodes or children, rests on one (a share of 3 episodes, or of 998 of 1,000, which tells that 2
    were not), or would let one be worked out from the figures beside it.
    >>> explain_withheld(5, drawn=True).startswith("Where a bar or point is missing")
    True
    """
    reason = (
        f"the figure is a count of fewer than {threshold} episodes or children, rests on one (a share of 3 "
        "episodes, or of 998 of 1,000, which tells that 2 were not), or would let one be worked out from the "
        "figures beside it."
    )
    if drawn:
        return f"Where a bar or point is missing, it is withheld to protect children's identities: {reason}"
    return f"{SUPPRESSED}: withheld to protect children's identities (statistical disclosure control): {reason}"


def format_count(value: float, threshold: int = DEFAULT_THRESHOLD) -> str:
    """A count for a table or a sentence: thousands separators, or ``[c]`` when it is small.

    Examples
    --------
    >>> format_count(12345), format_count(3), format_count(0)
    ('12,345', '[c]', '0')
    """
    return SUPPRESSED if is_small_count(value, threshold) else f"{int(value):,}"


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
            force = finding.get("force") or get_force(finding["force_code"]).official_name
            if finding.get("judged") is False:  # a measure the data cannot support: say so, without its share
                finding["statement"] = (
                    f"Not judged: too few of {force}'s records support this measure (the share is withheld, "
                    "statistical disclosure control)."
                )
            else:
                finding["statement"] = (
                    f"In {force}, the finding on {finding.get('metric') or 'data quality'} rests on a count of fewer "
                    f"than {threshold}, so its figures are withheld."
                )
        else:
            withheld = [key for key in ("numerator", "denominator") if _is_small_scalar(finding.get(key), threshold)]
        for key in withheld:
            finding[key] = None
        if withheld:
            finding["withheld"] = withheld
        published.append(finding)
    return published
