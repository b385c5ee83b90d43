"""Time from report to return: Kaplan-Meier estimates, with open episodes censored.

An episode still open at the extract date is not a child who never returned:
it is censored at the extract date. Dropping open episodes, or treating them
as returned then, biases every duration; Kaplan-Meier (statsmodels) uses them
for as long as they are known.

Examples
--------
>>> import pandas as pd
>>> episodes = pd.DataFrame({
...     "force_code": ["E23000014"] * 6,
...     "reported_at": pd.to_datetime(["2024-01-01 00:00"] * 6),
...     "returned_at": pd.to_datetime(["2024-01-01 01:00", "2024-01-01 02:00", None,
...                                    "2024-01-01 03:00", None, "2024-01-01 05:00"])})
>>> durations = episode_durations(episodes, extract_date="2024-01-01")
>>> durations["hours"].round(2).tolist()[:3], durations["returned"].tolist()
([1.0, 2.0, 24.0], [True, True, False, True, False, True])
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from toolkit.dates import ExtractDate
from toolkit.forces import NATIONAL

__all__ = ["WITHIN_HOURS", "episode_durations", "kaplan_meier", "summarise_time_to_return", "tabulate_return_curves"]

WITHIN_HOURS = (8, 48, 168)  # the published shares: within 8 hours, 48 hours and a week


def episode_durations(episodes: pd.DataFrame, extract_date) -> pd.DataFrame:
    """Hours from report to return, and whether the return is known (else censored at the extract date)."""
    limit = ExtractDate.parse(extract_date).end
    returned = episodes["returned_at"].notna()
    end = episodes["returned_at"].where(returned, limit)
    hours = (end - episodes["reported_at"]).dt.total_seconds() / 3600
    return pd.DataFrame(
        {"force_code": episodes["force_code"].astype(str), "hours": hours.clip(lower=0), "returned": returned}
    )


def kaplan_meier(hours, returned, confidence: float = 0.95) -> dict:
    """Kaplan-Meier summary of time to return for one group of episodes.

    Returns
    -------
    dict
        ``median_hours`` with ``median_lower`` and ``median_upper`` (statsmodels'
        interval, log-log transform), and for each hour mark in
        :data:`WITHIN_HOURS` the share returned by then (1 - S(t)) with a
        pointwise log-log interval. Values are missing when they cannot be
        estimated (for example the median when fewer than half have returned).

    Examples
    --------
    >>> km = kaplan_meier([1, 2, 2, 3, 4, 5], [True, True, False, True, False, True])
    >>> km["median_hours"], round(km["within_2h"], 4)
    (3.0, 0.3333)
    """
    t = np.asarray(hours, dtype=float)
    d = np.asarray(returned, dtype=bool).astype(int)
    out: dict = {"episodes": len(t), "returned": int(d.sum())}
    marks = sorted({*WITHIN_HOURS, 2})
    if len(t) == 0 or d.sum() == 0:
        out.update(median_hours=np.nan, median_lower=np.nan, median_upper=np.nan)
        for mark in marks:
            out.update(
                {
                    f"within_{mark}h": 0.0 if len(t) else np.nan,
                    f"within_{mark}h_lower": np.nan,
                    f"within_{mark}h_upper": np.nan,
                }
            )
        return out
    with warnings.catch_warnings():  # statsmodels warns on log(0) at S = 0 or 1; those limits are NaN, handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = SurvfuncRight(t, d)
        median = fit.quantile(0.5)
        try:
            lower, upper = fit.quantile_ci(0.5, alpha=1 - confidence)
        except (ValueError, IndexError):
            lower = upper = np.nan
    out.update(
        median_hours=float(median) if median is not None else np.nan,
        median_lower=float(lower) if lower is not None else np.nan,
        median_upper=float(upper) if upper is not None else np.nan,
    )
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    for mark in marks:
        position = np.searchsorted(fit.surv_times, mark, side="right") - 1
        if position < 0:
            survival, se = 1.0, 0.0
        else:
            survival, se = float(fit.surv_prob[position]), float(fit.surv_prob_se[position])
        if 0 < survival < 1 and np.isfinite(se) and se > 0:
            # Interval for S on the log(-log) scale, which keeps it inside (0, 1).
            spread = z * se / (survival * abs(np.log(survival)))
            s_low, s_high = survival ** np.exp(spread), survival ** np.exp(-spread)
            low, high = 1 - s_high, 1 - s_low
        else:
            low = high = np.nan
        out.update({f"within_{mark}h": 1 - survival, f"within_{mark}h_lower": low, f"within_{mark}h_upper": high})
    return out


def summarise_time_to_return(episodes: pd.DataFrame, extract_date, by: str | None = None) -> pd.DataFrame:
    """Kaplan-Meier time to return for every force and England and Wales, with a log-rank test.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes (``force_code``, ``reported_at``, ``returned_at`` and ``by`` if given).
    extract_date : date or str
    by : str, optional
        A further breakdown, e.g. ``"risk_initial"`` or ``"category"``.

    Returns
    -------
    pandas.DataFrame
        One row per force (and ``england_and_wales``), per level of ``by``:
        the :func:`kaplan_meier` figures, and ``logrank_p``: the log-rank test
        of the force's curve against the rest of England and Wales; ``method``
        says when the median is not reached.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["E23000001"] * 3, "reported_at": pd.to_datetime(["2024-01-01"] * 3),
    ...     "returned_at": pd.to_datetime(["2024-01-01 05:00", None, None])})
    >>> t = summarise_time_to_return(e, "2024-02-01")
    >>> t["median_hours"].isna().all(), t["method"].iloc[0].split("; ")[-1]
    (np.True_, 'median not reached: under half of the episodes have a recorded return by the extract date')
    """
    durations = episode_durations(episodes, extract_date)
    if by:
        durations[by] = episodes[by].astype(str)  # the same index: episode_durations keeps it
    keys = [by] if by else []
    rows = []
    for level, part in durations.groupby(keys) if keys else [((), durations)]:
        level = level if isinstance(level, tuple) else (level,)
        national = kaplan_meier(part["hours"], part["returned"])
        rows.append({"force_code": NATIONAL, **dict(zip(keys, level, strict=True)), **national, "logrank_p": np.nan})
        for code, mine in part.groupby("force_code"):
            figures = kaplan_meier(mine["hours"], mine["returned"])
            p_value = np.nan
            if 0 < len(mine) < len(part) and part["returned"].any():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    _, p_value = survdiff(
                        part["hours"].to_numpy(),
                        part["returned"].to_numpy().astype(int),
                        (part["force_code"] == code).to_numpy().astype(int),
                    )
            rows.append(
                {"force_code": code, **dict(zip(keys, level, strict=True)), **figures, "logrank_p": float(p_value)}
            )
    table = pd.DataFrame(rows)
    method = "Kaplan-Meier (statsmodels), open episodes censored at the extract date; log-log 95% intervals"
    # The median is the one figure a usable curve can lack: where under half have returned, it is not reached.
    table["method"] = pd.Series(method, index=table.index).where(
        table["median_hours"].notna(),
        method + "; median not reached: under half of the episodes have a recorded return by the extract date",
    )
    return table


def tabulate_return_curves(episodes: pd.DataFrame, extract_date, hours=None) -> pd.DataFrame:
    """The share of episodes returned by each hour (1 - Kaplan-Meier survival), for every force and England and Wales.

    Computed once for all forces so that each report only draws its own curve.

    Returns
    -------
    pandas.DataFrame
        ``force_code``, ``hours``, ``returned_share``.
    """
    # Every hour of the first week: a report's table reads the curve at 1 hour, which a coarser grid would
    # read from the hour before (the 1-hour share shown as 0% while 7% of episodes had ended by then).
    grid = np.arange(0, 169, dtype=float) if hours is None else np.asarray(hours, dtype=float)
    durations = episode_durations(episodes, extract_date)
    parts = [(NATIONAL, durations), *durations.groupby("force_code")]
    rows = []
    for code, part in parts:
        if not part["returned"].any():
            share = np.zeros_like(grid)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fit = SurvfuncRight(part["hours"].to_numpy(), part["returned"].to_numpy().astype(int))
            position = np.searchsorted(fit.surv_times, grid, side="right") - 1
            survival_at = np.where(position >= 0, fit.surv_prob[np.maximum(position, 0)], 1.0)
            share = 1 - survival_at
        rows.append(pd.DataFrame({"force_code": code, "hours": grid, "returned_share": share}))
    return pd.concat(rows, ignore_index=True)
