"""Core services. Every state change takes an explicit actor and runs in one transaction."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from leadops.core.actors import Actor, actor_ref
from leadops.core.models import Job

HEARTBEAT_CACHE_KEY = "leadops:worker-heartbeat"


def heartbeat_record() -> datetime:
    """Remember when a worker last ran the beat heartbeat (read by /healthz)."""
    now = timezone.now()
    cache.set(HEARTBEAT_CACHE_KEY, now.isoformat(), timeout=None)
    return now


@transaction.atomic
def user_ensure(
    *,
    actor: Actor,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = True,
    is_superuser: bool = False,
    groups: list[str] | None = None,
) -> AbstractUser:
    """Create the user or bring an existing one back to exactly these attributes.

    Idempotent, so `seed_demo` can run on every `make run`; the password is reset each time so the
    printed demo logins always work.
    """
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    assert isinstance(user, AbstractUser)
    user.email = email
    user.first_name = first_name
    user.last_name = last_name
    user.is_staff = is_staff or is_superuser
    user.is_superuser = is_superuser
    user.is_active = True
    user.set_password(password)
    user.full_clean()
    user.save()
    if groups is not None:
        user.groups.set(Group.objects.filter(name__in=groups))
    return user


@transaction.atomic
def job_create(*, actor: Actor, kind: str) -> Job:
    """Record a job as queued; the caller enqueues its task on commit with the job's id."""
    return Job.objects.create(kind=kind, actor_label=actor_ref(actor).label)


def job_start(*, job_id: int) -> Job:
    Job.objects.filter(pk=job_id).update(
        state=Job.State.RUNNING, started_at=timezone.now(), progress=0
    )
    return Job.objects.get(pk=job_id)


def job_progress(*, job_id: int, progress: int, message: str = "") -> None:
    """Report progress from inside a running job. Runs in its own autocommit statement, so a
    page polling the job sees it while the job's own transaction is still open."""
    Job.objects.filter(pk=job_id).update(progress=min(100, max(0, progress)), message=message)


def job_finish(*, job_id: int, ok: bool, result: dict[str, object], message: str = "") -> Job:
    Job.objects.filter(pk=job_id).update(
        state=Job.State.SUCCEEDED if ok else Job.State.FAILED,
        progress=100,
        result=result,
        message=message[:300],
        finished_at=timezone.now(),
    )
    return Job.objects.get(pk=job_id)
