"""The one exception queue: every kind of item a person must look at, in one market-scoped table."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from leadops.core.models import MarketScopedModel


class ExceptionItem(MarketScopedModel):
    """Something that needs a person: a quarantined submission, a duplicate to review, a sync
    conflict… `kind` names the registered kind that knows how to resolve it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLAIMED = "claimed", "Claimed"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    class ErrorClass(models.TextChoices):
        NONE = "", "—"
        TRANSIENT = "transient", "Transient"
        PERMANENT = "permanent", "Permanent"
        DATA = "data", "Data"
        AUTH = "auth", "Authentication"
        RATE_LIMIT = "rate_limit", "Rate limit"

    # A second market makes the item visible only to readers holding both (cross-market duplicates).
    second_market = models.ForeignKey(
        "markets.Market", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=40)
    target_type = models.CharField(max_length=64, help_text="app_label.model of the target")
    target_id = models.CharField(max_length=64)
    summary = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    error_class = models.CharField(
        max_length=12, choices=ErrorClass.choices, default=ErrorClass.NONE, blank=True
    )
    remediation = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.CharField(
        max_length=150, blank=True, help_text="The owner group notified when it went overdue."
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta(MarketScopedModel.Meta):
        ordering = ["due_at", "id"]
        verbose_name = "exception"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "claimed", "resolved", "dismissed"]),
                name="queue_item_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    error_class__in=["", "transient", "permanent", "data", "auth", "rate_limit"]
                ),
                name="queue_item_error_class_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="claimed")
                | models.Q(claimed_by__isnull=False, claim_expires_at__isnull=False),
                name="queue_item_claim_has_claimant",
            ),
            # One open item per kind and target: filing again returns the existing one.
            models.UniqueConstraint(
                fields=["kind", "target_type", "target_id"],
                condition=models.Q(status__in=["open", "claimed"]),
                name="queue_item_one_open_per_target",
            ),
        ]
        indexes = [
            models.Index(fields=["market", "status", "due_at"]),
            models.Index(
                fields=["due_at"],
                condition=models.Q(status__in=["open", "claimed"], escalated_at__isnull=True),
                name="queue_item_due_unescalated",
            ),
            # "Which leads have an open item": the lead list's filter and the lead page.
            models.Index(
                fields=["target_type", "target_id"],
                condition=models.Q(status__in=["open", "claimed"]),
                name="queue_item_open_target",
            ),
            # The dashboard: open items per market and kind, and items closed since a moment.
            models.Index(
                fields=["market", "kind"],
                condition=models.Q(status__in=["open", "claimed"]),
                name="queue_item_open_market_kind",
            ),
            models.Index(
                fields=["resolved_at"],
                condition=models.Q(resolved_at__isnull=False),
                name="queue_item_resolved_at",
            ),
        ]

    def __str__(self) -> str:
        from leadops.queue.registry import UnknownKind, kind_get

        try:
            return f"{kind_get(self.kind).label} #{self.pk}"
        except UnknownKind:
            return f"{self.kind} #{self.pk}"

    def claim_active(self, *, at: object = None) -> bool:
        now = at or timezone.now()
        return bool(
            self.status == self.Status.CLAIMED
            and self.claim_expires_at is not None
            and self.claim_expires_at > now  # type: ignore[operator]
        )

    @property
    def is_closed(self) -> bool:
        return self.status in (self.Status.RESOLVED, self.Status.DISMISSED)

    @property
    def is_overdue(self) -> bool:
        return not self.is_closed and self.due_at < timezone.now()


class QueueOwnership(MarketScopedModel):
    """Who owns a kind of exception in one market, and how fast it must be recovered.
    Without a row, the kind's registered defaults apply."""

    kind = models.CharField(max_length=40)
    owner_group = models.ForeignKey("auth.Group", on_delete=models.PROTECT, related_name="+")
    recovery_minutes = models.PositiveIntegerField(
        help_text="Time from filing to the item being overdue (wall-clock for now)."
    )

    class Meta(MarketScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["kind", "market"], name="queue_owner_one_per_kind"),
        ]
        verbose_name = "queue ownership"

    def __str__(self) -> str:
        return f"{self.kind} in {self.market}"


class Notification(MarketScopedModel):
    """An in-admin notice to one person (shown on the queue page) until connectors deliver to
    Slack and Teams. Unique per item, person and reason, so a repeated sweep adds nothing.
    Notices without an item carry a link (no personal data in the message: it names ids)."""

    # The item's second market, if any: a notice about a two-market item needs both to be read.
    second_market = models.ForeignKey(
        "markets.Market", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # What the notice is about: an item, or (a routing rule's `notify`) a page such as a lead's.
    item = models.ForeignKey(
        ExceptionItem, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    link = models.CharField(max_length=300, blank=True)
    reason = models.CharField(max_length=20)
    message = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta(MarketScopedModel.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "user", "reason"], name="queue_notification_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} for {self.user_id}"
