"""Round robin stays fair and caps hold under concurrency: 8 connections submitting at once.
Without the pointer moved in one statement (every lead its own slot) the shares drift; without
the lock on capped members two transactions both fill the last place."""

from __future__ import annotations

from collections import Counter

import pytest

from leadops.core.access import system_context
from leadops.intake import Submitted, intake_submit
from leadops.leads.models import Lead
from leadops.markets.models import TeamMember
from leadops.markets.teams import team_member_set
from leadops.queue.models import ExceptionItem
from tests.routing.conftest import SYSTEM, publish, rule
from tests.threads import in_parallel

pytestmark = pytest.mark.django_db(transaction=True)


def submit(prefix: str, n: int, count: int, batch: int) -> None:
    for start in range(0, count, batch):
        intake_submit(
            actor=SYSTEM,
            channel="batch",
            items=[
                Submitted(
                    payload={
                        "source": "web",
                        "email": f"{prefix}{n}-{start + i}@example.com",
                        "country": "DE",
                    }
                )
                for i in range(batch)
            ],
        )


def test_a_thousand_leads_over_eight_connections_split_evenly(
    table, market_a, inbound, author, approver
):
    # given round robin over four equal, always available members
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)

    # when 8 connections submit 125 leads each (batches of 1 to 25, all at once)
    in_parallel(8, lambda n: submit("rr", n, 125, batch=[1, 5, 25, 1, 5, 25, 1, 5][n]))

    # then every member has 250 ± 1
    with system_context("tests"):
        shares = Counter(Lead.objects.values_list("owner__username", flat=True))
    assert sum(shares.values()) == 1000
    assert set(shares) == {"ann", "ben", "cat", "dan"}
    assert all(249 <= share <= 251 for share in shares.values()), shares


def test_caps_are_never_exceeded_under_concurrency(table, market_a, inbound, author, approver):
    # given four members who may each hold at most 10 open leads
    with system_context("tests"):
        for member in TeamMember.objects.filter(team=inbound).select_related("user"):
            team_member_set(actor=SYSTEM, team=inbound, user=member.user, cap_open=10)
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)

    # when 8 connections submit 8 leads each at once (64 leads for 40 places)
    in_parallel(8, lambda n: submit("cap", n, 8, batch=[1, 2, 4, 8, 1, 2, 4, 8][n]))

    # then exactly 40 are assigned, 10 each, and the other 24 are unroutable with the reason
    with system_context("tests"):
        shares = Counter(
            Lead.objects.filter(owner__isnull=False).values_list("owner__username", flat=True)
        )
        unroutable = ExceptionItem.objects.filter(kind="unroutable")
        assert unroutable.count() == 24
        assert all("nobody available" in i.summary or "full" in i.summary for i in unroutable)
    assert shares == {"ann": 10, "ben": 10, "cat": 10, "dan": 10}
