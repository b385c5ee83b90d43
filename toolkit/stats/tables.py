"""Every prepared table, declared once: its name and how it is computed from the clean extract.

A run computes each table here once, for every force at once, and stores it in
the work folder as ``<name>.parquet`` (:class:`toolkit.store.WorkFolder`);
every force report and the national overview read it back by that name. To add
a statistic with its own table, write the function in its topic's module and
add one :class:`PreparedTable` to :data:`PREPARED_TABLES`: nothing else is kept
in step by hand.

Examples
--------
>>> "practice" in TABLE_NAMES, len(TABLE_NAMES) == len(set(TABLE_NAMES))
(True, True)
>>> "repeat_desensitisation" in TABLE_NAMES and "time_to_next" in TABLE_NAMES
True
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import pandas as pd

from toolkit.dates import ExtractDate
from toolkit.stats.consistency import CONSISTENCY_TABLES, describe_case_mix, summarise_consistency
from toolkit.stats.outcomes import OUTCOME_TABLES, summarise_outcomes
from toolkit.stats.practice import summarise_practice, tabulate_grade_mix
from toolkit.stats.profile import PROFILE_TABLES, summarise_night_reports, summarise_problem_profile
from toolkit.stats.quality import assess_metric_support, score_data_quality, summarise_cleaning
from toolkit.stats.repeats import summarise_repeat_desensitisation, summarise_repeats, summarise_time_to_next
from toolkit.stats.survival import summarise_time_to_return, tabulate_return_curves
from toolkit.stats.trends import compare_with_year_before, count_episodes_by_period, summarise_trends
from toolkit.stats.volume import compare_volume_rates, summarise_volume

if TYPE_CHECKING:  # for annotations only: the cleaning's imports (pandera) stay out of a report's kernel
    from toolkit.ingest.clean import CleanResult

__all__ = ["Inputs", "PreparedTable", "PREPARED_TABLES", "TABLE_NAMES", "prepare_statistics"]


@dataclass(frozen=True)
class Inputs:
    """What every prepared table is computed from.

    Attributes
    ----------
    cleaned : CleanResult
        The cleaning result: clean episodes, quarantine, change log.
    extract_date : ExtractDate
    comparator_groups : dict of str to list of str
    thresholds : dict
        The findings thresholds of the run (:data:`toolkit.findings.THRESHOLDS`);
        a table that marks what the data can support uses them.
    year_before : pandas.DataFrame or None
        Clean episodes of the same months a year before (from a store), for the year-on-year change.
    compared_with_year_before : list of str or None
        The forces covered in every month of both periods.
    """

    cleaned: CleanResult
    extract_date: ExtractDate
    comparator_groups: dict[str, list[str]]
    thresholds: dict
    year_before: pd.DataFrame | None = None
    compared_with_year_before: list[str] | None = None

    @property
    def episodes(self) -> pd.DataFrame:
        """The clean episodes."""
        return self.cleaned.clean

    @cached_property
    def covered(self) -> list[str]:
        """The forces the extract covers (:meth:`~toolkit.ingest.clean.CleanResult.covered_forces`)."""
        return self.cleaned.covered_forces()

    @cached_property
    def case_mix(self) -> pd.DataFrame:
        """Each episode's case mix, computed once: the models and the practice measures both use it."""
        return describe_case_mix(self.episodes)


@dataclass(frozen=True)
class PreparedTable:
    """One or more tables a run prepares, and the function that computes them.

    Attributes
    ----------
    names : tuple of str
        The tables made, in the order ``build`` returns them (one table, a
        tuple of tables, or a dict by name).
    build : callable
        ``build(inputs, tables)``: ``tables`` holds every table declared before
        this one (none for a table computed ``beside``, which starts first).
    beside : bool
        Run beside the other tables (in a thread), from the inputs alone: true
        of the multilevel models, whose native code releases the GIL for seconds at a time.
    """

    names: tuple[str, ...]
    build: Callable[[Inputs, dict[str, pd.DataFrame]], object]
    beside: bool = False

    def compute(self, inputs: Inputs, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """The tables, by name."""
        made = self.build(inputs, tables)
        if isinstance(made, dict):
            return {name: made[name] for name in self.names}
        made = made if isinstance(made, tuple) else (made,)
        return dict(zip(self.names, made, strict=True))


PREPARED_TABLES = (
    PreparedTable(("summary",), lambda i, t: summarise_volume(i.episodes, i.comparator_groups, i.covered)),
    PreparedTable(("funnel_volume",), lambda i, t: compare_volume_rates(t["summary"], i.comparator_groups)),
    PreparedTable(("time_to_return",), lambda i, t: summarise_time_to_return(i.episodes, i.extract_date)),
    PreparedTable(("return_curves",), lambda i, t: tabulate_return_curves(i.episodes, i.extract_date)),
    PreparedTable(("repeats",), lambda i, t: summarise_repeats(i.episodes)),
    PreparedTable(("time_to_next",), lambda i, t: summarise_time_to_next(i.episodes, i.extract_date)),
    PreparedTable(
        ("repeat_desensitisation",), lambda i, t: summarise_repeat_desensitisation(i.episodes, case_mix=i.case_mix)
    ),
    PreparedTable(("quality",), lambda i, t: score_data_quality(i.cleaned, i.extract_date)),
    PreparedTable(
        ("support",), lambda i, t: assess_metric_support(i.episodes, i.thresholds["support_sufficient"], i.extract_date)
    ),
    PreparedTable(("cleaning",), lambda i, t: summarise_cleaning(i.cleaned)),
    PreparedTable(("trends", "monthly"), lambda i, t: summarise_trends(i.episodes)),
    PreparedTable(("quarterly",), lambda i, t: count_episodes_by_period(i.episodes, "Q")),
    PreparedTable(
        ("year_on_year",),
        lambda i, t: compare_with_year_before(i.episodes, i.year_before, i.compared_with_year_before),
    ),
    PreparedTable(
        ("practice",),
        lambda i, t: summarise_practice(i.episodes, i.extract_date, i.comparator_groups, i.case_mix, i.thresholds),
    ),
    PreparedTable(("grade_mix",), lambda i, t: tabulate_grade_mix(i.episodes, i.comparator_groups)),
    PreparedTable(("night_reports",), lambda i, t: summarise_night_reports(i.episodes, i.comparator_groups)),
    PreparedTable(OUTCOME_TABLES, lambda i, t: summarise_outcomes(i.episodes, i.covered)),
    PreparedTable(
        PROFILE_TABLES,
        lambda i, t: summarise_problem_profile(i.episodes, i.comparator_groups, i.covered, i.case_mix),
    ),
    PreparedTable(
        CONSISTENCY_TABLES,
        lambda i, t: summarise_consistency(i.episodes, i.comparator_groups, case_mix=i.case_mix),
        beside=True,
    ),
)
TABLE_NAMES = tuple(name for table in PREPARED_TABLES for name in table.names)


def prepare_statistics(inputs: Inputs) -> dict[str, pd.DataFrame]:
    """Compute every table of :data:`PREPARED_TABLES`, for every force at once.

    Tables marked ``beside`` run in a thread alongside the others; the results
    are the same either way.

    Returns
    -------
    dict of str to pandas.DataFrame
        Every table, by name, in the order of :data:`TABLE_NAMES`.
    """
    inputs.case_mix  # computed before any thread reads it  # noqa: B018
    tables: dict[str, pd.DataFrame] = {}
    with ThreadPoolExecutor(1) as background:
        later = [background.submit(entry.compute, inputs, {}) for entry in PREPARED_TABLES if entry.beside]
        for entry in PREPARED_TABLES:
            if not entry.beside:
                tables |= entry.compute(inputs, tables)
        for future in later:
            tables |= future.result()
    return {name: tables[name] for name in TABLE_NAMES}
