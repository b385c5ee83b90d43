"""Findings: the rulebook that turns prepared statistics into an inspection's judgements.

What belongs here is every findings rule and its thresholds, and nothing
else. Every rule is registered in the rulebook
(:mod:`~toolkit.findings.rulebook`) by the module of its area:
:mod:`~toolkit.findings.understanding` (the force's data) and
:mod:`~toolkit.findings.response` (categorisation, risk assessment,
investigation, return and prevention, repeats, volume) and
:mod:`~toolkit.findings.protection` (whether what the force knows protects the
child: known risks, exploitation flags, absent children left open, groups
classed absent, grades against harm). Rules read the
prepared tables of :mod:`toolkit.stats`; nothing here formats HTML or applies
disclosure control (that is :mod:`toolkit.publish.disclosure`).
"""

from toolkit.findings import protection, response, understanding  # noqa: F401  registers every rule
from toolkit.findings.rulebook import (
    JUDGEMENT_ORDER,
    RULES,
    THRESHOLDS,
    find_issues,
    list_thresholds,
    read_thresholds,
)

__all__ = ["JUDGEMENT_ORDER", "RULES", "THRESHOLDS", "find_issues", "list_thresholds", "read_thresholds"]
