import hashlib

import pytest
from rest_framework.test import APIClient

from leadops.core.access import system_context
from leadops.markets.models import ApiClient
from leadops.markets.services import api_client_create, api_client_update
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db


def _api(key=None, scheme="Token"):
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_client_scoped_to_a_sees_only_a(notes, client_a_key, scheme):
    api = _api(client_a_key, scheme)

    markets = api.get("/api/v1/markets").json()["results"]
    note_page = api.get("/api/v1/market-notes").json()

    assert [m["code"] for m in markets] == ["AAA"]
    assert [n["text"] for n in note_page["results"]] == ["note in A"]


def test_all_markets_client_sees_every_market(notes, market_a):
    with system_context("tests"):
        key = api_client_create(actor=SYSTEM, name="crm", all_markets=True).key

    codes = sorted(m["code"] for m in _api(key).get("/api/v1/markets").json()["results"])

    assert codes == ["AAA", "BBB", "UNASSIGNED"]


@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 401), ("Token lo_nope_nope", 401), ("Token garbage", 401), ("Token a b", 401)],
)
def test_missing_or_bad_keys_are_refused(notes, header, status):
    api = APIClient()
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)

    response = api.get("/api/v1/market-notes")

    assert response.status_code in (status, 403)
    assert "detail" in response.json()
    assert "note in" not in response.content.decode()


def test_deactivated_client_is_refused(notes, client_a_key, market_a):
    with system_context("tests"):
        client = ApiClient.objects.get(name="partner-a")
        api_client_update(
            actor=SYSTEM,
            client=client,
            markets=[market_a],
            all_markets=False,
            is_active=False,
            rate_limit="",
        )

    response = _api(client_a_key).get("/api/v1/markets")

    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "This API client is deactivated."


def test_key_is_stored_only_as_its_sha256(client_a_key):
    client = ApiClient.objects.get(name="partner-a")

    assert client.key_hash == hashlib.sha256(client_a_key.encode()).hexdigest()
    assert client_a_key.startswith(f"lo_{client.key_prefix}_")
    assert client_a_key not in str(ApiClient.objects.filter(pk=client.pk).values().get())


def test_client_over_its_rate_gets_429_with_retry_after(market_a):
    # given a client allowed two requests a minute
    with system_context("tests"):
        key = api_client_create(
            actor=SYSTEM, name="chatty", markets=[market_a], rate_limit="2/min"
        ).key
    api = _api(key)

    # when it makes a third
    statuses = [api.get("/api/v1/markets").status_code for _ in range(3)]
    third = api.get("/api/v1/markets")

    # then it is told to wait, in the documented error format
    assert statuses == [200, 200, 429]
    assert third.status_code == 429
    assert 0 < int(third["Retry-After"]) <= 60
    assert third.json()["code"] == "throttled"


def test_throttle_counts_per_client(market_a, client_a_key):
    with system_context("tests"):
        other = api_client_create(
            actor=SYSTEM, name="other", markets=[market_a], rate_limit="1/min"
        ).key
    assert _api(other).get("/api/v1/markets").status_code == 200
    assert _api(other).get("/api/v1/markets").status_code == 429

    assert _api(client_a_key).get("/api/v1/markets").status_code == 200


@pytest.mark.parametrize(
    ("who", "codes"),
    [
        ("staff_no_market", []),
        ("manager_a", ["AAA"]),
        ("revops", ["AAA", "BBB", "UNASSIGNED"]),
        ("superuser", ["AAA", "BBB", "UNASSIGNED"]),
    ],
)
def test_session_users_see_their_markets(request, notes, who, codes):
    from tests.factories import UserFactory

    users = {
        "staff_no_market": lambda: UserFactory.create(is_staff=True),
        "manager_a": lambda: request.getfixturevalue("manager_a"),
        "revops": lambda: request.getfixturevalue("revops_user"),
        "superuser": lambda: UserFactory.create(is_staff=True, is_superuser=True),
    }
    api = APIClient()
    api.force_authenticate(users[who]())

    response = api.get("/api/v1/markets")

    assert sorted(m["code"] for m in response.json()["results"]) == codes


def test_anonymous_is_refused(notes):
    assert APIClient().get("/api/v1/markets").status_code in (401, 403)


def test_scope_of_one_request_never_reaches_the_next(notes, market_b, client_a_key):
    # given a client of B, and requests alternating on the same thread and connection
    with system_context("tests"):
        key_b = api_client_create(actor=SYSTEM, name="partner-b", markets=[market_b]).key

    seen = [
        [m["code"] for m in _api(key).get("/api/v1/markets").json()["results"]]
        for key in (client_a_key, key_b, client_a_key)
    ]

    assert seen == [["AAA"], ["BBB"], ["AAA"]]
    assert _api().get("/api/v1/markets").status_code in (401, 403)
