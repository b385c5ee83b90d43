"""The problem profile in metrics.csv (#14 item 13): every figure a force's report shows, marked withheld exactly
where the report shows [c], and no withheld count given back by the rows published beside it."""

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

from toolkit.forces import NATIONAL, get_force
from toolkit.publish.disclosure import SUPPRESSED, format_count, is_small_count, publish_tables
from toolkit.publish.metrics import collect_metrics
from toolkit.publish.report import ForceReport, _interval, _number, _percent, show_problem_profile

THRESHOLD = 5
# The smallest force, a large one, a Welsh one and one whose profile withholds shares beside published counts.
FORCES = ("E23000008", "E23000014", "W15000004", "E23000001")
FIGURES = ["value", "lower", "upper", "numerator", "denominator"]


@pytest.fixture(scope="module")
def profile(small_profile_tables):
    """A 2% national year's profile tables, its metrics.csv rows and each sampled force's report HTML."""
    _, tables, groups = small_profile_tables
    metrics = collect_metrics(tables, groups, THRESHOLD)
    run = {"suppression_threshold": THRESHOLD, "comparator_groups": groups}
    published = publish_tables(tables, run)
    pages = {
        code: unescape(show_problem_profile(ForceReport(get_force(code), run, [], published)).data) for code in FORCES
    }
    return metrics[metrics["section"] == "profile"].set_index(["force_code", "metric"]), pages


def _cells(html: str, attribute: str) -> dict[str, str]:
    """Each cell of the page marked ``attribute='key'``: its text, by key."""
    return dict(re.findall(rf"<td[^>]* {attribute}='([^']+)'[^>]*>([^<]*)</td>", html))


def _national(html: str) -> dict[str, str]:
    """England and Wales's column (the last cell) of each share row of the page, by its key."""
    rows = re.findall(r"<tr[^>]* data-row='([^']+)'>(.*?)</tr>", html)
    return {key: re.findall(r"<td[^>]*>([^<]*)</td>", row)[-1] for key, row in rows}


def _metric(key: str, suffix: str) -> str:
    return key.replace(":", "_") + suffix


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _same(shown: str, expected: str) -> bool:
    """The report's text and the same figures of metrics.csv formatted alike, the same but for a last digit that
    rounding twice (to 4 significant figures, then as printed) may move by one: ``24%`` for ``25%``."""
    numbers, others = _NUMBER.findall(shown), _NUMBER.findall(expected)
    if _NUMBER.sub("#", shown) != _NUMBER.sub("#", expected) or len(numbers) != len(others):
        return False
    for a, b in zip(numbers, others, strict=True):
        unit = 10.0 ** -(len(a.split(".")[1]) if "." in a else 0)
        if abs(float(a) - float(b)) > unit * 1.001:
            return False
    return True


def _assert_withheld(row: pd.Series, where) -> None:
    assert row["suppressed"], where
    assert row[FIGURES].isna().all(), where


def test_every_share_and_count_is_the_reports(profile):
    rows, pages = profile
    checked = withheld = 0
    for code, html in pages.items():
        national = _national(html)
        for key, shown in _cells(html, "data-share").items():
            if ":" not in key:  # the concentration and the delay, below
                continue
            rate = key.split(":")[0] in ("age_band", "sex")
            row = rows.loc[(code, _metric(key, "_per_1000_children" if rate else "_share"))]
            whole = rows.loc[(NATIONAL, row.name[1])]
            if shown == SUPPRESSED:
                _assert_withheld(row, (code, key))
                withheld += 1
            elif pd.isna(row["value"]):  # not computed: the report gives the reason, metrics.csv as its method
                assert not row["suppressed"] and row["method"] == shown or rate, (code, key, shown)
            elif rate:
                assert _same(shown, f"{_number(row['value'])} ({_number(row['lower'])} to {_number(row['upper'])})")
            else:
                assert _same(shown, _percent(row["value"], row["lower"], row["upper"])), (code, key)
                assert row["numerator"] / row["denominator"] == pytest.approx(row["value"], abs=5e-4)
            # England and Wales: the same figure the report prints beside it, and no count.
            expected = _number(whole["value"]) if rate else _percent(whole["value"])
            assert national[key] == expected, (code, key)
            assert whole[["lower", "upper", "numerator", "denominator"]].isna().all()
            checked += 1
        counts = re.findall(
            r"<td[^>]* data-cell='([^']+)' data-count='(\w+)'( data-partition='\w+')?>([^<]*)</td>", html
        )
        for key, unit, partition, shown in counts:
            if key.split(":")[0] in ("age_band", "sex"):
                number = rows.loc[(code, _metric(key, "_per_1000_children")), "numerator"]
            elif partition:  # a cell of a partition has a count of its own
                number = rows.loc[(code, _metric(key, f"_{unit}")), "value"]
            else:  # a share of no partition: its count beside its share
                number = rows.loc[(code, _metric(key, "_share")), "numerator"]
            if shown == SUPPRESSED:
                assert pd.isna(number), (code, key)
            else:
                assert format_count(number, THRESHOLD) == shown, (code, key, number)
            checked += 1
    assert checked > 150 and withheld > 20  # the sampled forces withhold shares, and publish more of them


def test_night_concentration_delay_and_odds_are_the_reports(profile):
    rows, pages = profile
    for code, html in pages.items():
        night = rows.loc[(code, "reported_22_to_02")]
        shown = _cells(html, "data-profile")["night_reports"]
        if shown == SUPPRESSED:
            _assert_withheld(night, code)
        else:
            assert _same(shown, _interval(night["value"], night["lower"], night["upper"], ".0%"))
        shares = _cells(html, "data-share")
        top = rows.loc[(code, "top_tenth_of_children_episode_share")]
        if shares["concentration"] == SUPPRESSED:
            _assert_withheld(top, code)
            _assert_withheld(rows.loc[(code, "top_tenth_of_children")], code)
        else:
            assert _same(shares["concentration"], _percent(top["value"], top["lower"], top["upper"])), code
            children = rows.loc[(code, "top_tenth_of_children")]
            counted = _cells(html, "data-cell")["concentration:top_children"]
            assert counted == f"{format_count(children['value'])} of {format_count(children['denominator'])}"
        delay = rows.loc[(code, "median_hours_last_seen_to_report")]
        if shares["delay"] == SUPPRESSED:
            _assert_withheld(delay, code)
        elif pd.notna(delay["value"]):
            assert _same(shares["delay"], _interval(delay["value"], delay["lower"], delay["upper"], ".1f")), code
            assert _cells(html, "data-cell")["delay:recorded"] == format_count(delay["denominator"])
        for key, shown in _cells(html, "data-odds").items():
            measure, group = key.split(":")
            if group in ("white", "not_known"):  # "1 (reference)" and "not compared": no row
                assert (code, f"{measure}_odds_ratio_{group}") not in rows.index
                continue
            row = rows.loc[(code, f"{measure}_odds_ratio_{group}")]
            if shown == SUPPRESSED:
                _assert_withheld(row, (code, key))
            elif shown.startswith("not computed"):
                assert not row["suppressed"] and pd.isna(row["value"]) and row["method"] == shown
            else:
                assert _same(shown, _interval(row["value"], row["lower"], row["upper"], ".2f")), (code, key)
        for key, shown in _cells(html, "data-cell").items():
            if key.startswith("ethnicity_response:"):
                row = rows.loc[(code, "first_response_episodes_" + key.split(":")[1])]
                if shown == SUPPRESSED:
                    _assert_withheld(row, (code, key))
                else:
                    assert format_count(row["value"]) == shown, (code, key)


def test_no_withheld_count_is_given_back_by_the_rows_beside_it(profile):
    """Within each force's partition the counts published leave two or more withheld, or none, and no count of 1
    to 4 is published; a part published beside its whole differs from it by 0 or at least the threshold."""
    rows, _ = profile
    table = rows.reset_index()
    forces = table[table["force_code"] != NATIONAL]
    counts = forces[forces["unit"].isin(["episodes", "children"])]
    assert not is_small_count(counts["value"], THRESHOLD).any()
    assert not is_small_count(forces["numerator"], THRESHOLD).any()
    assert not is_small_count(forces["denominator"], THRESHOLD).any()
    partitions = {
        "missing_from": "_episodes",
        "looked_after": "_episodes",
        "found_by": "_episodes",
        "ethnicity": "_children",
        "first_response_episodes": "",
    }
    seen = 0
    for prefix, suffix in partitions.items():
        cells = counts[counts["metric"].str.startswith(prefix) & counts["metric"].str.endswith(suffix)]
        for code, group in cells.groupby("force_code"):
            hidden = int(group["value"].isna().sum())
            assert hidden == 0 or hidden >= 2, (code, prefix, group[["metric", "value"]].to_numpy().tolist())
            assert group["suppressed"].sum() == hidden
            seen += hidden > 0
    for measure in ("age_band", "sex"):
        cells = forces[forces["metric"].str.startswith(measure + "_")]
        for code, group in cells.groupby("force_code"):
            hidden = int(group["numerator"].isna().sum())
            assert hidden == 0 or hidden >= 2, (code, measure)
    assert seen > 20  # complementary suppression was at work in many partitions
    wide = forces.pivot(index="force_code", columns="metric", values="numerator")
    for part, whole in (
        ("weekend_night_residential_care_share", "weekend_night_all_share"),
        ("weekend_night_all_share", "reported_22_to_02"),
    ):
        both = wide[[part, whole]].dropna()
        assert not is_small_count(both[whole] - both[part], THRESHOLD).any(), part
    # England and Wales: no count, and shares only to the report's precision (a national count less the forces'
    # would give a withheld force's back, and a share to 4 figures of a known national total gives that count).
    national = table[table["force_code"] == NATIONAL]
    assert national[["numerator", "denominator"]].isna().all().all()
    shares = national[national["unit"].eq("share") & national["lower"].isna() & national["value"].notna()]
    assert len(shares) == 32
    assert all(_percent(v) == _percent(float(_percent(v)[:-1]) / 100) for v in shares["value"])
    assert np.allclose(shares["value"] * 1000, np.round(shares["value"] * 1000))
