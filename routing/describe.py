"""Rules in words, and what changed between two versions — for people, not machines.

`rule_sentence` turns a rule into one line a RevOps person reads at a glance ("If country is DE
and score ≥ 50 → team Inbound DACH, round robin; if nobody is available, wait until the team
opens"). `versions_diff` says which rules were added, removed, changed (and how, in the same
words) or moved. Pure functions over the content format of routing/rules.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OPERATOR_WORDS = {
    "eq": "is",
    "in": "is one of",
    "contains": "contains",
    "startswith": "starts with",
    "regex": "matches",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "domain_in": "is at",
}
PICK_WORDS = {
    "round_robin": "round robin",
    "weighted": "weighted round robin",
    "least_loaded": "least loaded",
}
MAX_LISTED = 6


def _value(value: Any) -> str:
    if isinstance(value, list):
        shown = ", ".join(_value(v) for v in value[:MAX_LISTED])
        more = f" and {len(value) - MAX_LISTED} more" if len(value) > MAX_LISTED else ""
        return f"[{shown}{more}]"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    return str(value)


def _field(name: str) -> str:
    return name.replace("attributes.", "attribute ").replace("_", " ")


def condition_words(node: Mapping[str, Any] | None, *, top: bool = True) -> str:
    """A condition tree in words; groups below the top are bracketed."""
    if not node:
        return "always"
    if "all" in node or "any" in node:
        joiner = " and " if "all" in node else " or "
        parts = [condition_words(child, top=False) for child in node.get("all", node.get("any"))]
        words = joiner.join(parts)
        return words if top or len(parts) == 1 else f"({words})"
    if "not" in node:
        return f"not {condition_words(node['not'], top=False)}"
    op = node.get("op", "")
    if op == "within_business_hours":
        return "within business hours" if node.get("value") else "outside business hours"
    name = _field(str(node.get("field", "")))
    if op == "exists":
        return f"{name} is given" if node.get("value") else f"{name} is missing"
    return f"{name} {OPERATOR_WORDS.get(op, op)} {_value(node.get('value'))}"


def action_words(then: Mapping[str, Any]) -> str:
    parts = []
    if "owner" in then:
        parts.append(f"owner {then['owner']}" + (f" (of {then['team']})" if "team" in then else ""))
    elif "team" in then:
        parts.append(f"team {then['team']}, {PICK_WORDS.get(then.get('pick', 'round_robin'))}")
        if then.get("when_closed") == "wait":
            parts.append("if nobody is available, wait until the team opens")
        else:
            parts.append("if nobody is available, try the next rule")
    if "status" in then:
        parts.append(f"status {then['status']}")
    if then.get("tags"):
        parts.append("tag " + ", ".join(then["tags"]))
    if then.get("notify"):
        parts.append("notify " + ", ".join(then["notify"]))
    if "exception" in then:
        parts.append(f"file for a person: “{then['exception']}”")
    return "; ".join(parts) or "nothing"


def rule_sentence(rule: Mapping[str, Any]) -> str:
    """One rule as a sentence: its condition, then what it does."""
    when = rule.get("when")
    condition = "Always" if not when else f"If {condition_words(when)}"
    return f"{condition} → {action_words(rule.get('then', {}))}"


@dataclass
class VersionDiff:
    added: list[dict[str, Any]] = field(default_factory=list)  # {"id", "position", "sentence"}
    removed: list[dict[str, Any]] = field(default_factory=list)
    # {"id", "before", "after", "what": ["condition", "actions", "name"]}
    changed: list[dict[str, Any]] = field(default_factory=list)
    moved: list[dict[str, Any]] = field(default_factory=list)  # {"id", "from", "to"}
    fixtures: tuple[int, int] = (0, 0)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.moved)


def versions_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> VersionDiff:
    """What `after` changes against `before`, rule by rule (rules are matched by id). A rule
    counts as moved when its order among the rules both versions share changed."""
    old: Sequence[Mapping[str, Any]] = (before or {}).get("rules", [])
    new: Sequence[Mapping[str, Any]] = (after or {}).get("rules", [])
    old_by_id = {r["id"]: (i, r) for i, r in enumerate(old)}
    new_by_id = {r["id"]: (i, r) for i, r in enumerate(new)}
    diff = VersionDiff(
        fixtures=(len((before or {}).get("fixtures", [])), len((after or {}).get("fixtures", [])))
    )
    for i, rule in enumerate(new):
        if rule["id"] not in old_by_id:
            diff.added.append(
                {"id": rule["id"], "position": i + 1, "sentence": rule_sentence(rule)}
            )
    for i, rule in enumerate(old):
        if rule["id"] not in new_by_id:
            diff.removed.append(
                {"id": rule["id"], "position": i + 1, "sentence": rule_sentence(rule)}
            )
    shared_old = [r["id"] for r in old if r["id"] in new_by_id]
    shared_new = [r["id"] for r in new if r["id"] in old_by_id]
    stayed = _kept_in_order(shared_old, shared_new)
    for rule_id in shared_new:
        _, was = old_by_id[rule_id]
        _, now = new_by_id[rule_id]
        what = [
            label
            for label, key in (("condition", "when"), ("actions", "then"), ("name", "name"))
            if was.get(key) != now.get(key)
        ]
        if what:
            diff.changed.append(
                {
                    "id": rule_id,
                    "before": rule_sentence(was),
                    "after": rule_sentence(now),
                    "what": what,
                }
            )
        if rule_id not in stayed:
            diff.moved.append(
                {
                    "id": rule_id,
                    "from": old_by_id[rule_id][0] + 1,
                    "to": new_by_id[rule_id][0] + 1,
                }
            )
    return diff


def _kept_in_order(old: list[str], new: list[str]) -> set[str]:
    """The most rules that kept their relative order (a longest increasing subsequence of their
    old positions, in the new order): the others are the ones that moved. Moving one rule to
    the top then reports that rule, not every rule it passed."""
    position = {rule_id: i for i, rule_id in enumerate(old)}
    seq = [position[rule_id] for rule_id in new]
    tails: list[int] = []  # index into seq of the smallest tail of each length
    parent = [-1] * len(seq)
    for i, value in enumerate(seq):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if seq[tails[mid]] < value:
                lo = mid + 1
            else:
                hi = mid
        parent[i] = tails[lo - 1] if lo else -1
        if lo == len(tails):
            tails.append(i)
        else:
            tails[lo] = i
    kept, i = set(), tails[-1] if tails else -1
    while i != -1:
        kept.add(new[i])
        i = parent[i]
    return kept
