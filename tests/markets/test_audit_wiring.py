"""Market, access and API client changes each leave one audit event in their transaction."""

import json

import pytest
from django.db import connection

from leadops.core.access import system_context
from leadops.markets.models import ApiClient
from leadops.markets.services import api_client_update, market_access_grant, market_access_revoke
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db


def _events(action):
    with system_context("tests"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT market_id, target_type, target_id, body FROM audit_event WHERE action = %s"
            " ORDER BY id",
            [action],
        )
        return [(m, t, i, json.loads(bytes(b))) for m, t, i, b in cursor.fetchall()]


def test_market_creation_is_audited_in_its_market(market_a):
    [(market_id, target_type, target_id, body)] = _events("market.created")[-1:]

    assert (market_id, target_type, target_id) == (market_a.id, "markets.market", str(market_a.id))
    assert body["data"] == {"code": "AAA", "name": "Market A", "timezone": "Europe/Berlin"}
    assert body["actor"] == {"kind": "system", "id": "tests", "label": "system:tests"}


def test_grant_and_revoke_are_audited(market_a):
    person = UserFactory.create(username="pat")

    market_access_grant(actor=SYSTEM, market=market_a, user=person)
    market_access_revoke(actor=SYSTEM, market=market_a, user=person)

    granted = _events("market_access.granted")[-1]
    revoked = _events("market_access.revoked")[-1]
    assert granted[:3] == (market_a.id, "auth.user", str(person.pk))
    assert revoked[3]["data"] == {"market": "AAA", "grantee": "pat"}


def test_api_client_changes_are_global_events_without_the_key(market_a, client_a_key):
    with system_context("tests"):
        client = ApiClient.objects.get(name="partner-a")
        api_client_update(
            actor=SYSTEM, client=client, markets=[], all_markets=True, is_active=True, rate_limit=""
        )

    created = _events("api_client.created")[-1]
    updated = _events("api_client.updated")[-1]
    assert created[0] is None
    assert created[3]["data"]["markets"] == ["AAA"]
    assert client_a_key not in json.dumps(created[3])
    assert updated[3]["data"]["all_markets"] is True


def test_admin_actions_are_recorded_with_origin_admin(client, revops_user, market_b):
    client.force_login(revops_user)
    person = UserFactory.create(username="sam", is_staff=True)

    client.post(
        "/admin/markets/market/access/",
        {"market": market_b.pk, "user": person.pk, "action": "grant"},
    )

    body = _events("market_access.granted")[-1][3]
    assert body["origin"] == "admin"
    assert body["actor"] == {"kind": "user", "id": str(revops_user.pk), "label": "revops"}


def test_audit_event_list_is_scoped_to_the_managers_markets(client, manager_a, market_a, market_b):
    client.force_login(manager_a)

    html = client.get("/admin/audit/auditevent/?action__exact=market.created").content.decode()
    listed_markets = {cell.split("<")[0] for cell in html.split('<td class="field-markets">')[1:]}

    assert market_a.code in listed_markets
    assert market_b.code not in listed_markets
