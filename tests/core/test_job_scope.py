"""Jobs have the scope of what they hold: readable only by someone holding all of it.

Every reader surface: raw SQL as the runtime role (RLS on core_job), the Jobs admin list and
detail, and GET /api/v1/audit/verify (a verification covers every market and the global events).
"""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from leadops.core.access import market_context, system_context
from leadops.core.services import JobScope, job_create, job_finish
from leadops.markets.services import api_client_create
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db

JOBS = "/admin/core/job/"


@pytest.fixture
def jobs(market_a, market_b):
    """A job about A, one about A and B, and one about the global rows (a verification)."""
    return {
        "a": job_create(actor=SYSTEM, kind="export", scope=JobScope(frozenset({market_a.id}))),
        "ab": job_create(
            actor=SYSTEM, kind="export", scope=JobScope(frozenset({market_a.id, market_b.id}))
        ),
        "global": job_create(
            actor=SYSTEM,
            kind="audit_verify",
            scope=JobScope(frozenset({market_a.id, market_b.id}), global_rows=True),
        ),
    }


def seen_by_sql(market_ids, see_global=False):
    with (
        market_context(market_ids=market_ids, see_global=see_global),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT id FROM core_job")
        return {row[0] for row in cursor.fetchall()}


def test_raw_sql_as_the_runtime_role_sees_only_jobs_whose_whole_scope_it_holds(
    jobs, market_a, market_b
):
    ids = {name: job.pk for name, job in jobs.items()}

    assert seen_by_sql([market_a.id]) == {ids["a"]}
    assert seen_by_sql([market_b.id]) == set()
    assert seen_by_sql([market_a.id, market_b.id]) == {ids["a"], ids["ab"]}
    assert seen_by_sql([market_a.id, market_b.id], see_global=True) == set(ids.values())
    with connection.cursor() as cursor:  # no context at all: nothing
        cursor.execute("SELECT count(*) FROM core_job")
        assert cursor.fetchone()[0] == 0


def test_a_finished_job_narrows_to_what_its_result_holds(jobs, market_a):
    job = job_finish(
        job_id=jobs["global"].pk,
        ok=True,
        result={"moved": 1},
        scope=JobScope(frozenset({market_a.id})),
    )

    assert (job.scope_market_ids, job.scope_global) == ([market_a.id], False)
    assert job.pk in seen_by_sql([market_a.id])


@pytest.mark.parametrize(
    ("who", "sees"),
    [("manager_a", {"a"}), ("revops", {"a", "ab", "global"}), ("superuser", {"a", "ab", "global"})],
)
def test_jobs_admin_list_and_detail_follow_the_scope(client, login_as, jobs, who, sees):
    login_as(who)

    listing = client.get(JOBS).content.decode()
    shown = {name for name, job in jobs.items() if f"{JOBS}{job.pk}/change/" in listing}
    opened = {
        name
        for name, job in jobs.items()
        if client.get(f"{JOBS}{job.pk}/change/").status_code == 200
    }

    assert shown == sees
    assert opened == sees


def test_the_verification_endpoint_is_for_clients_holding_every_market(jobs, market_a):
    # given a finished verification
    job_finish(job_id=jobs["global"].pk, ok=True, result={"ok": True, "verified_through_seq": 7})
    with system_context("tests"):
        key_a = api_client_create(actor=SYSTEM, name="a", markets=[market_a]).key
        key_all = api_client_create(actor=SYSTEM, name="all", all_markets=True).key

    def get(key):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return api.get("/api/v1/audit/verify")

    # then a one-market client is told it may not read it; an all-markets client reads it
    refused, answered = get(key_a), get(key_all)
    assert refused.status_code == 403
    assert "every market" in refused.json()["detail"]
    assert (answered.status_code, answered.json()["ok"]) == (200, True)
    assert answered.json()["verified_through_seq"] == 7
