"""Linkage: the same child in several forces, found from tokens alone, and the number of distinct children.

Each force pseudonymises its own children, so a child who goes missing in two
force areas is two children in a national count. Extracts of version 2 of the
contract carry keyed-hash tokens of each child's national key, date of birth and
names (``docs/episode-extract.md``; made at the force by
:mod:`toolkit.ingest.pseudonymise`), from which this stage links a force's child
to the same child in other forces, without a name or a date of birth:

- :func:`reduce_to_children`: the unit is a force's child ``(force_code,
  person_id)``, not an episode: one row each, with its most frequent token of
  each column.
- :func:`link_children`: an exact join on the national key where both records
  have one, and a Fellegi-Sunter model (Splink, on DuckDB, in memory) on the
  other tokens, trained without labels; only records of different forces are
  compared (within a force, ``person_id`` already is the child). Clusters of
  links (connected components at a match probability) are national children.
- :func:`count_distinct_children`: the number of distinct children, with an
  interval for the linkage's uncertainty (every candidate link drawn present
  with its match probability, the clusters counted again, many times), beside
  the naive sum of each force's children, and the number of children in more
  than one force.

An extract without tokens (version 1) cannot be counted: :func:`link_children`
says so (``countable`` false, with the reason) rather than raising.

Examples
--------
>>> episodes = pd.DataFrame({"force_code": ["E23000014", "E23000014", "E23000001"],
...                          "person_id": ["C1", "C1", "C9"]})
>>> linkage = link_children(episodes)
>>> linkage.countable, linkage.reason
(False, 'no linkage columns: the extract is version 1 of the contract, so its children cannot be linked across forces')
>>> count_distinct_children(linkage).naive, count_distinct_children(linkage).distinct
(2, None)
"""

import pandas as pd  # noqa: F401  (the examples above use it)

from toolkit.linkage.count import DistinctChildren, count_distinct_children
from toolkit.linkage.link import (
    BLOCKING_RULES,
    CHILD_KEY,
    LINK_THRESHOLD,
    Linkage,
    link_children,
    reduce_to_children,
)

__all__ = [
    "BLOCKING_RULES",
    "CHILD_KEY",
    "LINK_THRESHOLD",
    "Linkage",
    "DistinctChildren",
    "reduce_to_children",
    "link_children",
    "count_distinct_children",
]
