"""The problem profile: every measure against an independent count, its intervals and funnels against independent
implementations, every force in every table, and planted effects found."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from statsmodels.stats.proportion import proportion_confint

from toolkit.config import REFERENCE_DIR
from toolkit.forces import NATIONAL, read_comparator_groups
from toolkit.stats import profile
from toolkit.stats.funnel import compare_shares, compare_with_funnel, funnel_limits
from toolkit.stats.profile import (
    AGE_BANDS,
    BOOTSTRAP_RESAMPLES,
    NIGHT_HOURS,
    NOT_KNOWN,
    PROFILE_TABLES,
    WEEKEND_NIGHT,
    find_median_ranks,
    summarise_night_reports,
    summarise_problem_profile,
)
from toolkit.synthetic import generator

PLANTED = "E23000005"  # Lancashire: a third of its reports moved to 23:00
CARE_HOME = "E23000013"  # West Yorkshire: 40% of its residential-care episodes moved to Saturday 23:00
EMPTY = "E23000034"  # City of London: in the extract (a row set aside), no clean episode
BLANK_PLACE, BLANK_FACTORS, BLANK_SEEN, BLANK_HARM = "E23000014", "E23000001", "E23000002", "E23000003"


@pytest.fixture(scope="module")
def planted(national_year):
    episodes, _ = national_year
    episodes = episodes[["force_code", "reported_at"]].copy()
    rng = np.random.default_rng(5)
    mine = episodes.index[(episodes["force_code"] == PLANTED).to_numpy()]
    moved = rng.choice(mine, size=len(mine) // 3, replace=False)
    episodes.loc[moved, "reported_at"] = episodes.loc[moved, "reported_at"].dt.normalize() + pd.Timedelta(hours=23)
    return episodes, summarise_night_reports(episodes, read_comparator_groups()).set_index("force_code")


def test_night_shares_match_an_independent_count_and_wilson_interval(planted):
    episodes, table = planted
    hours = episodes["reported_at"].dt.hour
    for code in ("E23000014", "E23000034", PLANTED):
        mine = hours[episodes["force_code"] == code]
        night = int(mine.isin([22, 23, 0, 1]).sum())
        low, high = proportion_confint(night, len(mine), alpha=0.05, method="wilson")
        row = table.loc[code]
        assert (row["numerator"], row["denominator"]) == (night, len(mine))
        assert row["value"] == pytest.approx(night / len(mine))
        assert (row["lower"], row["upper"]) == pytest.approx((low, high), abs=1e-12)
    assert table.loc[NATIONAL, "denominator"] == len(episodes)
    assert set(NIGHT_HOURS) == {22, 23, 0, 1}


def test_the_planted_force_is_found_and_almost_no_other(planted):
    _, table = planted
    forces = table.drop(NATIONAL)
    assert forces.loc[PLANTED, "band"] == "above_998"
    others = forces.drop(PLANTED)
    # Unplanted forces differ from the national share only by chance: at most 1 of 42 beyond 99.8%.
    assert others["band"].isin(["above_998", "below_998"]).sum() <= 1, others["band"].value_counts()


# ---------------------------------------------------------------------------------------------------------
# A small extract with holes, and a brute-force count of every measure, row by row.


@pytest.fixture(scope="module", params=[3, 4])
def holed(request):
    """About 1,600 episodes of 42 forces, with one force's column blank for each optional field the profile
    reads, random 'unknown's, and a force in the extract without a clean episode."""
    episodes, _ = generator.generate_extract(2024, seed=request.param, scale=0.01)
    episodes = episodes[episodes["force_code"] != EMPTY].reset_index(drop=True)
    rng = np.random.default_rng(request.param)
    for column, code in (("missing_from", BLANK_PLACE), ("risk_factors", BLANK_FACTORS), ("harm", BLANK_HARM)):
        episodes.loc[episodes["force_code"] == code, column] = ""
    episodes.loc[episodes["force_code"] == BLANK_SEEN, "last_seen_at"] = pd.NaT
    for column in ("sex", "ethnicity", "looked_after", "found_by"):
        hit = rng.random(len(episodes)) < 0.05
        episodes.loc[hit, column] = rng.choice(["unknown", ""], hit.sum())
    covered = sorted({*episodes["force_code"], EMPTY})
    tables = summarise_problem_profile(episodes, read_comparator_groups(), covered)
    return episodes, covered, tables


def _children(records: list[dict]) -> dict:
    """Each child's (force, person): episodes, first age, first known sex and ethnicity, by hand."""
    children = {}
    for r in sorted(records, key=lambda r: r["reported_at"]):
        child = children.setdefault((r["force_code"], r["person_id"]), {"episodes": 0, "age": r["age"]})
        child["episodes"] += 1
        for column in ("sex", "ethnicity"):
            if child.get(column) is None and r[column] not in ("", "unknown", None):
                child[column] = r[column]
    return children


def _brute_force_shares(episodes: pd.DataFrame, forces: list[str]) -> dict:
    """(force, measure, category) -> (numerator, denominator, whole), one record at a time."""
    records = episodes.to_dict("records")
    children = _children(records)
    out = {}
    places = ["home", "foster_care", "residential_care", "other_care", "school", "hospital", "other"]
    found = ["returned_self", "police", "family_carer", "other_agency", "other"]
    for force in forces:
        mine = [r for r in records if r["force_code"] == force]
        total = len(mine)
        for measure, categories in (("missing_from", places), ("looked_after", ["yes", "no"]), ("found_by", found)):
            known = sum(r[measure] in categories for r in mine)
            for c in categories:
                out[(force, measure, c)] = (sum(r[measure] == c for r in mine), known, total)
            out[(force, measure, NOT_KNOWN)] = (total - known, total, total)
        factors = [set(filter(None, str(r["risk_factors"] or "").split(";"))) for r in mine]
        lists_any = any(factors)
        in_care = [f for r, f in zip(mine, factors, strict=True) if r["looked_after"] == "yes"]
        care = len(in_care) if lists_any else 0
        out[(force, "out_of_area", "out_of_area_placement")] = (
            sum("out_of_area_placement" in f for f in in_care) if lists_any else 0,
            care,
            care,
        )
        for flag in ("cse", "cce", "trafficking"):
            flagged = sum(flag in f for f in factors) if lists_any else 0
            out[(force, "exploitation", flag)] = (flagged, total if lists_any else 0, total if lists_any else 0)
        harmed = sum(r["harm"] in ("injury", "sexual_offence", "other_crime_victim", "died") for r in mine)
        out[(force, "harm", "harmed")] = (harmed, sum(r["harm"] not in ("", "unknown", None) for r in mine), total)

        def weekend(r):
            return (r["reported_at"].day_of_week, r["reported_at"].hour) in WEEKEND_NIGHT

        out[(force, "weekend_night", "all")] = (sum(weekend(r) for r in mine), total, total)
        homes = [r for r in mine if r["missing_from"] == "residential_care"]
        out[(force, "weekend_night", "residential_care")] = (sum(weekend(r) for r in homes), len(homes), len(homes))
        seen = [
            (r["reported_at"] - r["last_seen_at"]).total_seconds() / 3600 for r in mine if pd.notna(r["last_seen_at"])
        ]
        out[(force, "last_seen_delay", "over_24h")] = (sum(h > 24 for h in seen), len(seen), total)
        kids = [c for (f, _), c in children.items() if f == force]
        groups = ["asian", "black", "mixed", "white", "other"]
        known = sum(c.get("ethnicity") in groups for c in kids)
        for g in groups:
            out[(force, "ethnicity", g)] = (sum(c.get("ethnicity") == g for c in kids), known, len(kids))
        out[(force, "ethnicity", NOT_KNOWN)] = (len(kids) - known, len(kids), len(kids))
    return out


def test_every_share_matches_a_brute_force_count_for_every_force(holed):
    episodes, covered, tables = holed
    shares = tables["profile_shares"]
    expected = _brute_force_shares(episodes, covered)
    forces = shares[shares["force_code"] != NATIONAL]
    got = {(r.force_code, r.measure, r.category): (r.numerator, r.denominator, r.whole) for r in forces.itertuples()}
    assert got == expected  # every force of the extract, every measure and category, and nothing else
    # England and Wales is the sum of the forces, and the Wilson interval is statsmodels'.
    national = shares[shares["force_code"] == NATIONAL].set_index(["measure", "category"])
    sums = forces.groupby(["measure", "category"])[["numerator", "denominator"]].sum()
    assert (national.loc[sums.index, ["numerator", "denominator"]] == sums).all().all()
    for row in shares[shares["denominator"] > 0].sample(60, random_state=1).itertuples():
        low, high = proportion_confint(row.numerator, row.denominator, alpha=0.05, method="wilson")
        assert (row.value, row.lower, row.upper) == pytest.approx((row.numerator / row.denominator, low, high))


def test_share_bands_equal_the_funnel_modules_compare_shares(holed):
    _, _, tables = holed
    shares = tables["profile_shares"]
    groups = read_comparator_groups()
    for (measure, category), rows in shares.groupby(["measure", "category"]):
        forces = rows[rows["force_code"] != NATIONAL]
        reference = compare_shares(forces[["force_code", "numerator", "denominator"]], groups).set_index("force_code")
        placed = forces[forces["denominator"] > 0].set_index("force_code")
        for column in ("band", "comparator_band"):
            expected = reference.loc[placed.index, column]
            assert (placed[column] == expected).all(), (measure, category, column)
        # A force with nothing to share over is off the funnel and says why.
        off = forces[forces["denominator"] == 0]
        assert (off["band"] == "not_compared").all() and off["reason"].str.startswith("not ").all()
        assert (off["method"] == off["reason"]).all() and off["value"].isna().all()


def test_a_blank_column_gives_zero_counts_and_a_reason(holed):
    _, _, tables = holed
    shares = tables["profile_shares"].set_index(["force_code", "measure", "category"]).sort_index()
    place = shares.loc[(BLANK_PLACE, "missing_from")]
    assert (place.drop(NOT_KNOWN)["numerator"] == 0).all() and (place.drop(NOT_KNOWN)["denominator"] == 0).all()
    assert place.loc[NOT_KNOWN, "numerator"] == place.loc[NOT_KNOWN, "whole"] > 0
    assert (
        place.loc["home", "reason"]
        == "not recorded: no episode of this force records where the child went missing from"
    )
    for key in (("exploitation", "cse"), ("out_of_area", "out_of_area_placement")):
        reason = shares.loc[(BLANK_FACTORS, *key), "reason"]
        assert reason.startswith("not recorded: the force lists no risk factor on any episode")
    assert shares.loc[(BLANK_HARM, "harm", "harmed"), "reason"].startswith("not recorded")
    assert shares.loc[(BLANK_SEEN, "last_seen_delay", "over_24h"), "reason"].startswith("not recorded")
    empty = tables["profile_shares"].query("force_code == @EMPTY")
    assert len(empty) == len(tables["profile_shares"].query("force_code == 'E23000014'"))
    assert (empty[["numerator", "denominator", "whole"]] == 0).all().all()
    assert empty["reason"].str.startswith("not computed: no clean episodes").all()
    delay = tables["profile_delay"].set_index("force_code")
    assert delay.loc[BLANK_SEEN, "recorded"] == 0 and delay.loc[BLANK_SEEN, "reason"].startswith("not recorded")
    assert delay.loc[EMPTY, "reason"].startswith("not computed") and pd.isna(delay.loc[EMPTY, "median_hours"])


def test_every_force_of_the_extract_is_in_every_table_with_integer_counts(holed):
    _, covered, tables = holed
    assert set(tables) == set(PROFILE_TABLES)
    counts = {
        "profile_shares": ["numerator", "denominator", "whole"],
        "profile_rates": ["children", "whole"],
        "profile_hours": ["episodes"],
        "profile_concentration": ["children", "episodes", "top_children", "top_episodes"],
        "profile_delay": ["episodes", "recorded"],
        "profile_ethnicity": ["episodes", "events", "children", "reference_episodes", "reference_children"],
    }
    for name, table in tables.items():
        assert set(table["force_code"]) == {*covered, NATIONAL}, name
        for column in counts[name]:
            assert table[column].dtype == np.int64, (name, column)
        # A figure that cannot be computed says why in its method, never a bare NaN.
        value = {"profile_delay": "median_hours", "profile_hours": "share"}.get(name, "value")
        missing = table[table[value].isna()]
        assert missing["method"].str.contains(r"^not (?:computed|recorded)", regex=True).all(), name


# ---------------------------------------------------------------------------------------------------------
# Rates of children: counts, populations and exact Poisson intervals.


def _exact_limits(count: int) -> tuple[float, float]:
    """Garwood limits by root-finding on the Poisson distribution itself (not the chi-squared quantiles)."""
    upper = optimize.brentq(lambda mu: stats.poisson.cdf(count, mu) - 0.025, 1e-9, 10 * count + 20)
    if count == 0:
        return 0.0, upper
    lower = optimize.brentq(lambda mu: stats.poisson.sf(count - 1, mu) - 0.025, 1e-9, 10 * count + 20)
    return lower, upper


def test_rates_of_children_match_a_brute_force_count_and_exact_limits(holed):
    episodes, covered, tables = holed
    rates = tables["profile_rates"].set_index(["force_code", "measure", "category"])
    population = pd.read_csv(REFERENCE_DIR / "ons_mid2023_population_by_pfa23_children.csv").set_index("pfa23cd")
    children = _children(episodes.to_dict("records"))
    for force in covered:
        kids = [c for (f, _), c in children.items() if f == force]
        bands = {
            "0-9": population.loc[force, "population_0_9_mid2023"],
            "12-17": population.loc[force, "population_12_17_mid2023"],
        }
        bands["10-11"] = population.loc[force, "population_10_17_mid2023"] - bands["12-17"]
        for band, (low, high) in AGE_BANDS.items():
            row = rates.loc[(force, "age_band", band)]
            assert row["children"] == sum(low <= c["age"] <= high for c in kids) and row["whole"] == len(kids)
            assert row["population"] == bands[band]
        for sex, column in (("female", "female_0_17_mid2023"), ("male", "male_0_17_mid2023")):
            row = rates.loc[(force, "sex", sex)]
            assert row["children"] == sum(c.get("sex") == sex for c in kids)
            lower, upper = _exact_limits(int(row["children"]))
            per = 1000 / population.loc[force, column]
            assert (row["value"], row["lower"], row["upper"]) == pytest.approx(
                (row["children"] * per, lower * per, upper * per), rel=1e-7, abs=1e-12
            )
        unknown = rates.loc[(force, "sex", NOT_KNOWN)]
        assert unknown["children"] == sum(c.get("sex") is None for c in kids)
        assert pd.isna(unknown["value"]) and unknown["reason"].startswith("not computed: no resident population")
        parts = rates.loc[force].groupby(level="measure")["children"].sum()
        assert (parts == len(kids)).all()  # each measure's categories add up to the force's children


def test_rate_bands_equal_the_funnel_modules_slow_path(holed):
    _, _, tables = holed
    rates = tables["profile_rates"]
    groups = read_comparator_groups()
    for (measure, category), rows in rates[rates["population"].notna()].groupby(["measure", "category"]):
        forces = rows[rows["force_code"] != NATIONAL]
        units = pd.DataFrame(
            {"unit": forces["force_code"], "numerator": forces["children"], "denominator": forces["population"]}
        )
        reference, _ = compare_with_funnel(units, "rate", 1000, comparator_groups=groups, min_units=5)
        reference = reference.set_index("unit")
        mine = forces.set_index("force_code")
        assert (mine["band"] == reference.loc[mine.index, "band"]).all(), (measure, category)
        assert (mine["comparator_band"] == reference.loc[mine.index, "comparator_band"]).all(), (measure, category)


def test_vectorised_limits_equal_funnel_limits_at_random_inputs():
    rng = np.random.default_rng(8)
    for statistic, multiplier in (("proportion", 1), ("proportion", 100), ("rate", 1000)):
        high = 0.99 if statistic == "proportion" else 80.0
        baseline = rng.uniform(0.001, high, 200) * (multiplier if statistic == "proportion" else 1)
        n = rng.integers(1, 200_000, 200).astype(float)
        for tau2 in (None, 0.0, 0.004, 0.05):
            for level in (0.95, 0.998):
                lower, upper = profile._limits(statistic, baseline, n, level, multiplier, tau2)
                for i in range(0, 200, 7):
                    lo, hi = funnel_limits(statistic, baseline[i], [n[i]], level, multiplier, tau2)
                    assert (lower[i], upper[i]) == pytest.approx((lo[0], hi[0]), rel=1e-12, abs=1e-15)


# ---------------------------------------------------------------------------------------------------------
# Median delay: the order-statistic interval.


def test_median_ranks_match_a_brute_force_coverage_and_a_hand_worked_case():
    n = np.arange(0, 301)
    lower, upper = find_median_ranks(n)
    for size, lo, hi in zip(n, lower, upper, strict=True):
        # The largest rank whose interval still covers the median with probability at least 95%.
        best = max((r for r in range(1, size // 2 + 1) if 1 - 2 * stats.binom.cdf(r - 1, size, 0.5) >= 0.95), default=0)
        assert lo == best and hi == (size - best + 1 if best else 0), size
    # Hand-worked: n = 10, P(B <= 1) = 11/1024, P(B <= 2) = 56/1024, so ranks 2 and 9 cover with 1 - 22/1024.
    assert (lower[10], upper[10]) == (2, 9) and 1 - 22 / 1024 == pytest.approx(0.978515625)
    assert (lower[5], lower[6]) == (0, 1)  # five values cannot give a 95% interval: 2 / 32 > 0.05


def test_median_delays_match_a_sort_of_each_force(holed):
    episodes, _, tables = holed
    delay = tables["profile_delay"].set_index("force_code")
    hours = (episodes["reported_at"] - episodes["last_seen_at"]).dt.total_seconds() / 3600
    for force, values in hours.groupby(episodes["force_code"]):
        values = np.sort(values.dropna().to_numpy())
        row = delay.loc[force]
        assert row["recorded"] == len(values)
        if len(values) == 0:
            continue
        assert row["median_hours"] == pytest.approx(np.median(values))
        lo, hi = find_median_ranks([len(values)])
        if lo[0]:
            assert (row["median_lower"], row["median_upper"]) == (values[lo[0] - 1], values[hi[0] - 1])
        else:
            assert pd.isna(row["median_lower"]) and row["reason"].startswith("interval not computed")
    everything = np.sort(hours.dropna().to_numpy())
    assert delay.loc[NATIONAL, "median_hours"] == pytest.approx(np.median(everything))


# ---------------------------------------------------------------------------------------------------------
# Concentration of repeats.


def test_concentration_matches_a_brute_force_sort_and_ties_do_not_matter(holed):
    episodes, _, tables = holed
    table = tables["profile_concentration"].set_index("force_code")
    per_child = episodes.groupby(["force_code", "person_id"]).size()
    for force, counts in per_child.groupby(level="force_code"):
        counts = sorted(counts.tolist(), reverse=True)
        top = math.ceil(len(counts) / 10)
        row = table.loc[force]
        assert (row["children"], row["top_children"], row["episodes"]) == (len(counts), top, sum(counts))
        assert row["top_episodes"] == sum(counts[:top])
    # Ties at the cut-off: relabelling and reordering the children changes nothing.
    tied = pd.DataFrame(
        {
            "force_code": "E23000014",
            "person_id": list("aaabbbcccdd") + list("efghijklmnopqrst"),
            "reported_at": pd.Timestamp("2024-01-01"),
        }
    )
    shuffled = tied.assign(
        person_id=tied["person_id"].map(dict(zip("abcdefghijklmnopqrst", "tsrqponmlkjihgfedcba", strict=True)))
    ).sample(frac=1, random_state=2)
    first, second = (profile.summarise_repeat_concentration(t).iloc[0] for t in (tied, shuffled))
    assert (first["top_children"], first["top_episodes"]) == (second["top_children"], second["top_episodes"]) == (2, 6)


def test_the_bootstrap_interval_agrees_with_resampling_children_directly(national_year):
    episodes, _ = national_year
    mine = episodes[episodes["force_code"] == "E23000013"]
    table = profile.summarise_repeat_concentration(mine).iloc[0]
    counts = mine.groupby("person_id").size().to_numpy()
    top = math.ceil(len(counts) / 10)
    rng = np.random.default_rng(1)
    draws = np.sort(rng.choice(counts, size=(BOOTSTRAP_RESAMPLES, len(counts))), axis=1)[:, ::-1]
    shares = draws[:, :top].sum(axis=1) / draws.sum(axis=1)
    low, high = np.quantile(shares, [0.025, 0.975])
    assert table["lower"] < table["value"] < table["upper"]
    # Two Monte Carlo estimates of the same percentiles: they agree to well within the interval's width.
    width = table["upper"] - table["lower"]
    assert abs(table["lower"] - low) < 0.1 * width and abs(table["upper"] - high) < 0.1 * width


# ---------------------------------------------------------------------------------------------------------
# Hours, and planted effects on a national year.


def test_hours_match_a_crosstab_and_every_cell_is_there(holed):
    episodes, covered, tables = holed
    hours = tables["profile_hours"]
    assert (hours.groupby("force_code").size() == 168).all()
    expected = pd.crosstab(
        episodes["force_code"], [episodes["reported_at"].dt.day_of_week, episodes["reported_at"].dt.hour]
    )
    mine = hours[hours["force_code"] != NATIONAL].pivot_table(
        index="force_code", columns=["weekday", "hour"], values="episodes", aggfunc="sum"
    )
    expected = expected.reindex(index=mine.index, columns=mine.columns, fill_value=0)
    assert (mine == expected).all().all()
    night = hours["hour"].isin(NIGHT_HOURS)
    weekend = [(d, h) in WEEKEND_NIGHT for d, h in zip(hours["weekday"], hours["hour"], strict=True)]
    assert (hours["group"] == np.where(weekend, "weekend_night", np.where(night, "other_night", "day"))).all()
    assert (hours.query("force_code == @EMPTY")["episodes"] == 0).all()


@pytest.fixture(scope="module")
def care_homes(national_year):
    """The national year with 40% of one force's residential-care episodes moved to Saturday 23:00-23:59."""
    episodes, _ = national_year
    episodes = episodes.copy()
    rng = np.random.default_rng(9)
    homes = episodes.index[((episodes["force_code"] == CARE_HOME) & (episodes["missing_from"] == "residential_care"))]
    moved = rng.choice(homes, size=int(len(homes) * 0.4), replace=False)
    reported = episodes.loc[moved, "reported_at"]
    saturday = reported.dt.normalize() + pd.to_timedelta((5 - reported.dt.day_of_week) % 7, unit="D")
    episodes.loc[moved, "reported_at"] = saturday + pd.Timedelta(hours=23) + pd.to_timedelta(reported.dt.minute, "min")
    # Last seen keeps its gap to the report: the delay is not what was planted.
    episodes.loc[moved, "last_seen_at"] = episodes.loc[moved, "last_seen_at"] + (
        episodes.loc[moved, "reported_at"] - reported
    )
    return summarise_problem_profile(episodes, read_comparator_groups())


def test_care_home_weekend_nights_are_found_for_the_planted_force_only(care_homes):
    shares = care_homes["profile_shares"]
    homes = shares.query("measure == 'weekend_night' and category == 'residential_care' and force_code != @NATIONAL")
    bands = homes.set_index("force_code")["band"]
    assert bands[CARE_HOME] == "above_998"
    assert bands.drop(CARE_HOME).isin(["above_998", "below_998"]).sum() <= 1, bands.value_counts()
    hours = care_homes["profile_hours"].query("force_code == @CARE_HOME")
    busiest = hours.loc[hours["episodes"].idxmax()]
    assert (busiest["weekday"], busiest["hour"], busiest["group"]) == (5, 23, "weekend_night")


def test_a_profile_beyond_england_and_waless_limit_is_an_observation_for_the_force(care_homes, national_year):
    """#14 item 13: findings where the profile shows a force out of line (facts to plan by, not judgements)."""
    from toolkit.findings import find_issues
    from toolkit.stats.volume import summarise_volume

    episodes, _ = national_year
    tables = {
        "profile_shares": care_homes["profile_shares"],
        "quality": pd.DataFrame({"force_code": sorted(set(episodes["force_code"].astype(str)))}),
        "summary": summarise_volume(episodes),
    }
    found = find_issues(tables, rules=("profile_out_of_line",))
    weekend = {f["force_code"] for f in found if "late on Friday and Saturday nights" in f["statement"]}
    assert CARE_HOME in weekend and len(weekend - {CARE_HOME}) <= 1
    # the share alone: its counts sit inside other published profile counts
    assert all(f["judgement"] == "observation" and f["numerator"] is None and f["value"] for f in found)
