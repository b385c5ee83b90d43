"""Statistical disclosure control for published figures.

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

__all__ = [
    "SUPPRESSED",
    "DEFAULT_THRESHOLD",
    "COUNT_UNITS",
    "rests_on_small_count",
    "suppress_small_counts",
    "suppress_volume_summary",
    "format_figure",
]

SUPPRESSED = "[c]"
DEFAULT_THRESHOLD = 5
# Units whose value is itself a count of people or events.
COUNT_UNITS = frozenset({"episodes", "children"})
# Denominators that are resident populations (ONS estimates, not counts of children in the data).
_POPULATION_DENOMINATOR_UNITS = frozenset({"episodes per 1,000 children"})


def _is_small(values, threshold: int):
    v = pd.to_numeric(values, errors="coerce")
    return (v > 0) & (v < threshold)


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
    small = _is_small(numerator, threshold) | _is_small(denominator, threshold)
    return small | _is_small(denominator - numerator, threshold)


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
    small = is_count & _is_small(out["value"], threshold)
    if "numerator" in out:
        small |= _is_small(out["numerator"], threshold)
    if "denominator" in out:
        population = unit.isin(_POPULATION_DENOMINATOR_UNITS)
        small |= ~population & _is_small(out["denominator"], threshold)
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
        As :func:`toolkit.summary.summarise_volume`, with ``suppressed`` and
        ``leaves_out`` (codes left out of a pooled row, ``;``-separated).

    Examples
    --------
    >>> from toolkit.summary import summarise_volume
    >>> episodes = pd.DataFrame({"force_code": ["E23000034"] * 3 + ["E23000001"] * 10,
    ...                          "person_id": list("abc") + list("defghijklm")})
    >>> published = suppress_volume_summary(summarise_volume(episodes), {})
    >>> national = published.query("area == 'national' and metric == 'episodes'")
    >>> int(national["value"].iloc[0]), national["leaves_out"].iloc[0]
    (10, 'E23000034')
    """
    from toolkit.summary import pool_volume

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
