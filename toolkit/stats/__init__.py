"""Statistics: figures for every force, its comparator group and England and Wales, computed once.

What belongs here is every measure and the method that makes it, side by side
by topic (a researcher looks things up by topic): intervals
(:mod:`~toolkit.stats.intervals`), funnel limits (:mod:`~toolkit.stats.funnel`),
volume (:mod:`~toolkit.stats.volume`), time to return
(:mod:`~toolkit.stats.survival`), repeats, trends, the multilevel consistency
models, practice shares and data-quality measures. Each function takes clean
episodes (or the cleaning result) and returns a tidy table with its interval
and the method named; none reads or writes files, judges a force or formats
text for a reader. Every prepared table a run stores is declared once in
:mod:`~toolkit.stats.tables`. Modules here import ingest and the base only.
"""
