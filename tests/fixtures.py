"""Fixtures shared by all tests: markets, their managers, notes, API clients, sources, a
published market table, a lead, and routing's people and team."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from leadops.core.access import market_context, system_context
from leadops.core.actors import SystemActor
from leadops.leads.sources import source_ensure
from leadops.markets.calendars import calendar_version_create
from leadops.markets.market_table import (
    market_table_draft_create,
    market_table_publish,
    market_table_row_add,
)
from leadops.markets.models import REVOPS_GROUP, Market, MarketNote, Team
from leadops.markets.services import (
    api_client_create,
    manager_group_name,
    market_create,
    market_note_create,
)
from leadops.markets.teams import team_ensure, team_member_set
from tests.factories import UserFactory
from tests.routing.conftest import revops

SYSTEM = SystemActor("tests")


@pytest.fixture
def market_a(db: None) -> Market:
    return market_create(actor=SYSTEM, code="AAA", name="Market A", timezone="Europe/Berlin")


@pytest.fixture
def market_b(db: None) -> Market:
    return market_create(actor=SYSTEM, code="BBB", name="Market B", timezone="America/New_York")


@pytest.fixture
def notes(market_a: Market, market_b: Market) -> dict[str, MarketNote]:
    with market_context(market_ids=[market_a.id, market_b.id]):
        return {
            "a": market_note_create(actor=SYSTEM, market=market_a, text="note in A"),
            "b": market_note_create(actor=SYSTEM, market=market_b, text="note in B"),
        }


@pytest.fixture
def manager_a(market_a: Market) -> User:
    user = UserFactory.create(username="manager_a", is_staff=True)
    user.groups.add(Group.objects.get(name=manager_group_name(market_a)))
    return user


@pytest.fixture
def revops_user(db: None) -> User:
    user = UserFactory.create(username="revops", is_staff=True)
    user.groups.add(Group.objects.get(name=REVOPS_GROUP))
    return user


@pytest.fixture
def client_a_key(market_a: Market) -> str:
    with system_context("tests"):
        return api_client_create(actor=SYSTEM, name="partner-a", markets=[market_a]).key


@pytest.fixture
def login_as(client, request):
    """Log the test client in as one of the permission-matrix personas (or stay anonymous)."""

    def login(who: str) -> None:
        users = {
            "staff_no_market": lambda: UserFactory.create(is_staff=True),
            "manager_a": lambda: request.getfixturevalue("manager_a"),
            "revops": lambda: request.getfixturevalue("revops_user"),
            "superuser": lambda: UserFactory.create(is_staff=True, is_superuser=True),
        }
        if who != "anonymous":
            client.force_login(users[who]())

    return login


@pytest.fixture
def web(db):
    return source_ensure(actor=SYSTEM, slug="web", name="Website", kind="web_form")


@pytest.fixture
def partner(db):
    return source_ensure(actor=SYSTEM, slug="partner", name="Partner", default_region="DE")


@pytest.fixture
def table(market_a, market_b, web):
    """DE → market A, FR → market B; nothing else."""
    with system_context("tests"):
        draft = market_table_draft_create(actor=SYSTEM, note="test table")
        market_table_row_add(
            actor=SYSTEM, version=draft, kind="country", key="DE", country="DE", market=market_a
        )
        market_table_row_add(
            actor=SYSTEM, version=draft, kind="country", key="FR", country="FR", market=market_b
        )
        return market_table_publish(actor=SYSTEM, version=draft)


@pytest.fixture
def key_a(market_a):
    with system_context("tests"):
        return api_client_create(actor=SYSTEM, name="client-a", markets=[market_a]).key


@pytest.fixture
def key_all(db):
    with system_context("tests"):
        return api_client_create(actor=SYSTEM, name="client-all", all_markets=True).key


@pytest.fixture
def lead(table, key_a):
    """One lead in market A, as POST /api/v1/leads answered it."""
    from tests.leads.test_api_ingest import ADA, post

    return post(key_a, ADA).json()


# Routing: two RevOps people (an author and an approver) and team Inbound in market A.


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
