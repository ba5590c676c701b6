import pytest
from rest_framework.test import APIClient

from leadops.core.access import system_context
from leadops.kinds import note_flag, notes_conflict_file
from leadops.markets.services import api_client_create
from leadops.queue.models import ExceptionItem
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db

QUEUE = "/admin/queue/exceptionitem/"


@pytest.fixture
def items(notes):
    return {
        "a": note_flag(actor=SYSTEM, note=notes["a"], reason="check A").item,
        "b": note_flag(actor=SYSTEM, note=notes["b"], reason="check B").item,
        "ab": notes_conflict_file(actor=SYSTEM, first=notes["a"], second=notes["b"]).item,
    }


@pytest.mark.parametrize(
    ("who", "status", "sees"),
    [
        ("anonymous", 302, set()),
        ("staff_no_market", 403, set()),
        ("manager_a", 200, {"a"}),
        ("revops", 200, {"a", "b", "ab"}),
        ("superuser", 200, {"a", "b", "ab"}),
    ],
)
def test_queue_page_permission_matrix(client, login_as, items, who, status, sees):
    login_as(who)

    response = client.get(QUEUE)
    html = response.content.decode()

    assert response.status_code == status
    shown = {key for key, item in items.items() if item.summary in html}
    assert shown == sees


def test_manager_cannot_open_or_act_on_another_markets_item(client, items, manager_a):
    client.force_login(manager_a)

    page = client.get(f"{QUEUE}{items['b'].pk}/change/", follow=True)
    act = client.post(f"{QUEUE}{items['b'].pk}/act/", {"action": "claim"})

    assert items["b"].summary not in page.content.decode()
    assert act.status_code == 404
    with system_context("tests"):
        assert ExceptionItem.objects.get(pk=items["b"].pk).status == "open"


def test_manager_claims_and_resolves_from_the_item_page(client, items, manager_a):
    client.force_login(manager_a)
    url = f"{QUEUE}{items['a'].pk}/act/"

    client.post(url, {"action": "claim"})
    page = client.get(f"{QUEUE}{items['a'].pk}/change/").content.decode()
    client.post(url, {"action": "resolve:keep", "note": "it is fine"})

    assert "You have claimed this item" in page
    assert 'value="resolve:delete_note"' in page
    with system_context("tests"):
        item = ExceptionItem.objects.get(pk=items["a"].pk)
    assert (item.status, item.resolution, item.note) == ("resolved", "keep", "it is fine")


def test_bulk_claim_reports_what_it_could_not_claim(client, items, manager_a, revops_user):
    # given RevOps holds item A already
    client.force_login(revops_user)
    client.post(f"{QUEUE}{items['a'].pk}/act/", {"action": "claim"})
    client.force_login(manager_a)

    response = client.post(
        QUEUE, {"action": "claim_selected", "_selected_action": [items["a"].pk]}, follow=True
    )

    assert "Already claimed by revops" in response.content.decode()


def test_overdue_filter_and_default_view_hide_closed_items(client, items, revops_user):
    client.force_login(revops_user)
    with system_context("tests"):
        ExceptionItem.objects.filter(pk=items["b"].pk).update(status="dismissed")

    default = client.get(QUEUE).content.decode()
    everything = client.get(f"{QUEUE}?state=all").content.decode()
    overdue = client.get(f"{QUEUE}?overdue=yes").content.decode()

    assert items["b"].summary not in default
    assert items["b"].summary in everything
    assert items["a"].summary not in overdue


def test_api_lists_only_the_clients_markets(items, market_a):
    with system_context("tests"):
        key = api_client_create(actor=SYSTEM, name="ops-a", markets=[market_a]).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    listed = api.get("/api/v1/exceptions").json()["results"]
    own = api.get(f"/api/v1/exceptions/{items['a'].pk}")
    other = api.get(f"/api/v1/exceptions/{items['b'].pk}")
    both = api.get(f"/api/v1/exceptions/{items['ab'].pk}")

    assert [row["id"] for row in listed] == [items["a"].pk]
    assert own.status_code == 200
    assert own.json()["details"] == {"note_id": int(items["a"].target_id), "reason": "check A"}
    assert (other.status_code, both.status_code) == (404, 404)


def test_api_filters_and_validates(items, revops_user):
    api = APIClient()
    api.force_authenticate(revops_user)

    by_kind = api.get("/api/v1/exceptions?kind=notes_conflict").json()["results"]
    by_market = api.get("/api/v1/exceptions?market=bbb").json()["results"]
    bad = api.get("/api/v1/exceptions?status=lost")

    assert [row["id"] for row in by_kind] == [items["ab"].pk]
    assert {row["id"] for row in by_market} == {items["b"].pk, items["ab"].pk}
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]


def test_escalation_notifications_show_on_the_queue_page_until_read(client, items, manager_a):
    from datetime import timedelta

    from leadops.queue.services import exception_escalate_overdue

    exception_escalate_overdue(actor=SYSTEM, now=items["a"].due_at + timedelta(minutes=1))
    client.force_login(manager_a)

    page = client.get(QUEUE).content.decode()
    ids = [part.split('"')[0] for part in page.split('name="id" value="')[1:]]
    client.post("/admin/queue/exceptionitem/notifications/read/", {"id": ids})
    after = client.get(QUEUE).content.decode()

    assert f"Overdue: {items['a'].summary}" in page
    assert len(ids) == 1
    assert 'id="queue-notifications"' not in after
