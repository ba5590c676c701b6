"""Rule sets, their versions, the decisions they make, and the round-robin pointers.

A rule set belongs to one market, or to none: the global fallback, which handles leads no
market rule set places and UNASSIGNED leads. Its versions move draft → submitted → approved →
published → retired; a published or retired version never changes again (a trigger in the
migration refuses it, whatever writes).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from leadops.core.models import MarketScopedManager


class RuleSet(models.Model):
    """The rules of one market (or the global fallback when `market` is empty)."""

    market = models.ForeignKey(
        "markets.Market", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MarketScopedManager()
    market_scope_column = "market_id"

    class Meta:
        ordering = ["name"]
        base_manager_name = "objects"
        constraints = [
            # One per market and one global (NULLs are distinct in a plain unique index).
            models.UniqueConstraint(Coalesce("market", 0), name="routing_one_rule_set_per_market"),
        ]
        permissions = [
            ("approve_ruleversion", "Can approve and publish routing versions"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_global(self) -> bool:
        return self.market_id is None


class RuleVersion(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted for approval"
        APPROVED = "approved", "Approved"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    rule_set = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="versions")
    # The rule set's market, repeated so RLS can scope versions directly.
    market = models.ForeignKey(
        "markets.Market", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    # {"rules": [...], "fixtures": [...]} as routing/rules.py describes.
    content = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=64)
    change_note = models.CharField(max_length=500, help_text="Why this version exists.")
    # A rollback republishes an earlier version's content as a new version.
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = MarketScopedManager()
    market_scope_column = "market_id"

    class Meta:
        ordering = ["rule_set", "-number"]
        base_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "number"], name="routing_version_number"),
            models.UniqueConstraint(
                fields=["rule_set"],
                condition=models.Q(state="published"),
                name="routing_one_published_version",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    state__in=["draft", "submitted", "approved", "published", "retired"]
                ),
                name="routing_version_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_set} v{self.number} ({self.state})"

    @property
    def rules(self) -> list[dict[str, Any]]:
        return list(self.content.get("rules", []))

    @property
    def fixtures(self) -> list[dict[str, Any]]:
        return list(self.content.get("fixtures", []))


class Decision(models.Model):
    """One routing decision about one lead: what was evaluated, who was skipped and why, and
    the inputs it used (availability, caps, loads), so a backtest can replay the past."""

    class Outcome(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        WAITING = "waiting", "Waiting for the team to open"
        UNROUTABLE = "unroutable", "Unroutable"

    class Trigger(models.TextChoices):
        INTAKE = "intake", "Intake"
        RELEASE = "release", "Released from hold"
        MARKET = "market", "Put in another market"
        RETAG = "retag", "Retagged"
        MANUAL = "manual", "On demand"
        WAKE = "wake", "Team opened"
        SLA = "sla", "SLA escalation"

    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    market = models.ForeignKey("markets.Market", on_delete=models.PROTECT, related_name="+")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    # A record of what was: the version, team and person it names are kept by id without a
    # constraint (like history rows), which also spares intake three deferred foreign-key
    # checks per lead at COMMIT. Versions are never deleted once used; teams and people may be.
    version = models.ForeignKey(
        RuleVersion,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    rule = models.CharField(max_length=64, blank=True)
    team = models.ForeignKey(
        "markets.Team",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    reason = models.CharField(max_length=300)
    # The rules evaluated, with the conditions and their values (routing/engine.py).
    trace = models.JSONField(default=list)
    # Candidates with availability, loads and caps, and who was skipped and why.
    inputs = models.JSONField(default=dict)
    decided_at = models.DateTimeField(default=timezone.now)
    # A waiting decision: when to try again (the team's next open time), and when it was.
    wake_at = models.DateTimeField(null=True, blank=True)
    woken_at = models.DateTimeField(null=True, blank=True)

    objects = MarketScopedManager()
    market_scope_column = "market_id"

    class Meta:
        ordering = ["-decided_at", "-id"]
        base_manager_name = "objects"
        indexes = [
            models.Index(fields=["lead", "-decided_at"], name="routing_decision_lead"),
            # The dashboard counts a period's decisions per market.
            models.Index(fields=["market", "decided_at"], name="routing_decision_market_time"),
            # Daily caps count today's assignments per owner.
            models.Index(
                fields=["owner", "decided_at"],
                condition=models.Q(outcome="assigned"),
                name="routing_decision_owner_day",
            ),
            # The wake sweep reads only what is waiting.
            models.Index(
                fields=["wake_at"],
                condition=models.Q(outcome="waiting", woken_at__isnull=True),
                name="routing_decision_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} by {self.rule or '—'}"


class Pointer(models.Model):
    """A team's round-robin position: how many picks the team has made. Incremented by the
    number of leads a transaction assigns, as its last routing statement, so the row lock is
    held only from there to COMMIT."""

    team = models.OneToOneField("markets.Team", on_delete=models.CASCADE, primary_key=True)
    market = models.ForeignKey("markets.Market", on_delete=models.PROTECT, related_name="+")
    position = models.BigIntegerField(default=0)

    objects = MarketScopedManager()
    market_scope_column = "market_id"

    def __str__(self) -> str:
        return f"{self.team_id} @ {self.position}"


class BacktestRun(models.Model):
    """One backtest of a version: who asked, over what, its job (progress), and the content
    hash it ran on (a later edit makes it stale). Its results are `BacktestPart`s, one per
    market, each under RLS: a reader sees the parts of their markets only."""

    version = models.ForeignKey(RuleVersion, on_delete=models.CASCADE, related_name="backtests")
    # The version's market, repeated so RLS can scope runs (None: the global fallback's).
    market = models.ForeignKey(
        "markets.Market", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    job = models.ForeignKey("core.Job", on_delete=models.PROTECT, related_name="+")
    content_hash = models.CharField(max_length=64)
    market_ids = models.JSONField(default=list)
    since = models.DateField(null=True, blank=True)
    limit = models.PositiveIntegerField(null=True, blank=True)
    requested_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    cancel_requested = models.BooleanField(default=False)
    cancelled = models.BooleanField(default=False)

    objects = MarketScopedManager()
    market_scope_column = "market_id"

    class Meta:
        ordering = ["-created_at", "-id"]
        base_manager_name = "objects"

    def __str__(self) -> str:
        return f"backtest #{self.pk} of {self.version}"


class BacktestPart(models.Model):
    """One market's part of a backtest: its counts, matrix and rule hits (`summary`) and its
    changed leads (`changed`: lead id, moment, before and after)."""

    run = models.ForeignKey(BacktestRun, on_delete=models.CASCADE, related_name="parts")
    market = models.ForeignKey("markets.Market", on_delete=models.PROTECT, related_name="+")
    summary = models.JSONField(default=dict)
    changed = models.JSONField(default=list)

    objects = MarketScopedManager()
    market_scope_column = "market_id"

    class Meta:
        base_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(fields=["run", "market"], name="routing_backtest_part_once")
        ]

    def __str__(self) -> str:
        return f"part {self.market_id} of backtest {self.run_id}"
