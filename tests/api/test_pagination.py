"""One way to page every list, and query parameters checked by name."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from leadops.api.pagination import OVERLAP
from leadops.core.access import system_context
from leadops.kinds import note_flag
from leadops.leads.models import Lead
from leadops.markets.services import api_client_create, market_note_create
from tests.fixtures import SYSTEM
from tests.leads.test_api_ingest import ADA

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/leads", "/api/v1/exceptions", "/api/v1/markets", "/api/v1/market-notes"]


@pytest.fixture
def api(table, market_a, market_b):
    with system_context("tests"):
        key = api_client_create(actor=SYSTEM, name="all", all_markets=True).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def rows(api, market_a, market_b):
    """Five of everything each list shows (markets: the fixtures' and more)."""
    for n in range(5):
        api.post("/api/v1/leads", {**ADA, "email": f"p{n}@example.com"}, format="json")
        with system_context("tests"):
            note = market_note_create(actor=SYSTEM, market=market_a, text=f"note {n}")
            note_flag(actor=SYSTEM, note=note, reason="check")
    from leadops.markets.services import market_create

    for code in ("CCC", "DDD", "EEE"):
        market_create(actor=SYSTEM, code=code, name=code, timezone="UTC")


def walk(api, url, page_size):
    """Follow `next` to the end; return the ids in order and the last page."""
    ids, params = [], {"page_size": page_size}
    while True:
        page = api.get(url, params).json()
        ids += [row["id"] for row in page["results"]]
        if not page["next"]:
            return ids, page
        params = {"page_size": page_size, "cursor": page["next"]}


@pytest.mark.parametrize("url", LISTS)
def test_every_list_pages_the_same_way_and_returns_each_row_once(api, rows, url):
    everything = api.get(url, {"page_size": 500}).json()

    ids, last = walk(api, url, page_size=2)

    assert set(everything) == {"results", "next", "resume"}
    assert ids == [row["id"] for row in everything["results"]]
    assert len(ids) == len(set(ids)) >= 5
    assert last["resume"]  # caught up: the cursor to poll with later


def test_resume_overlaps_so_a_row_committed_late_is_not_missed(api, rows):
    # given a client that has read every lead
    _ids, last = walk(api, "/api/v1/leads", page_size=2)
    with system_context("tests"):
        newest = Lead.objects.order_by("-updated_at").first()
        assert newest is not None
        # when a lead committed late carries a change time older than the newest one seen
        late = Lead.objects.order_by("updated_at").first()
        assert late is not None
        Lead.objects.filter(pk=late.pk).update(
            updated_at=newest.updated_at - OVERLAP + timedelta(seconds=1)
        )

    # then polling with `resume` shows it
    polled = api.get("/api/v1/leads", {"cursor": last["resume"]}).json()
    assert late.pk in [row["id"] for row in polled["results"]]


def test_a_page_size_beyond_the_maximum_is_refused(api):
    response = api.get("/api/v1/leads", {"page_size": 501})

    assert response.status_code == 400
    assert "page_size" in response.json()["errors"]


@pytest.mark.parametrize(
    "url", [*LISTS, "/api/v1/leads/1", "/api/v1/exceptions/1", "/api/v1/audit/verify"]
)
def test_an_unknown_query_parameter_is_a_400_naming_it(api, url):
    response = api.get(url, {"limit": 2, "page_size": 10})

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["limit"] if url in LISTS else sorted(errors) == ["limit", "page_size"]
    assert errors["limit"][0].startswith("Unknown query parameter.")


def test_a_post_takes_no_query_parameters(api):
    response = api.post("/api/v1/leads?dry_run=1", ADA, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "errors": {"dry_run": ["Unknown query parameter. This endpoint takes no query parameters."]}
    }
    with system_context("tests"):
        assert not Lead.objects.exists()


def test_a_cursor_this_api_did_not_give_is_a_400(api):
    response = api.get("/api/v1/exceptions", {"cursor": "bm90IGEgY3Vyc29y"})

    assert response.status_code == 400
    assert response.json() == {"errors": {"cursor": ["Not a cursor this API gave out."]}}


def test_filters_still_apply_with_the_cursor(api, rows):
    old = timezone.now() - timedelta(days=1)
    response = api.get("/api/v1/leads", {"updated_since": old.isoformat(), "status": "new"})

    assert response.status_code == 200
    assert {row["status"] for row in response.json()["results"]} == {"new"}
