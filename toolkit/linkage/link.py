"""Link a force's child to the same child in other forces: an exact join on the national key, and Splink.

Splink (the field's standard, used for this by public bodies) fits a
Fellegi-Sunter model: for each kind of agreement between two records (dates of
birth equal, or with day and month swapped; names equal, swapped, sounding
alike, with the same first letter, or with the first letters swapped) how much
likelier it is between records of one child (m) than between records of two
(u). The u come from random pairs of records (that of names swapped, which
random pairs almost never show, from every pair: :func:`_swapped_u`), the m
from expectation maximisation on pairs that share a date of birth, and on pairs
that share both names: no labelled pair is needed. Pairs
are compared only where a blocking rule (:data:`BLOCKING_RULES`) puts them
together, so a national year is a few million comparisons, not billions.

Everything runs in an in-memory DuckDB database whose spill files go to a
temporary folder removed afterwards: nothing is written to the project, the
work folder or the store. The same model runs on Spark (``splink.SparkAPI``)
where one machine is not enough (README: Linking children across forces).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from toolkit.ingest.schema import LINKAGE_COLUMNS, LINKAGE_TOKENS

__all__ = [
    "CHILD_KEY",
    "LINK_THRESHOLD",
    "PREDICTION_FLOOR",
    "BLOCKING_RULES",
    "Linkage",
    "reduce_to_children",
    "link_children",
]

CHILD_KEY = ["force_code", "person_id"]  # the unit linked: a force's child
LINK_THRESHOLD = 0.5  # a link at least this probable joins two records into one child
PREDICTION_FLOOR = 0.01  # links less probable than this are not kept (nor drawn by the count's interval)
NO_TOKENS = (
    "no linkage columns: the extract is version 1 of the contract, so its children cannot be linked across forces"
)
# Pairs compared: the SQL of each rule (l and r are two records of different forces). Together they let a pair
# through if it shares the national key; the date of birth and both initials, or the date and either name's
# sound; the surname's sound, the birth year and the forename's initial; both names' sounds and the year; both
# names the wrong way round; the date with day and month swapped and both initials; or the date and the initials
# the wrong way round (names swapped, with a slip or a nickname in one). Each is an equality of
# tokens, so DuckDB joins on it: about 66,000 comparisons for a national year, where every pair would be 3.6
# billion. A true pair none lets through is never found (the benchmark counts it as missed).
BLOCKING_RULES = (
    "l.link_national_key = r.link_national_key",
    "l.link_dob = r.link_dob AND l.link_forename_initial = r.link_forename_initial "
    "AND l.link_surname_initial = r.link_surname_initial",
    "l.link_dob = r.link_dob AND l.link_surname_phonetic = r.link_surname_phonetic",
    "l.link_dob = r.link_dob AND l.link_forename_phonetic = r.link_forename_phonetic",
    "l.link_surname_phonetic = r.link_surname_phonetic AND l.link_dob_year = r.link_dob_year "
    "AND l.link_forename_initial = r.link_forename_initial",
    "l.link_forename_phonetic = r.link_forename_phonetic AND l.link_surname_phonetic = r.link_surname_phonetic "
    "AND l.link_dob_year = r.link_dob_year",
    "l.link_forename = r.link_surname AND l.link_surname = r.link_forename",
    "l.link_dob_year = r.link_dob_year AND l.link_dob_month = r.link_dob_day AND l.link_dob_day = r.link_dob_month "
    "AND l.link_forename_initial = r.link_forename_initial AND l.link_surname_initial = r.link_surname_initial",
    "l.link_dob = r.link_dob AND l.link_forename_initial = r.link_surname_initial "
    "AND l.link_surname_initial = r.link_forename_initial",
)
# The pairs expectation maximisation learns from: each leaves out the comparison it is blocked on.
_TRAINING_RULES = ("l.link_dob = r.link_dob", "l.link_forename = r.link_forename AND l.link_surname = r.link_surname")
_U_PAIRS = 1e6  # random pairs for the u probabilities
_EM_PAIRS = 2e6  # at most this many pairs for each session of expectation maximisation (a sample beyond)
_FEW_RECORDS = 20_000  # up to this many records, a run checks that some pair is compared before training
_MEMORY_LIMIT = "1GB"  # DuckDB's, beyond which it spills to a temporary folder: ten years peak 3.3 GB, not 6.3


@dataclass
class Linkage:
    """What :func:`link_children` found.

    Attributes
    ----------
    countable : bool
        Whether distinct children can be counted: false for an extract with no tokens.
    reason : str or None
        Why not, when not.
    children : pandas.DataFrame
        One row per force's child (:func:`reduce_to_children`).
    clusters : pandas.DataFrame
        ``force_code``, ``person_id``, ``national_child_id``: every force's child, and the national child it
        is (its own when nothing links it); ``national_child_id`` is ``N`` and a number, not an identifier
        of the input.
    predictions : pandas.DataFrame
        Every candidate link at least :data:`PREDICTION_FLOOR` probable: ``force_code_l``, ``person_id_l``,
        ``force_code_r``, ``person_id_r``, ``match_probability``, ``match_weight`` and ``by``
        (``national_key``: the same key, certain; ``model``: Splink's probability).
    threshold : float
        The probability at which a link joins a cluster.
    forces_without_tokens : list of str
        Forces none of whose children has a token: their children are counted but cannot be linked.
    differing_tokens : int
        Forces' children whose episodes do not all give the same tokens (the most frequent is used).
    model : dict
        Splink's trained model (its settings, with every m and u), for the record.
    """

    countable: bool
    reason: str | None
    children: pd.DataFrame
    clusters: pd.DataFrame
    predictions: pd.DataFrame
    threshold: float = LINK_THRESHOLD
    forces_without_tokens: list[str] = field(default_factory=list)
    differing_tokens: int = 0
    model: dict = field(default_factory=dict)


_PREDICTION_COLUMNS = [
    "force_code_l",
    "person_id_l",
    "force_code_r",
    "person_id_r",
    "match_probability",
    "match_weight",
    "by",
]


@contextmanager
def _connection():
    """An in-memory DuckDB connection spilling to a temporary folder, removed when done."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="toolkit-linkage-") as spill:
        connection = duckdb.connect(":memory:", config={"temp_directory": spill, "memory_limit": _MEMORY_LIMIT})
        connection.execute("SET enable_progress_bar = false")  # the toolkit says what it is doing
        try:
            yield connection
        finally:
            connection.close()


@contextmanager
def _quiet_splink():
    """Splink's log and warnings silenced while it runs: the toolkit says what it did (``progress``)."""
    logger = logging.getLogger("splink")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
        logger.propagate = propagate


def encode_tokens(columns: dict[str, pa.Array | pa.ChunkedArray]) -> tuple[dict[str, np.ndarray], pa.Array]:
    """Every column's values as int32 codes of one dictionary that all the columns share.

    Splink then compares integers, not 64-character tokens: faster to hash and join, and a tenth of the
    memory. One dictionary for every column, not one each, keeps every equality the model and the
    blocking rules ask about, within a column and across columns (a forename's token against a surname's,
    for names written the wrong way round; a date's month against its day). Every comparison of
    :func:`_comparisons` and :data:`BLOCKING_RULES` is an equality, which codes keep exactly; a string
    distance would not survive (nor would it mean anything on a keyed hash).

    Parameters
    ----------
    columns : dict of str to pyarrow.Array or pyarrow.ChunkedArray
        Each column's values (strings, or already dictionary-encoded strings; null where missing).

    Returns
    -------
    codes : dict of str to numpy.ndarray of int32
        Each column's codes, ``-1`` where the value is missing.
    dictionary : pyarrow.Array
        The values, each once: a code is its position.

    Examples
    --------
    >>> codes, dictionary = encode_tokens({"forename": pa.array(["ann", "bo", None]),
    ...                                    "surname": pa.array(["bo", "cy", "ann"])})
    >>> codes["forename"].tolist(), codes["surname"].tolist(), dictionary.to_pylist()
    ([0, 1, -1], [1, 2, 0], ['ann', 'bo', 'cy'])
    """
    encoded = {}
    for name, values in columns.items():
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        encoded[name] = values if pa.types.is_dictionary(values.type) else values.dictionary_encode()
    # One type for every column's values (pandas' Arrow strings are large strings, a literal list's are not).
    dictionaries = [e.dictionary.cast(pa.large_string()) for e in encoded.values()]
    dictionary = pc.unique(pa.concat_arrays(dictionaries or [pa.array([], pa.large_string())]))
    codes = {}
    for name, values in encoded.items():
        # Each column's own dictionary mapped onto the shared one, then each value's code through it.
        position = pc.index_in(values.dictionary.cast(pa.large_string()), value_set=dictionary).cast(pa.int32())
        codes[name] = pc.fill_null(position.take(values.indices), -1).to_numpy().astype(np.int32, copy=False)
    return codes, dictionary


def reduce_to_children(episodes: pd.DataFrame, connection=None) -> pd.DataFrame:
    """One row per force's child: its most frequent value of each linkage column, and its episodes.

    A child's tokens should be the same on every episode (the contract); where they differ the most
    frequent is taken, and of equally frequent the first in sort order (so the result does not depend on
    the episodes' order). Blanks are never chosen over a value.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes: ``force_code``, ``person_id`` and any of :data:`toolkit.ingest.schema.LINKAGE_COLUMNS`
        (a missing column is blank).
    connection : duckdb.DuckDBPyConnection, optional
        A connection to work in (default: one of its own, in memory).

    Returns
    -------
    pandas.DataFrame
        ``force_code``, ``person_id``, ``episodes``, each linkage column (missing as ``NA``), and
        ``differing`` (the number of linkage columns whose episodes disagree), sorted by force and child.
        The tokens are categoricals of one shared set of categories (:func:`encode_tokens`: each token is
        held once, however many children and columns carry it); ``responsible_la`` is a string.

    Examples
    --------
    >>> e = pd.DataFrame({"force_code": ["E23000014"] * 3, "person_id": ["C1", "C1", "C1"],
    ...                   "link_dob": ["b" * 64, "a" * 64, "b" * 64], "link_surname": ["", "", None]})
    >>> children = reduce_to_children(e)
    >>> child = children.iloc[0]
    >>> int(child["episodes"]), child["link_dob"][:3], pd.isna(child["link_surname"]), int(child["differing"])
    (3, 'bbb', True, 1)
    >>> children["link_dob"].cat.categories is children["link_forename"].cat.categories
    True
    """
    if connection is None:
        with _connection() as own:
            return reduce_to_children(episodes, own)

    # Handed to DuckDB as the frame's own Arrow strings (no copy, no Python object per value).
    def text(values: pd.Series) -> pa.ChunkedArray:
        if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
            values = values.astype("str")
        array = pa.array(values.array)
        return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])

    def blank_as_null(array: pa.Array) -> pa.Array:
        return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)

    tokens = {c: text(episodes[c]) if c in episodes.columns else None for c in LINKAGE_COLUMNS}
    present = [c for c, values in tokens.items() if values is not None]
    frame = pa.table(
        {
            "force_code": text(episodes["force_code"]),
            "person_id": text(episodes["person_id"]),
            "row": pa.array(np.arange(len(episodes), dtype=np.int64)),
            **{c: tokens[c] for c in present},
        }
    )
    columns = "".join(f", nullif({c}, '') AS {c}" for c in present)
    connection.register("episodes_in", connection.from_arrow(frame).select(f"force_code, person_id, row{columns}"))
    try:
        # One pass over hashes, not tokens: a child's first episode, and for each column whether its episodes
        # disagree (the least and greatest hash of its values differ) and how many carry it. Each value is hashed
        # once, a blank to null, which the aggregates skip. Aggregating the 64-character tokens themselves held
        # every one in the database's memory: gigabytes at ten years.
        hashes = "".join(f", CASE WHEN {c} <> '' THEN hash({c}) END AS {c}" for c in present)
        bounds = "".join(
            f", min({c}) IS DISTINCT FROM max({c}) AS {c}__differs, count({c}) AS {c}__carried" for c in present
        )
        connection.register("hashed_in", connection.from_arrow(frame).select(f"force_code, person_id, row{hashes}"))
        try:
            summary = connection.sql(
                f"SELECT force_code, person_id, count(*) AS episodes, min(row) AS first_row{bounds} FROM hashed_in "
                "GROUP BY force_code, person_id ORDER BY force_code, person_id"
            ).to_arrow_table()
        finally:
            connection.unregister("hashed_in")
        first = summary["first_row"]
        count = summary["episodes"].to_numpy()
        differing = np.zeros(len(first), dtype=int)
        values = {}
        for column in present:
            chosen = blank_as_null(tokens[column].take(first).combine_chunks())
            differs = summary[f"{column}__differs"].to_numpy()
            differing += differs
            # The first episode's value is the child's unless its episodes disagree, or some leave it blank
            # (the first may be one of those): then the most frequent value. Every such child has one.
            carried = summary[f"{column}__carried"].to_numpy()
            where = differs | ((carried > 0) & (carried < count))
            if where.any():
                connection.register("differing_in", summary.select(CHILD_KEY).filter(pa.array(where)))
                try:
                    modal = connection.sql(
                        f"""SELECT force_code, person_id, first(value ORDER BY n DESC, value) AS value
                        FROM (SELECT e.force_code, e.person_id, e.{column} AS value, count(*) AS n
                              FROM episodes_in e JOIN differing_in USING (force_code, person_id)
                              WHERE e.{column} IS NOT NULL GROUP BY ALL)
                        GROUP BY ALL ORDER BY force_code, person_id"""
                    ).to_arrow_table()  # in the children's order, as `where` picks them
                finally:
                    connection.unregister("differing_in")
                chosen = pc.replace_with_mask(
                    chosen, pa.array(where), modal["value"].combine_chunks().cast(chosen.type)
                )
            values[column] = chosen if column == "responsible_la" else chosen.dictionary_encode()  # text let go
    finally:
        connection.unregister("episodes_in")
    authority = values.pop("responsible_la", None)  # plain text, not a token: kept as it is
    codes, dictionary = encode_tokens(values)
    del values  # each column's own dictionary: the tokens' text is now held once, in the shared one
    shared = pd.CategoricalDtype(pd.Index(pd.arrays.ArrowStringArray(dictionary)))
    n = len(first)
    children = pd.DataFrame(
        {
            "force_code": summary["force_code"].to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get),
            "person_id": summary["person_id"].to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get),
            "episodes": count.astype(int),
            **{
                c: pd.Categorical.from_codes(codes[c] if c in codes else np.full(n, -1, np.int32), dtype=shared)
                for c in LINKAGE_TOKENS
            },
            "responsible_la": pd.Series(
                pd.arrays.ArrowStringArray(authority) if authority is not None else pd.NA,
                index=range(n),
                dtype="string",
            ),
            "differing": differing,
        }
    )
    return children


def _coded(children: pd.DataFrame) -> pd.DataFrame:
    """The children's linkage columns as nullable int32 codes: what Splink and the joins compare.

    The tokens' codes are their categories' (one dictionary for all, :func:`encode_tokens`); the responsible
    authority, compared only with itself, is coded on its own.
    """

    def nullable(codes: np.ndarray) -> pd.arrays.IntegerArray:
        return pd.arrays.IntegerArray(codes.astype(np.int32), codes < 0)

    return pd.DataFrame(
        {
            "force_code": children["force_code"].to_numpy(),
            "person_id": children["person_id"].to_numpy(),
            **{c: nullable(children[c].cat.codes.to_numpy()) for c in LINKAGE_TOKENS},
            "responsible_la": nullable(pd.factorize(children["responsible_la"], use_na_sentinel=True)[0]),
        },
        index=children.index,
    )


def _count_pairs_across_forces(force_codes: pd.Series) -> float:
    """The number of pairs of records of different forces, from each record's force.

    Examples
    --------
    >>> _count_pairs_across_forces(pd.Series(["A", "A", "B", "C"]))  # A-B twice, A-C twice, B-C
    5.0
    """
    per_force = force_codes.value_counts().to_numpy(dtype=float)
    return float((per_force.sum() ** 2 - (per_force**2).sum()) / 2)


def _swapped_u(children: pd.DataFrame) -> float:
    """The share of pairs of records of different forces that have each other's forename and surname.

    Random pairs almost never show it (a million of them found none), and Splink then gives the level a
    default u that made a pair with both names swapped and the same date of birth barely a link. It is
    counted instead, over every pair of records with both names (the level's u, like Splink's, leaves out
    pairs with a name missing): a join of the counts of each force's (forename, surname) on the names crossed.
    That count includes the true pairs written the wrong way round, so it is a little more than u, and the
    weight a swap gives a little less than its own. A record whose forename is its surname ("Thomas Thomas",
    or a placeholder) crosses only records of the same name, which agree exactly, not swapped: it is left
    out, as it would make the join as large as the square of its kind. Never less than one pair in the
    number of pairs.

    Examples
    --------
    >>> codes = pd.DataFrame({"force_code": ["A", "A", "B", "B", "B", "A", "B"],
    ...                       "person_id": ["1", "2", "1", "2", "3", "3", "4"],
    ...                       "link_forename": pd.array([1, 2, 3, 4, None, 7, 7], dtype="Int32"),
    ...                       "link_surname": pd.array([3, 5, 1, 6, 2, 7, 7], dtype="Int32")})
    >>> _swapped_u(codes)  # of the nine pairs of named records of different forces, one: A 1 and B 1
    0.1111111111111111
    """
    named = children.loc[
        children["link_forename"].notna()
        & children["link_surname"].notna()
        & (children["link_forename"] != children["link_surname"])
    ]
    kinds = named.groupby(["force_code", "link_forename", "link_surname"], observed=True).size().rename("n")
    kinds = kinds.reset_index()
    crossed = kinds.merge(kinds, left_on=["link_forename", "link_surname"], right_on=["link_surname", "link_forename"])
    different = crossed["force_code_x"] < crossed["force_code_y"]
    swapped = int((crossed["n_x"] * crossed["n_y"])[different].sum())
    both = children["link_forename"].notna() & children["link_surname"].notna()
    pairs = max(_count_pairs_across_forces(children.loc[both, "force_code"]), 1.0)
    return float(max(swapped, 1) / pairs)


def _comparisons(swapped_u: float):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def names(own: str, other: str, weighs_swaps: bool):
        # A swap is one event that both names' comparisons see: the forename's weighs it, the surname's
        # level for it is neutral (m = u, a Bayes factor of 1), so that it is not counted twice.
        def swap(sql: str, label: str, u: float | None):
            level = cll.CustomLevel(sql, label)
            if weighs_swaps:
                return level.configure(u_probability=u, fix_u_probability=True) if u is not None else level
            return level.configure(m_probability=0.5, u_probability=0.5, fix_m_probability=True, fix_u_probability=True)

        return cl.CustomComparison(
            output_column_name=own,
            comparison_levels=[
                cll.NullLevel(f"link_{own}"),
                cll.ExactMatchLevel(f"link_{own}", term_frequency_adjustments=True),
                swap(
                    f"link_{own}_l = link_{other}_r AND link_{other}_l = link_{own}_r",
                    "forename and surname swapped",
                    swapped_u,
                ),
                cll.ExactMatchLevel(f"link_{own}_phonetic").configure(label_for_charts="sounds the same"),
                cll.ExactMatchLevel(f"link_{own}_initial").configure(label_for_charts="same first letter"),
                # A swap with a slip or a nickname in one of the names: only the first letters still cross.
                swap(
                    f"link_{own}_initial_l = link_{other}_initial_r AND link_{other}_initial_l = link_{own}_initial_r",
                    "first letters swapped",
                    None,  # random pairs show it often enough for Splink to estimate its u
                ),
                cll.ElseLevel(),
            ],
        )

    parts = ("year", "month", "day")
    two_of_three = " OR ".join(
        f"(link_dob_{a}_l = link_dob_{a}_r AND link_dob_{b}_l = link_dob_{b}_r)"
        for i, a in enumerate(parts)
        for b in parts[i + 1 :]
    )
    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("link_dob_year"),
            cll.ExactMatchLevel("link_dob"),
            cll.CustomLevel(
                "link_dob_year_l = link_dob_year_r AND link_dob_month_l = link_dob_day_r "
                "AND link_dob_day_l = link_dob_month_r",
                "day and month swapped",
            ),
            cll.CustomLevel(two_of_three, "two of year, month and day"),
            cll.ExactMatchLevel("link_dob_year").configure(label_for_charts="same year"),
            cll.ElseLevel(),
        ],
    )
    return [
        cl.ExactMatch("link_national_key"),
        dob,
        names("forename", "surname", weighs_swaps=True),
        names("surname", "forename", weighs_swaps=False),
        cl.ExactMatch("responsible_la"),
    ]


def _prior(children: pd.DataFrame, pairs: float) -> float:
    """The probability that two records of different forces are one child, before any comparison.

    Where records carry the national key, the share of key-bearing pairs that share it is that probability
    exactly (a key is missing at random with respect to being linked, as far as is known). Else a prior from
    the pairs sharing date of birth and both names, of which about four in five are taken to be found.
    """
    keyed = children[children["link_national_key"].notna()]
    if len(keyed) >= 100:
        keyed_pairs = _count_pairs_across_forces(keyed["force_code"])
        shared = keyed.groupby("link_national_key")["force_code"].agg(["size", "nunique"])
        linked = (shared["size"] * (shared["size"] - 1) / 2).sum()
        if linked > 0:
            return float(min(max(linked / keyed_pairs, 1 / pairs), 0.5))
    same = children.dropna(subset=["link_dob", "link_forename", "link_surname"])
    groups = same.groupby(["link_dob", "link_forename", "link_surname"]).size()
    linked = (groups * (groups - 1) / 2).sum() / 0.8
    return float(min(max(linked / pairs, 1 / pairs), 0.5))


def _splink_predictions(children: pd.DataFrame, connection, seed: int, progress) -> tuple[pd.DataFrame, dict]:
    """Train the model on the children with any token and predict every blocked pair at least the floor."""
    from splink import DuckDBAPI, Linker, SettingsCreator
    from splink.blocking_rule_library import CustomRule
    from splink.internals.exceptions import EMTrainingException

    pairs = _count_pairs_across_forces(children["force_code"])
    settings = SettingsCreator(
        link_type="link_only",  # records of different forces only: in one force, person_id is the child
        unique_id_column_name="unique_id",
        comparisons=_comparisons(_swapped_u(children)),
        blocking_rules_to_generate_predictions=[CustomRule(rule, "duckdb") for rule in BLOCKING_RULES],
        probability_two_random_records_match=_prior(children, pairs),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db_api = DuckDBAPI(connection=connection)
    with _quiet_splink():
        table = _arrow(children[["force_code", "person_id", *LINKAGE_COLUMNS]])
        table = table.rename_columns(["source_dataset", "unique_id", *LINKAGE_COLUMNS])
        linker = Linker(db_api.register(table), settings, log_level=None)
        progress("linkage: estimating u from random pairs")
        linker.training.estimate_u_using_random_sampling(max_pairs=min(_U_PAIRS, max(pairs, 1)), seed=seed)
        for rule in _TRAINING_RULES:
            progress(f"linkage: expectation maximisation on pairs where {rule}")
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    CustomRule(rule, "duckdb"), estimate_without_term_frequencies=True, max_pairs=_EM_PAIRS
                )
            except EMTrainingException:  # no such pairs (a few forces, few children): the other rule trains
                progress(f"linkage: no pairs where {rule}; not trained on them")
        progress("linkage: predicting")
        predicted = linker.inference.predict(threshold_match_probability=PREDICTION_FLOOR).as_pandas_dataframe()
        model = linker.misc.save_model_to_json()
    predicted = predicted.rename(
        columns={
            "source_dataset_l": "force_code_l",
            "source_dataset_r": "force_code_r",
            "unique_id_l": "person_id_l",
            "unique_id_r": "person_id_r",
        }
    )
    return predicted, model


def _any_pair_to_compare(children: pd.DataFrame, connection) -> bool:
    """Whether a blocking rule other than the national key's puts two records of different forces together.

    When none does, the model would predict no pair at all (the national key's pairs are certain without it),
    yet training it costs seconds whatever the size of the input: a run of a few records skips it.

    Examples
    --------
    >>> import duckdb
    >>> token = {c: [None, None] for c in LINKAGE_COLUMNS}
    >>> apart = pd.DataFrame({"force_code": ["A", "B"], **token, "link_dob": ["d1", "d2"]})
    >>> together = apart.assign(link_dob="d1", link_surname_phonetic="S")
    >>> _any_pair_to_compare(apart, duckdb.connect()), _any_pair_to_compare(together, duckdb.connect())
    (False, True)
    """
    connection.register("blocking_in", _arrow(children[["force_code", *LINKAGE_COLUMNS]]))
    try:
        return any(
            connection.execute(
                f"SELECT EXISTS (SELECT 1 FROM blocking_in l JOIN blocking_in r ON {rule} "
                "AND l.force_code <> r.force_code)"
            ).fetchall()[0][0]
            for rule in BLOCKING_RULES
            if "link_national_key" not in rule
        )
    finally:
        connection.unregister("blocking_in")


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """A frame as an Arrow table for DuckDB: nullable integer codes stay integers with nulls, not floats."""
    return pa.Table.from_pandas(frame, preserve_index=False)


def _national_key_pairs(children: pd.DataFrame) -> pd.DataFrame:
    """Every pair of records of different forces that share a national key: the same child, for certain."""
    keyed = children.loc[children["link_national_key"].notna(), ["force_code", "person_id", "link_national_key"]]
    pairs = keyed.merge(keyed, on="link_national_key", suffixes=("_l", "_r"))
    pairs = pairs[pairs["force_code_l"] < pairs["force_code_r"]]
    return pairs.drop(columns="link_national_key").assign(match_probability=1.0, match_weight=np.inf, by="national_key")


def _ordered(pairs: pd.DataFrame) -> pd.DataFrame:
    """Each pair with its lesser (force, person) on the left, so a pair is written one way."""
    swap = (pairs["force_code_l"] > pairs["force_code_r"]) | (
        (pairs["force_code_l"] == pairs["force_code_r"]) & (pairs["person_id_l"] > pairs["person_id_r"])
    )
    out = pairs.copy()
    for name in ("force_code", "person_id"):
        out.loc[swap, f"{name}_l"], out.loc[swap, f"{name}_r"] = (
            pairs.loc[swap, f"{name}_r"],
            pairs.loc[swap, f"{name}_l"],
        )
    return out


def _combine(model: pd.DataFrame, exact: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """The model's links and the national key's, one row a pair: a shared key is certain, a different one rules out."""
    model = _ordered(model.assign(by="model")[_PREDICTION_COLUMNS]) if len(model) else model
    exact = _ordered(exact[_PREDICTION_COLUMNS]) if len(exact) else exact
    found = [p for p in (exact, model) if len(p)]
    if not found:  # nothing to link (one force, or a child alone): no pairs, rather than a concatenation of none
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _PREDICTION_COLUMNS})
    both = pd.concat(found, ignore_index=True)
    both = both.drop_duplicates(["force_code_l", "person_id_l", "force_code_r", "person_id_r"], keep="first")
    keys = pd.Series(
        children["link_national_key"].fillna(-1).to_numpy(dtype=np.int64),
        index=pd.MultiIndex.from_frame(children[CHILD_KEY]),
    )
    left = keys.reindex(pd.MultiIndex.from_frame(both[["force_code_l", "person_id_l"]])).to_numpy()
    right = keys.reindex(pd.MultiIndex.from_frame(both[["force_code_r", "person_id_r"]])).to_numpy()
    # Two valid national keys that differ are two children, whatever else agrees (twins share much).
    different = (left >= 0) & (right >= 0) & (left != right)
    both = both[~different]
    return both.sort_values(["force_code_l", "person_id_l", "force_code_r", "person_id_r"]).reset_index(drop=True)


def _clusters(children: pd.DataFrame, predictions: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Connected components of the links at least ``threshold`` probable: each a national child."""
    index = pd.MultiIndex.from_frame(children[CHILD_KEY])
    strong = predictions[predictions["match_probability"] >= threshold]
    left = index.get_indexer(
        pd.MultiIndex.from_frame(strong[["force_code_l", "person_id_l"]].set_axis(CHILD_KEY, axis=1))
    )
    right = index.get_indexer(
        pd.MultiIndex.from_frame(strong[["force_code_r", "person_id_r"]].set_axis(CHILD_KEY, axis=1))
    )
    n = len(children)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Numbered in the order of each cluster's first record (children are sorted): stable, and no input id.
    _, first_seen = np.unique(labels, return_index=True)
    rank = np.empty(len(first_seen), dtype=np.int64)
    rank[np.argsort(first_seen)] = np.arange(len(first_seen))
    width = len(str(max(len(first_seen), 1)))
    return pd.DataFrame(
        {
            "force_code": children["force_code"].to_numpy(),
            "person_id": children["person_id"].to_numpy(),
            "national_child_id": np.char.add("N", np.char.zfill(rank[labels].astype(str), width)),
        }
    )


def link_children(
    episodes: pd.DataFrame,
    *,
    threshold: float = LINK_THRESHOLD,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Linkage:
    """Link every force's child to the same child in other forces, from the tokens.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Clean episodes (any number of forces): ``force_code``, ``person_id`` and the linkage columns of
        contract version 2 where the extract has them.
    threshold : float, default :data:`LINK_THRESHOLD`
        The match probability at which a link joins two records into one national child.
    seed : int
        For the random pairs Splink estimates u from: the same seed, the same model.
    progress : callable, optional
        Called with a line of text at each step (the toolkit's progress output); Splink's own log is silenced.

    Returns
    -------
    Linkage
        Not ``countable``, with the reason, when no child has a token; every force's child is then its own
        national child and there are no predictions.
    """
    say = progress or (lambda _: None)
    with _connection() as connection:
        children = reduce_to_children(episodes, connection)
        coded = _coded(children)
        tokened = coded[list(LINKAGE_TOKENS)].notna().any(axis=1)
        with_tokens = set(children.loc[tokened, "force_code"])
        without = sorted(set(children["force_code"]) - with_tokens)
        if not tokened.any():
            alone = _clusters(children, pd.DataFrame(columns=_PREDICTION_COLUMNS), threshold)
            empty = pd.DataFrame({c: pd.Series(dtype=object) for c in _PREDICTION_COLUMNS})
            return Linkage(False, NO_TOKENS, children, alone, empty, threshold, without, 0)
        linked = coded[tokened] if not tokened.all() else coded
        exact = _national_key_pairs(linked)
        # The model needs tokens besides the national key, and records of two forces at least.
        modelled = linked[[c for c in LINKAGE_TOKENS if c != "link_national_key"]].notna().any(axis=None)
        # Looking for a pair costs seconds at ten years, where there are always pairs: only a small run looks.
        small = len(linked) <= _FEW_RECORDS
        if modelled and linked["force_code"].nunique() > 1 and (not small or _any_pair_to_compare(linked, connection)):
            say(f"linkage: {len(linked):,} forces' children with tokens, in {linked['force_code'].nunique()} forces")
            model, settings = _splink_predictions(linked, connection, seed, say)
        else:
            model, settings = pd.DataFrame(columns=_PREDICTION_COLUMNS), {}
    predictions = _combine(model, exact, coded)
    del coded
    clusters = _clusters(children, predictions, threshold)
    differing = int((children["differing"] > 0).sum())
    return Linkage(True, None, children, clusters, predictions, threshold, without, differing, settings)
