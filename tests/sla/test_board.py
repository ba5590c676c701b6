"""The manager's SLA board (/admin/sla/board/): open clocks per owner, what is due next, what
breached today in the market's own day; the reader's markets only; a fixed number of queries."""

from __future__ import annotations

from datetime import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadops.sla.reports import market_day
from tests.factories import UserFactory
from tests.sla.conftest import clock, lead_of, new_lead, sla_publish
from tests.sla.test_clock import office_hours
from tests.sla.test_reports import BERLIN, T, arrive, manager_of, minutes, respond, sweep

pytestmark = pytest.mark.django_db
BOARD = "/admin/sla/board/"


def board(client, user, *, at: datetime, query: str = ""):
    client.force_login(user)
    with time_machine.travel(at, tick=False):
        page = client.get(BOARD + query)
    assert page.status_code == 200
    return page.context, page.content.decode()


@pytest.fixture
def routed(table, key_a, market_a, inbound, author, approver):
    """Team Inbound gets market A's leads in turn; a 60-minute policy warning at 50 %."""
    from tests.routing.conftest import publish, rule

    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    sla_publish(market_a, minutes=60, warn_percent=50, ladder=[])


def test_a_manager_sees_open_clocks_per_owner_what_is_due_next_and_todays_breaches(
    client, routed, key_a, market_a
):
    # given four leads at 10:00 (one per member), one answered; one more at 10:45
    first, second, third, fourth = (arrive(key_a, f"b{n}", T) for n in range(4))
    respond(first, occurred=T + minutes(10))
    later = arrive(key_a, "later", T + minutes(45))
    sweep(T + minutes(61))  # second, third and fourth breach; later is not warned yet (11:15)
    sweep(T + minutes(80))  # later is warned
    owner = {i: str(lead_of(i).owner) for i in (first, second, third, fourth, later)}

    # when market A's manager opens the board at 11:30
    ctx, html = board(client, manager_of(market_a), at=T + minutes(90))

    # then four clocks are open: three breached, one warned, due at 11:45 (12:45 in Berlin)
    assert (ctx["open_total"], ctx["warned_total"], ctx["breached_total"]) == (4, 1, 3)
    loads = {o["owner"]: (o["open"], o["warned"], o["breached"]) for o in ctx["owners"]}
    assert loads[owner[second]][2] == 1
    assert loads[owner[later]][0] >= 1
    assert sum(o["open"] for o in ctx["owners"]) == 4
    [due] = ctx["due"]
    assert (due["lead_id"], due["owner"], due["warned"], due["overdue"]) == (
        later,
        owner[later],
        True,
        False,
    )
    assert due["due_in"] == "15 min"
    assert "2026-12-03 12:45 CET" in str(due["due_market"])
    assert 'datetime="2026-12-03T11:45:00+00:00"' in str(due["due_viewer"])
    # and the three breaches of today, newest first, each with its lead and owner
    assert ctx["breaches_total"] == 3
    assert {b["lead_id"] for b in ctx["breaches"]} == {second, third, fourth}
    assert f'href="/admin/leads/lead/{second}/change/"' in html
    assert "<strong>none yet</strong>" in html
    assert first not in {b["lead_id"] for b in ctx["breaches"]}


def test_an_overdue_running_clock_and_an_answered_breach_say_so(client, routed, key_a, market_a):
    # given one lead breached and answered late, and one past due the sweep has not reached
    answered = arrive(key_a, "answered", T)
    sweep(T + minutes(61))
    respond(answered, occurred=T + minutes(70), logged=T + minutes(75))
    unswept = arrive(key_a, "unswept", T + minutes(5))

    # when the board is read at 11:20 (unswept was due at 11:05)
    ctx, html = board(client, manager_of(market_a), at=T + minutes(80))

    # then
    assert clock(answered).state == "breached"
    [breach] = ctx["breaches"]
    assert breach["lead_id"] == answered
    assert not breach["open"]
    assert "answered late" in str(breach["response"])
    assert breach["past_due"] == ""
    [due] = ctx["due"]
    assert (due["lead_id"], due["overdue"], due["due_in"]) == (unswept, True, "15 min")
    assert "overdue by 15 min" in html


def test_breaches_today_follow_each_markets_own_day(
    client, table, key_a, key_all, market_a, market_b, inbound, revops_user
):
    # given A (Berlin) and B (New York), both open around the clock, 60-minute policies
    office_hours(market_b, "Mon-Sun 00:00-00:00")
    sla_publish(market_a, minutes=60, ladder=[])
    sla_publish(market_b, minutes=60, ladder=[])
    # a lead of A breached at 23:30 Berlin yesterday, another at 00:50 Berlin today; one of
    # B breached at the same instant, 18:50 New York yesterday
    yesterday = arrive(key_a, "yesterday", datetime(2026, 12, 2, 22, 0, tzinfo=BERLIN))
    sweep(datetime(2026, 12, 2, 23, 30, tzinfo=BERLIN))
    start = datetime(2026, 12, 2, 23, 45, tzinfo=BERLIN)
    today = arrive(key_a, "today", start)
    in_b = arrive(key_all, "in-b", start, country="FR")
    sweep(datetime(2026, 12, 3, 0, 50, tzinfo=BERLIN))
    assert {clock(i).state for i in (yesterday, today, in_b)} == {"breached"}

    # when RevOps open the board at 10:00 Berlin (04:00 in New York)
    now = datetime(2026, 12, 3, 10, 0, tzinfo=BERLIN)
    ctx, _ = board(client, revops_user, at=now)

    # then A's today started at midnight Berlin, B's at midnight New York: only "today" counts
    assert [b["lead_id"] for b in ctx["breaches"]] == [today]
    assert ctx["breaches_total"] == 1
    assert market_day(market_b, now)[0].isoformat() == "2026-12-03T00:00:00-05:00"
    assert ctx["breached_total"] == 3  # all three are still breached now


def test_a_manager_of_one_market_sees_nothing_of_another(
    client, table, key_a, key_all, market_a, market_b, inbound
):
    # given a breached clock in each market
    office_hours(market_b, "Mon-Sun 00:00-00:00")
    sla_publish(market_a, minutes=60, ladder=[])
    sla_publish(market_b, minutes=60, ladder=[])
    in_a = arrive(key_a, "in-a", T)
    in_b = arrive(key_all, "in-b", T, country="FR")
    in_b_running = arrive(key_all, "in-b-running", T + minutes(50), country="FR")
    sweep(T + minutes(61))

    # when A's manager opens the board, also asking for B's market by name
    ctx, html = board(client, manager_of(market_a), at=T + minutes(70))
    asked_b, _ = board(client, manager_of(market_a), at=T + minutes(70), query="?market=BBB")

    # then only A's clock is there; asking for B shows nothing at all
    assert (ctx["open_total"], ctx["breached_total"], ctx["breaches_total"]) == (1, 1, 1)
    assert [b["lead_id"] for b in ctx["breaches"]] == [in_a]
    assert ctx["due"] == []
    assert [m.code for m in ctx["markets"]] == ["AAA"]
    for lead_id in (in_b, in_b_running):
        assert f"/admin/leads/lead/{lead_id}/change/" not in html
    assert "BBB" not in html
    assert (asked_b["open_total"], asked_b["breaches"], asked_b["due"]) == (0, [], [])
    # while B's manager sees B's
    b_ctx, _ = board(client, manager_of(market_b), at=T + minutes(70))
    assert [d["lead_id"] for d in b_ctx["due"]] == [in_b_running]
    assert [b["lead_id"] for b in b_ctx["breaches"]] == [in_b]


@pytest.mark.parametrize(("who", "status"), [("manager_a", 200), ("revops", 200)])
def test_the_board_opens_for_people_with_markets(client, login_as, market_a, who, status):
    login_as(who)

    page = client.get(BOARD)

    assert page.status_code == status
    assert "No clock is open in these markets." in page.content.decode()
    index = client.get("/admin/").content.decode()
    assert f'href="{BOARD}"' in index
    dashboard = client.get("/admin/dashboard/").content.decode()
    assert f'href="{BOARD}"' in dashboard


@pytest.mark.parametrize(("who", "status"), [("staff_no_market", 403), ("anonymous", 302)])
def test_the_board_refuses_people_without_markets(client, login_as, market_a, who, status):
    login_as(who)

    page = client.get(BOARD)

    assert page.status_code == status
    if who == "staff_no_market":
        assert "you hold no market" in page.content.decode()
        assert f'href="{BOARD}"' not in client.get("/admin/").content.decode()
        assert f'href="{BOARD}"' not in client.get("/admin/dashboard/").content.decode()


def test_the_boards_queries_do_not_grow_with_the_clocks(client, routed, key_a, market_a):
    manager = manager_of(market_a)
    client.force_login(manager)
    made = 0

    def queries(n: int) -> tuple[int, int]:
        nonlocal made
        for i in range(n - made):
            arrive(key_a, f"q{made + i}", T + minutes(i % 50))
        made = n
        sweep(T + minutes(61))
        with (
            time_machine.travel(T + minutes(70), tick=False),
            CaptureQueriesContext(connection) as captured,
        ):
            page = client.get(BOARD)
        assert page.status_code == 200
        return len(captured.captured_queries), page.context["open_total"]

    few, few_open = queries(3)
    many, many_open = queries(30)

    assert (few_open, many_open) == (3, 30)
    assert few == many


def test_a_test_lead_is_not_on_the_board(client, routed, key_a, market_a):
    from leadops.core.access import system_context
    from leadops.leads.models import Lead
    from leadops.sla.models import Timer

    # given a real lead and a test lead (marked so after it arrived), both with a clock
    real = arrive(key_a, "real", T)
    with time_machine.travel(T, tick=False):
        body = new_lead(key_a, "robot")
    with system_context("tests"):
        Lead.objects.filter(pk=body["lead_id"]).update(is_synthetic=True)
        assert Timer.objects.filter(lead_id=body["lead_id"]).exists()

    # when the board is read, then only the real one is on it
    ctx, _ = board(client, manager_of(market_a), at=T + minutes(10))

    assert [d["lead_id"] for d in ctx["due"]] == [real]
    assert ctx["open_total"] == 1


def test_staff_of_a_market_without_lead_permission_is_refused(client, market_a):
    from leadops.core.access import system_context
    from leadops.markets.services import market_access_grant
    from tests.sla.conftest import SYSTEM

    # given a staff member granted market A but no permission to read leads
    user = UserFactory.create(is_staff=True)
    with system_context("tests"):
        market_access_grant(actor=SYSTEM, market=market_a, user=user)
    client.force_login(user)

    # then the board refuses them, and the index does not offer it
    assert client.get(BOARD).status_code == 403
    assert f'href="{BOARD}"' not in client.get("/admin/").content.decode()
