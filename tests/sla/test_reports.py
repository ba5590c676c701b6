"""The dashboard's SLA section on small constructed sets: attainment (met on time, met late,
breached), time to first response in business time (time on hold left out, a closed night
left out), warned and breached now, breaches per team and owner, and each reader's markets
only. Clocks are made the real way: a published policy, leads posted to the API, the sweep,
activities recorded."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadops.core.access import system_context
from leadops.leads.services import activity_record, lead_status_change
from leadops.markets.services import manager_group_name
from leadops.sla.reports import percentile
from leadops.sla.sweep import timers_sweep
from leadops.sla.timers import lead_hold, lead_resume
from tests.factories import UserFactory
from tests.sla.conftest import SYSTEM, clock, lead_of, new_lead, sla_publish
from tests.sla.test_clock import office_hours

pytestmark = pytest.mark.django_db

T = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # a Thursday
DAY = "?since=2026-12-03&until=2026-12-03"
BERLIN = ZoneInfo("Europe/Berlin")


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def arrive(key: str, name: str, at: datetime, country: str = "DE") -> int:
    """A lead posted to the API at `at`; its id."""
    with time_machine.travel(at, tick=False):
        return new_lead(key, name, country=country)["lead_id"]


def respond(lead_id: int, *, occurred: datetime, logged: datetime | None = None) -> None:
    """A call made at `occurred`, recorded at `logged` (default: then)."""
    with time_machine.travel(logged or occurred, tick=False), system_context("tests"):
        activity_record(actor=SYSTEM, lead=lead_of(lead_id), kind="call", occurred_at=occurred)


def sweep(at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        timers_sweep(actor=SYSTEM, now=at)


def manager_of(*markets) -> User:
    user = UserFactory.create(is_staff=True)
    for market in markets:
        user.groups.add(Group.objects.get(name=manager_group_name(market)))
    return User.objects.get(pk=user.pk)


def dashboard(client, user, *, at: datetime, query: str = DAY):
    client.force_login(user)
    with time_machine.travel(at, tick=False):
        page = client.get("/admin/dashboard/" + query)
    assert page.status_code == 200
    return page.context, page.content.decode()


def figure(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found, element_id
    return found.group(1)


@pytest.fixture
def outcomes(table, key_a, market_a, inbound):
    """Market A (open around the clock), a 60-minute policy warning at 75 %, leads at 10:00:
    met at 10:30; breached, then a call dated 10:45 logged at 12:00 (met late); breached and
    never answered; breached, then answered at 11:30; disqualified at 10:10 (no response
    needed). One more arrives at 10:40 and is warned at 11:35, still running at 12:00."""
    sla_publish(market_a, minutes=60, warn_percent=75, ladder=[])
    ids = {name: arrive(key_a, name, T) for name in ("met", "late", "never", "answered", "dq")}
    with time_machine.travel(T + minutes(10), tick=False), system_context("tests"):
        lead_status_change(actor=SYSTEM, lead=lead_of(ids["dq"]), status="disqualified")
    respond(ids["met"], occurred=T + minutes(30))
    ids["running"] = arrive(key_a, "running", T + minutes(40))
    sweep(T + minutes(61))
    sweep(T + minutes(95))
    respond(ids["late"], occurred=T + minutes(45), logged=T + minutes(120))
    respond(ids["answered"], occurred=T + minutes(90), logged=T + minutes(120))
    return ids


def test_attainment_counts_met_and_met_late_over_the_clocks_with_an_outcome(
    client, outcomes, market_a
):
    # given the six clocks above (their states checked first)
    states = {name: clock(lead_id).state for name, lead_id in outcomes.items()}
    assert states == {
        "met": "met",
        "late": "met_late",
        "never": "breached",
        "answered": "breached",
        "dq": "closed",
        "running": "running",
    }

    # when market A's manager opens the dashboard at 12:00
    ctx, html = dashboard(client, manager_of(market_a), at=T + minutes(120))

    # then 2 of the 4 clocks with an outcome were met on time (the met-late one counts);
    # the running and the disqualified ones are not in the denominator
    total = ctx["sla"].total
    assert (total.started, total.met, total.met_late, total.breached) == (6, 1, 1, 2)
    assert (total.on_time, total.decided) == (2, 4)
    assert figure(html, "sla-attainment") == "50.0 %"
    assert figure(html, "sla-started") == "6"
    # responses at 30, 45 and 90 minutes (the late answer too): median 45, p90 81
    assert total.responded == 3
    assert sorted(total.seconds) == [30 * 60, 45 * 60, 90 * 60]
    assert figure(html, "sla-median") == "45 min"
    assert figure(html, "sla-p90") == "1 h 21 min"
    # now: the 10:40 lead is warned (not yet due); the unanswered breach is breached now
    assert figure(html, "sla-warned-now") == "1"
    assert figure(html, "sla-breached-now") == "1"
    [market] = ctx["sla_markets"]
    assert (market["market"], market["attainment"], market["breached_now"]) == (
        "AAA",
        "50.0 %",
        1,
    )
    assert "over the clocks whose outcome is known" in html


def test_time_on_hold_is_not_time_to_first_response(client, table, key_a, market_a, inbound):
    # given a lead at 10:00, on hold from 10:10 to 12:10, answered at 12:30
    sla_publish(market_a, minutes=60, ladder=[])
    lead_id = arrive(key_a, "waiting", T)
    with time_machine.travel(T + minutes(10), tick=False), system_context("t"):
        lead_hold(actor=SYSTEM, lead=lead_of(lead_id), reason="waiting on the customer")
    with time_machine.travel(T + minutes(130), tick=False), system_context("t"):
        lead_resume(actor=SYSTEM, lead=lead_of(lead_id))
    respond(lead_id, occurred=T + minutes(150))

    # when the dashboard is read
    ctx, html = dashboard(client, manager_of(market_a), at=T + minutes(180))

    # then 150 minutes passed, 120 of them on hold: 30 minutes to respond, met on time
    assert clock(lead_id).state == "met"
    assert ctx["sla"].total.seconds == [30 * 60]
    assert figure(html, "sla-median") == "30 min"
    assert figure(html, "sla-attainment") == "100.0 %"


def test_a_closed_night_is_not_time_to_first_response(client, table, key_a, market_a):
    # given office hours Mon-Fri 09-17 in Berlin and a 120-minute policy
    office_hours(market_a)
    sla_publish(market_a, minutes=120, ladder=[])

    # when a lead arrives on Thursday at 16:30 and is called on Friday at 09:20
    thursday = datetime(2026, 12, 3, 16, 30, tzinfo=BERLIN)
    lead_id = arrive(key_a, "overnight", thursday)
    respond(lead_id, occurred=datetime(2026, 12, 4, 9, 20, tzinfo=BERLIN))

    # then 30 minutes on Thursday and 20 on Friday count: 50 minutes, on time
    ctx, html = dashboard(
        client, manager_of(market_a), at=datetime(2026, 12, 4, 12, 0, tzinfo=BERLIN), query=""
    )
    assert clock(lead_id).state == "met"
    assert ctx["sla"].total.seconds == [50 * 60]
    assert figure(html, "sla-median") == "50 min"
    assert figure(html, "sla-attainment") == "100.0 %"


def test_breaches_per_team_and_owner(client, table, key_a, market_a, inbound, author, approver):
    from tests.routing.conftest import publish, rule

    # given leads routed round robin to team Inbound, the first one answered, the next two not
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    sla_publish(market_a, minutes=60, ladder=[])
    first, second, third = (arrive(key_a, f"routed{n}", T) for n in range(3))
    respond(first, occurred=T + minutes(20))
    sweep(T + minutes(61))
    owners = {i: str(lead_of(i).owner) for i in (first, second, third)}

    # when RevOps read the dashboard
    admin = UserFactory.create(is_superuser=True, is_staff=True)
    ctx, html = dashboard(client, admin, at=T + minutes(90))

    # then team Inbound has 2 breaches of 3; each owner's row says what was theirs
    [team] = ctx["sla"].by_team
    assert (team.market, team.team, team.started, team.breached, team.breached_now) == (
        "AAA",
        "Inbound",
        3,
        2,
        2,
    )
    rows = {r.owner: (r.started, r.on_time, r.breached) for r in ctx["sla"].rows}
    assert rows == {
        owners[first]: (1, 1, 0),
        owners[second]: (1, 0, 1),
        owners[third]: (1, 0, 1),
    }
    assert 'id="sla-breach-chart"' in html
    assert "AAA · Inbound" in html
    owners_table = html[html.index('id="sla-owners"') :]
    assert f">{owners[second]}</a>" in owners_table


def test_a_manager_of_one_market_sees_none_of_the_others_clocks(
    client, table, key_a, key_all, market_a, market_b, inbound, revops_user
):
    # given a met clock in A, and in B (open around the clock too) a breached one and a
    # met-late one
    office_hours(market_b, "Mon-Sun 00:00-00:00")
    sla_publish(market_a, minutes=60, ladder=[])
    sla_publish(market_b, minutes=60, ladder=[])
    in_a = arrive(key_a, "in-a", T)
    b_breached = arrive(key_all, "b-breached", T, country="FR")
    b_late = arrive(key_all, "b-late", T, country="FR")
    respond(in_a, occurred=T + minutes(10))
    sweep(T + minutes(61))
    respond(b_late, occurred=T + minutes(50), logged=T + minutes(70))
    assert (clock(b_breached).market_id, clock(b_breached).state) == (market_b.pk, "breached")

    # when each reads the dashboard
    a, a_html = dashboard(client, manager_of(market_a), at=T + minutes(90))
    b, _ = dashboard(client, manager_of(market_b), at=T + minutes(90))
    everyone, _ = dashboard(client, revops_user, at=T + minutes(90))
    only_b, _ = dashboard(client, revops_user, at=T + minutes(90), query=DAY + "&market=BBB")

    # then A's manager counts A's clock only: nothing of B's breach or response
    seen = a["sla"].total
    assert (seen.started, seen.decided, seen.breached_now) == (1, 1, 0)
    assert a["sla"].total.seconds == [10 * 60]
    assert [m["market"] for m in a["sla_markets"]] == ["AAA"]
    assert figure(a_html, "sla-breached-now") == "0"
    assert "BBB" not in a_html[a_html.index('id="dash-sla"') :]
    assert (b["sla"].total.started, b["sla"].total.breached, b["sla"].total.on_time) == (2, 1, 1)
    assert everyone["sla"].total.started == 3
    assert [m["market"] for m in everyone["sla_markets"]] == ["AAA", "BBB"]
    assert only_b["sla"].total.started == 2


def test_the_section_says_so_when_there_is_nothing(client, market_a):
    ctx, html = dashboard(client, manager_of(market_a), at=T)

    assert ctx["sla"].total.started == 0
    assert "No first-response clock started in this period" in html
    assert figure(html, "sla-attainment") == "—"
    assert figure(html, "sla-median") == "—"


def test_the_sections_queries_do_not_grow_with_the_clocks(client, table, key_a, market_a, inbound):
    sla_publish(market_a, minutes=60, ladder=[])
    manager = manager_of(market_a)
    client.force_login(manager)

    def queries(n: int) -> int:
        for i in range(n):
            lead_id = arrive(key_a, f"q{n}-{i}", T)
            respond(lead_id, occurred=T + minutes(5 + i))
        later = time_machine.travel(T + minutes(120), tick=False)
        with later, CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/dashboard/" + DAY).status_code == 200
        return len(captured.captured_queries)

    assert queries(2) == queries(12)


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [([], None, None), ([5.0], 5.0, 5.0), ([1.0, 2.0, 3.0, 4.0], 2.5, 3.7)],
)
def test_percentiles_interpolate_like_percentile_cont(values, median, p90):
    assert percentile(values, 0.5) == median
    assert percentile(values, 0.9) == (None if p90 is None else pytest.approx(p90))
