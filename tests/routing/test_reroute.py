"""Routing again: a held lead released, a lead put in another market or retagged, on demand
from the lead page, the SLA's reassign step, and the unroutable item's resolutions."""

from __future__ import annotations

import pytest

from leadops.core.access import market_context, system_context
from leadops.core.errors import ApplicationError
from leadops.leads.models import Lead
from leadops.leads.retag import retag_run
from leadops.leads.services import lead_market_set
from leadops.markets.teams import team_ensure, team_member_set
from leadops.queue.models import ExceptionItem
from leadops.queue.services import exception_resolve
from leadops.sla.steps import escalation_step_run
from routing.models import Decision
from tests.factories import UserFactory
from tests.leads.test_api_ingest import ADA, post
from tests.leads.test_retag import publish_moved
from tests.routing.conftest import SYSTEM, publish, rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_b(market_b):
    with system_context("tests"):
        team = team_ensure(actor=SYSTEM, market=market_b, name="Inbound")
        team_member_set(actor=SYSTEM, team=team, user=UserFactory.create(username="bea"))
        from leadops.markets.calendars import calendar_version_create

        calendar_version_create(
            actor=SYSTEM, market=market_b, hours="Mon-Sun 00:00-00:00", holidays=[], note="open"
        )
        return team


@pytest.fixture
def routed(market_a, inbound, author, approver):
    publish(None, [rule("inbound", team="Inbound")], author=author, approver=approver)


def latest(lead_id: int) -> Decision:
    with system_context("tests"):
        return Decision.objects.filter(lead_id=lead_id).latest("decided_at")


def owner_of(lead_id: int) -> str | None:
    with system_context("tests"):
        return Lead.objects.filter(pk=lead_id).values_list("owner__username", flat=True).get()


def stored(lead_id: int) -> Lead:
    with system_context("tests"):
        return Lead.objects.select_related("owner", "team").get(pk=lead_id)


def test_a_released_lead_is_routed(table, key_a, manager_a, market_a, routed):
    # given a lead held for an unparseable phone (held leads are never routed)
    held = post(key_a, {**ADA, "phone": "call me maybe"}).json()
    assert held["owner"] is None
    with system_context("tests"):
        assert not Decision.objects.filter(lead_id=held["lead_id"]).exists()
        item = ExceptionItem.objects.get(kind="quarantined", target_id=str(held["lead_id"]))

    # when a manager releases it
    with market_context(market_ids=[market_a.id]):
        exception_resolve(actor=manager_a, item=item, resolution="release")

    # then it is routed, recorded as a release
    assert stored(held["lead_id"]).owner is not None
    assert latest(held["lead_id"]).trigger == "release"


def test_a_lead_put_in_another_market_loses_its_owner_and_is_routed_there(
    table, key_all, revops_user, market_a, market_b, team_b, routed
):
    # given a lead of market A owned by someone of A's team
    lead = post(key_all, ADA).json()
    assert lead["owner"] in {"ann", "ben", "cat", "dan"}

    # when RevOps put it in market B
    with market_context(market_ids=[market_a.id, market_b.id]):
        lead_market_set(actor=revops_user, lead=stored(lead["lead_id"]), market=market_b)

    # then B's team has it (the fallback's "Inbound" is B's own team now)
    moved = stored(lead["lead_id"])
    assert (owner_of(moved.pk), moved.team_id) == ("bea", team_b.id)
    assert latest(lead["lead_id"]).trigger == "market"


def test_a_retagged_lead_is_routed_in_its_new_market(
    table, key_a, market_a, market_b, team_b, routed
):
    lead = post(key_a, ADA).json()
    version = publish_moved(market_b)

    retag_run(actor=SYSTEM, version=version, apply=True)

    assert owner_of(lead["lead_id"]) == "bea"
    assert latest(lead["lead_id"]).trigger == "retag"


def test_the_reassign_step_gives_the_lead_to_someone_else(table, key_a, market_a, routed):
    # given a routed lead
    lead = post(key_a, ADA).json()
    first = lead["owner"]

    # when the SLA's reassign step runs (it is registered by routing; sla never imports it)
    with system_context("tests"):
        escalation_step_run("reassign", actor=SYSTEM, lead_ids=[lead["lead_id"]])

    # then another member has it, and the decision says why the first was skipped
    assert owner_of(lead["lead_id"]) not in (first, None)
    decision = latest(lead["lead_id"])
    assert decision.trigger == "sla"
    assert {c["user"]: c.get("skipped") for c in decision.inputs["candidates"]}[first] == (
        "current owner (reassigning)"
    )


def test_unroutable_resolutions_assign_by_hand_or_reroute_after_a_fix(
    table, key_a, manager_a, market_a, inbound, author, approver
):
    # given rules that place nothing (only hot leads)
    hot = {"field": "score", "op": "gte", "value": 99}
    publish(market_a, [rule("hot", hot, team="Inbound")], author=author, approver=approver)
    one, two = (post(key_a, {**ADA, "email": f"{n}@example.com"}).json() for n in ("one", "two"))
    with system_context("tests"):
        items = {
            i.target_id: i for i in ExceptionItem.objects.filter(kind="unroutable", status="open")
        }

    with market_context(market_ids=[market_a.id]):
        # when a manager re-routes while the rules still place nothing, it is refused
        with pytest.raises(ApplicationError, match="Still no owner"):
            exception_resolve(
                actor=manager_a, item=items[str(one["lead_id"])], resolution="reroute"
            )
        # when they assign one by hand, it is done
        exception_resolve(
            actor=manager_a, item=items[str(one["lead_id"])], resolution="assign", value="cat"
        )
    # and after the rules are fixed, re-routing places the other
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    with market_context(market_ids=[market_a.id]):
        exception_resolve(actor=manager_a, item=items[str(two["lead_id"])], resolution="reroute")

    assert owner_of(one["lead_id"]) == "cat"
    assert stored(two["lead_id"]).owner is not None
    with system_context("tests"):
        assert not ExceptionItem.objects.filter(kind="unroutable", status="open").exists()


def test_the_lead_page_shows_the_decision_and_routes_again_on_demand(
    client, table, key_a, manager_a, market_a, routed
):
    # given a routed lead and its market's manager
    lead = post(key_a, ADA).json()
    client.force_login(manager_a)
    page = f"/admin/leads/lead/{lead['lead_id']}/change/"

    # when the manager opens the lead page
    html = client.get(page).content.decode()

    # then the routing panel shows the decision, its rule and the candidates
    assert 'id="lead-routing-panel"' in html
    assert "inbound" in html
    assert lead["owner"] in html
    assert "Route again" in html

    # when they route it again, a second decision is recorded
    response = client.post(f"/admin/leads/lead/{lead['lead_id']}/act/", {"action": "reroute"})
    assert response.status_code == 302
    with system_context("tests"):
        triggers = list(
            Decision.objects.filter(lead_id=lead["lead_id"]).values_list("trigger", flat=True)
        )
    assert sorted(triggers) == ["intake", "manual"]


@pytest.fixture
def eager():
    """The worker's part in this process (the broker path has its own tests)."""
    from leadops.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_a_selection_is_routed_again_as_a_job(
    client,
    table,
    key_a,
    manager_a,
    market_a,
    inbound,
    author,
    approver,
    eager,
    django_capture_on_commit_callbacks,
):
    # given three leads that arrived while the rules placed nobody, then rules that do
    hot = {"field": "score", "op": "gte", "value": 99}
    publish(market_a, [rule("hot", hot, team="Inbound")], author=author, approver=approver)
    ids = [post(key_a, {**ADA, "email": f"j{n}@example.com"}).json()["lead_id"] for n in range(3)]
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    client.force_login(manager_a)

    # when the manager routes them again from the lead list
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/leads/lead/",
            {"action": "reroute_selected", "_selected_action": [str(i) for i in ids]},
        )

    # then a job ran and each has an owner
    from leadops.core.models import Job

    with system_context("tests"):
        job = Job.objects.get(kind="reroute")
        owners = list(Lead.objects.filter(pk__in=ids).values_list("owner__username", flat=True))
    assert job.state == "succeeded"
    assert job.result["assigned"] == 3
    assert all(owners)
