"""Repeat and frequent missing: children who go missing again and again.

Repeat episodes are the strongest warning sign the inspection describes: a
child who keeps going missing is at risk of exploitation. Children are
pseudonyms within a force, so repeats are counted within each force.

Examples
--------
>>> import pandas as pd
>>> episodes = pd.DataFrame({
...     "force_code": ["E23000014"] * 5,
...     "person_id": ["a", "a", "a", "b", "c"],
...     "reported_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-01-05", "2024-01-09"])})
>>> table = summarise_repeats(episodes)
>>> row = table[table["force_code"] == "E23000014"].iloc[0]
>>> int(row["children"]), int(row["children_2_plus"]), int(row["frequently_missing"])
(3, 1, 1)

Child ``a``'s second and third episodes are the repeats: 2 of the 5 episodes
(episodes less children), not all 3 of ``a``'s.

>>> int(row["repeat_episodes"]), round(float(row["repeat_share"]), 2)
(2, 0.4)
"""

from __future__ import annotations

import pandas as pd

from toolkit.forces import NATIONAL
from toolkit.stats.intervals import proportion_interval

__all__ = ["FREQUENT_RULE", "flag_frequently_missing", "summarise_repeats"]

# Configurable: a child is "frequently missing" with this many episodes within this many days.
FREQUENT_RULE = {"episodes": 3, "days": 90}


def flag_frequently_missing(episodes: pd.DataFrame, rule: dict | None = None) -> pd.Series:
    """Which children meet the frequently-missing rule (e.g. 3 episodes in 90 days).

    Returns
    -------
    pandas.Series of bool
        Indexed by (force_code, person_id).
    """
    rule = rule or FREQUENT_RULE
    n, days = int(rule["episodes"]), float(rule["days"])
    if n < 2:
        raise ValueError("the frequently-missing rule needs at least 2 episodes")
    frame = episodes[["force_code", "person_id", "reported_at"]].assign(
        force_code=lambda d: d["force_code"].astype(str)
    )
    frame = frame.sort_values(["force_code", "person_id", "reported_at"], kind="stable")
    later = frame.groupby(["force_code", "person_id"], sort=False)["reported_at"].shift(-(n - 1))
    within = (later - frame["reported_at"]) <= pd.Timedelta(days=days)
    return within.groupby([frame["force_code"], frame["person_id"]]).any()


def summarise_repeats(episodes: pd.DataFrame, rule: dict | None = None) -> pd.DataFrame:
    """Children with 2+ and 3+ episodes, the share of episodes that are repeats, and frequent missing.

    Returns
    -------
    pandas.DataFrame
        Per force and England and Wales: ``children``, ``episodes``,
        ``children_2_plus``, ``children_3_plus``, ``repeat_episodes`` (the
        episodes beyond each child's first: ``episodes - children``, the
        published national definition), ``repeat_share`` (``repeat_episodes``
        over ``episodes``) with a Wilson 95% interval, ``frequently_missing``
        (children meeting the rule) and ``rule``. ``children`` and the
        ``children_*`` and ``frequently_missing`` columns count children; the
        others count episodes.
    """
    rule = rule or FREQUENT_RULE
    codes = episodes["force_code"].astype(str)
    per_child = episodes.assign(force_code=codes).groupby(["force_code", "person_id"]).size().rename("episodes")
    frequent = flag_frequently_missing(episodes, rule).reindex(per_child.index, fill_value=False)
    children = pd.DataFrame({"episodes": per_child, "frequent": frequent}).reset_index()

    def totals(d: pd.DataFrame) -> pd.Series:
        return pd.Series(
            {
                "children": len(d),
                "episodes": int(d["episodes"].sum()),
                "children_2_plus": int((d["episodes"] >= 2).sum()),
                "children_3_plus": int((d["episodes"] >= 3).sum()),
                # Every episode but each child's first: a child missing twice has one repeat, not two.
                "repeat_episodes": int(d["episodes"].sum() - len(d)),
                "frequently_missing": int(d["frequent"].sum()),
            }
        )

    table = children.groupby("force_code").apply(totals, include_groups=False)
    table.loc[NATIONAL] = totals(children)
    share = proportion_interval(table["repeat_episodes"], table["episodes"])
    table["repeat_share"] = share["value"].to_numpy()
    table["repeat_share_lower"] = share["lower"].to_numpy()
    table["repeat_share_upper"] = share["upper"].to_numpy()
    table["rule"] = f"{rule['episodes']} or more episodes within {rule['days']} days"
    table["method"] = (
        "counts of pseudonymised children within each force; repeat episodes are those beyond each child's "
        "first (episodes less children); Wilson 95% interval for the share"
    )
    return table.reset_index().rename(columns={"index": "force_code"})
