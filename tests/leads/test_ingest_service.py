"""leads_ingest itself: set-based writes and the one-lead-per-identity guarantee under races."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadops.core.access import system_context
from leadops.leads.ingest import leads_ingest
from leadops.leads.models import Lead, Submission
from leadops.leads.prepare import IngestItem
from tests.fixtures import SYSTEM
from tests.threads import in_parallel


def _item(source, i, **fields):
    base = {
        "email": f"person{i}@example.com",
        "first_name": "Per",
        "last_name": f"Son{i}",
        "country": "DE",
        "postal_code": "10115",
    }
    base.update(fields)
    return IngestItem(source=source, payload=base, fields=base)


@pytest.mark.django_db
def test_statement_count_is_the_same_for_one_and_five_hundred_items(table, web):
    leads_ingest(items=[_item(web, 0)], actor=SYSTEM)  # warm caches (market table index)

    with CaptureQueriesContext(connection) as one:
        leads_ingest(items=[_item(web, 1)], actor=SYSTEM)
    with CaptureQueriesContext(connection) as many:
        leads_ingest(items=[_item(web, i) for i in range(2, 502)], actor=SYSTEM)

    assert len(many.captured_queries) == len(one.captured_queries)
    with system_context("tests"):
        assert Lead.objects.count() == 502


@pytest.mark.django_db
def test_the_same_new_identity_twice_in_one_call_makes_one_lead(table, web):
    results = leads_ingest(items=[_item(web, 7), _item(web, 7, title="CTO")], actor=SYSTEM)

    assert [r.outcome for r in results] == ["created", "merged"]
    lead_id = results[0].lead_id
    assert lead_id is not None
    assert lead_id == results[1].lead_id
    with system_context("tests"):
        assert Lead.objects.get(pk=lead_id).title == "CTO"


@pytest.mark.django_db(transaction=True)
def test_one_hundred_parallel_posts_of_one_identity_make_one_lead(table, web):
    # given 32 connections released together, 100 submissions of one new email
    workers, total = 32, 100
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        for _ in range(n, total, workers):
            [result] = leads_ingest(items=[_item(web, 42)], actor=SYSTEM)
            with lock:
                outcomes.append(result.outcome)

    in_parallel(workers, run)

    # then exactly one lead: 1 created, 99 merged
    assert sorted(outcomes).count("created") == 1
    assert sorted(outcomes).count("merged") == total - 1
    with system_context("tests"):
        assert Lead.objects.filter(email_norm="person42@example.com").count() == 1
        assert Submission.objects.filter(lead__email_norm="person42@example.com").count() == total
