import pytest

from leadops.core.access import system_context
from leadops.core.models import Job
from leadops.core.services import JobScope, job_create
from leadops.leads.models import Lead, SourceTouch, Submission
from leadops.leads.retag import retag_run
from leadops.markets.market_table import (
    market_table_draft_create,
    market_table_publish,
    market_table_row_add,
)
from tests.fixtures import SYSTEM
from tests.leads.test_api_ingest import ADA, post

pytestmark = pytest.mark.django_db


def publish_moved(market_b):
    """A new version sending Berlin (postal 10…) to market B, published after the leads exist."""
    with system_context("tests"):
        draft = market_table_draft_create(actor=SYSTEM, note="Berlin moves to B")
        market_table_row_add(
            actor=SYSTEM, version=draft, kind="postal", key="10", country="DE", market=market_b
        )
        return market_table_publish(actor=SYSTEM, version=draft)


def test_preview_reports_moves_and_changes_nothing(table, key_a, market_a, market_b):
    lead = post(key_a, ADA).json()
    moved_table = publish_moved(market_b)

    result = retag_run(actor=SYSTEM, version=moved_table, apply=False)

    assert result["would_move"] == 1
    assert result["flows"] == {"AAA → BBB": 1}
    with system_context("tests"):
        assert Lead.objects.get(pk=lead["lead_id"]).market_id == market_a.id


def test_retag_moves_the_lead_with_its_rows_and_audits_it(table, key_a, market_a, market_b):
    lead = post(key_a, ADA).json()
    moved_table = publish_moved(market_b)
    job = job_create(actor=SYSTEM, kind="retag", scope=JobScope(market_ids=frozenset()))

    result = retag_run(actor=SYSTEM, version=moved_table, apply=True, job_id=job.pk)

    with system_context("tests"):
        moved = Lead.objects.get(pk=lead["lead_id"])
        submission = Submission.objects.get(pk=lead["submission_id"])
        touch = SourceTouch.objects.get(lead=moved)
        from audit.models import AuditEvent

        retagged = AuditEvent.objects.filter(action="lead.moved", target_id=str(moved.pk))
        assert retagged.count() == 1
    assert result["moved"] == 1
    assert (moved.market_id, submission.market_id, touch.market_id) == (market_b.id,) * 3
    assert moved.market_table_version == moved_table.number
    with system_context("tests"):
        job.refresh_from_db()
    assert (job.state, job.progress) == ("succeeded", 100)
    # the result names leads of A and B: only holders of both may read it
    assert (sorted(job.scope_market_ids), job.scope_global) == (
        sorted([market_a.id, market_b.id]),
        False,
    )


def test_a_lead_whose_email_exists_in_the_target_market_stays(table, key_all, market_a, market_b):
    # given the same email already in market B (a French address) and in market A (Berlin)
    post(key_all, {**ADA, "country": "FR", "postal_code": "75001", "phone": ""})
    berlin = post(key_all, {**ADA, "phone": ""}).json()
    moved_table = publish_moved(market_b)

    result = retag_run(actor=SYSTEM, version=moved_table, apply=True)

    assert (result["moved"], result["skipped_duplicates"]) == (0, 1)
    with system_context("tests"):
        assert Lead.objects.get(pk=berlin["lead_id"]).market_id == market_a.id


@pytest.mark.parametrize(("who", "status"), [("manager_a", 403), ("revops", 200)])
def test_retag_page_is_for_revops(client, request, table, who, status):
    client.force_login(
        request.getfixturevalue("manager_a" if who == "manager_a" else "revops_user")
    )

    response = client.get("/admin/leads/lead/retag/")

    assert response.status_code == status


def test_revops_queues_a_preview_from_the_page(
    client, revops_user, table, django_capture_on_commit_callbacks, monkeypatch
):
    from leadops.leads import tasks

    sent = []
    monkeypatch.setattr(tasks.retag_job, "delay", lambda *args: sent.append(args))
    client.force_login(revops_user)

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/leads/lead/retag/", {"version": table.pk, "apply": "0"})

    with system_context("tests"):
        job = Job.objects.get(kind="retag_preview")
    assert sent == [(job.pk, table.pk, False, revops_user.pk)]
