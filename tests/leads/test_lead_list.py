"""The lead list: filters, bulk actions through the services, and the scoped, escaped export."""

import csv
import io

import pytest
from django.contrib.auth.models import Group

from audit.models import AuditEvent
from leadops.core.access import system_context
from leadops.leads.models import Lead, LeadExport
from leadops.markets.services import manager_group_name
from leadops.markets.teams import team_ensure, team_member_set
from tests.factories import UserFactory
from tests.fixtures import SYSTEM
from tests.leads.test_dedupe_review import DE, FR, ingest

pytestmark = pytest.mark.django_db
LIST = "/admin/leads/lead/"


@pytest.fixture
def leads(table, web):
    made = ingest(
        web,
        {"email": "a1@acme.io", "first_name": '=HYPERLINK("http://x")', **DE},
        {"email": "a2@acme.io", "first_name": "Two", **DE},
        {"email": "b1@beta.io", "first_name": "Bee", **FR},
        {"email": "held@acme.io", "phone": "call me maybe", **DE},  # held, with an open item
    )
    return [r.lead_id for r in made]


@pytest.fixture
def manager(market_a):
    user = UserFactory.create(username="mgr_a", is_staff=True)
    user.groups.add(Group.objects.get(name=manager_group_name(market_a)))
    return user


def listed(client, query=""):
    page = client.get(LIST + query)
    assert page.status_code == 200
    return {r.pk for r in page.context["cl"].result_list}


def test_filters_narrow_the_list_within_the_readers_markets(client, leads, manager, market_a):
    a1, a2, _b1, held = leads
    client.force_login(manager)
    with system_context("tests"):
        team = team_ensure(actor=SYSTEM, market=market_a, name="Team A")
        team_member_set(actor=SYSTEM, team=team, user=manager)
        Lead.objects.filter(pk=a2).update(owner=manager)

    assert listed(client) == {a1, a2, held}  # never B's lead
    assert listed(client, "?owner=me") == {a2}
    assert listed(client, "?owner=none") == {a1, held}
    assert listed(client, "?open_exception=yes") == {held}
    assert listed(client, "?open_exception=no") == {a1, a2}
    assert listed(client, "?status__exact=held") == {held}
    assert listed(client, "?created_at__gte=2000-01-01+00%3A00%3A00%2B00%3A00") == {a1, a2, held}


def test_the_count_stops_one_past_the_cap(client, leads, manager, monkeypatch):
    from leadops.leads import admin_list

    monkeypatch.setattr(admin_list, "COUNT_CAP", 2)
    client.force_login(manager)

    page = client.get(LIST)

    assert page.context["cl"].result_count == 3  # the cap + 1: "more than"
    assert b"More than 2 leads" in page.content


def test_bulk_status_goes_through_the_service_and_lists_refusals(client, leads, manager):
    a1, a2, _b1, held = leads
    client.force_login(manager)
    chosen = {"action": "status_selected", "_selected_action": [a1, a2, held]}

    form = client.post(LIST, chosen)
    assert b"Apply to 3 leads" in form.content
    done = client.post(LIST, {**chosen, "apply": "1", "status": "working"}, follow=True)

    text = done.content.decode()
    assert "Status working: 2 lead(s)." in text
    assert f"Lead #{held}: A held lead cannot become working." in text
    with system_context("tests"):
        assert dict(Lead.objects.filter(pk__in=[a1, a2, held]).values_list("pk", "status")) == {
            a1: "working",
            a2: "working",
            held: "held",
        }
        assert AuditEvent.objects.filter(action="lead.status_changed").count() == 2


def test_export_is_scoped_escaped_and_audited(client, leads, manager):
    a1, a2, _b1, _held = leads
    client.force_login(manager)

    answer = client.post(
        LIST + "?status__exact=new", {"action": "export_selected", "select_across": "1",
                                      "_selected_action": [a1]}
    )  # fmt: skip

    body = b"".join(answer.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {int(r["id"]) for r in rows} == {a1, a2}  # B's lead and the held one stay out
    assert rows[0]["first_name"] == '\'=HYPERLINK("http://x")'  # a formula stays text
    with system_context("tests"):
        [event] = AuditEvent.objects.filter(action="leads.exported")
    import json

    data = json.loads(bytes(event.body))["data"]
    assert (data["rows"], data["filters"]) == (2, "status__exact=new")


@pytest.fixture
def eager():
    """The worker's part in this process (the broker path has its own tests)."""
    from leadops.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_a_large_export_becomes_a_job_with_a_scoped_file(
    client, leads, manager, settings, market_a, eager, django_capture_on_commit_callbacks
):
    settings.LEAD_EXPORT_SYNC_ROWS = 1
    client.force_login(manager)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            LIST, {"action": "export_selected", "select_across": "1", "_selected_action": [1]}
        )

    with system_context("tests"):
        export = LeadExport.objects.get()
    assert export.row_count == 3
    assert export.scope_market_ids == [market_a.id]
    download = client.get(f"/admin/leads/leadexport/{export.pk}/download/")
    assert b"a1@acme.io" in download.content
    assert b"b1@beta.io" not in download.content
