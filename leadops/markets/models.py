"""Markets, the notes that prove market scoping end to end, and API clients."""

from __future__ import annotations

from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

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
    # A market is scoped on its own id.
    market_scope_column = "id"

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
        return f"Note #{self.pk}"


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


class CalendarVersion(MarketScopedModel):
    """One immutable version of a market's business calendar. The newest is in force; SLA
    timers will pin the version they started under."""

    version = models.PositiveIntegerField()
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    hours = models.TextField(help_text="One line per interval, e.g. 'Mon-Fri 09:00-17:30'.")
    holidays = models.JSONField(default=list, help_text='[["2026-12-25", "Christmas Day"], …]')
    holiday_source = models.CharField(
        max_length=100, blank=True, help_text="Countries the holidays were seeded from, e.g. DE."
    )
    note = models.CharField(max_length=300, blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(MarketScopedModel.Meta):
        ordering = ["market", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["market", "version"], name="calendar_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.market} calendar v{self.version}"


class MarketTableVersion(models.Model):
    """A version of the market table: draft → published (one at a time) → retired."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        RETIRED = "retired", "Retired"

    number = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    note = models.CharField(max_length=300, help_text="Why this version exists.")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="published"),
                name="market_table_one_published",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "published", "retired"]),
                name="market_table_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Market table v{self.number} ({self.status})"


class MarketTableRow(MarketScopedModel):
    """Maps a source, region, postal prefix or country to a market. Precedence when tagging:
    source, region, longest postal prefix, country."""

    class Kind(models.TextChoices):
        SOURCE = "source", "Source override"
        REGION = "region", "Region (ISO 3166-2)"
        POSTAL = "postal", "Postal-code prefix"
        COUNTRY = "country", "Country"

    version = models.ForeignKey(MarketTableVersion, on_delete=models.CASCADE, related_name="rows")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    key = models.CharField(max_length=64, help_text="Source slug, region code, prefix or country.")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")

    class Meta(MarketScopedModel.Meta):
        ordering = ["kind", "country", "key"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["source", "region", "postal", "country"]),
                name="market_table_row_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        where = f" ({self.country})" if self.country and self.kind != "country" else ""
        return f"{self.get_kind_display()} {self.key}{where} → {self.market}"


class Team(MarketScopedModel):
    name = models.CharField(max_length=100)
    # Told when a lead of the team breaches its SLA (the policy's "notify the manager" step).
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Told when a lead of this team breaches its first-response SLA.",
    )

    class Meta(MarketScopedModel.Meta):
        ordering = ["market", "name"]
        constraints = [models.UniqueConstraint(fields=["market", "name"], name="team_unique_name")]

    def __str__(self) -> str:
        return self.name


class TeamMember(MarketScopedModel):
    """A person on a team. `market` repeats the team's, so RLS can scope members directly."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)
    weight = models.PositiveSmallIntegerField(default=1, help_text="Share in weighted routing.")
    cap_open = models.PositiveIntegerField(null=True, blank=True, help_text="Max open leads.")
    cap_daily = models.PositiveIntegerField(null=True, blank=True, help_text="Max new per day.")
    hours = models.TextField(
        blank=True, help_text="Own working hours (same form as calendars); blank: the market's."
    )
    hubspot_owner_id = models.CharField(max_length=40, blank=True)
    salesforce_user_id = models.CharField(max_length=18, blank=True)
    slack_handle = models.CharField(max_length=80, blank=True)
    teams_handle = models.CharField(max_length=120, blank=True)

    # Every change is kept with its time: membership, active flag, weight, caps and hours as
    # they stood at any past moment (a backtest replays routing against them).
    history = HistoricalRecords(excluded_fields=["hubspot_owner_id", "salesforce_user_id"])

    class Meta(MarketScopedModel.Meta):
        ordering = ["team", "user__username"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_member_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class OutOfOffice(MarketScopedModel):
    """A period away. Never deleted (a trigger refuses it), only ended: routing decisions and
    backtests must be able to say who was away when."""

    member = models.ForeignKey(TeamMember, on_delete=models.PROTECT, related_name="absences")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta(MarketScopedModel.Meta):
        ordering = ["-starts_at"]
        verbose_name = "out-of-office period"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="ooo_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"away {self.starts_at:%Y-%m-%d} → {self.ends_at:%Y-%m-%d}"
