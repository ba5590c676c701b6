"""Routing fixtures: a team in market A, people in it, and a way to put rules in force the
way people do (a draft by one RevOps user, approved and published by another)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.markets.calendars import calendar_version_create
from leadops.markets.models import REVOPS_GROUP, Market, Team
from leadops.markets.teams import team_ensure, team_member_set
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


@pytest.fixture
def author(db: None) -> User:
    return revops("rita_author")


@pytest.fixture
def approver(db: None) -> User:
    return revops("arno_approver")


@pytest.fixture
def inbound(market_a: Market) -> Team:
    """Team Inbound in market A with four equal members. Market A is made open around the
    clock, so these tests do not depend on the hour they run at; tests about hours give the
    members their own."""
    with system_context("tests"):
        calendar_version_create(
            actor=SYSTEM,
            market=market_a,
            hours="Mon-Sun 00:00-00:00",
            holidays=[],
            note="open around the clock for routing tests",
        )
        team = team_ensure(actor=SYSTEM, market=market_a, name="Inbound")
        for name in ("ann", "ben", "cat", "dan"):
            team_member_set(actor=SYSTEM, team=team, user=UserFactory.create(username=name))
        return team


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
