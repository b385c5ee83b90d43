"""Since the last inspection: each finding marked new or enduring against a previous run's, and what became
of the previous causes of concern and areas for improvement.

An inspectorate revisits a force and asks, of every earlier cause of concern, what the data now show. A
previous run's ``findings.json`` (``toolkit run --previous FILE``) is read as untrusted input: every entry
must name a force, a rule and a judgement of the vocabulary; anything else is refused with one message
naming the file and the entry.

A finding is matched with the previous run's by force and rule: ``enduring`` when the previous run made
the same rule's finding of the same force at a serious judgement (a cause of concern or an area for
improvement) and this run makes one too, ``new`` otherwise. A previous serious finding this run no longer
makes is ``resolved`` (or ``not judged now``, when the measure could not be judged this time), and is
listed with the current finding of its rule, if any.

Examples
--------
>>> now = [{"force_code": "E23000014", "rule": "supervisory_review", "judgement": "cause_of_concern"}]
>>> before = [{"force_code": "E23000014", "rule": "supervisory_review", "judgement": "area_for_improvement"},
...           {"force_code": "E23000014", "rule": "return_interviews_72h", "judgement": "cause_of_concern"}]
>>> marked, earlier = compare_with_previous(now, before)
>>> marked[0]["since_previous"], [(e["rule"], e["status"]) for e in earlier]
('enduring', [('supervisory_review', 'enduring'), ('return_interviews_72h', 'resolved')])
"""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.findings.rulebook import JUDGEMENT_ORDER, RULES
from toolkit.forces import get_force

__all__ = ["SERIOUS", "read_previous_findings", "compare_with_previous"]

SERIOUS = ("cause_of_concern", "area_for_improvement")
_MAX_BYTES = 50_000_000  # a findings file of 43 forces is well under a megabyte
_MAX_STATEMENT = 2_000  # characters of a previous statement kept: the longest a rule writes is under 700


def read_previous_findings(path: str | Path) -> list[dict]:
    """A previous run's published ``findings.json``, checked entry by entry.

    Raises
    ------
    ToolkitError
        The file is missing, too large, not JSON, not a list of findings, or an entry names an unknown
        force, rule or judgement; the message names the file (and the entry).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "findings.json"
    >>> _ = path.write_text('[{"force_code": "E23000014", "rule": "no_such_rule", "judgement": "observation"}]')
    >>> try:
    ...     read_previous_findings(path)
    ... except ToolkitError as error:
    ...     print(str(error).replace(str(path), "FILE"))
    previous findings FILE: entry 1 names no rule of this toolkit ('no_such_rule')
    """
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise ToolkitError(f"previous findings {path}: larger than {_MAX_BYTES:,} bytes, so not a findings file")
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ToolkitError(f"previous findings {path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ToolkitError(f"previous findings {path}: not a JSON findings file ({error})") from None
    except OSError as error:
        raise ToolkitError(f"previous findings {path}: cannot be read ({error.strerror})") from None
    if not isinstance(entries, list):
        raise ToolkitError(f"previous findings {path}: a findings file is a list of findings")
    checked = []
    for i, entry in enumerate(entries, start=1):
        where = f"previous findings {path}: entry {i}"
        if not isinstance(entry, dict):
            raise ToolkitError(f"{where} is not a finding")
        if entry.get("rule") not in RULES:
            raise ToolkitError(f"{where} names no rule of this toolkit ({str(entry.get('rule'))[:60]!r})")
        if entry.get("judgement") not in JUDGEMENT_ORDER:
            raise ToolkitError(f"{where} has no judgement of the vocabulary ({str(entry.get('judgement'))[:60]!r})")
        try:
            code = get_force(str(entry.get("force_code"))).code
        except ToolkitError:
            raise ToolkitError(f"{where} names no force ({str(entry.get('force_code'))[:60]!r})") from None
        statement = entry.get("statement")
        checked.append(
            {
                "force_code": code,
                "rule": entry["rule"],
                "judgement": entry["judgement"],
                "statement": statement[:_MAX_STATEMENT] if isinstance(statement, str) else "",
            }
        )
    return checked


def compare_with_previous(findings: list[dict], previous: list[dict]) -> tuple[list[dict], list[dict]]:
    """Mark each finding new or enduring, and say what became of each previous serious finding.

    Parameters
    ----------
    findings : list of dict
        This run's findings.
    previous : list of dict
        :func:`read_previous_findings`.

    Returns
    -------
    marked : list of dict
        Copies of ``findings``, each serious one with ``since_previous``: ``new`` or ``enduring``.
    earlier : list of dict
        One entry per previous cause of concern or area for improvement: ``force_code``, ``rule``,
        ``previous_judgement``, ``previous_statement``, ``status`` (``enduring``, ``resolved`` or
        ``not_judged_now``) and ``now`` (this run's judgement of the rule for the force, or None; its
        statement is the finding's own, published with this run's findings).
    """
    before = {(f["force_code"], f["rule"]): f for f in previous if f["judgement"] in SERIOUS}
    current = {}
    for f in findings:
        current.setdefault((f["force_code"], f["rule"]), f)
        if f["judgement"] in SERIOUS:
            current[(f["force_code"], f["rule"])] = f
    marked = []
    for f in findings:
        f = dict(f)
        if f["judgement"] in SERIOUS:
            f["since_previous"] = "enduring" if (f["force_code"], f["rule"]) in before else "new"
        marked.append(f)
    earlier = []
    for key, old in before.items():
        now = current.get(key)
        if now is not None and now["judgement"] in SERIOUS:
            status = "enduring"
        elif now is not None and now.get("judged") is False:
            status = "not_judged_now"
        else:
            status = "resolved"
        earlier.append(
            {
                "force_code": key[0],
                "rule": key[1],
                "previous_judgement": old["judgement"],
                "previous_statement": old.get("statement", ""),
                "status": status,
                "now": None if now is None else now["judgement"],
            }
        )
    return marked, earlier
