"""Building blocks for models in every app: market scoping with its ORM guard."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import models

from leadops.core.access import access_require


class MarketScopedQuerySet(models.QuerySet[Any]):
    """Raises MarketContextMissing when it touches the database with no access context.

    RLS already returns nothing in that case; raising turns a silent empty page into a loud bug.
    Scoping itself stays explicit in selectors (`.filter(market_id__in=...)`), so each of the
    two layers holds on its own.
    """

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            access_require()
        super()._fetch_all()

    def iterator(self, chunk_size: int | None = None) -> Any:
        access_require()
        return super().iterator(chunk_size=chunk_size)

    def count(self) -> int:
        access_require()
        return super().count()

    def exists(self) -> bool:
        access_require()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        access_require()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        access_require()
        return super().update(**kwargs)

    def _update(self, values: Any) -> Any:
        access_require()
        return super()._update(values)  # type: ignore[misc]

    def _insert(self, *args: Any, **kwargs: Any) -> Any:
        access_require()
        return super()._insert(*args, **kwargs)  # type: ignore[misc]

    def delete(self) -> tuple[int, dict[str, int]]:
        access_require()
        return super().delete()


MarketScopedManager = models.Manager.from_queryset(MarketScopedQuerySet)


class MarketScopedModel(models.Model):
    """A row that belongs to one market. Its table must be put under RLS with
    `leadops.core.rls.rls_enable` in the migration that creates it (a test checks every table)."""

    market = models.ForeignKey(
        "markets.Market", on_delete=models.PROTECT, related_name="%(app_label)s_%(class)s_set"
    )

    objects = MarketScopedManager()
    # The column that names the row's market (the admin's scoping reads it).
    market_scope_column = "market_id"

    class Meta:
        abstract = True
        # Saves and deletes go through the base manager: guard it too.
        base_manager_name = "objects"


class ScopedByMarkets(models.Model):
    """A record whose content may hold data of several markets (a job's result, an uploaded
    list): readable only by someone holding every market in `scope_market_ids`, and global
    rows too if `scope_global`. Its table goes under RLS with `rls.scope_expression`."""

    scope_market_ids = ArrayField(
        models.BigIntegerField(),
        default=list,
        blank=True,
        help_text="Markets whose data it holds; a reader needs all of them.",
    )
    scope_global = models.BooleanField(
        default=True, help_text="It holds data of no market (e.g. the whole audit chain)."
    )

    objects = MarketScopedManager()

    class Meta:
        abstract = True
        base_manager_name = "objects"


class Job(ScopedByMarkets):
    """A long-running piece of work (verify, import, backtest…) run by a worker; pages poll it.

    No admin request runs long: it creates a Job, enqueues the task on commit and shows this row.

    A job's result can hold data of every market it touched, so the job has that scope: it is
    readable only by someone who holds every market in `scope_market_ids` (and, with
    `scope_global`, sees rows of no market). The table is under RLS on exactly that rule.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=40, db_index=True)
    actor_label = models.CharField(max_length=150)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done, 0 to 100.")
    message = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(ScopedByMarkets.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=["queued", "running", "succeeded", "failed"]),
                name="core_job_state_valid",
            ),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="core_job_progress"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)


class SeedMarker(models.Model):
    """A piece of demo data `seed_demo` has made once (a note, a flagged item, the leads…).

    The seed never makes a marked piece again, so whatever a person did to it since (resolved,
    dismissed, deleted) stays done.
    """

    key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
