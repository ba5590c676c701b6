import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from audit.tasks import verify_job
from leadops.core.access import system_context
from leadops.core.models import Job
from leadops.core.services import JobScope, job_create
from leadops.markets.models import REVOPS_GROUP
from tests.audit.conftest import ACTOR, as_superuser, record_events
from tests.factories import UserFactory

VERIFY_PAGE = "/admin/audit/auditevent/verify/"
WHOLE_CHAIN = JobScope(market_ids=frozenset(), global_rows=True)


@pytest.mark.django_db(transaction=True)
def test_verify_job_records_progress_and_result_and_the_api_reports_it():
    # given some history and a queued verification
    record_events(3)
    job = job_create(actor=ACTOR, kind="audit_verify", scope=WHOLE_CHAIN)
    api = APIClient()
    api.force_authenticate(UserFactory.create(is_staff=True, is_superuser=True))
    assert api.get("/api/v1/audit/verify").json()["ok"] is None

    # when a worker runs it
    assert verify_job.apply(args=(job.pk,)).get() is True

    # then the job is finished and the API reports it without verifying in the request
    with system_context("tests"):
        job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert job.progress == 100
    body = api.get("/api/v1/audit/verify").json()
    assert body["ok"] is True
    assert body["first_bad_seq"] is None
    assert body["verified_through_seq"] == job.result["verified_through_seq"] >= 3
    assert body["checked_at"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_audit_log")
def test_failed_verification_is_reported_with_its_seq(superuser_sql):
    record_events(2)
    as_superuser(superuser_sql, "DELETE FROM audit_link WHERE seq = 1")
    job = job_create(actor=ACTOR, kind="audit_verify", scope=WHOLE_CHAIN)

    assert verify_job.apply(args=(job.pk,)).get() is False

    api = APIClient()
    api.force_authenticate(UserFactory.create(is_staff=True, is_superuser=True))
    body = api.get("/api/v1/audit/verify").json()
    assert body["ok"] is False
    assert body["first_bad_seq"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "status", "can_run"),
    [
        ("anonymous", 302, False),
        ("staff_no_perm", 403, False),
        ("revops", 200, True),
        ("superuser", 200, True),
    ],
)
def test_verify_page_permission_matrix(client, who, status, can_run):
    if who != "anonymous":
        user = UserFactory.create(is_staff=True, is_superuser=who == "superuser")
        if who == "revops":
            user.groups.add(Group.objects.get(name=REVOPS_GROUP))
        client.force_login(user)

    response = client.get(VERIFY_PAGE)

    assert response.status_code == status
    assert ('id="verify-form"' in response.content.decode()) is can_run


@pytest.mark.django_db
def test_verify_now_queues_a_job_and_enqueues_it_on_commit(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=REVOPS_GROUP))
    client.force_login(user)
    sent = []
    monkeypatch.setattr(verify_job, "delay", lambda job_id: sent.append(job_id))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(VERIFY_PAGE)

    with system_context("tests"):
        job = Job.objects.get(kind="audit_verify")
    assert response.status_code == 302
    assert sent == [job.pk]
    assert job.actor_label == user.username
    assert job.state == Job.State.QUEUED
    assert job.scope_global  # the whole chain: global events too
