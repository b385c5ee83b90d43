"""How many distinct children: the linked clusters counted, with an interval for the linkage's uncertainty.

A link is uncertain: Splink gives each candidate pair a match probability. The
interval is a parametric bootstrap over the links: in each draw every candidate
link is present with its probability, the records are grouped into connected
components again, and the components counted; the 2.5th and 97.5th percentiles
of the draws bound the count. Draws are vectorised: all of a batch are one
graph of disjoint copies, split into components in one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from toolkit.linkage.link import CHILD_KEY, Linkage

__all__ = ["DistinctChildren", "count_distinct_children", "draw_components"]

DRAWS = 1000
_EDGES_PER_BATCH = 2_000_000  # links drawn at once (about 30 MB of work), whatever the number of draws


@dataclass(frozen=True)
class DistinctChildren:
    """The national count of children, from a :class:`~toolkit.linkage.link.Linkage`.

    Attributes
    ----------
    countable : bool
        False when the extract has no linkage columns: then only ``naive`` is given.
    reason : str or None
        Why not, when not.
    distinct, lower, upper : int or None
        The number of distinct children (the median of the draws) and its 95% interval.
    at_threshold : int or None
        The number of national children of the clusters (links at least the linkage's threshold).
    naive : int
        The sum of every force's children: each force's child counted once per force.
    in_more_than_one_force, in_more_than_one_force_lower, in_more_than_one_force_upper : int or None
        Children who went missing in more than one force (clusters of two records or more): the median of
        the draws and its 95% interval.
    draws : int
    forces_without_tokens : tuple of str
        Forces whose children could not be linked (counted, but never as anyone else).
    """

    countable: bool
    reason: str | None
    distinct: int | None
    lower: int | None
    upper: int | None
    at_threshold: int | None
    naive: int
    in_more_than_one_force: int | None
    in_more_than_one_force_lower: int | None
    in_more_than_one_force_upper: int | None
    draws: int
    forces_without_tokens: tuple[str, ...] = ()

    @property
    def double_count(self) -> int | None:
        """How many more children the naive sum counts than there are distinct children."""
        return None if self.distinct is None else self.naive - self.distinct


def draw_components(
    nodes: int, left: np.ndarray, right: np.ndarray, probability: np.ndarray, draws: int = DRAWS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Components of a graph whose edges are each present with their probability, in many draws.

    Parameters
    ----------
    nodes : int
        The records: ``0 .. nodes - 1``.
    left, right : numpy.ndarray of int
        The records each candidate edge joins.
    probability : numpy.ndarray of float
        Each edge's probability of being present.
    draws : int
    seed : int

    Returns
    -------
    components, multi : numpy.ndarray of int
        For each draw, the number of components (distinct children) and of components of two records
        or more (children in more than one force).

    Examples
    --------
    >>> components, multi = draw_components(4, np.array([0, 2]), np.array([1, 3]), np.array([1.0, 0.0]), draws=3)
    >>> components.tolist(), multi.tolist()
    ([3, 3, 3], [1, 1, 1])
    """
    rng = np.random.default_rng(seed)
    # Only the records some edge touches can join another; the rest are a component each, in every draw.
    touched, local = np.unique(np.concatenate([left, right]), return_inverse=True)
    k, m = len(touched), len(left)
    a, b = local[:m], local[m:]
    components = np.empty(draws, dtype=np.int64)
    multi = np.empty(draws, dtype=np.int64)
    per_batch = max(1, min(draws, _EDGES_PER_BATCH // max(m, 1)))
    for start in range(0, draws, per_batch):
        batch = min(per_batch, draws - start)
        present = rng.random((batch, m)) < probability
        copy, edge = np.nonzero(present)
        rows = copy * k + a[edge]
        cols = copy * k + b[edge]
        graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(batch * k, batch * k))
        count, labels = connected_components(graph, directed=False)
        # Copies are disjoint, so every component lies in one: the copy of any of its records.
        copy_of = np.empty(count, dtype=np.int64)
        copy_of[labels] = np.arange(batch * k) // max(k, 1)
        sizes = np.bincount(labels, minlength=count)
        components[start : start + batch] = np.bincount(copy_of, minlength=batch) + (nodes - k)
        multi[start : start + batch] = np.bincount(copy_of[sizes >= 2], minlength=batch)
    return components, multi


def count_distinct_children(linkage: Linkage, draws: int = DRAWS, seed: int = 0) -> DistinctChildren:
    """The number of distinct children, its 95% interval, the naive sum and the children in several forces.

    Parameters
    ----------
    linkage : Linkage
        From :func:`toolkit.linkage.link_children`.
    draws : int, default 1000
        Draws of the parametric bootstrap.
    seed : int
        The same seed, the same interval.

    Returns
    -------
    DistinctChildren

    Examples
    --------
    >>> from toolkit.linkage.link import Linkage
    >>> children = pd.DataFrame({"force_code": ["A", "B", "C"], "person_id": ["1", "1", "1"]})
    >>> predictions = pd.DataFrame({"force_code_l": ["A"], "person_id_l": ["1"], "force_code_r": ["B"],
    ...                             "person_id_r": ["1"], "match_probability": [0.999]})
    >>> clusters = children.assign(national_child_id=["N0", "N0", "N1"])
    >>> count = count_distinct_children(Linkage(True, None, children, clusters, predictions))
    >>> count.naive, count.distinct, count.at_threshold, count.in_more_than_one_force, count.double_count
    (3, 2, 2, 1, 1)
    """
    children = linkage.children
    naive = len(children)
    if not linkage.countable:
        return DistinctChildren(
            False,
            linkage.reason,
            None,
            None,
            None,
            None,
            naive,
            None,
            None,
            None,
            0,
            tuple(linkage.forces_without_tokens),
        )
    index = pd.MultiIndex.from_frame(children[CHILD_KEY])
    predictions = linkage.predictions
    left = index.get_indexer(
        pd.MultiIndex.from_frame(predictions[["force_code_l", "person_id_l"]].set_axis(CHILD_KEY, axis=1))
    )
    right = index.get_indexer(
        pd.MultiIndex.from_frame(predictions[["force_code_r", "person_id_r"]].set_axis(CHILD_KEY, axis=1))
    )
    probability = predictions["match_probability"].to_numpy(dtype=float)
    components, multi = draw_components(naive, left, right, probability, draws, seed)
    clusters = linkage.clusters["national_child_id"]

    def median_and_interval(values: np.ndarray) -> tuple[int, int, int]:
        low, middle, high = np.percentile(values, [2.5, 50, 97.5], method="inverted_cdf")
        return int(middle), int(low), int(high)

    distinct, lower, upper = median_and_interval(components)
    several, several_lower, several_upper = median_and_interval(multi)
    return DistinctChildren(
        True,
        None,
        distinct,
        lower,
        upper,
        int(clusters.nunique()),
        naive,
        several,
        several_lower,
        several_upper,
        draws,
        tuple(linkage.forces_without_tokens),
    )
