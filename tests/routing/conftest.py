"""Routing test helpers: rules written briefly, and rules put in force the way people do (a
draft by one RevOps user, approved and published by another). The fixtures (`author`,
`approver`, team `inbound`) live in tests/fixtures.py, for the browser tests too."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.markets.models import REVOPS_GROUP, Market
from routing.models import RuleVersion
from routing.versions import (
    rule_set_ensure,
    version_approve,
    version_draft_create,
    version_publish,
    version_submit,
)
from tests.factories import UserFactory

SYSTEM = SystemActor("tests")


def revops(username: str) -> User:
    user = UserFactory.create(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=REVOPS_GROUP))
    return User.objects.get(pk=user.pk)  # permissions are cached per instance


def rule(rule_id: str, when: dict[str, Any] | None = None, **then: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"id": rule_id, "then": then}
    if when is not None:
        found["when"] = when
    return found


def publish(
    market: Market | None,
    rules: list[dict[str, Any]],
    *,
    author: User,
    approver: User,
    fixtures: list[dict[str, Any]] | None = None,
) -> RuleVersion:
    """Draft, submit, approve and publish `rules` for `market` (None: the global fallback)."""
    content: dict[str, Any] = {"rules": rules}
    if fixtures is not None:
        content["fixtures"] = fixtures
    with system_context("tests"):
        rule_set = rule_set_ensure(actor=author, market=market)
        draft = version_draft_create(
            actor=author, rule_set=rule_set, content=content, change_note="test rules"
        )
        version_submit(actor=author, version=draft)
        version_approve(actor=approver, version=draft)
        return version_publish(actor=approver, version=draft)
