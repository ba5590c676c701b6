"""Core services. Every state change takes an explicit actor and runs in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from leadops.core.access import system_context
from leadops.core.actors import Actor, actor_ref
from leadops.core.models import Job, SeedMarker

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
    password: str | None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    is_staff: bool = True,
    is_superuser: bool = False,
    groups: list[str] | None = None,
) -> AbstractUser:
    """Create the user or bring an existing one to exactly these attributes; `password` None
    leaves the account without a usable password (people who never log in)."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    assert isinstance(user, AbstractUser)
    user.email = email
    user.first_name = first_name
    user.last_name = last_name
    user.is_staff = is_staff or is_superuser
    user.is_superuser = is_superuser
    user.is_active = True
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.full_clean()
    user.save()
    if groups is not None:
        user.groups.set(Group.objects.filter(name__in=groups))
    return user


@dataclass(frozen=True)
class JobScope:
    """What a job's result may hold: data of these markets, and of no market if `global_rows`.
    Only someone holding all of it may read the job (RLS on core_job enforces this)."""

    market_ids: frozenset[int]
    global_rows: bool = False


def job_create(*, actor: Actor, kind: str, scope: JobScope) -> Job:
    """Record a job as queued; the caller enqueues its task on commit with the job's id.

    Written in system context: the creator may start a job whose scope they hold only in
    part while it runs (a retag looks at every market); readers are scoped by RLS."""
    with system_context("job_create"):
        return Job.objects.create(
            kind=kind,
            actor_label=actor_ref(actor).label,
            scope_market_ids=sorted(scope.market_ids),
            scope_global=scope.global_rows,
        )


def job_start(*, job_id: int) -> Job:
    with system_context("job_start"):
        Job.objects.filter(pk=job_id).update(
            state=Job.State.RUNNING, started_at=timezone.now(), progress=0
        )
        return Job.objects.get(pk=job_id)


def job_progress(*, job_id: int, progress: int, message: str = "") -> None:
    """Report progress from inside a running job. Runs in its own short transaction, so a page
    polling the job sees it while the job's own work goes on."""
    with system_context("job_progress"):
        Job.objects.filter(pk=job_id).update(progress=min(100, max(0, progress)), message=message)


def job_finish(
    *,
    job_id: int,
    ok: bool,
    result: dict[str, object],
    message: str = "",
    scope: JobScope | None = None,
) -> Job:
    """Record the outcome. `scope`, when given, replaces the job's scope with what the result
    really holds (a retag preview that moved leads of DE and FR only is for holders of both)."""
    changes: dict[str, object] = {
        "state": Job.State.SUCCEEDED if ok else Job.State.FAILED,
        "progress": 100,
        "result": result,
        "message": message[:300],
        "finished_at": timezone.now(),
    }
    if scope is not None:
        changes["scope_market_ids"] = sorted(scope.market_ids)
        changes["scope_global"] = scope.global_rows
    with system_context("job_finish"):
        Job.objects.filter(pk=job_id).update(**changes)
        return Job.objects.get(pk=job_id)


def seed_markers() -> frozenset[str]:
    """Keys of the demo pieces made so far (one statement: the seed is cheap when all exist)."""
    return frozenset(SeedMarker.objects.values_list("key", flat=True))


@transaction.atomic
def seed_mark(*, actor: Actor, key: str) -> None:
    """Remember that the seed made (or found) `key`, in the transaction that made it."""
    SeedMarker.objects.get_or_create(key=key)
