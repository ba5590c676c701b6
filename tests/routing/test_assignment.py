"""Who gets the lead: skip reasons, strategies, caps, named people, closed teams, actions, and
the global fallback. Each decision is kept with what it saw."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import User

from leadops.core.access import system_context
from leadops.leads.models import Lead
from leadops.markets.models import Market, TeamMember
from leadops.markets.teams import out_of_office_add, team_ensure, team_member_set
from leadops.queue.models import ExceptionItem
from routing.models import Decision
from routing.services import waiting_wake
from tests.factories import UserFactory
from tests.leads.test_api_ingest import api, post
from tests.routing.conftest import SYSTEM, publish, rule

pytestmark = pytest.mark.django_db

# A Saturday and the Monday after it, in winter (Berlin is UTC+1).
SATURDAY = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
MONDAY_OPEN = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def lead(name: str, country: str = "DE", **extra):
    return {"source": "web", "email": f"{name}@example.com", "country": country, **extra}


def member(team, username: str) -> TeamMember:
    return TeamMember.objects.get(team=team, user__username=username)


def setting(team, username: str, **fields) -> None:
    with system_context("tests"):
        team_member_set(actor=SYSTEM, team=team, user=User.objects.get(username=username), **fields)


def decision_of(lead_id: int) -> Decision:
    with system_context("tests"):
        return Decision.objects.filter(lead_id=lead_id).latest("decided_at")


def batch(key, bodies):
    return api(key).post("/api/v1/leads/batch", {"leads": bodies}, format="json").json()["results"]


def test_unavailable_members_are_skipped_each_with_its_reason(
    table, key_a, market_a, inbound, author, approver
):
    # given ann inactive, ben out of office, cat working only weekday office hours
    setting(inbound, "ann", is_active=False)
    setting(inbound, "cat", hours="Mon-Fri 09:00-17:00")
    with system_context("tests"):
        out_of_office_add(
            actor=SYSTEM,
            member=member(inbound, "ben"),
            starts_at=SATURDAY - timedelta(days=1),
            ends_at=SATURDAY + timedelta(days=1),
        )
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)

    # when a lead arrives on Saturday
    with time_machine.travel(SATURDAY, tick=False):
        body = post(key_a, lead("sat")).json()

    # then dan takes it, and the decision says why each other member was skipped
    assert body["owner"] == "dan", (body["routing"], decision_of(body["lead_id"]).inputs)
    skipped = {
        c["user"]: c.get("skipped") for c in decision_of(body["lead_id"]).inputs["candidates"]
    }
    assert skipped == {
        "ann": "inactive",
        "ben": "out of office",
        "cat": "outside working hours",
        "dan": None,
    }
    assert "skipped ben: out of office" in body["routing"]["trace"]


def test_weighted_round_robin_follows_the_weights(
    table, key_a, market_a, inbound, author, approver
):
    # given only ann (weight 3) and ben (weight 1) active
    setting(inbound, "ann", weight=3)
    setting(inbound, "cat", is_active=False)
    setting(inbound, "dan", is_active=False)
    publish(
        market_a, [rule("w", team="Inbound", pick="weighted")], author=author, approver=approver
    )

    # when eight leads arrive
    results = batch(key_a, [lead(f"w{i}") for i in range(8)])

    # then ann has six and ben two
    assert all(r["status"] == 201 for r in results)
    with system_context("tests"):
        shares = Counter(Lead.objects.values_list("owner__username", flat=True))
    assert shares == {"ann": 6, "ben": 2}


def test_least_loaded_gives_the_lead_to_whoever_holds_fewest_open_leads(
    table, key_a, market_a, inbound, author, approver
):
    # given ann, ben and cat already hold leads, dan none
    publish(market_a, [rule("rr", team="Inbound")], author=author, approver=approver)
    batch(key_a, [lead(f"pre{i}") for i in range(3)])  # round robin: ann, ben, cat
    publish(
        market_a,
        [rule("ll", team="Inbound", pick="least_loaded")],
        author=author,
        approver=approver,
    )

    # when a new lead arrives
    body = post(key_a, lead("next")).json()

    # then dan, the least loaded, takes it; the decision recorded the loads it compared
    assert body["owner"] == "dan", (body["routing"], decision_of(body["lead_id"]).inputs)
    loads = {c["user"]: c.get("open") for c in decision_of(body["lead_id"]).inputs["candidates"]}
    assert loads == {"ann": 1, "ben": 1, "cat": 1, "dan": 0}


def test_a_daily_cap_moves_the_turn_to_the_next_member(
    table, key_a, market_a, inbound, author, approver
):
    # given everyone may take one new lead a day
    for name in ("ann", "ben", "cat", "dan"):
        setting(inbound, name, cap_daily=1)
    publish(market_a, [rule("rr", team="Inbound")], author=author, approver=approver)

    # when six leads arrive the same day
    results = batch(key_a, [lead(f"d{i}") for i in range(6)])

    # then four are assigned, one each, and two are unroutable: everyone is at their cap
    owners = [r.get("lead_id") for r in results]
    with system_context("tests"):
        shares = Counter(
            Lead.objects.filter(pk__in=owners, owner__isnull=False).values_list(
                "owner__username", flat=True
            )
        )
        assert ExceptionItem.objects.filter(kind="unroutable").count() == 2
    assert shares == {"ann": 1, "ben": 1, "cat": 1, "dan": 1}


def test_a_named_person_takes_the_lead_and_falls_through_when_away(
    table, key_a, market_a, inbound, author, approver
):
    # given a rule naming cat for VIPs, then the team for everyone
    vip = {"field": "attributes.tier", "op": "eq", "value": "vip"}
    publish(
        market_a,
        [rule("vip", vip, owner="cat"), rule("rest", team="Inbound")],
        author=author,
        approver=approver,
    )

    # when a VIP arrives, then cat has it
    first = post(key_a, lead("vip1", attributes={"tier": "vip"})).json()
    assert first["owner"] == "cat"
    assert first["routing"]["rule"] == "vip"

    # when cat is away and another VIP arrives, then the next rule places it and says why
    with system_context("tests"):
        out_of_office_add(
            actor=SYSTEM,
            member=member(inbound, "cat"),
            starts_at=datetime.now(UTC) - timedelta(hours=1),
            ends_at=datetime.now(UTC) + timedelta(days=1),
        )
    second = post(key_a, lead("vip2", attributes={"tier": "vip"})).json()
    assert second["owner"] in {"ann", "ben", "dan"}
    assert second["routing"]["rule"] == "rest"
    assert "rule vip could not place the lead: cat is not available" in second["routing"]["trace"]


def test_a_closed_team_makes_the_lead_wait_and_the_beat_assigns_it_at_opening(
    table, key_a, market_a, inbound, author, approver
):
    # given everyone works Mon-Fri 09:00-17:00 and the rule waits when the team is closed
    for name in ("ann", "ben", "cat", "dan"):
        setting(inbound, name, hours="Mon-Fri 09:00-17:00")
    with system_context("tests"):
        Market.objects.filter(pk=market_a.pk).update(timezone="Europe/Berlin")
    publish(
        market_a,
        [rule("wait", team="Inbound", when_closed="wait")],
        author=author,
        approver=approver,
    )

    # when a lead arrives on Saturday
    with time_machine.travel(SATURDAY, tick=False):
        body = post(key_a, lead("weekend")).json()

    # then it waits (not unroutable) until Monday 09:00 in the members' hours (08:00 UTC)
    assert body["owner"] is None
    assert body["routing"]["outcome"] == "waiting"
    waiting = decision_of(body["lead_id"])
    assert waiting.wake_at == MONDAY_OPEN
    with system_context("tests"):
        assert not ExceptionItem.objects.filter(kind="unroutable").exists()

    # when the beat runs before the opening, nothing happens; after it, the lead is assigned
    with time_machine.travel(MONDAY_OPEN - timedelta(minutes=1), tick=False):
        assert waiting_wake(actor=SYSTEM) == 0
    with time_machine.travel(MONDAY_OPEN + timedelta(minutes=1), tick=False):
        assert waiting_wake(actor=SYSTEM) == 1
        assert waiting_wake(actor=SYSTEM) == 0  # a second beat finds nothing left
    woken = decision_of(body["lead_id"])
    assert woken.trigger == "wake"
    assert woken.outcome == "assigned"
    with system_context("tests"):
        assert Lead.objects.get(pk=body["lead_id"]).owner is not None


def test_without_wait_a_closed_team_falls_through_to_the_next_rule(
    table, key_a, market_a, inbound, author, approver
):
    # given the day team works office hours and a night team is always there
    for name in ("ann", "ben", "cat", "dan"):
        setting(inbound, name, hours="Mon-Fri 09:00-17:00")
    with system_context("tests"):
        night = team_ensure(actor=SYSTEM, market=market_a, name="Night")
        team_member_set(actor=SYSTEM, team=night, user=UserFactory.create(username="owl"))
    publish(
        market_a,
        [rule("day", team="Inbound"), rule("night", team="Night")],
        author=author,
        approver=approver,
    )

    # when a lead arrives on Saturday
    with time_machine.travel(SATURDAY, tick=False):
        body = post(key_a, lead("late")).json()

    # then the night team has it, and the trace says why the day team did not
    assert body["owner"] == "owl"
    assert body["routing"]["rule"] == "night"
    assert (
        "rule day could not place the lead: nobody available in Inbound" in body["routing"]["trace"]
    )


def test_actions_set_status_add_tags_and_file_exceptions(
    table, key_a, market_a, inbound, author, approver
):
    # given a tagging rule, a rule that flags test domains, and one that assigns as working
    test_domain = {"field": "email", "op": "domain_in", "value": ["test.invalid"]}
    publish(
        market_a,
        [
            rule("tag-de", {"field": "country", "op": "eq", "value": "DE"}, tags=["dach"]),
            rule("flag", test_domain, exception="Test address: check before anyone calls"),
            rule("work", team="Inbound", status="working", tags=["inbound"]),
        ],
        author=author,
        approver=approver,
    )

    # when an ordinary lead and a test-domain lead arrive
    normal = post(key_a, lead("normal")).json()
    flagged = post(key_a, {"source": "web", "email": "x@test.invalid", "country": "DE"}).json()

    # then the first is working with both tags; the second is filed for a person with the note
    with system_context("tests"):
        stored = Lead.objects.get(pk=normal["lead_id"])
        item = ExceptionItem.objects.get(kind="unroutable", target_id=str(flagged["lead_id"]))
    assert stored.status == "working"
    assert sorted(stored.tags) == ["dach", "inbound"]
    assert flagged["owner"] is None
    assert "Test address: check before anyone calls" in item.summary


def test_the_global_fallback_places_what_the_market_rules_do_not(
    table, key_a, market_a, inbound, author, approver
):
    # given market rules only for hot leads, and a global fallback to each market's Inbound
    publish(
        market_a,
        [rule("hot", {"field": "score", "op": "gte", "value": 90}, team="Inbound")],
        author=author,
        approver=approver,
    )
    publish(None, [rule("fallback", team="Inbound")], author=author, approver=approver)

    # when an ordinary lead arrives
    body = post(key_a, lead("plain")).json()

    # then the fallback placed it, and both versions are in its trace
    assert body["owner"] in {"ann", "ben", "cat", "dan"}
    assert body["routing"]["rule"] == "fallback"
    assert [block["version"] for block in decision_of(body["lead_id"]).trace] == [1, 1]


def test_personal_values_are_not_kept_in_the_decision(
    table, key_a, market_a, inbound, author, approver
):
    # given a rule on the email itself
    publish(
        market_a,
        [rule("by-mail", {"field": "email", "op": "contains", "value": "@"}, team="Inbound")],
        author=author,
        approver=approver,
    )

    # when a lead is routed by it
    body = post(key_a, lead("private.person")).json()

    # then the stored trace does not hold the address
    assert body["routing"]["rule"] == "by-mail"
    stored = decision_of(body["lead_id"])
    assert "private.person" not in str(stored.trace)


def test_notify_leaves_an_in_admin_notice_for_the_people_named(
    client, table, key_a, market_a, inbound, author, approver, manager_a
):
    # given a rule that assigns and tells the market's manager
    publish(
        market_a,
        [rule("tell", team="Inbound", notify=["manager_a"])],
        author=author,
        approver=approver,
    )

    # when a lead is routed by it
    body = post(key_a, lead("noticed")).json()

    # then the manager finds a notice linking to the lead on their queue page
    client.force_login(manager_a)
    html = client.get("/admin/queue/exceptionitem/").content.decode()
    assert f"Lead #{body['lead_id']}: assigned by rule tell to {body['owner']}" in html
    assert f'href="/admin/leads/lead/{body["lead_id"]}/change/"' in html


def test_erasing_the_person_drops_what_routing_saw_of_their_attributes(
    table, key_a, market_a, inbound, author, approver
):
    from django.core.management import call_command

    # given a lead routed on a free-form attribute (which may hold anything about a person)
    nickname = {"field": "attributes.nickname", "op": "exists", "value": True}
    publish(market_a, [rule("nick", nickname, team="Inbound")], author=author, approver=approver)
    body = post(key_a, lead("erase.me", attributes={"nickname": "Lady Ada"})).json()
    assert "Lady Ada" in str(decision_of(body["lead_id"]).trace)

    # when the person is erased
    call_command("erase_subject", "--email", "erase.me@example.com")

    # then the decision keeps which rule matched, but no longer what it saw
    trace = decision_of(body["lead_id"]).trace
    assert "Lady Ada" not in str(trace)
    assert trace[0]["rules"][0]["ok"] is True
