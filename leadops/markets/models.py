"""Markets, the notes that prove market scoping end to end, and API clients."""

from __future__ import annotations

from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from leadops.core.models import MarketScopedManager, MarketScopedModel

UNASSIGNED_CODE = "UNASSIGNED"
REVOPS_GROUP = "RevOps"


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin).")


class Market(models.Model):
    """A market: the unit of access. Its table is under RLS on `id`, so a transaction sees only
    the markets in its context (RevOps and system work see all)."""

    code = models.CharField(
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9_-]*$", "Use capitals, digits, - and _.")],
        help_text="Short stable code, e.g. DE or US-WEST. Used in the API and in exports.",
    )
    name = models.CharField(max_length=100)
    timezone = models.CharField(
        max_length=64,
        validators=[validate_timezone],
        help_text="IANA time zone of the market's business calendar, e.g. Europe/Berlin.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MarketScopedManager()

    class Meta:
        ordering = ["code"]
        base_manager_name = "objects"
        permissions = [
            ("access_market", "Can access the market's data (object permission only)"),
            ("see_global", "Can see rows that belong to no market"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_unassigned(self) -> bool:
        return self.code == UNASSIGNED_CODE


class MarketNote(MarketScopedModel):
    """A note about a market: the first market-scoped table, used to prove scoping end to end."""

    text = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(MarketScopedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["market", "-created_at"])]

    def __str__(self) -> str:
        return f"Note #{self.pk} ({self.market_id})"


class ApiClient(models.Model):
    """An external system calling the API. Its key is shown once; only its sha256 is stored,
    found by a short public prefix (a password hash would make every request cost ~100 ms)."""

    name = models.CharField(max_length=100, unique=True)
    key_prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    markets = models.ManyToManyField(Market, blank=True, related_name="api_clients")
    all_markets = models.BooleanField(
        default=False, help_text="Sees every market, present and future, like RevOps."
    )
    is_active = models.BooleanField(default=True)
    rate_limit = models.CharField(
        max_length=20,
        blank=True,
        help_text="Requests allowed, e.g. 600/min; blank uses the default (API_CLIENT_RATE).",
        validators=[RegexValidator(r"^\d+/(s|sec|m|min|h|hour|d|day)$", "Use e.g. 600/min.")],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name

    # How the audit log names this actor (leadops.core.actors.actor_ref).
    audit_actor_kind = "api_client"

    # DRF treats the authenticated principal like a user.
    @property
    def is_authenticated(self) -> bool:
        return self.is_active
