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

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from toolkit.config import read_yaml_config
from toolkit.errors import ConfigError
from toolkit.forces import NATIONAL, get_force
from toolkit.stats.funnel import MIN_FORCES_TO_COMPARE, describe_too_few_forces
from toolkit.stats.quality import RECORDED_WHEN_DONE

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
    "Evidence",
    "support_statement",
    "group_share",
    "describe_interval",
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
    support : str or None
        The measure of the support table (:data:`toolkit.stats.quality.METRIC_REQUIREMENTS`) its data
        must support: where a force's records do not, the rule is not run and the force gets one
        "Not judged" observation in the rule's area instead (:func:`find_issues`).
    compares : bool
        Whether it judges a force against other forces (funnels, models, England and Wales): with
        fewer than :data:`~toolkit.stats.funnel.MIN_FORCES_TO_COMPARE` forces in the extract it
        is not run, and each force gets a "Not judged" observation saying why.
    judge : callable
        ``judge(evidence, thresholds, code, name)``: the findings for one force, from the
        :class:`Evidence` of the prepared tables and the thresholds it declared.
    """

    id: str
    area: str
    metric: str
    test: str
    thresholds: dict[str, Threshold]
    judge: Callable
    support: str | None = None
    compares: bool = False


RULES: dict[str, Rule] = {}
_DECLARED: dict[str, Threshold] = {}
THRESHOLDS: dict[str, float] = {}  # every rule's thresholds at their defaults, kept by rule()


def rule(
    id: str,
    area: str,
    metric: str,
    test: str,
    thresholds: dict[str, Threshold] | None = None,
    support: str | None = None,
    compares: bool = False,
):
    """Register the decorated function as the findings rule ``id``.

    Two rules may share a threshold by declaring the same :class:`Threshold`.
    A rule that declares ``support`` is judged only where the force's records
    support that measure (see :class:`Rule`).

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
        RULES[id] = Rule(id, area, metric, test, dict(thresholds or {}), judge, support, compares)
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


def _positive_number(value) -> float | None:
    """``value`` as a float if it is a finite positive number, else None.

    A YAML file gives ``.nan`` and ``.inf`` as floats and ``yes`` as True (an
    int to Python), and every comparison with NaN is false, so ``value <= 0``
    alone lets them through; each is refused here.

    Examples
    --------
    >>> _positive_number(2), _positive_number(0.5)
    (2.0, 0.5)
    >>> [_positive_number(v) for v in (0, -1, float("nan"), float("inf"), True, "3", 10**400)]
    [None, None, None, None, None, None, None]
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too long for a float
        return None
    return number if math.isfinite(number) and number > 0 else None


def read_thresholds(path: str | Path | None = None) -> dict:
    """The default thresholds, with any overrides from a YAML mapping of name to number.

    Raises
    ------
    ConfigError
        An unknown name, or a value that is not a finite positive number (NaN,
        infinity, a boolean such as YAML's ``yes``, text); the message names the
        file and the threshold.

    Examples
    --------
    >>> import tempfile
    >>> import toolkit.findings
    >>> path = Path(tempfile.mkdtemp()) / "thresholds.yaml"
    >>> _ = path.write_text("review_share_concern: 0.6")
    >>> read_thresholds(path)["review_share_concern"]
    0.6
    >>> _ = path.write_text("review_share_concern: .nan")
    >>> try:
    ...     read_thresholds(path)
    ... except ConfigError as error:
    ...     print(str(error).replace(str(path), "FILE"))
    FILE: threshold 'review_share_concern' must be a finite positive number, not nan
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
        number = _positive_number(value)
        if number is None:
            raise ConfigError(f"{path}: threshold {name!r} must be a finite positive number, not {value!r}")
        thresholds[name] = number
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
        "force": get_force(code).official_name,
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


def describe_interval(row, fmt: str = ".0%", national: bool = True) -> str:
    """A figure's 95% interval, and England and Wales's figure beside it when forces are compared.

    Examples
    --------
    >>> row = {"lower": 0.41, "upper": 0.45, "band": "above_998", "national": 0.08}
    >>> describe_interval(row), describe_interval(row | {"band": "not_compared"})
    ('95% interval 41% to 45%; England and Wales 8%', '95% interval 41% to 45%')
    >>> describe_interval({"lower": 1.2, "upper": 2.5}, ".2f", national=False)
    '95% interval 1.20 to 2.50'
    """
    text = f"95% interval {row['lower']:{fmt}} to {row['upper']:{fmt}}"
    if national and row.get("band") != "not_compared":
        text += f"; England and Wales {row['national']:{fmt}}"
    return text


def group_share(row) -> dict:
    """The comparator group's pooled share from a row of shares, as a finding's ``comparator_group`` figure.

    Examples
    --------
    >>> group_share({"comparator_baseline": 0.812, "band": "within"}), group_share({"band": "not_compared"})
    ({'comparator_group': 0.812}, {})
    """
    value = row.get("comparator_baseline") if hasattr(row, "get") else None
    if value is None or pd.isna(value) or row.get("band") == "not_compared":
        return {}
    return {"comparator_group": float(value)}


class Evidence:
    """The prepared tables as rules read them: any table by name, and any row by force (and measure).

    Every prepared table is here under its own name (:data:`toolkit.stats.tables.TABLE_NAMES`), so a
    new rule reads a new table without registering anything. A table is indexed the first time a
    rule looks a row up in it, once per run.

    Examples
    --------
    >>> practice = pd.DataFrame({"force_code": ["E23000014"], "measure": ["review_in_time"], "value": [0.8]})
    >>> evidence = Evidence({"practice": practice})
    >>> float(evidence.row("practice", "E23000014", "review_in_time")["value"])
    0.8
    >>> evidence.row("practice", "E23000001", "review_in_time") is None
    True
    """

    def __init__(self, tables: dict[str, pd.DataFrame]):
        self._tables = tables
        self._indexed: dict[str, pd.DataFrame] = {}
        self._by_force: dict[str, dict[str, pd.DataFrame]] = {}
        self._scorecards: dict[str, pd.DataFrame] | None = None
        self._with_episodes: frozenset[str] | None = None

    def __contains__(self, name: str) -> bool:
        return name in self._tables

    def table(self, name: str) -> pd.DataFrame:
        """A prepared table as it is."""
        return self._tables[name]

    def row(self, name: str, code: str, measure: str | None = None) -> pd.Series | None:
        """The row of table ``name`` for force ``code`` (and ``measure``, in a table of measures), or None."""
        if name not in self._indexed:
            table = self._tables[name]
            keys = ["force_code", "measure"] if "measure" in table.columns else ["force_code"]
            self._indexed[name] = table.set_index(keys if len(keys) > 1 else keys[0]).sort_index()
        indexed = self._indexed[name]
        key = code if measure is None else (code, measure)
        return indexed.loc[key] if key in indexed.index else None

    def force_rows(self, name: str, code: str) -> pd.DataFrame:
        """Every row of table ``name`` for force ``code`` (none: an empty table), split by force once per run.

        A rule run for each force that masked a whole national table each time read it 43 times over.

        Examples
        --------
        >>> evidence = Evidence({"support": pd.DataFrame({"force_code": ["a", "b", "a"], "value": [1, 2, 3]})})
        >>> evidence.force_rows("support", "a")["value"].tolist(), len(evidence.force_rows("support", "c"))
        ([1, 3], 0)
        """
        return self._split(name).get(code, self._tables[name].iloc[:0])

    def _split(self, name: str) -> dict[str, pd.DataFrame]:
        """Table ``name``'s rows by force, split the first time a rule asks."""
        if name not in self._by_force:
            self._by_force[name] = dict(tuple(self._tables[name].groupby("force_code", sort=False, observed=True)))
        return self._by_force[name]

    def scorecard(self, code: str) -> pd.DataFrame | None:
        """The force's data-quality scorecard (``quality``) indexed by dimension and measure, or None."""
        if self._scorecards is None:
            self._scorecards = {
                c: rows.set_index(["dimension", "measure"]) for c, rows in self._split("quality").items()
            }
        return self._scorecards.get(code)

    def forces(self) -> list[str]:
        """Every force that sent rows (it has a scorecard)."""
        return sorted(set(self._tables["quality"]["force_code"]) - {NATIONAL, ""})

    def has_episodes(self, code: str) -> bool:
        """Whether any of the force's rows was cleaned into an episode."""
        if self._with_episodes is None:
            summary = self._tables["summary"]
            counted = summary[(summary["area"] == "force") & (summary["metric"] == "episodes") & (summary["value"] > 0)]
            self._with_episodes = frozenset(counted["force_code"])
        return code in self._with_episodes


def find_issues(
    tables: dict[str, pd.DataFrame],
    thresholds: dict | None = None,
    areas: tuple[str, ...] | None = None,
    rules: tuple[str, ...] | None = None,
) -> list[dict]:
    """Every finding for every force that sent rows, from the prepared tables.

    A force none of whose rows could be cleaned is judged on its data
    (area ``understanding``) only: there is nothing else to measure.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        The prepared tables (:data:`toolkit.stats.tables.TABLE_NAMES`).
    thresholds : dict, optional
        Overrides of :data:`THRESHOLDS` (as :func:`read_thresholds` gives them).
    areas : tuple of str, optional
        Only the rules of these areas (then only the tables they read are needed:
        ``quality`` and ``support`` for ``understanding``).
    rules : tuple of str, optional
        Only these rules (by id), with the tables they read, ``quality`` and ``summary``.

    Returns
    -------
    list of dict
        Findings ordered by force, then judgement (causes of concern first), then rule.
    """
    t = THRESHOLDS | (thresholds or {})
    evidence = Evidence(tables)
    findings = []
    covered = evidence.forces()
    for code in covered:
        name = get_force(code).official_name  # as the index and every title name it
        for registered in RULES.values():
            if (areas is not None and registered.area not in areas) or (
                rules is not None and registered.id not in rules
            ):
                continue
            if registered.area != "understanding" and not evidence.has_episodes(code):
                continue  # a force whose every row was set aside has only its data to be judged on
            if registered.compares and len(covered) < MIN_FORCES_TO_COMPARE:
                reason = describe_too_few_forces(len(covered))
                statement = f"Not judged ({registered.metric}): {reason[0].lower()}{reason[1:]}"
                findings.append(make_finding(code, registered.id, "observation", statement, judged=False))
                continue
            if registered.support is not None:
                support = evidence.force_rows("support", code)
                statement = support_statement(support, code, registered.support, name)
                if statement:  # the data cannot support the measure: it is not judged, and says why
                    row = support[support["metric"] == registered.support].iloc[0]
                    metric = f"share of {row['denominator_label']} recording what the measure needs"
                    findings.append(
                        make_finding(code, registered.id, "observation", statement, row, metric=metric, judged=False)
                    )
                    continue
            findings.extend(registered.judge(evidence, {k: t[k] for k in registered.thresholds}, code, name))
    order = {j: i for i, j in enumerate(JUDGEMENT_ORDER)}
    return sorted(findings, key=lambda f: (f["force_code"], order[f["judgement"]], f["rule"]))


def support_statement(support: pd.DataFrame, force_code: str, metric: str, who: str = "this force") -> str | None:
    """Why a measure is not judged for a force ("Not judged: ..."), or None when its data suffice.

    The share is of the episodes the measure is taken over (``denominator_label``),
    the denominator the data-quality scorecard gives the same field. A share
    withheld by disclosure control is not printed.

    Examples
    --------
    >>> support = pd.DataFrame({"force_code": ["E23000001"] * 2, "metric": ["return_interviews", "supervision"],
    ...     "value": [0.4, 0.0], "numerator": [40, 0], "denominator": [100, 100], "sufficient": [False, False],
    ...     "sufficient_share": [0.7, 0.7], "description": ["return interviews", "supervisory review"],
    ...     "needs": ["the return interview's outcome", "the time of the supervisor's review"],
    ...     "denominator_label": ["returned episodes", "episodes categorised missing"]})
    >>> print(support_statement(support, "E23000001", "return_interviews"))  # doctest: +NORMALIZE_WHITESPACE
    Not judged: only 40% of this force's returned episodes record the return interview's outcome (the
    measure of return interviews needs at least 70%).
    >>> print(support_statement(support, "E23000001", "supervision"))  # doctest: +NORMALIZE_WHITESPACE
    Not judged: none of this force's episodes categorised missing record the time of the supervisor's
    review, so one not done cannot be told from one not recorded.
    """
    row = support[(support["force_code"] == force_code) & (support["metric"] == metric)]
    if row.empty or bool(row["sufficient"].iloc[0]):
        return None
    row = row.iloc[0]
    what, needs, label = row["description"], row["needs"], row["denominator_label"]
    if row["denominator"] == 0:
        return f"Not judged: {who} has no {label}, which the measure of {what} is taken over."
    if metric in RECORDED_WHEN_DONE:  # supported by any record: here there is none
        return (
            f"Not judged: none of {who}'s {label} record {needs}, so one not done cannot be told from one not recorded."
        )
    needed = f"(the measure of {what} needs at least {row['sufficient_share']:.0%})"
    if pd.isna(row["value"]):  # withheld: the share would give a small count away
        return f"Not judged: too few of {who}'s {label} record {needs} {needed}."
    return f"Not judged: only {row['value']:.0%} of {who}'s {label} record {needs} {needed}."
