import pytest

from leadops.core.access import market_context, system_context
from leadops.core.errors import ApplicationError
from leadops.leads.models import Lead, SourceTouch
from leadops.queue.models import ExceptionItem
from leadops.queue.services import exception_resolve
from tests.leads.test_api_ingest import ADA, post

pytestmark = pytest.mark.django_db


def _item(kind, lead_id):
    with system_context("tests"):
        return ExceptionItem.objects.get(kind=kind, target_id=str(lead_id))


def test_fixing_a_quarantined_lead_normalizes_and_releases_it(table, key_a, manager_a, market_a):
    held = post(key_a, {**ADA, "phone": "call me maybe"}).json()
    item = _item("quarantined", held["lead_id"])

    with market_context(market_ids=[market_a.id]):
        exception_resolve(
            actor=manager_a, item=item, resolution="fix", value="phone = 030 7654321\n"
        )
        lead = Lead.objects.get(pk=held["lead_id"])
        item.refresh_from_db()

    assert (lead.status, lead.phone_e164) == ("new", "+49307654321")
    assert item.status == "resolved"


def test_a_fix_that_is_still_doubtful_leaves_everything_as_it_was(
    table, key_a, manager_a, market_a
):
    held = post(key_a, {**ADA, "phone": "call me maybe"}).json()
    item = _item("quarantined", held["lead_id"])

    with market_context(market_ids=[market_a.id]):
        with pytest.raises(ApplicationError, match="Still doubtful"):
            exception_resolve(actor=manager_a, item=item, resolution="fix", value="phone=12ab")
        with pytest.raises(ApplicationError, match="write field=value"):
            exception_resolve(actor=manager_a, item=item, resolution="fix", value="shoe=42")
        with pytest.raises(ApplicationError, match="Corrections"):
            exception_resolve(actor=manager_a, item=item, resolution="fix", value=" ")
        item.refresh_from_db()
        lead = Lead.objects.get(pk=held["lead_id"])

    assert (item.status, lead.status) == ("open", "held")


def test_putting_an_unmarketed_lead_in_a_market_moves_its_rows(
    table, key_all, revops_user, market_b
):
    lost = post(key_all, {**ADA, "country": "Japan", "postal_code": "100-0001", "phone": ""}).json()
    item = _item("unmarketed", lost["lead_id"])

    with system_context("tests"):
        ids = set(ExceptionItem.objects.values_list("market_id", flat=True)) | {market_b.id}
    with market_context(market_ids=ids):
        exception_resolve(actor=revops_user, item=item, resolution="set_market", value="bbb")
        lead = Lead.objects.get(pk=lost["lead_id"])
        touch = SourceTouch.objects.get(lead=lead)

    assert (lead.market_id, touch.market_id) == (market_b.id, market_b.id)


def test_the_queue_page_asks_for_the_value(client, table, key_a, manager_a):
    held = post(key_a, {**ADA, "phone": "call me maybe"}).json()
    item = _item("quarantined", held["lead_id"])
    client.force_login(manager_a)

    page = client.get(f"/admin/queue/exceptionitem/{item.pk}/change/").content.decode()
    client.post(
        f"/admin/queue/exceptionitem/{item.pk}/act/",
        {"action": "resolve:fix", "value:fix": "phone=+49 30 7654321"},
    )

    assert 'name="value:fix"' in page
    with system_context("tests"):
        assert Lead.objects.get(pk=held["lead_id"]).status == "new"


def test_a_moved_lead_takes_its_open_items_and_leaves_a_history_row(
    table, key_all, revops_user, market_a, market_b
):
    # given a held lead in A (an open quarantined item about it) put in B by a person
    from leadops.leads.services import lead_market_set
    from leadops.markets.models import Market

    held = post(key_all, {**ADA, "phone": "call me maybe"}).json()
    with market_context(market_ids=[market_a.id, market_b.id]):
        lead = Lead.objects.get(pk=held["lead_id"])
        lead_market_set(actor=revops_user, lead=lead, market=Market.objects.get(pk=market_b.id))

    # then the lead, its touch, its open item and a history row all say B
    item = _item("quarantined", held["lead_id"])
    with system_context("tests"):
        touch = SourceTouch.objects.get(lead_id=held["lead_id"])
        last = Lead.history.filter(id=held["lead_id"]).order_by("-history_date").first()
    assert (item.market_id, touch.market_id) == (market_b.id, market_b.id)
    assert last is not None
    assert (last.market_id, last.history_change_reason) == (
        market_b.id,
        "put in market by a person",
    )
