"""The rulebook: every findings rule, with its thresholds, registered one way.

A rule is a function decorated with :func:`rule`, which records its stable id,
its area of the findings vocabulary, the metric and test it rests on, and every
threshold it uses with its default and meaning. :data:`RULES` and
:data:`THRESHOLDS` are built from those declarations and nothing else, so a
rule and its thresholds cannot drift apart; a rule sees only the thresholds it
declared. Every threshold can be overridden from a YAML file
(:func:`read_thresholds`, ``toolkit run --thresholds FILE``), and the values a
run used are recorded in its ``run.json``.

Judgements follow the inspectorate's words: a *cause of concern* is a serious
or systemic shortcoming; an *area for improvement* is less serious; *good
practice* is a force reliably better than others; an *observation* records a
fact worth knowing (including that the data cannot support a measure). A
cause of concern always carries a recommendation.

Examples
--------
>>> import toolkit.findings  # registers every rule
>>> RULES["supervisory_review"].area, THRESHOLDS["review_share_concern"]
('investigation', 0.5)
>>> "review_share_concern" in RULES["supervisory_review"].thresholds
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from toolkit.config import read_yaml_config
from toolkit.errors import ConfigError
from toolkit.forces import NATIONAL, get_force

__all__ = [
    "JUDGEMENT_ORDER",
    "Threshold",
    "Rule",
    "RULES",
    "THRESHOLDS",
    "rule",
    "make_finding",
    "list_thresholds",
    "read_thresholds",
    "find_issues",
]

JUDGEMENT_ORDER = ("cause_of_concern", "area_for_improvement", "good_practice", "observation")


@dataclass(frozen=True)
class Threshold:
    """A number a rule judges against: its default and what it means."""

    default: float
    means: str


@dataclass(frozen=True)
class Rule:
    """A registered findings rule.

    Attributes
    ----------
    id, area, metric, test : str
        Its stable id, area of the findings vocabulary, and the metric and test it rests on.
    thresholds : dict of str to Threshold
        Every threshold it uses.
    judge : callable
        ``judge(tables, thresholds, code, name)``: the findings for one force.
    """

    id: str
    area: str
    metric: str
    test: str
    thresholds: dict[str, Threshold]
    judge: Callable


RULES: dict[str, Rule] = {}
_DECLARED: dict[str, Threshold] = {}
THRESHOLDS: dict[str, float] = {}  # every rule's thresholds at their defaults, kept by rule()


def rule(id: str, area: str, metric: str, test: str, thresholds: dict[str, Threshold] | None = None):
    """Register the decorated function as the findings rule ``id``.

    Two rules may share a threshold by declaring the same :class:`Threshold`.

    Raises
    ------
    ValueError
        The id is taken, or a threshold name is declared with another default or meaning.
    """

    def register(judge: Callable) -> Callable:
        if id in RULES:
            raise ValueError(f"findings rule {id!r} is registered twice")
        for name, threshold in (thresholds or {}).items():
            if _DECLARED.setdefault(name, threshold) != threshold:
                raise ValueError(f"threshold {name!r} is declared differently by rule {id!r}")
            THRESHOLDS[name] = threshold.default
        RULES[id] = Rule(id, area, metric, test, dict(thresholds or {}), judge)
        return judge

    return register


def list_thresholds() -> list[dict]:
    """Every threshold: its name, default, meaning and the rules that use it.

    Examples
    --------
    >>> import toolkit.findings
    >>> row = next(r for r in list_thresholds() if r["name"] == "practice_concern_fraction")
    >>> row["default"], row["rules"]
    (0.5, ['supervisory_review', 'prevention_interviews', 'return_interviews_72h'])
    """
    return [
        {
            "name": name,
            "default": threshold.default,
            "means": threshold.means,
            "rules": [r.id for r in RULES.values() if name in r.thresholds],
        }
        for name, threshold in _DECLARED.items()
    ]


def read_thresholds(path: str | Path | None = None) -> dict:
    """The default thresholds, with any overrides from a YAML mapping of name to number.

    Raises
    ------
    ConfigError
        An unknown name or a value that is not a positive number.
    """
    thresholds = dict(THRESHOLDS)
    if path is None:
        return thresholds
    overrides = read_yaml_config(path, "findings thresholds") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{path}: thresholds must be a mapping of name to number")
    for name, value in overrides.items():
        if name not in THRESHOLDS:
            raise ConfigError(f"{path}: unknown threshold {name!r}; known: {', '.join(sorted(THRESHOLDS))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{path}: threshold {name!r} must be a positive number, not {value!r}")
        thresholds[name] = float(value)
    return thresholds


def make_finding(
    code: str,
    rule_id: str,
    judgement: str,
    statement: str,
    row=None,
    comparator=None,
    recommendation: str | None = None,
    metric: str | None = None,
    **figures,
) -> dict:
    """One finding in the vocabulary of the extract specification.

    ``row`` (a table row) gives its figures: ``value``, ``lower``, ``upper``,
    ``numerator``, ``denominator``, where present; ``figures`` override them.
    ``metric`` overrides the rule's metric where the finding names its own.

    Raises
    ------
    ValueError
        A cause of concern without a recommendation.
    """
    declared = RULES[rule_id]
    finding = {
        "force_code": code,
        "force": get_force(code).name,
        "area": declared.area,
        "judgement": judgement,
        "rule": declared.id,
        "metric": metric or declared.metric,
        "test": declared.test,
        "statement": statement,
        "value": None,
        "lower": None,
        "upper": None,
        "numerator": None,
        "denominator": None,
        "comparator": comparator,
    }
    if row is not None:
        for key in ("value", "lower", "upper", "numerator", "denominator"):
            if key in row and pd.notna(row[key]):
                finding[key] = float(row[key]) if key in ("value", "lower", "upper") else int(row[key])
    finding.update(figures)
    if judgement == "cause_of_concern" and not recommendation:
        raise ValueError(f"rule {rule_id}: a cause of concern needs a recommendation")
    if recommendation:
        finding["recommendation"] = recommendation
    return finding


# Table -> (its name for the rules, the columns it is looked up by).
_LOOKUPS = {
    "consistency_forces": ("effects", ["measure", "force_code"]),
    "practice": ("practice", ["force_code", "measure"]),
    "officer_spread": ("officer_spread", ["force_code"]),
    "time_to_return": ("time_to_return", ["force_code"]),
    "repeats": ("repeats", ["force_code"]),
    "funnel_volume": ("funnel_volume", ["force_code"]),
}


def _index_tables(tables: dict[str, pd.DataFrame]) -> dict:
    """The tables the rules read, indexed once for lookups by force (those that are given)."""
    card = tables["quality"]
    indexed = {
        "support": tables["support"],
        "quality": {code: rows.set_index(["dimension", "measure"]) for code, rows in card.groupby("force_code")},
    }
    for table, (name, keys) in _LOOKUPS.items():
        if table in tables:
            indexed[name] = tables[table].set_index(keys[0] if len(keys) == 1 else keys)
    summary = tables.get("summary")
    if summary is not None:
        counted = summary.query("area == 'force' and metric == 'episodes' and value > 0")
        indexed["with_episodes"] = frozenset(counted["force_code"])
    return indexed


def find_issues(
    tables: dict[str, pd.DataFrame], thresholds: dict | None = None, areas: tuple[str, ...] | None = None
) -> list[dict]:
    """Every finding for every force that sent rows, from the prepared tables.

    A force none of whose rows could be cleaned is judged on its data
    (area ``understanding``) only: there is nothing else to measure.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The prepared tables (:data:`toolkit.stats.tables.TABLE_NAMES`).
    thresholds : dict, optional
        Default :data:`THRESHOLDS`.
    areas : tuple of str, optional
        Only the rules of these areas (then only the tables they read are needed:
        ``quality`` and ``support`` for ``understanding``).

    Returns
    -------
    list of dict
        Findings ordered by force, then judgement (causes of concern first), then rule.
    """
    t = thresholds or THRESHOLDS
    indexed = _index_tables(tables)
    findings = []
    for code in sorted(set(indexed["quality"]) - {NATIONAL, ""}):
        name = get_force(code).name
        for registered in RULES.values():
            if areas is not None and registered.area not in areas:
                continue
            if registered.area != "understanding" and code not in indexed["with_episodes"]:
                continue  # a force whose every row was set aside has only its data to be judged on
            findings.extend(registered.judge(indexed, {k: t[k] for k in registered.thresholds}, code, name))
    order = {j: i for i, j in enumerate(JUDGEMENT_ORDER)}
    return sorted(findings, key=lambda f: (f["force_code"], order[f["judgement"]], f["rule"]))
