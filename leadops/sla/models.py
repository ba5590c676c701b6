"""SLA policies (versioned, per market), the timers pinned to them, and each timer's history.

A timer is one first-response clock of one lead. `due_at`, `warn_at` and `next_at` are instants
(UTC in the database); business time is turned into them when the clock starts, resumes or is
escalated, so the sweep only compares instants. `next_at` is when the sweep must next look at
the timer (warn, breach, the next ladder step) and NULL when it never needs to: the sweep reads
a partial index on it, so its cost follows what is due, not what is open.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from leadops.core.models import MarketScopedModel


class Policy(MarketScopedModel):
    """A named promise of a market ("inbound demo requests: first response in 60 business
    minutes"); what it says lives in its versions."""

    key = models.SlugField(max_length=50, help_text="Stable name used by export and import.")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(MarketScopedModel.Meta):
        ordering = ["market", "key"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [models.UniqueConstraint(fields=["market", "key"], name="sla_policy_key")]

    def __str__(self) -> str:
        return self.name


class PolicyVersion(MarketScopedModel):
    """One version of a policy: drafts are edited, a published version never changes (a
    trigger refuses it) and is retired when a newer one is published."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    class Start(models.TextChoices):
        RECEIPT = "receipt", "When the lead arrives"
        ASSIGNMENT = "assignment", "When the lead gets an owner"

    class Hours(models.TextChoices):
        MARKET = "market", "The market's business calendar"
        OWNER = "owner", "The owner's own working hours"

    class ResponseBy(models.TextChoices):
        ANYONE = "anyone", "Anyone (not automated)"
        OWNER = "owner", "The owner only"

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    change_note = models.TextField(help_text="Why this version: shown in the version list.")
    author = models.CharField(max_length=150)
    published_by = models.CharField(max_length=150, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # Which leads it applies to: every lead of the market, narrowed by any of these.
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="Among equally specific policies the lowest number wins."
    )
    sources = ArrayField(
        models.CharField(max_length=50),
        default=list,
        blank=True,
        help_text="Source slugs; empty: any source.",
    )
    score_min = models.IntegerField(null=True, blank=True, help_text="Lowest score (inclusive).")
    score_max = models.IntegerField(null=True, blank=True, help_text="Highest score (inclusive).")
    field = models.CharField(max_length=40, blank=True, help_text="A lead field, e.g. country.")
    field_value = models.CharField(max_length=200, blank=True)

    # The promise.
    starts_on = models.CharField(max_length=10, choices=Start.choices, default=Start.RECEIPT)
    minutes = models.PositiveIntegerField(
        help_text="First response within this many business minutes."
    )
    hours = models.CharField(max_length=6, choices=Hours.choices, default=Hours.MARKET)
    warn_percent = models.PositiveSmallIntegerField(
        default=75, help_text="Warn the owner when this share of the time is used (1-99)."
    )
    # [{"step": "notify_owner", "after": 0}, …]: `after` is business minutes after the breach.
    ladder = models.JSONField(default=list, blank=True)
    restart_on_reassign = models.BooleanField(
        default=False, help_text="A new owner gets a fresh clock (an open one is closed)."
    )
    activity_kinds = ArrayField(
        models.CharField(max_length=10),
        default=list,
        help_text="Activity kinds that count as a first response (call, email, meeting, note).",
    )
    response_by = models.CharField(
        max_length=6, choices=ResponseBy.choices, default=ResponseBy.ANYONE
    )

    class Meta(MarketScopedModel.Meta):
        ordering = ["policy", "-number"]
        verbose_name = "SLA policy version"
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="sla_version_number"),
            models.UniqueConstraint(
                fields=["policy"],
                condition=models.Q(state="published"),
                name="sla_version_one_published",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy.key} v{self.number}"


class Timer(MarketScopedModel):
    """One first-response clock of one lead, pinned to the policy version it started under."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        MET = "met", "Met"
        MET_LATE = "met_late", "Met (recorded late)"
        BREACHED = "breached", "Breached"
        CLOSED = "closed", "Closed"

    # Unindexed on its own: the (market, …) indexes below lead with it. Every index on this
    # table is paid by each clock started and each sweep step (bench/README.md).
    market = models.ForeignKey(
        "markets.Market",
        on_delete=models.PROTECT,
        related_name="%(app_label)s_%(class)s_set",
        db_index=False,
    )
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    # The policies that matched and why this one won (specificity, then priority).
    choice = models.JSONField(default=dict)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Whose working hours count (a policy on the owner's hours); NULL: the market's calendar.
    # Unindexed: only read with its clock (a deleted user's rows are found by a scan, rarely).
    hours_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    warn_at = models.DateTimeField()
    next_at = models.DateTimeField(null=True, blank=True)
    stage = models.PositiveSmallIntegerField(default=0, help_text="Ladder steps taken.")
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True, help_text="When the response happened.")
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=200, blank=True)
    paused_seconds = models.FloatField(default=0, help_text="Business seconds spent on hold.")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=40, blank=True)

    class Meta(MarketScopedModel.Meta):
        ordering = ["-started_at", "-id"]
        verbose_name = "SLA timer"
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=models.Q(closed_at__isnull=True), name="sla_timer_open"
            ),
        ]
        indexes = [
            # The sweep's only read: what is due now, however many clocks are open.
            models.Index(
                fields=["next_at"], condition=models.Q(next_at__isnull=False), name="sla_timer_next"
            ),
            models.Index(fields=["lead", "-started_at"], name="sla_timer_lead"),
            models.Index(
                fields=["market", "due_at"],
                condition=models.Q(closed_at__isnull=True),
                name="sla_timer_open_due",
            ),
            # The dashboard's period figures and the board's "breached today".
            models.Index(fields=["market", "started_at"], name="sla_timer_started"),
            models.Index(
                fields=["market", "breached_at"],
                condition=models.Q(breached_at__isnull=False),
                name="sla_timer_breached",
            ),
        ]

    def __str__(self) -> str:
        return f"SLA timer #{self.pk}"


class TimerStep(MarketScopedModel):
    """Something that happened to a timer: started, paused, resumed, warned, breached, an
    escalation step, met, closed. Sweep steps carry a `key` unique per timer: inserting it is
    how a step claims its one run (a second beat or a redelivered task finds it taken)."""

    timer = models.ForeignKey(Timer, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=20)
    # NULL, not "": rows without a key (pauses, resumes) may repeat; keyed ones may not.
    key = models.CharField(max_length=40, null=True, blank=True)  # noqa: DJ001
    at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    detail = models.JSONField(default=dict, blank=True)

    class Meta(MarketScopedModel.Meta):
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["timer", "key"], condition=models.Q(key__isnull=False), name="sla_step_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of timer #{self.timer_id}"
