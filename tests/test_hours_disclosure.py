"""The hour-by-weekday heat map under disclosure control (#14): no withheld count comes back from the heat map's
visible cells and the totals other tables publish over them, however the groups of cells nest.

A force's cells fall in three groups: weekend nights, other nights, day. Published totals cover unions of them:
its episodes (all), the night share's numerator (weekend and other nights) and the weekend-night share's. The
checker here works cell by cell, with no knowledge of the groups' algebra in ``publish_hours``: the totals shown
are linear equations in the withheld cells, and the sum of a set of withheld cells comes back exactly when its
indicator lies in the span of those equations.
"""

import numpy as np
import pandas as pd
import pytest

from toolkit.forces import NATIONAL
from toolkit.publish.disclosure import (
    is_small_count,
    publish_hours,
    publish_profile,
    publish_tables,
    rests_on_small_count,
)

GROUPS = ("weekend_night", "other_night", "day")
# The real grid: Friday and Saturday 22:00 to 02:00 are weekend nights, the rest of 22:00 to 02:00 other nights.
_WEEKDAY, _HOUR = np.divmod(np.arange(168), 24)
_NIGHT = np.isin(_HOUR, (22, 23, 0, 1))
_WEEKEND = (np.isin(_WEEKDAY, (4, 5)) & np.isin(_HOUR, (22, 23))) | (np.isin(_WEEKDAY, (5, 6)) & np.isin(_HOUR, (0, 1)))
SLOT_GROUP = np.where(_WEEKEND, "weekend_night", np.where(_NIGHT, "other_night", "day"))


def _force_cells(code: str, weekend=(), other=(), day=()) -> pd.DataFrame:
    """A force's 168 cells: the counts given fill the first cells of each group, the rest are zero."""
    counts = np.zeros(168, dtype=np.int64)
    for group, values in zip(GROUPS, (weekend, other, day), strict=True):
        slots = np.flatnonzero(SLOT_GROUP == group)[: len(values)]
        counts[slots] = values
    return pd.DataFrame({"force_code": code, "slot": np.arange(168), "group": SLOT_GROUP, "episodes": counts})


def _with_nation(forces: list[pd.DataFrame]) -> pd.DataFrame:
    cells = pd.concat(forces, ignore_index=True)
    nation = cells.groupby("slot", as_index=False)["episodes"].sum()
    nation = nation.assign(force_code=NATIONAL, group=SLOT_GROUP[nation["slot"]])
    return pd.concat([cells, nation[cells.columns]], ignore_index=True)


def _shown_totals(cells: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Each force's episodes, night and weekend-night numerators, and whether each is published, as the tables
    that publish them decide: the volume summary withholds a small count of episodes, the report and
    metrics.csv the night share that rests on a small count, and publish_profile the weekend-night share."""
    forces = cells[cells["force_code"] != NATIONAL]
    by = forces.groupby("force_code")
    totals = pd.DataFrame(
        {
            "episodes": by["episodes"].sum(),
            "night": forces[forces["group"] != "day"].groupby("force_code")["episodes"].sum(),
            "weekend": forces[forces["group"] == "weekend_night"].groupby("force_code")["episodes"].sum(),
        }
    ).fillna(0)
    totals["episodes_shown"] = ~is_small_count(totals["episodes"], threshold)
    totals["night_shown"] = ~rests_on_small_count(totals["night"], totals["episodes"], threshold)
    shares = pd.DataFrame(
        {
            "force_code": totals.index,
            "measure": "weekend_night",
            "category": "all",
            "numerator": totals["weekend"].to_numpy(),
            "denominator": totals["episodes"].to_numpy(),
            "whole": totals["episodes"].to_numpy(),
            "partition": "",
            "rests_on": "",
        }
    )
    night = pd.DataFrame(
        {"force_code": totals.index, "numerator": totals["night"].to_numpy(), "denominator": totals["episodes"]}
    )
    profile = publish_profile(shares, night.reset_index(drop=True), threshold).set_index("force_code")
    totals["weekend_shown"] = ~profile.loc[totals.index, "figure_withheld"].to_numpy()
    return totals


def _in_span(rows: np.ndarray, vector: np.ndarray) -> bool:
    if not len(rows):
        return not vector.any()
    return np.linalg.matrix_rank(np.vstack([rows, vector])) == np.linalg.matrix_rank(rows)


def find_leaks(published: pd.DataFrame, threshold: int) -> list[str]:
    """Every way a force's withheld hour cells give a small count, or a withheld share, back.

    For each set with a published total (all cells; the night cells where the night share is shown; the weekend
    nights where theirs is), the visible cells leave one equation in the withheld cells. For every union of
    groups whose withheld cells' indicator is in the span of those equations, the withheld sum comes back: it
    must be nothing, or at least ``threshold`` over at least two cells. A withheld share's count must not come
    back, unless it is 0.
    """
    leaks = []
    totals = _shown_totals(published, threshold)
    forces = published[published["force_code"] != NATIONAL]
    for code, cells in forces.groupby("force_code"):
        hidden = cells["published"].isna().to_numpy()
        counts = cells["episodes"].to_numpy()
        group = cells["group"].to_numpy()
        assert (cells.loc[~hidden, "published"] == cells.loc[~hidden, "episodes"]).all(), code
        # Zeros identify nobody, except among a handful of episodes, where every cell is withheld.
        if is_small_count(counts.sum(), threshold):
            assert hidden.all(), f"{code}: a cell of a handful of episodes shown"
        else:
            assert not (hidden & (counts == 0)).any(), f"{code}: a zero withheld"
        assert not (~hidden & np.asarray(is_small_count(counts, threshold), dtype=bool)).any(), (
            f"{code}: a small cell shown"
        )
        sets = {
            "episodes": np.ones(len(cells), dtype=bool),
            "night": group != "day",
            "weekend": group == "weekend_night",
        }
        row = totals.loc[code]
        equations = np.array([sets[name][hidden] for name in sets if row[f"{name}_shown"]], dtype=float)
        equations = equations.reshape(len(equations), int(hidden.sum()))
        for size in (1, 2, 3):
            for union in _unions(size):
                members = np.isin(group, union)
                vector = (members & hidden)[hidden].astype(float)
                if not _in_span(equations, vector):
                    continue
                withheld = counts[members & hidden]
                if len(withheld) and (withheld.sum() < threshold or len(withheld) < 2):
                    leaks.append(f"{code}: {'+'.join(union)} gives back {withheld.sum()} over {len(withheld)} cells")
        for name in ("night", "weekend"):
            # A share withheld over a small count of episodes whose count is 0 may show as zeros: they identify nobody.
            if (
                row[name] > 0
                and not row[f"{name}_shown"]
                and _in_span(equations, (sets[name] & hidden)[hidden].astype(float))
            ):
                leaks.append(f"{code}: the withheld {name} share comes back as {row[name]:.0f}")
    return leaks


def _unions(size: int) -> list[tuple[str, ...]]:
    from itertools import combinations

    return list(combinations(GROUPS, size))


def _published_hours(forces: list[pd.DataFrame], threshold: int = 5) -> pd.DataFrame:
    return publish_hours(_with_nation(forces), threshold)


def test_the_day_of_a_night_force_is_not_the_episodes_less_its_night_cells():
    # 3 day episodes in 200: the night share is withheld (3 were not at night), the day's 1s are withheld, and
    # with every night cell shown the episodes less the night cells gave the 3 back.
    force = _force_cells("a", weekend=[15] * 8, other=[5] * 4 + [6] * 16, day=[1, 1, 1])
    published = _published_hours([force])
    assert find_leaks(published, 5) == []
    totals = _shown_totals(published, 5)
    assert not totals.loc["a", "night_shown"] and totals.loc["a", "weekend_shown"]
    night = published[(published["force_code"] == "a") & (published["group"] != "day")]
    assert night["published"].isna().sum() == 1  # the weekend nights' total is published: an other night goes


def test_a_withheld_small_night_is_not_the_episodes_less_the_day():
    # 4 episodes at night, 1 and 1 on weekend nights and 2 on another night: both shares withheld, every night cell
    # withheld, and with every day cell shown the episodes less the day cells gave the 4 back.
    force = _force_cells("a", weekend=[1, 1], other=[2], day=[10] * 14)
    published = _published_hours([force])
    assert find_leaks(published, 5) == []
    day = published[(published["force_code"] == "a") & (published["group"] == "day")]
    assert day["published"].isna().sum() == 1 and pd.isna(day["published"].iloc[0])


def test_a_small_withheld_day_is_not_the_episodes_less_the_published_night():
    # Two day cells of 1 and 2 are withheld; the night share is shown, so the day's total, 3 + 60, is published too.
    force = _force_cells("a", weekend=[10] * 8, other=[10] * 20, day=[1, 2, 20, 40])
    published = _published_hours([force])
    assert find_leaks(published, 5) == []
    cells = published[published["force_code"] == "a"].set_index("slot")["published"]
    day = np.flatnonzero(SLOT_GROUP == "day")
    assert cells[day[:3]].isna().all() and cells[day[3]] == 40  # the smallest visible day cell goes with them


def test_a_withheld_weekend_night_share_is_not_its_visible_cells():
    # The night's 40 less the weekend nights' 38 is 2: the weekend-night share is withheld, but its cells were all
    # shown, giving 38 back, and the night less them the other nights' 2.
    force = _force_cells("a", weekend=[5, 5, 5, 5, 6, 6, 6], other=[1, 1], day=[30] * 10)
    published = _published_hours([force])
    totals = _shown_totals(published, 5)
    assert totals.loc["a", "night_shown"] and not totals.loc["a", "weekend_shown"]
    assert find_leaks(published, 5) == []
    weekend = published[(published["force_code"] == "a") & (published["group"] == "weekend_night")]
    assert weekend["published"].isna().sum() == 1


def _random_forces(rng: np.random.Generator, size: int) -> list[pd.DataFrame]:
    """Forces of every shape: a few episodes to thousands, each group's share from none to nearly all."""
    forces = []
    for i in range(size):
        episodes = int(rng.choice([rng.integers(0, 12), rng.integers(12, 120), rng.integers(120, 3000)]))
        shares = rng.dirichlet(rng.choice([0.3, 1.0, 5.0]) * np.ones(3))
        weights = rng.gamma(rng.choice([0.3, 1.0, 4.0]), size=168)
        for g, group in enumerate(GROUPS):
            weights[SLOT_GROUP == group] *= shares[g] / weights[SLOT_GROUP == group].sum()
        counts = rng.multinomial(episodes, weights / weights.sum())
        forces.append(
            pd.DataFrame({"force_code": f"f{i:03d}", "slot": np.arange(168), "group": SLOT_GROUP, "episodes": counts})
        )
    return forces


@pytest.mark.parametrize("threshold", [3, 5, 10, 25])
def test_no_random_force_gives_a_small_count_back(threshold):
    rng = np.random.default_rng(20240 + threshold)
    forces = _random_forces(rng, 300)
    published = _published_hours(forces, threshold)
    assert find_leaks(published, threshold) == []
    # England and Wales is pooled from the forces' published cells.
    mine = published[published["force_code"] != NATIONAL].groupby("slot")["published"].sum(min_count=1)
    national = published[published["force_code"] == NATIONAL].set_index("slot")["published"]
    pd.testing.assert_series_equal(national.sort_index(), mine.sort_index(), check_names=False)


def test_the_checker_finds_the_leaks_of_suppression_within_each_group_alone():
    """The checker is not vacuous: suppression within each group alone (the old rule) leaks in these forces."""
    from toolkit.publish.disclosure import withhold_complements

    forces = [
        _force_cells("a", weekend=[15] * 8, other=[5] * 4 + [6] * 16, day=[1, 1, 1]),
        _force_cells("b", weekend=[1, 1], other=[2], day=[10] * 14),
        _force_cells("c", weekend=[10] * 8, other=[10] * 20, day=[1, 2, 20, 40]),
        _force_cells("d", weekend=[5, 5, 5, 5, 6, 6, 6], other=[1, 1], day=[30] * 10),
    ]
    cells = _with_nation(forces)
    mine = cells[cells["force_code"] != NATIONAL]
    withheld = withhold_complements(mine["episodes"], mine["force_code"] + ":" + mine["group"], 5)
    withheld &= mine["episodes"].to_numpy() > 0  # the old rule published every zero, a small group's too
    old = cells.assign(published=np.nan)
    old.loc[mine.index, "published"] = mine["episodes"].astype(float).where(~withheld).to_numpy()
    leaks = find_leaks(old, 5)
    assert {leak.split(":")[0] for leak in leaks} == {"a", "b", "c", "d"}
    assert "a: day gives back 3 over 3 cells" in leaks and "b: the withheld night share comes back as 4" in leaks


def test_the_heat_map_is_published_with_the_other_tables_without_a_leak():
    forces = _random_forces(np.random.default_rng(3), 43)
    published = publish_tables({"profile_hours": _with_nation(forces)}, {"suppression_threshold": 5})
    assert find_leaks(published["profile_hours"], 5) == []


def test_the_demo_year_heat_map_gives_no_small_count_back(national_year):
    """Within each group alone, one force of the demo year gave its other nights' withheld 4 back (the night share
    less the visible cells): one more cell is withheld, and nothing else changes at the default threshold."""
    from toolkit.stats.profile import tabulate_report_hours

    published = publish_hours(tabulate_report_hours(national_year[0]), 5)
    assert find_leaks(published, 5) == []
    forces = published[published["force_code"] != NATIONAL]
    small = is_small_count(forces["episodes"], 5)
    # and every cell of a force of a handful of episodes (City of London), its zeros too
    handful = is_small_count(forces.groupby("force_code")["episodes"].transform("sum"), 5)
    assert handful.any() and forces.loc[handful, "published"].isna().all()
    assert forces["published"].isna().sum() == (small | handful).sum() + 8  # 7 complements in the groups, 1 more
