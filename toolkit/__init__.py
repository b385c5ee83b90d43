"""Toolkit for inspecting police responses to missing and absent children.

Data flow one way through six stages, each a folder, on a base below them
all (an import-linter contract in ``pyproject.toml`` keeps the order true):

=========================  ==================================================================
``toolkit.ingest``         a force's export in, clean episodes out, every row accounted for
  ``schema``               the input contract: columns, codes, checks
  ``extract``              reading a CSV, Parquet or Excel extract; validating it, every problem listed
  ``mapping``              a force system's dialect (one YAML file per dialect, ``data/mappings/``)
  ``clean``                the cleaning chain, its quarantine and ledger
  ``provenance``           the file beside an extract that says whether its data are synthetic
  ``load``                 an export cleaned into the national store, one load; the store read back as cleaning's tables
  ``pseudonymise``         at the force: names, date of birth, NHS number to linkage tokens (keyed hashes)
``toolkit.linkage``        the same child in several forces, from tokens alone; distinct children nationally
  ``link``                 one row per force's child; the national key joined; Splink's model on the rest; clusters
  ``count``                distinct children with an interval for the linkage's uncertainty; the naive sum
  ``borders``              the national count as a table; each force's children who cross its borders
``toolkit.stats``          every figure, for every force at once, with its interval and method
  ``tables``               every prepared table, declared once (name and how it is computed)
  ``intervals``            confidence intervals (rates, proportions, means, standardised ratios)
  ``funnel``               funnel limits, bands and over-dispersion
  ``volume``               episodes, children and rates per 1,000 children
  ``survival``             time to return (Kaplan-Meier)
  ``repeats``              repeat and frequently missing children
  ``trends``               monthly series and count regression
  ``consistency``          multilevel models of categorisation and risk grading; kappa
  ``practice``             practice shares (supervision, interviews, categorisation, known risks), each declared once
  ``profile``              the problem profile: when children are reported
  ``outcomes``             harm by first response; grade changes; c-statistic of the first grade for harm
  ``quality``              data-quality scorecard and what the data can support
``toolkit.findings``       the rulebook: every rule with its thresholds
  ``rulebook``             registering rules and thresholds; running them
  ``understanding``        rules on the force's data
  ``response``             rules on categorisation, risk, investigation, return, repeats, volume
  ``protection``           rules on whether known risks get a response; grades against harm
  ``history``              since the last inspection: findings new or enduring against a previous run
``toolkit.publish``        what readers see, after disclosure control
  ``disclosure``           the one publication gate and small-count predicate
  ``metrics``              ``metrics.csv``: one declaration per published table
  ``markup``               HTML helpers for every page
  ``plots``                every chart
  ``report``, ``overview`` what a force report and the national overview show
  ``site``                 the index page and the publication set's README
  ``workbook``             every published table as accessible spreadsheets (XLSX and ODS)
  ``render``, ``kernels``  notebooks to HTML (papermill, nbconvert); warm kernels
``toolkit.synthetic``      synthetic data for tests, the demo and benchmarks
  ``generator``            realistic national extracts with planted effects and ground truth
  ``exports``              a synthetic extract written as a force system's export, with defects
  ``per_force``            every force's own export of each year, a resent correction, a manifest
  ``identities``           true identities, children missing in several forces, their tokens
the run                    ``cli`` (``python -m toolkit``) and ``runner`` (one run, every force)
the base                   ``config`` (paths), ``errors``, ``forces`` (the registry), ``dates``
                           (the extract date), ``store`` (the work folder, and the national
                           store of every load on DuckDB), ``folders`` (a run's folders: held,
                           written aside, swapped in)
=========================  ==================================================================

The national store of every force's exports (DuckDB) extends ``store``;
privacy-preserving linkage of children across forces is ``toolkit.linkage``,
a stage between ingest and stats.

For researchers, ``import toolkit`` offers a small public surface
(:data:`__all__`): the statistics modules by topic, charts, disclosure control,
the force registry, the work folder and the extract date. Names load on first
use, so ``import toolkit`` itself is instant.

Examples
--------
>>> import toolkit
>>> toolkit.survival.__name__, toolkit.get_force("E23000014").name
('toolkit.stats.survival', 'West Midlands')
"""

from importlib import import_module

__version__ = "0.1.0"

# Public name -> (module, attribute or None for the module itself).
_PUBLIC = {
    "intervals": ("toolkit.stats.intervals", None),
    "funnel": ("toolkit.stats.funnel", None),
    "volume": ("toolkit.stats.volume", None),
    "survival": ("toolkit.stats.survival", None),
    "repeats": ("toolkit.stats.repeats", None),
    "trends": ("toolkit.stats.trends", None),
    "consistency": ("toolkit.stats.consistency", None),
    "practice": ("toolkit.stats.practice", None),
    "profile": ("toolkit.stats.profile", None),
    "quality": ("toolkit.stats.quality", None),
    "plots": ("toolkit.publish.plots", None),
    "disclosure": ("toolkit.publish.disclosure", None),
    "forces": ("toolkit.forces", None),
    "get_force": ("toolkit.forces", "get_force"),
    "list_forces": ("toolkit.forces", "list_forces"),
    "NATIONAL": ("toolkit.forces", "NATIONAL"),
    "ExtractDate": ("toolkit.dates", "ExtractDate"),
    "WorkFolder": ("toolkit.store", "WorkFolder"),
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    value = import_module(module) if attribute is None else getattr(import_module(module), attribute)
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
