"""Every lead endpoint and page shows a caller only their markets."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.leads.test_api_ingest import ADA, api, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_leads(table, key_all):
    de = post(key_all, ADA).json()
    fr = post(
        key_all,
        {
            **ADA,
            "email": "fr@example.com",
            "country": "France",
            "postal_code": "75001",
            "phone": "",
        },
    ).json()
    return de, fr


def test_client_of_a_lists_and_reads_only_a(two_leads, key_a):
    de, fr = two_leads

    listed = api(key_a).get("/api/v1/leads").json()["results"]
    own = api(key_a).get(f"/api/v1/leads/{de['lead_id']}")
    other = api(key_a).get(f"/api/v1/leads/{fr['lead_id']}")

    assert [row["id"] for row in listed] == [de["lead_id"]]
    assert own.status_code == 200
    assert own.json()["touches"][0]["source"] == "web"
    assert other.status_code == 404


def test_list_pages_with_a_keyset_cursor_and_resumes_with_overlap(two_leads, key_all):
    first = api(key_all).get("/api/v1/leads?page_size=1").json()
    second = api(key_all).get(f"/api/v1/leads?page_size=1&cursor={first['next']}").json()
    tail = api(key_all).get(f"/api/v1/leads?page_size=5&cursor={second['next']}").json()
    again = api(key_all).get(
        f"/api/v1/leads?page_size=5&cursor={second['resume'] or tail['resume'] or first['next']}"
    )

    assert len(first["results"]) == len(second["results"]) == 1
    assert first["results"][0]["id"] != second["results"][0]["id"]
    assert tail["results"] == []
    assert again.status_code == 200


def test_a_bad_cursor_is_a_field_error(two_leads, key_all):
    response = api(key_all).get("/api/v1/leads?cursor=garbage")

    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


@pytest.mark.parametrize(
    ("who", "status", "sees_fr"),
    [("anonymous", 302, False), ("manager_a", 200, False), ("revops", 200, True)],
)
def test_lead_admin_is_scoped(client, request, two_leads, who, status, sees_fr):
    if who != "anonymous":
        client.force_login(
            request.getfixturevalue("manager_a" if who == "manager_a" else "revops_user")
        )

    response = client.get("/admin/leads/lead/")

    assert response.status_code == status
    if status == 200:
        html = response.content.decode()
        assert f">{two_leads[0]['lead_id']}<" in html
        assert (f">{two_leads[1]['lead_id']}<" in html) is sees_fr


def test_admin_search_uses_the_normalized_email(client, revops_user, two_leads):
    client.force_login(revops_user)

    html = client.get("/admin/leads/lead/?q=%20ADA.Lovelace@example.com").content.decode()

    assert f">{two_leads[0]['lead_id']}<" in html
    assert f">{two_leads[1]['lead_id']}<" not in html


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=12,
)
lead_like = st.fixed_dictionaries(
    {},
    optional={
        "source": st.sampled_from(["web", "nope", ""]) | json_values,
        "email": st.text(max_size=40) | json_values,
        "phone": st.text(max_size=20) | json_values,
        "country": st.text(max_size=12) | json_values,
        "postal_code": st.text(max_size=10),
        "occurred_at": st.text(max_size=25) | json_values,
        "attributes": json_values,
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(json_values, lead_like))
def test_no_input_gives_a_500(table, key_a, body):
    response = APIClient(raise_request_exception=False)
    response.credentials(HTTP_AUTHORIZATION=f"Token {key_a}")

    result = response.post("/api/v1/leads", body, format="json")

    assert result.status_code in (200, 201, 202, 400)


def test_lead_audit_of_another_market_is_404(two_leads, key_a):
    de, fr = two_leads

    own = api(key_a).get(f"/api/v1/leads/{de['lead_id']}/audit")
    other = api(key_a).get(f"/api/v1/leads/{fr['lead_id']}/audit")

    assert own.status_code == 200
    assert other.status_code == 404


@pytest.mark.parametrize(
    ("who", "submissions", "sources", "mappings"),
    [
        ("manager_a", 200, 403, 403),
        ("revops", 200, 200, 200),
    ],
)
def test_intake_admin_pages_permission_matrix(
    client, request, two_leads, who, submissions, sources, mappings
):
    client.force_login(
        request.getfixturevalue("manager_a" if who == "manager_a" else "revops_user")
    )

    got = [
        client.get(url).status_code
        for url in (
            "/admin/leads/submission/",
            "/admin/leads/source/",
            "/admin/leads/sourcemapping/",
        )
    ]

    assert got == [submissions, sources, mappings]


def test_manager_sees_only_their_markets_submissions(client, manager_a, two_leads):
    client.force_login(manager_a)

    html = client.get("/admin/leads/submission/").content.decode()

    assert f">{two_leads[0]['submission_id']}<" in html
    assert f">{two_leads[1]['submission_id']}<" not in html
