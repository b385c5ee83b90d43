"""Statistical disclosure control: the one gate everything published passes through.

Every published table, chart, sentence and file applies the one small-count
predicate here (:func:`is_small_count`, and :func:`rests_on_small_count` for
shares), through these functions: tables (:func:`suppress_small_counts`,
:func:`suppress_volume_summary`), prose and table cells (:func:`format_count`,
:func:`format_figure`), charts (:func:`mask_small_counts`) and findings
(:func:`publish_findings`).

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

import numpy as np
import pandas as pd

from toolkit.errors import ToolkitError
from toolkit.forces import NATIONAL, get_force
from toolkit.stats.volume import pool_volume

__all__ = [
    "SUPPRESSED",
    "DEFAULT_THRESHOLD",
    "COUNT_UNITS",
    "SMALLEST_SAFE_THRESHOLD",
    "check_threshold",
    "is_small_count",
    "rests_on_small_count",
    "format_count",
    "mask_small_counts",
    "publish_findings",
    "published_threshold",
    "suppress_tidy_figures",
    "round_published_figures",
    "publish_tables",
    "withhold_national_counts",
    "suppress_small_counts",
    "suppress_volume_summary",
    "format_figure",
]

SUPPRESSED = "[c]"
DEFAULT_THRESHOLD = 5
# Below this a threshold withholds too little to protect anyone (2 withholds only the 1s): such a run
# must say it publishes everything (a threshold of 0, `--no-suppression`).
SMALLEST_SAFE_THRESHOLD = 3
# Units whose value is itself a count of people or events.
COUNT_UNITS = frozenset({"episodes", "children"})
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
    """
    if suppressed:
        return SUPPRESSED
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:,.{decimals}f}"


def suppress_tidy_figures(table: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Primary and secondary suppression of tidy figures of forces and England and Wales (not volume).

    Primary: :func:`suppress_small_counts`. Secondary: a national total's
    counts, less the published forces', would give a withheld force's away,
    so national rows carry no numerator or denominator, and a national count
    is withheld where any force's count of the same measure is. A withheld
    figure loses its funnel band too.

    Parameters
    ----------
    table : pandas.DataFrame
        ``force_code``, ``area`` (``force`` or ``national``), ``section``,
        ``metric``, ``value``, ``lower``, ``upper``, ``numerator``,
        ``denominator``, ``unit``, ``band``.

    Examples
    --------
    >>> t = pd.DataFrame({"force_code": ["E23000034", "E23000014", "england_and_wales"],
    ...     "area": ["force", "force", "national"], "section": "repeats", "metric": "children_2_plus",
    ...     "value": [3.0, 120.0, 123.0], "lower": None, "upper": None, "numerator": None,
    ...     "denominator": None, "unit": "children", "band": None})
    >>> suppress_tidy_figures(t)[["value", "suppressed"]].to_numpy().tolist()
    [[nan, True], [120.0, False], [nan, True]]
    """
    out = suppress_small_counts(table, threshold)
    national = out["area"] == "national"
    out.loc[national, ["numerator", "denominator"]] = np.nan
    withheld = out.loc[out["suppressed"] & ~national, ["section", "metric"]].drop_duplicates()
    keys = pd.MultiIndex.from_frame(out[["section", "metric"]])
    hit = national & out["unit"].isin(COUNT_UNITS) & keys.isin(pd.MultiIndex.from_frame(withheld))
    out.loc[hit, ["value", "lower", "upper"]] = np.nan
    out.loc[hit, "suppressed"] = True
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
    """Blank (NaN) the England and Wales count in each column where any force's count is small.

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
        if is_small_count(out.loc[~national, column], threshold).any():
            out[column] = out[column].astype(float).mask(national)
    return out


# Count columns of wide prepared tables that have a national row, by table (their national count is withheld
# where a force's count is).
NATIONAL_COUNT_COLUMNS = {"repeats": ["children_2_plus", "children_3_plus", "frequently_missing"]}


def publish_tables(tables: dict[str, pd.DataFrame], run: dict) -> dict[str, pd.DataFrame]:
    """The prepared tables a page publishes, each after the disclosure control it needs.

    The volume summary gets primary and secondary suppression
    (:func:`suppress_volume_summary`, with the run's comparator groups), the
    data-quality scorecard primary suppression (:func:`suppress_small_counts`),
    and the national counts of :data:`NATIONAL_COUNT_COLUMNS` secondary
    suppression (:func:`withhold_national_counts`); every other table is shown through the functions of this module where it
    is used (:func:`format_count`, :func:`rests_on_small_count`,
    :func:`mask_small_counts`). The run's parameters give the threshold.
    """
    threshold = published_threshold(run)
    published = dict(tables)
    if "summary" in published:
        published["summary"] = suppress_volume_summary(
            published["summary"], run.get("comparator_groups", {}), threshold
        )
    if "quality" in published:
        published["quality"] = suppress_small_counts(published["quality"], threshold)
    for name, columns in NATIONAL_COUNT_COLUMNS.items():
        if name in published and threshold > 1:
            published[name] = withhold_national_counts(published[name], columns, threshold)
    return published


def format_count(value: float, threshold: int = DEFAULT_THRESHOLD) -> str:
    """A count for a table or a sentence: thousands separators, or ``[c]`` when it is small.

    Examples
    --------
    >>> format_count(12345), format_count(3), format_count(0)
    ('12,345', '[c]', '0')
    """
    return SUPPRESSED if is_small_count(value, threshold) else f"{int(value):,}"


def mask_small_counts(counts: pd.Series, threshold: int = DEFAULT_THRESHOLD) -> pd.Series:
    """Counts with the small ones blanked (NaN), for a chart that must not draw them.

    Examples
    --------
    >>> mask_small_counts(pd.Series([0, 3, 12])).tolist()
    [0.0, nan, 12.0]
    """
    return counts.where(~is_small_count(counts, threshold))


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
            force = finding.get("force") or get_force(finding["force_code"]).name
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
