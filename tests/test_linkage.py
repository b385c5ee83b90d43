"""Linking children across forces: planted cross-force children found, the national key exact, v1 not counted."""

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import MIN_PRECISION, MIN_RECALL, pairs_across_forces

from toolkit.ingest.schema import LINKAGE_COLUMNS, LINKAGE_TOKENS
from toolkit.linkage import Linkage, count_distinct_children, link_children, reduce_to_children
from toolkit.linkage.count import draw_components
from toolkit.linkage.link import LINK_THRESHOLD, encode_tokens
from toolkit.synthetic import generator


@pytest.fixture(scope="module")
def linked(small_extract):
    _, episodes, truth = small_extract
    return episodes, truth, link_children(episodes)


def test_linkage_recovers_the_planted_cross_force_children(linked):
    episodes, truth, linkage = linked
    records = pd.DataFrame(truth["linkage"]["records"])
    true, found = pairs_across_forces(records, "child"), pairs_across_forces(linkage.clusters, "national_child_id")
    assert len(true) > 100
    hits = len(true & found)
    assert hits / len(found) >= MIN_PRECISION and hits / len(true) >= MIN_RECALL
    assert linkage.countable and linkage.reason is None and linkage.differing_tokens == 0
    count = count_distinct_children(linkage)
    assert count.naive == truth["linkage"]["force_children"] == len(linkage.clusters)
    assert abs(count.distinct - truth["linkage"]["children"]) <= 0.005 * truth["linkage"]["children"]
    assert count.lower <= count.distinct <= count.upper
    removed = (count.naive - count.distinct) / (count.naive - truth["linkage"]["children"])
    assert 0.75 <= removed <= 1.1
    # Only records of different forces are ever linked, and predictions name each pair once, lesser first.
    predictions = linkage.predictions
    assert (predictions["force_code_l"] < predictions["force_code_r"]).all()
    assert not predictions.duplicated(["force_code_l", "person_id_l", "force_code_r", "person_id_r"]).any()
    assert predictions["match_probability"].between(0.01, 1).all()


def _written_again(episodes: pd.DataFrame, force: str, person: str, **tokens) -> pd.DataFrame:
    """A child's first episode as another force would send it: a new ``person_id`` and some tokens changed."""
    first = episodes[(episodes["force_code"] != force)].iloc[[0]]
    return first.assign(force_code=force, person_id=person, **tokens)


def test_names_written_the_wrong_way_round_still_link_and_with_a_slip_are_compared(small_extract):
    """A child recorded surname first by another force, date of birth the same, was barely a link (0.78 here,
    0.17 in a national year): the swap's weight came from a default, since random pairs never show one. Written
    the wrong way round with a slip in one name, no blocking rule compared the pair at all."""
    _, episodes, _ = small_extract
    child = episodes.iloc[0]
    other = next(f for f in episodes["force_code"].unique() if f != child["force_code"])
    swapped = {
        f"link_{own}{part}": child[f"link_{other_name}{part}"]
        for own, other_name in (("forename", "surname"), ("surname", "forename"))
        for part in ("", "_phonetic", "_initial")
    }
    clean_swap = {c: child[c] for c in LINKAGE_COLUMNS} | swapped | {"link_national_key": "", "responsible_la": ""}
    slip = clean_swap | {
        "link_forename": "f" * 64,
        "link_forename_phonetic": "e" * 64,
        "responsible_la": child["responsible_la"],
    }
    extract = pd.concat(
        [
            episodes,
            _written_again(episodes, other, "SWAPPED", **clean_swap),
            _written_again(episodes, other, "SLIPPED", **slip),
        ],
        ignore_index=True,
    )
    linkage = link_children(extract)
    predictions = linkage.predictions.set_index(["person_id_l", "person_id_r"])["match_probability"]
    # The pair is written lesser force first; this child's force and the other's may come either way round.
    probability = {
        person: predictions.get((child["person_id"], person), predictions.get((person, child["person_id"])))
        for person in ("SWAPPED", "SLIPPED")
    }
    assert probability["SWAPPED"] >= 0.99  # was 0.78 here
    assert probability["SLIPPED"] >= LINK_THRESHOLD  # compared now (with the same authority, a link)
    # The swap is weighed once: the surname's levels for it stay neutral through training.
    surname = next(c for c in linkage.model["comparisons"] if c["output_column_name"] == "surname")
    neutral = [level for level in surname["comparison_levels"] if "swapped" in level.get("label_for_charts", "")]
    assert len(neutral) == 2 and all(level["m_probability"] == level["u_probability"] == 0.5 for level in neutral)


def test_the_national_key_alone_gives_exact_links():
    episodes, truth = generator.generate_extract(2024, seed=4, scale=0.03, national_key_missing=0.0)
    only_key = episodes.assign(**{c: "" for c in LINKAGE_COLUMNS if c != "link_national_key"})
    for extract in (episodes, only_key):
        linkage = link_children(extract)
        records = pd.DataFrame(truth["linkage"]["records"])
        assert pairs_across_forces(linkage.clusters, "national_child_id") == pairs_across_forces(records, "child")
        count = count_distinct_children(linkage)
        assert count.distinct == count.lower == count.upper == count.at_threshold == truth["linkage"]["children"]
        assert count.in_more_than_one_force == truth["linkage"]["children_in_more_than_one_force"]
    assert set(linkage.predictions["by"]) == {"national_key"}


def test_a_version_1_extract_cannot_be_counted_and_says_why(small_extract):
    _, episodes, _ = small_extract
    version_1 = episodes.drop(columns=list(LINKAGE_COLUMNS))
    linkage = link_children(version_1)
    assert not linkage.countable and "no linkage columns" in linkage.reason
    assert linkage.predictions.empty and linkage.clusters["national_child_id"].is_unique
    count = count_distinct_children(linkage)
    assert not count.countable and count.reason == linkage.reason
    assert count.distinct is None and count.in_more_than_one_force is None
    assert count.naive == len(episodes[["force_code", "person_id"]].drop_duplicates())


def test_a_force_without_tokens_is_counted_but_never_linked(small_extract):
    _, episodes, _ = small_extract
    one = "E23000014"
    extract = episodes.copy()
    extract.loc[extract["force_code"] == one, list(LINKAGE_TOKENS)] = ""
    linkage = link_children(extract)
    assert linkage.forces_without_tokens == [one]
    clusters = linkage.clusters.set_index("national_child_id")
    theirs = clusters[clusters["force_code"] == one].index
    assert clusters.index.value_counts()[theirs].eq(1).all()


def _hand_made(probability: float, pairs: int = 100) -> Linkage:
    """``pairs`` pairs of records, each pair a candidate link of one probability, in forces A and B."""
    children = pd.DataFrame(
        {"force_code": ["A"] * pairs + ["B"] * pairs, "person_id": [str(i) for i in range(pairs)] * 2}
    )
    predictions = pd.DataFrame(
        {
            "force_code_l": "A",
            "person_id_l": [str(i) for i in range(pairs)],
            "force_code_r": "B",
            "person_id_r": [str(i) for i in range(pairs)],
            "match_probability": probability,
        }
    )
    linked = probability >= 0.5
    ids = [f"N{i}" for i in range(pairs)] + [f"N{i if linked else pairs + i}" for i in range(pairs)]
    return Linkage(True, None, children, children.assign(national_child_id=ids), predictions)


def test_the_interval_holds_the_count_and_widens_when_links_are_uncertain():
    sure, unsure, certain = (count_distinct_children(_hand_made(p), seed=1) for p in (0.98, 0.5, 1.0))
    for count in (sure, unsure, certain):
        assert count.lower <= count.distinct <= count.upper and count.naive == 200
    assert certain.distinct == certain.lower == certain.upper == 100 and certain.in_more_than_one_force == 100
    assert sure.upper - sure.lower < unsure.upper - unsure.lower
    assert 140 < unsure.distinct < 160 and unsure.upper - unsure.lower > 10  # 100 links, each a coin toss
    # The draws are those of a binomial: each of 100 links present with probability 0.5.
    components, multi = draw_components(200, np.arange(100), np.arange(100, 200), np.full(100, 0.5), draws=4000)
    assert abs(components.mean() - 150) < 0.5 and abs(components.std() - 5) < 0.5
    assert (components + multi == 200).all()


def test_linkage_writes_nothing_where_it_runs(small_extract, tmp_path, monkeypatch):
    _, episodes, _ = small_extract
    monkeypatch.chdir(tmp_path)
    before = set(os.listdir(tmp_path))
    link_children(episodes[episodes["force_code"].isin(["E23000014", "E23000007", "E23000005"])])
    assert set(os.listdir(tmp_path)) == before


def test_a_childs_most_frequent_token_is_taken():
    e = pd.DataFrame(
        {
            "force_code": ["E23000014"] * 4 + ["E23000001"] * 2,
            "person_id": ["C1"] * 4 + ["C2"] * 2,
            "link_dob": ["b" * 64, "a" * 64, "b" * 64, "", "", "c" * 64],  # C2's first episode leaves it blank
        }
    )
    children = reduce_to_children(e).set_index("person_id")
    assert children.loc["C1", "link_dob"] == "b" * 64 and children.loc["C1", "episodes"] == 4
    assert children.loc["C2", "link_dob"] == "c" * 64
    assert children.loc["C1", "differing"] == 1 and children.loc["C2", "differing"] == 0
    assert children["link_forename"].isna().all()


def test_records_no_blocking_rule_puts_together_are_counted_without_training_a_model(small_extract):
    """A run of a few records trained the model for seconds, to compare no pair: it is not trained now, and
    every record is a child of its own; one pair sharing a date of birth and a surname's sound is compared."""
    _, episodes, _ = small_extract
    forces = episodes.drop_duplicates("force_code").head(6)  # one record from each of six forces
    dates = [f"{i:064x}" for i in range(len(forces))]
    apart = forces.assign(link_dob=dates, link_dob_year=dates, link_national_key="", link_forename="")
    linkage = link_children(apart)
    count = count_distinct_children(linkage)
    assert linkage.countable and linkage.model == {} and linkage.predictions.empty
    assert count.distinct == count.naive == len(forces) and count.in_more_than_one_force == 0
    together = apart.copy()
    together.iloc[1, together.columns.get_loc("link_dob")] = dates[0]
    together.iloc[1, together.columns.get_loc("link_surname_phonetic")] = together.iloc[0]["link_surname_phonetic"]
    assert link_children(together).model != {}


def test_encode_tokens_keeps_every_equality_within_and_across_columns():
    """Splink compares codes, not tokens: two values have one code exactly when they are equal, whichever
    columns they are in (a forename against a surname, a month against a day), and a missing value has none."""
    rng = np.random.default_rng(3)
    pool = [f"{i:064x}" for i in range(40)]
    columns = {
        name: pa.array([None if rng.random() < 0.1 else pool[k] for k in rng.integers(0, 40, 300)], type)
        for name, type in (("forename", pa.large_string()), ("surname", pa.string()), ("dob_day", pa.large_string()))
    }
    columns["split"] = pa.chunked_array([columns["forename"][:100], columns["forename"][100:]])
    codes, dictionary = encode_tokens(columns)
    values = np.concatenate([np.array(c.to_pylist(), dtype=object) for c in columns.values()])
    coded = np.concatenate([codes[name] for name in columns])
    assert all(codes[name].dtype == np.int32 and len(codes[name]) == 300 for name in columns)
    assert ((coded == -1) == pd.isna(values)).all()
    present = coded >= 0
    same_value = values[present][:, None] == values[present][None, :]
    same_code = coded[present][:, None] == coded[present][None, :]
    assert (same_value == same_code).all() and same_value.sum() > 3 * present.sum()
    assert dictionary.take(pa.array(coded[present])).to_pylist() == values[present].tolist()
    assert len(dictionary) == len(set(values[present])) <= 40


def test_children_hold_each_token_once_in_one_shared_dictionary(small_extract):
    """The children's tokens are categoricals of one set of categories, whose codes are what Splink compares."""
    _, episodes, _ = small_extract
    children = reduce_to_children(episodes)
    categories = children["link_forename"].cat.categories
    assert all(children[c].cat.categories is categories for c in LINKAGE_TOKENS)
    assert categories.is_unique and children["responsible_la"].dtype == "string"
    # A forename's code is a surname's exactly when their tokens are equal (names written the wrong way round).
    both = children["link_forename"].notna() & children["link_surname"].notna()
    forename, surname = children.loc[both, "link_forename"], children.loc[both, "link_surname"]
    same_text = forename.astype(str).to_numpy() == surname.astype(str).to_numpy()
    assert (same_text == (forename.cat.codes.to_numpy() == surname.cat.codes.to_numpy())).all()
