"""Lead scoring at intake: a registry of scorers, summed. Routing rules may use the score."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Scorer = Callable[[Mapping[str, str]], int]
_scorers: dict[str, Scorer] = {}

SENIOR_TITLE = re.compile(
    r"\b(head|director|vp|vice president|chief|c[eto]o|founder|owner)\b", re.I
)


def scorer_register(name: str, scorer: Scorer) -> None:
    _scorers[name] = scorer


def score(fields: Mapping[str, str]) -> int:
    return sum(scorer(fields) for scorer in _scorers.values())


def rule_based(fields: Mapping[str, str]) -> int:
    """The default: a business domain, a reachable phone and a senior title each add points."""
    points = 0
    if fields.get("company_domain"):
        points += 20
    if fields.get("phone_e164") and not fields.get("phone_flag"):
        points += 10
    if SENIOR_TITLE.search(fields.get("title", "")):
        points += 30
    if fields.get("company"):
        points += 5
    return points


scorer_register("rule_based", rule_based)
