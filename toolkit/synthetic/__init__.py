"""Synthetic data: realistic national extracts with planted effects, and exports in force dialects.

What belongs here is everything that makes data rather than reads it: the
generator calibrated to published figures (:mod:`~toolkit.synthetic.generator`)
and the writer that turns a synthetic extract into a force system's export,
with known defects (:mod:`~toolkit.synthetic.exports`), and every force's yearly exports written as
forces supply them, with a manifest (:mod:`~toolkit.synthetic.per_force`). Tests, the demo and
benchmarks use it; the stages that analyse data never import it. A new export
dialect is not added here but as a mapping file in ``data/mappings/``, which
this writer reads.
"""
