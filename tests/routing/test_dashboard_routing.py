"""The dashboard's routing section: assignments per team and owner, the unroutable rate, and
the leads waiting for an owner now, for the reader's markets only."""

from __future__ import annotations

import re

import pytest

from tests.leads.test_api_ingest import post
from tests.routing.conftest import publish, rule

pytestmark = pytest.mark.django_db


def figure(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found, element_id
    return found.group(1)


def test_the_routing_section_counts_assignments_and_unroutable_leads(
    client, table, key_a, market_a, inbound, author, approver, revops_user
):
    # given four leads assigned round robin, then rules under which two more are unroutable
    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    for n in range(4):
        post(key_a, {"source": "web", "email": f"r{n}@example.com", "country": "DE"})
    hot = {"field": "score", "op": "gte", "value": 99}
    publish(market_a, [rule("hot", hot, team="Inbound")], author=author, approver=approver)
    for n in range(2):
        post(key_a, {"source": "web", "email": f"u{n}@example.com", "country": "DE"})
    client.force_login(revops_user)

    # when RevOps open the dashboard
    html = client.get("/admin/dashboard/").content.decode()

    # then it shows 4 assigned (one per member), 2 of 6 unroutable, 2 waiting as unroutable
    assert figure(html, "routing-assigned") == "4"
    assert figure(html, "unroutable-rate") == "33.3 %"
    assert figure(html, "unroutable-open") == "2"
    assert figure(html, "waiting-team") == "0"
    table_html = html[html.index('id="routing-owners"') :]
    for name in ("ann", "ben", "cat", "dan"):
        assert f"<td>{name}</td>" in table_html


def test_a_manager_of_another_market_sees_none_of_it(
    client, table, key_a, market_a, market_b, inbound, author, approver
):
    from django.contrib.auth.models import Group

    from leadops.markets.services import manager_group_name
    from tests.factories import UserFactory

    publish(market_a, [rule("all", team="Inbound")], author=author, approver=approver)
    post(key_a, {"source": "web", "email": "seen@example.com", "country": "DE"})
    manager_b = UserFactory.create(username="manager_b", is_staff=True)
    manager_b.groups.add(Group.objects.get(name=manager_group_name(market_b)))
    client.force_login(manager_b)

    html = client.get("/admin/dashboard/").content.decode()

    assert figure(html, "routing-assigned") == "0"
    assert "No lead was routed in this period" in html
