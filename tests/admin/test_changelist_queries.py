"""Every changelist costs the same number of queries whatever the number of rows it shows."""

from datetime import timedelta
from itertools import count

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.services import audit_record
from leadops.core.access import system_context
from leadops.core.labels import markets_info_forget
from leadops.core.services import JobScope, job_create
from leadops.intake import intake_refuse
from leadops.kinds import note_flag
from leadops.leads.ingest import leads_ingest
from leadops.leads.mapping import source_mapping_set
from leadops.leads.prepare import IngestItem
from leadops.leads.sources import source_ensure
from leadops.markets import calendars, teams
from leadops.markets.market_table import market_table_draft_create
from leadops.markets.services import api_client_create, market_create, market_note_create
from leadops.queue.services import queue_ownership_set
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db

serial = count()


def _market():
    n = next(serial)
    return market_create(actor=SYSTEM, code=f"Q{n}", name=f"Market {n}", timezone="Europe/Berlin")


def _lead(web):
    n = next(serial)
    fields = {"email": f"p{n}@example.com", "country": "DE"}
    leads_ingest(items=[IngestItem(source=web, payload=fields, fields=fields)], actor=SYSTEM)


def _team_with_member(market):
    team = teams.team_ensure(actor=SYSTEM, market=market, name=f"Team {next(serial)}")
    member = teams.team_member_set(actor=SYSTEM, team=team, user=UserFactory.create(), weight=1)
    start = timezone.now() + timedelta(days=3)
    teams.out_of_office_add(
        actor=SYSTEM, member=member, starts_at=start, ends_at=start + timedelta(days=1)
    )


def make(what, market, web):
    """One more row of what `what`'s changelist shows (and of its related rows)."""
    with system_context("tests"):
        if what in ("market", "queueownership"):
            other = _market()
            if what == "queueownership":
                queue_ownership_set(
                    actor=SYSTEM,
                    kind="note_flagged",
                    market=other,
                    owner_group=Group.objects.get(name=f"Managers {other.code}"),
                    recovery_minutes=30,
                )
        elif what in ("marketnote", "exceptionitem"):
            note = market_note_create(actor=SYSTEM, market=market, text=f"n{next(serial)}")
            note_flag(actor=SYSTEM, note=note, reason="check")
        elif what == "apiclient":
            api_client_create(actor=SYSTEM, name=f"client-{next(serial)}", markets=[market])
        elif what == "calendarversion":
            calendars.calendar_version_create(
                actor=SYSTEM, market=_market(), hours="Mon-Fri 09:00-17:00", holidays=[], note="v"
            )
        elif what == "markettableversion":
            market_table_draft_create(actor=SYSTEM, note="draft")
        elif what in ("team", "outofoffice"):
            _team_with_member(market)
        elif what == "lead":
            _lead(web)
        elif what == "submission":
            _lead(web)
            intake_refuse(actor=SYSTEM, channel="api", source_slug="web", errors={"email": ["x"]})
        elif what == "source":
            source_ensure(actor=SYSTEM, slug=f"s{next(serial)}", name="Source")
        elif what == "sourcemapping":
            source_mapping_set(
                actor=SYSTEM,
                source=source_ensure(actor=SYSTEM, slug=f"m{next(serial)}", name="Mapped"),
                rules={"email": {"path": "e"}},
                note="first",
            )
        elif what == "auditevent":
            with transaction.atomic():
                audit_record(actor=SYSTEM, action="test.event", market_id=market.id)
        elif what == "job":
            job_create(actor=SYSTEM, kind="export", scope=JobScope(frozenset({market.id})))


PAGES = {
    "market": "/admin/markets/market/",
    "marketnote": "/admin/markets/marketnote/",
    "apiclient": "/admin/markets/apiclient/",
    "calendarversion": "/admin/markets/calendarversion/",
    "markettableversion": "/admin/markets/markettableversion/",
    "team": "/admin/markets/team/",
    "outofoffice": "/admin/markets/outofoffice/",
    "exceptionitem": "/admin/queue/exceptionitem/",
    "queueownership": "/admin/queue/queueownership/",
    "lead": "/admin/leads/lead/",
    "submission": "/admin/leads/submission/",
    "source": "/admin/leads/source/",
    "sourcemapping": "/admin/leads/sourcemapping/",
    "auditevent": "/admin/audit/auditevent/",
    "job": "/admin/core/job/",
}


def queries_for(client, url):
    markets_info_forget()  # the label cache must not make the second request cheaper
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("what", sorted(PAGES))
def test_a_changelist_costs_the_same_queries_for_three_rows_and_for_nine(
    client, table, web, market_a, what
):
    # given a superuser (sees every row) and three rows
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    for _ in range(3):
        make(what, market_a, web)
    few = queries_for(client, PAGES[what])

    # when there are three times as many
    for _ in range(6):
        make(what, market_a, web)
    many = queries_for(client, PAGES[what])

    # then the page costs the same
    assert many == few, f"{PAGES[what]}: {few} queries for 3 rows, {many} for 9"
