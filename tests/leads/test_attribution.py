"""Attribution against a known data set: exact numbers per reader, API and page alike."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group

from leadops.leads.ingest import leads_ingest
from leadops.leads.prepare import IngestItem
from leadops.markets.services import manager_group_name
from tests.factories import UserFactory
from tests.fixtures import SYSTEM
from tests.leads.test_api_ingest import api
from tests.leads.test_dedupe_review import DE, FR, ingest

pytestmark = pytest.mark.django_db


def at(day, hour):
    return datetime(2026, 11, day, hour, tzinfo=UTC).isoformat()


@pytest.fixture
def touches(table, web, partner):
    # ada: first web/q1, then partner/q2 (a merge); bob: web/q1; cy in B: web/q3
    ingest(web, {"email": "ada@a.io", "utm_campaign": "q1", "occurred_at": at(2, 9), **DE})
    ingest(partner, {"email": "ada@a.io", "utm_campaign": "q2", "occurred_at": at(3, 9), **DE})
    ingest(web, {"email": "bob@a.io", "utm_campaign": "q1", "occurred_at": at(4, 9), **DE})
    ingest(web, {"email": "cy@b.io", "utm_campaign": "q3", "occurred_at": at(5, 9), **FR})
    # a test lead never counts
    fields = {"email": "robot@a.io", "utm_campaign": "q1", **DE}
    leads_ingest(
        items=[IngestItem(source=web, payload=fields, fields=fields, synthetic=True)], actor=SYSTEM
    )


def rows(body):
    return [
        (r["market"], r["source"], r["campaign"], r["first_touch"], r["last_touch"], r["linear"],
         r["touches"])
        for r in body["rows"]
    ]  # fmt: skip


def test_the_api_gives_exact_numbers_in_the_callers_markets(touches, key_a, key_all):
    mine = api(key_a).get("/api/v1/reports/attribution").json()
    everyone = api(key_all).get("/api/v1/reports/attribution").json()

    assert rows(mine) == [
        ("AAA", "partner", "q2", 0, 1, "0.50", 1),
        ("AAA", "web", "q1", 2, 1, "1.50", 2),
    ]
    assert mine["totals"] == {"first_touch": 2, "last_touch": 2, "linear": "2.00", "touches": 3}
    assert rows(everyone)[-1] == ("BBB", "web", "q3", 1, 1, "1.00", 1)
    assert everyone["totals"]["first_touch"] == 3


def test_a_period_and_a_market_narrow_it_and_bad_dates_are_refused(touches, key_all):
    client = api(key_all)

    none = client.get("/api/v1/reports/attribution", {"since": "2020-01-01", "until": "2020-01-31"})
    only_b = client.get("/api/v1/reports/attribution", {"market": "BBB"})
    reversed_ = client.get(
        "/api/v1/reports/attribution", {"since": "2026-12-02", "until": "2026-12-01"}
    )
    garbage = client.get("/api/v1/reports/attribution", {"since": "yesterday"})

    assert none.json()["rows"] == []
    assert [r[0] for r in rows(only_b.json())] == ["BBB"]
    assert (reversed_.status_code, list(reversed_.json()["errors"])) == (400, ["until"])
    assert garbage.status_code == 400


def test_the_page_shows_the_same_numbers_to_a_manager_of_one_market(client, touches, market_a):
    manager = UserFactory.create(is_staff=True)
    manager.groups.add(Group.objects.get(name=manager_group_name(market_a)))
    client.force_login(manager)

    page = client.get("/admin/leads/lead/attribution/")

    assert [(r.market, r.source, r.first_touch) for r in page.context["rows"]] == [
        ("AAA", "partner", 0),
        ("AAA", "web", 2),
    ]
    assert b"attribution-chart" in page.content
    assert b"q3" not in page.content
