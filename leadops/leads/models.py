"""Sources, submissions, the canonical lead, its identities, touches and activities."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from leadops.core.models import MarketScopedModel, ScopedByMarkets


class Source(models.Model):
    """An inbound channel (global; RevOps edits it). Its mapping turns any payload into lead
    fields; `default_region` is the phone region when a lead gives no country."""

    class Kind(models.TextChoices):
        WEB_FORM = "web_form", "Web form"
        PARTNER_API = "partner_api", "Partner API"
        CSV = "csv", "CSV list"
        HUBSPOT = "hubspot", "HubSpot"
        SALESFORCE = "salesforce", "Salesforce"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PARTNER_API)
    default_region = models.CharField(max_length=2, blank=True, help_text="ISO alpha-2, e.g. DE")
    is_active = models.BooleanField(default=True)
    # The public form endpoint: a browser form posts to /api/v1/forms/<form_key> without a
    # secret; the key only names the form, the origins say which sites may post.
    form_key = models.CharField(max_length=40, unique=True, null=True, blank=True, editable=False)
    form_origins = models.TextField(
        blank=True, help_text="One origin per line, e.g. https://www.example.com; empty: no form."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


def _history_user(request: object = None, **_: object) -> object:
    """The person behind a change, for history: API clients are not users (the audit log
    names them)."""
    from django.contrib.auth.models import User

    user = getattr(request, "user", None)
    return user if isinstance(user, User) else None


class Lead(MarketScopedModel):
    """The canonical lead. Personal data lives in its fields, never in `__str__` or logs."""

    class Status(models.TextChoices):
        HELD = "held", "Held (quarantined)"
        NEW = "new", "New"
        ASSIGNED = "assigned", "Assigned"
        WORKING = "working", "Working"
        QUALIFIED = "qualified", "Qualified"
        CONVERTED = "converted", "Converted"
        DISQUALIFIED = "disqualified", "Disqualified"
        RECYCLED = "recycled", "Recycled"

    email = models.CharField(max_length=254, blank=True)
    email_norm = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=64, blank=True)
    phone_e164 = models.CharField(max_length=20, blank=True)
    phone_flag = models.CharField(max_length=120, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    company = models.CharField(max_length=200, blank=True)
    company_domain = models.CharField(max_length=253, blank=True)
    title = models.CharField(max_length=150, blank=True)
    country = models.CharField(max_length=2, blank=True)
    region = models.CharField(max_length=10, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    # First and last name as the name + company tier of dedupe compares them (normalize.name_key).
    name_key = models.CharField(max_length=200, blank=True, editable=False)
    # Set when a person merged this lead into another: the row stays (its snapshot is on the
    # LeadMerge) and intake follows the link, so the absorbed email still finds the survivor.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # What a source sent beyond the canonical fields: at most 50 keys of scalar values.
    attributes = models.JSONField(default=dict, blank=True)
    # A test lead (set only by system actors): never counted in metrics, never sent to a CRM,
    # never taking a real person's turn. Lists and reports leave it out unless asked.
    is_synthetic = models.BooleanField(default=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The team routing placed the lead with (the owner works in it).
    team = models.ForeignKey(
        "markets.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Labels routing rules (or people) put on the lead, e.g. "vip".
    # A database default too: set-based inserts name only the columns they fill.
    tags = ArrayField(
        models.CharField(max_length=40),
        default=list,
        db_default=models.Value([], output_field=ArrayField(models.CharField(max_length=40))),
        blank=True,
    )
    score = models.IntegerField(default=0)
    market_table_version = models.PositiveIntegerField(null=True, blank=True)
    market_row_id = models.BigIntegerField(null=True, blank=True)
    first_source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # As every market-scoped row, but without its own index: `lead_market_updated` starts with
    # the market and serves every lookup by it.
    market = models.ForeignKey(
        "markets.Market",
        on_delete=models.PROTECT,
        related_name="leads_lead_set",
        db_index=False,
    )

    # The history is read by lead id and date only: copies of the foreign keys need no index
    # there (each costs every ingested lead an index insert).
    history = HistoricalRecords(
        excluded_fields=["updated_at"],
        get_user=_history_user,
        no_db_index=["market", "owner", "first_source", "merged_into", "team"],
    )

    class Meta(MarketScopedModel.Meta):
        ordering = ["-updated_at", "-id"]
        constraints = [
            # The exact dedupe tier: one lead per normalized email in a market.
            models.UniqueConstraint(
                fields=["market", "email_norm"],
                condition=~models.Q(email_norm=""),
                name="lead_one_per_email_in_market",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "held",
                        "new",
                        "assigned",
                        "working",
                        "qualified",
                        "converted",
                        "disqualified",
                        "recycled",
                    ]
                ),
                name="lead_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["market", "updated_at", "id"], name="lead_market_updated"),
            models.Index(fields=["updated_at", "id"], name="lead_updated_keyset"),
            models.Index(fields=["email_norm"], name="lead_email_norm"),
            models.Index(fields=["phone_e164"], name="lead_phone"),
            models.Index(fields=["company_domain"], name="lead_company_domain"),
            # The name + company tier: only leads with both a full name and a company domain.
            models.Index(
                fields=["name_key", "company_domain"],
                name="lead_name_at_domain",
                condition=~models.Q(name_key="") & ~models.Q(company_domain=""),
            ),
            models.Index(
                fields=["merged_into"],
                name="lead_merged_into",
                condition=models.Q(merged_into__isnull=False),
            ),
            # The few test leads, which the dashboard leaves out.
            models.Index(
                fields=["id"], name="lead_synthetic", condition=models.Q(is_synthetic=True)
            ),
        ]

    def __str__(self) -> str:
        return f"Lead #{self.pk}"


class LeadExternalId(MarketScopedModel):
    """A source's own id for a lead: the second exact dedupe key (unique per source)."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=128)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="external_ids")

    class Meta(MarketScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="lead_external_id_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.external_id}"


class Submission(MarketScopedModel):
    """The raw envelope of one submission, as received, and what became of it. Immutable."""

    class Outcome(models.TextChoices):
        CREATED = "created", "Created"
        MERGED = "merged", "Merged"
        REVIEW = "review", "Review"
        QUARANTINED = "quarantined", "Quarantined"
        REJECTED = "rejected", "Rejected"

    class Channel(models.TextChoices):
        API = "api", "API (one lead)"
        BATCH = "batch", "API (batch)"
        SOURCE = "source", "Source format (API)"
        FORM = "form", "Public form"
        SEED = "seed", "Demo seed"
        CSV = "csv", "CSV import"

    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    external_id = models.CharField(max_length=128, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    client = models.CharField(max_length=150, blank=True, help_text="who sent it")
    channel = models.CharField(
        max_length=10, choices=Channel.choices, blank=True, help_text="the door it came through"
    )
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    normalizer_version = models.CharField(max_length=20)
    mapping_version = models.PositiveIntegerField(null=True, blank=True)
    trace = models.JSONField(default=dict, help_text="field → [raw, normalized, problem]")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    reason = models.CharField(max_length=200, blank=True)
    errors = models.JSONField(default=dict, blank=True)
    size_bytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="The body's size, kept when it was refused as too large."
    )
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="submissions"
    )

    class Meta(MarketScopedModel.Meta):
        ordering = ["-received_at", "-id"]
        indexes = [
            # The dashboard's period queries: rows arrive in time order, so a block-range index
            # finds a period's rows for almost nothing, and costs intake almost nothing.
            BrinIndex(fields=["received_at"], name="submission_received_brin"),
        ]

    def __str__(self) -> str:
        return f"Submission #{self.pk} ({self.outcome})"


class SourceTouch(MarketScopedModel):
    """Attribution: one per submission attached to a lead. Values that differ from the lead's
    stay here as alternates; a merge never overwrites the lead."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="touches")
    submission = models.OneToOneField(Submission, on_delete=models.CASCADE, related_name="touch")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    campaign = models.CharField(max_length=200, blank=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()
    alternates = models.JSONField(default=dict, blank=True)

    class Meta(MarketScopedModel.Meta):
        ordering = ["-occurred_at", "-id"]
        verbose_name = "source touch"
        verbose_name_plural = "source touches"

    def __str__(self) -> str:
        return f"Touch #{self.pk}"


class Activity(MarketScopedModel):
    """Something done with the lead (call, email, meeting, note, status change)."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"
        NOTE = "note", "Note"
        STATUS = "status", "Status change"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    external_id = models.CharField(max_length=128, blank=True)
    note = models.TextField(blank=True)
    actor = models.CharField(max_length=150)
    # Who did it, when a person did (the admin's user; the API's `by`): an owner-only SLA
    # policy counts only the owner's. An automated one (a nurture tool's e-mail) never counts
    # as a first response.
    by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    automated = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(MarketScopedModel.Meta):
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "activities"
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "external_id"],
                condition=~models.Q(external_id=""),
                name="activity_external_id_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class DuplicateMark(MarketScopedModel):
    """A person's word that two leads are different people: the pair is never offered for
    review again. Deleting the mark (audited) undoes it. Like the review item, a pair across
    two markets is visible only to someone holding both."""

    second_market = models.ForeignKey(
        "markets.Market", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The pair in id order, so (a, b) and (b, a) are one mark.
    lead_low = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    lead_high = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    marked_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(MarketScopedModel.Meta):
        verbose_name = "not-a-duplicate mark"
        constraints = [
            models.UniqueConstraint(fields=["lead_low", "lead_high"], name="duplicate_mark_once"),
            models.CheckConstraint(
                condition=models.Q(lead_low__lt=models.F("lead_high")),
                name="duplicate_mark_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.lead_low_id} ≠ #{self.lead_high_id}"


class LeadMerge(MarketScopedModel):
    """A reviewed merge: `absorbed` joined `survivor`. The absorbed lead's row stays (marked
    `merged_into`); `snapshot` holds both leads' fields as they were and the values picked,
    `moved` the ids of the touches, external ids and activities that followed the survivor,
    so an unmerge can put everything back. The snapshot holds personal data: it has an eraser.
    `market` is the survivor's; `second_market` the absorbed lead's when it differs."""

    class State(models.TextChoices):
        MERGED = "merged", "Merged"
        UNMERGED = "unmerged", "Unmerged"

    second_market = models.ForeignKey(
        "markets.Market", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    survivor = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="merges")
    absorbed = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="absorptions")
    state = models.CharField(max_length=10, choices=State.choices, default=State.MERGED)
    snapshot = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    note = models.CharField(max_length=300, blank=True)
    merged_by = models.CharField(max_length=150)
    merged_at = models.DateTimeField(default=timezone.now)
    unmerged_by = models.CharField(max_length=150, blank=True)
    unmerged_at = models.DateTimeField(null=True, blank=True)

    class Meta(MarketScopedModel.Meta):
        ordering = ["-merged_at", "-id"]
        constraints = [
            # A lead is absorbed at most once at a time.
            models.UniqueConstraint(
                fields=["absorbed"],
                condition=models.Q(state="merged"),
                name="lead_merge_absorbed_once",
            ),
        ]

    def __str__(self) -> str:
        return f"Merge #{self.pk}: #{self.absorbed_id} → #{self.survivor_id}"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key: claimed before the work in its own short transaction, then
    completed with the response, which a replay returns byte for byte. Kept 72 hours."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done"

    client = models.CharField(max_length=80)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    # What became of the request (created, merged, accepted…) and the answer given, replayed as is.
    outcome = models.CharField(max_length=20, blank=True)
    response_body = models.TextField(blank=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="idempotency_key_unique")
        ]
        indexes = [models.Index(fields=["claimed_at"], name="idempotency_claimed_at")]

    def __str__(self) -> str:
        return f"{self.client}/{self.key[:12]}"


class SourceMapping(models.Model):
    """One immutable version of a source's field mapping: canonical field → where to find it in
    the payload and how to clean it. The newest version is in force."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="mappings")
    version = models.PositiveIntegerField()
    rules = models.JSONField(
        help_text='{"email": {"path": "contact.email"}, "full_name": {"path": "name"}, '
        '"country": {"path": "addr.country", "map": {"Deutschland": "DE"}}}'
    )
    note = models.CharField(max_length=300)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["source", "version"], name="source_mapping_version")
        ]

    def __str__(self) -> str:
        return f"{self.source} mapping v{self.version}"


class ImportFile(ScopedByMarkets):
    """A list uploaded for import (CSV), kept in the database so a worker on any machine can
    read it. It holds personal data: an eraser scrubs it, and it expires after the retention
    (`CSV_IMPORT_RETENTION_DAYS`). Readable, like a job, only by someone holding every market
    in its scope (RLS)."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=255, help_text="The file's name as uploaded.")
    content = models.BinaryField(default=b"")
    size_bytes = models.PositiveIntegerField(default=0)
    encoding = models.CharField(max_length=40)
    delimiter = models.CharField(max_length=4)
    headers = models.JSONField(default=list)
    row_count = models.PositiveIntegerField(default=0)
    options = models.JSONField(
        default=dict, blank=True, help_text="Campaign and UTM values for every row."
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    expired = models.BooleanField(default=False)

    class Meta(ScopedByMarkets.Meta):
        ordering = ["-created_at", "-id"]
        verbose_name = "imported file"

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.name})"


class ImportRun(ScopedByMarkets):
    """One run of an import (all rows, or the rows that failed last time) as a Job; its results
    file (row, outcome, lead, errors) is kept like the upload, scoped like it."""

    upload = models.ForeignKey(ImportFile, on_delete=models.CASCADE, related_name="runs")
    job = models.OneToOneField("core.Job", on_delete=models.PROTECT, related_name="+")
    only_rows = models.JSONField(
        default=list, blank=True, help_text="Row numbers to import; empty: every row."
    )
    mapping_version = models.PositiveIntegerField(null=True, blank=True)
    results = models.BinaryField(default=b"")
    counts = models.JSONField(default=dict, blank=True)
    failed_rows = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(ScopedByMarkets.Meta):
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import run #{self.pk}"


class LeadExport(ScopedByMarkets):
    """A large export of the lead list, written by a worker (Job) and kept like an import's
    results: personal data, so it has an eraser and expires (`LEAD_EXPORT_RETENTION_DAYS`).
    Readable only by someone holding every market whose leads it holds (RLS)."""

    job = models.OneToOneField("core.Job", on_delete=models.PROTECT, related_name="+")
    lead_ids = models.JSONField(default=list, help_text="The selection, fixed when asked for.")
    filters = models.CharField(max_length=500, blank=True, help_text="The list's filter then.")
    content = models.BinaryField(default=b"")
    row_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    expired = models.BooleanField(default=False)

    class Meta(ScopedByMarkets.Meta):
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Export #{self.pk}"


class IntakeHour(MarketScopedModel):
    """The dashboard's rollup: per market, hour and source, how many submissions had each
    outcome (`kind` = the outcome) and how many leads were created (`kind` = "lead"; merged-
    away leads not counted). Test leads never count. Recomputed per hour by beat
    (`rollups.intake_hours_fold`), never updated inside intake."""

    hour = models.DateTimeField()
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=12)
    count = models.PositiveIntegerField()

    class Meta(MarketScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["market", "hour", "source", "kind"],
                name="intake_hour_once",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["hour", "market"], name="intake_hour_period")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.kind}: {self.count}"


class RollupDirtyHour(models.Model):
    """An hour whose rollup rows a change outside intake made stale (a retag, a merge): the
    next fold recomputes it. Holds no market data, only the hour."""

    hour = models.DateTimeField(unique=True)

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h"
