"""Ingest: a force's export in, the canonical clean episodes out, every row accounted for.

What belongs here is everything up to and including a clean, typed episode
table: the input contract (:mod:`~toolkit.ingest.schema`), reading and
validating a canonical extract (:mod:`~toolkit.ingest.extract`), a force
system's dialect (:mod:`~toolkit.ingest.mapping`, one YAML file per dialect in
``data/mappings/``), the cleaning chain with its quarantine and ledger
(:mod:`~toolkit.ingest.clean`), the provenance file beside an extract
(:mod:`~toolkit.ingest.provenance`), and loading a cleaned export into the
national store, and reading it back as cleaning's tables
(:mod:`~toolkit.ingest.load`). Nothing here computes a statistic, judges a
force or writes a published file. Modules here import only the base
(:mod:`toolkit.config`, :mod:`toolkit.errors`, :mod:`toolkit.forces`,
:mod:`toolkit.dates`, :mod:`toolkit.store`).
"""
