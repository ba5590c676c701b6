"""SLAs in the admin: the policy editor (drafts edited, published versions read-only, publish
and retire as actions), the lead page's clock with its history and the hold/resume actions,
and the lead list's SLA column and filters. Every write goes through the SLA's services."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from leadops.core.admin import MarketScopedAdminMixin, request_scope
from leadops.core.errors import ApplicationError
from leadops.core.labels import duration
from leadops.leads.hooks import (
    LeadListColumn,
    LeadPanel,
    lead_action_register,
    lead_list_column_register,
    lead_panel_register,
)
from leadops.leads.models import Lead
from leadops.markets.models import Market
from leadops.sla.models import Policy, PolicyVersion, Timer
from leadops.sla.policies import (
    DEFAULTS,
    SPEC_FIELDS,
    policy_draft,
    policy_draft_delete,
    policy_draft_update,
    policy_publish,
    policy_retire,
    spec_problems,
)
from leadops.sla.selectors import clock_history, lead_clocks
from leadops.sla.steps import escalation_steps
from leadops.sla.timers import lead_hold, lead_resume

# --- durations in words ---------------------------------------------------------------------


def clock_words(timer: Timer, now: datetime) -> tuple[str, str]:
    """(words, css class) for a clock: due in / overdue / met / paused."""
    if timer.state == Timer.State.PAUSED:
        return f"on hold: {timer.pause_reason}", "lo-sla-paused"
    if timer.state in (Timer.State.MET, Timer.State.MET_LATE):
        late = " (recorded late)" if timer.state == Timer.State.MET_LATE else ""
        return f"met{late}", "lo-sla-met"
    if timer.state == Timer.State.CLOSED:
        return f"closed ({timer.closed_reason})", "lo-sla-closed"
    if timer.state == Timer.State.BREACHED:
        if timer.met_at:
            late = duration((timer.met_at - timer.due_at).total_seconds())
            return f"breached, answered {late} late", "lo-sla-breached"
        return f"overdue {duration((now - timer.due_at).total_seconds())}", "lo-sla-breached"
    css = "lo-sla-warned" if timer.warned_at or timer.warn_at <= now else "lo-sla-ok"
    return f"due in {duration((timer.due_at - now).total_seconds())}", css


def when_both(moment: datetime, market_zone: str) -> str:
    """A moment in the viewer's time, and in the market's when that differs."""
    viewer = timezone.localtime(moment)
    text = viewer.strftime("%a %d %b %H:%M %Z")
    local = moment.astimezone(ZoneInfo(market_zone or "UTC"))
    if local.utcoffset() != viewer.utcoffset() or local.tzname() != viewer.tzname():
        text += f" · {local.strftime('%H:%M %Z')} market time"
    return text


def ladder_words(ladder: list[dict[str, Any]]) -> str:
    """ "at the breach: notify owner; 30 business min after: file breach"."""
    if not ladder:
        return "no escalation: the breach is recorded, nobody is told"
    return "; ".join(
        ("at the breach" if not s.get("after") else f"{s['after']} business min after")
        + f": {str(s['step']).replace('_', ' ')}"
        for s in ladder
    )


# --- the lead list ---------------------------------------------------------------------------


def _prefetch(leads: list[Lead]) -> None:
    """Each listed lead's latest clock, in one query for the page."""
    ids = [lead.pk for lead in leads]
    latest = {
        t.lead_id: t
        for t in Timer.objects.filter(lead_id__in=ids)
        .order_by("lead_id", "-started_at", "-id")
        .distinct("lead_id")
    }
    for lead in leads:
        lead._sla_clock = latest.get(lead.pk)  # type: ignore[attr-defined]


@admin.display(description="SLA")
def sla_column(lead: Lead) -> str:
    timer = getattr(lead, "_sla_clock", None)
    if timer is None:
        return "—"
    words, css = clock_words(timer, timezone.now())
    # Short, on one line: the list is wide already; the words in full are on hover.
    if words.startswith("due in "):
        short = words.removeprefix("due in ") + " left"
    elif words.startswith("overdue "):
        short = words.removeprefix("overdue ") + " late"
    else:
        short = words.split(":")[0].replace(" (recorded late)", "*")
    return format_html(
        '<span class="{}" style="white-space: nowrap" title="{} · due {}">{}</span>',
        css,
        words,
        when_both(timer.due_at, lead.market.timezone),
        short,
    )


class SlaFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("due_hour", "Due within an hour"),
            ("warned", "Warned"),
            ("breached", "Breached"),
            ("met", "Met"),
            ("paused", "On hold"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        wanted = {
            "due_hour": Q(
                closed_at__isnull=True,
                state=Timer.State.RUNNING,
                due_at__gte=now,
                due_at__lt=now + timedelta(hours=1),
            ),
            "warned": Q(closed_at__isnull=True, state=Timer.State.RUNNING, warned_at__isnull=False),
            "breached": Q(state=Timer.State.BREACHED),
            "met": Q(state__in=[Timer.State.MET, Timer.State.MET_LATE]),
            "paused": Q(closed_at__isnull=True, state=Timer.State.PAUSED),
        }.get(self.value() or "")
        if wanted is None:
            return queryset
        return queryset.filter(Exists(Timer.objects.filter(wanted, lead_id=OuterRef("pk"))))


lead_list_column_register(
    LeadListColumn(name="sla", render=sla_column, prefetch=_prefetch, filters=(SlaFilter,))
)


# --- the lead page ---------------------------------------------------------------------------

STEP_WORDS = {
    "started": "Clock started",
    "paused": "Put on hold",
    "resumed": "Resumed",
    "warned": "Owner warned",
    "breached": "Breached",
    "escalated": "Escalated",
    "met": "Met: first response",
    "met_late": "Met, recorded late",
    "responded": "Answered after the breach",
    "closed": "Closed",
}


def sla_panel(*, lead: Lead) -> LeadPanel | None:
    clocks = lead_clocks(lead_id=lead.pk)
    if not clocks:
        return None
    now = timezone.now()
    latest = clocks[0]
    words, css = clock_words(latest, now)
    steps = clock_history(timer_ids=[t.pk for t in clocks])
    zone = lead.market.timezone
    return LeadPanel(
        key="sla",
        title="First response (SLA)",
        header=words,
        template="admin/sla/lead_panel.html",
        context={
            "clock": latest,
            "words": words,
            "css": css,
            "due": when_both(latest.due_at, zone),
            "warn": when_both(latest.warn_at, zone),
            "policy": f"{latest.version.policy.name} ({latest.version})",
            "minutes": latest.version.minutes,
            "why": latest.choice.get("why", ""),
            "history": [
                {
                    "at": when_both(step.at, zone),
                    "what": STEP_WORDS.get(step.kind, step.kind),
                    "detail": _step_detail(step.kind, step.key, step.detail),
                    "actor": step.actor,
                }
                for step in steps
            ],
            "earlier": len(clocks) - 1,
            "can_hold": latest.state == Timer.State.RUNNING,
            "can_resume": latest.state == Timer.State.PAUSED,
        },
    )


def _step_detail(kind: str, key: str | None, detail: dict[str, Any]) -> str:
    if kind == "escalated" and key:
        step = key.split(":", 2)[2].replace("_", " ")
        return step + (f" — failed: {detail['error']}" if detail.get("error") else "")
    if kind == "started":
        return {"receipt": "on receipt", "assigned": "on assignment", "restart": "new owner"}.get(
            detail.get("trigger", ""), ""
        )
    if kind in ("paused", "closed"):
        return str(detail.get("reason", ""))
    return ""


def hold_action(*, actor: Any, lead: Lead, data: Any) -> str:
    lead_hold(actor=actor, lead=lead, reason=data.get("reason", ""))
    return "The clock is on hold: business time stops counting until you resume it."


def resume_action(*, actor: Any, lead: Lead, data: Any) -> str:
    timer = lead_resume(actor=actor, lead=lead)
    due = when_both(timer.due_at, lead.market.timezone)
    return f"The clock runs again; a first response is now due {due}."


lead_panel_register(sla_panel)
lead_action_register("sla_hold", hold_action)
lead_action_register("sla_resume", resume_action)


# --- the policy editor -----------------------------------------------------------------------


class LadderField(forms.Field):
    """The ladder as lines people write: `notify_owner 0` (step, business minutes after the
    breach)."""

    widget = forms.Textarea(attrs={"rows": 5, "cols": 40})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(f"{s['step']} {s.get('after', 0)}" for s in value)
        return value

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        steps = []
        for number, line in enumerate(str(value or "").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit():
                raise forms.ValidationError(
                    f"Line {number}: write a step and the minutes after the breach, e.g. "
                    f"'notify_owner 0'."
                )
            steps.append({"step": parts[0], "after": int(parts[1])})
        return steps


class ListField(forms.Field):
    """A list typed comma-separated (sources, activity kinds)."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        return [part.strip() for part in str(value or "").split(",") if part.strip()]


class PolicyVersionForm(forms.ModelForm[PolicyVersion]):
    market = forms.ModelChoiceField(queryset=Market.objects.none(), required=False)
    key = forms.SlugField(required=False, help_text="e.g. inbound-demo (stable: export uses it).")
    name = forms.CharField(required=False, help_text="e.g. Inbound demo requests.")
    ladder = LadderField(
        required=False,
        help_text="One step per line: the step and the business minutes after the breach. Steps: "
        + ", ".join(
            escalation_steps() or ["notify_owner", "notify_manager", "reassign", "file_breach"]
        )
        + ".",
    )
    sources = ListField(required=False, help_text="Source slugs, comma-separated; empty: any.")
    activity_kinds = ListField(help_text="Comma-separated: call, email, meeting, note.")

    class Meta:
        model = PolicyVersion
        fields = ["change_note", *SPEC_FIELDS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk is None:
            for name in ("market", "key", "name"):
                if not data.get(name):
                    self.add_error(name, "Needed for a new policy.")
        spec = {name: data.get(name) for name in SPEC_FIELDS}
        for name, problems in spec_problems(spec).items():
            if name in self.fields:
                for problem in problems:
                    self.add_error(name, problem)
        return data


class VersionInline(admin.TabularInline[PolicyVersion, Policy]):
    model = PolicyVersion
    fields = ["number", "state", "minutes", "warn_percent", "change_note", "author", "published_at"]
    readonly_fields = ["number", "state", "minutes", "warn_percent", "change_note", "author"]
    readonly_fields += ["published_at"]
    show_change_link = True
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Policy)
class PolicyAdmin(MarketScopedAdminMixin, admin.ModelAdmin[Policy]):
    list_display = ["name", "key", "market", "in_force", "new_draft"]
    list_filter = ["market"]
    readonly_fields = ["market", "key", "name", "created_at"]
    inlines = [VersionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a policy is made with its first draft (SLA policy versions → add)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="in force")
    def in_force(self, obj: Policy) -> str:
        published = obj.versions.filter(state=PolicyVersion.State.PUBLISHED).first()
        if published is None:
            return "none published"
        return f"v{published.number}: {published.minutes} business min"

    @admin.display(description="")
    def new_draft(self, obj: Policy) -> str:
        url = reverse("admin:sla_policyversion_add") + "?" + urlencode({"policy": obj.pk})
        return format_html('<a href="{}">New draft</a>', url)


@admin.register(PolicyVersion)
class PolicyVersionAdmin(MarketScopedAdminMixin, admin.ModelAdmin[PolicyVersion]):
    form = PolicyVersionForm
    list_display = ["__str__", "market", "state", "promise", "priority", "note"]
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description="promise")
    def promise(self, obj: PolicyVersion) -> str:
        return f"{obj.minutes} business min, warn at {obj.warn_percent} %"

    @admin.display(description="change note")
    def note(self, obj: PolicyVersion) -> str:
        text = obj.change_note
        return text if len(text) <= 60 else text[:59] + "…"

    list_filter = ["state", "market"]
    actions = ["publish_selected", "retire_selected"]
    fieldsets: ClassVar[Any] = [
        (None, {"fields": ["market", "key", "name", "change_note"]}),
        (
            "Which leads",
            {
                "fields": ["priority", "sources", "score_min", "score_max", "field", "field_value"],
                "description": "Every lead of the market, narrowed by any of these. When several "
                "policies match, the most specific wins (one point each for sources, a score "
                "band, a field), then the lowest priority number.",
            },
        ),
        (
            "The promise",
            {
                "fields": [
                    "starts_on",
                    "minutes",
                    "hours",
                    "warn_percent",
                    "ladder",
                    "restart_on_reassign",
                ],
                "description": "Minutes are business minutes: only the open hours of the "
                "market's calendar (or the owner's own hours) count; time on hold does not.",
            },
        ),
        ("What counts as a first response", {"fields": ["activity_kinds", "response_by"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.fieldsets
        rest = self.fieldsets[1:]
        if obj.state != PolicyVersion.State.DRAFT:  # the ladder in words, not as it is stored
            rest = [
                (
                    title,
                    {
                        **opts,
                        "fields": ["ladder_steps" if f == "ladder" else f for f in opts["fields"]],
                    },
                )
                for title, opts in rest
            ]
        first = (
            None,
            {
                "fields": [
                    "policy",
                    "number",
                    "state",
                    "change_note",
                    "author",
                    "published_by",
                    "published_at",
                    "retired_at",
                ]
            },
        )
        return [first, *rest]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        base = ["policy", "number", "state", "author", "published_by", "published_at", "retired_at"]
        if obj.state != PolicyVersion.State.DRAFT:
            return [*base, "change_note", "ladder_steps", *SPEC_FIELDS]
        return base

    @admin.display(description="ladder")
    def ladder_steps(self, obj: PolicyVersion) -> str:
        return ladder_words(obj.ladder)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if "market" in form.base_fields:
            ids, _ = request_scope(request)
            form.base_fields["market"].queryset = Market.objects.filter(pk__in=sorted(ids))  # type: ignore[attr-defined]
        return form

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """A new draft of an existing policy starts from the version in force."""
        initial = {**DEFAULTS, **super().get_changeform_initial_data(request)}
        policy = Policy.objects.filter(pk=request.GET.get("policy") or 0).first()
        if policy is not None:
            initial.update(market=policy.market_id, key=policy.key, name=policy.name)
            published = policy.versions.filter(state=PolicyVersion.State.PUBLISHED).first()
            if published is not None:
                initial.update({name: getattr(published, name) for name in SPEC_FIELDS})
        return initial

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.state == PolicyVersion.State.DRAFT)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.state == PolicyVersion.State.DRAFT)

    def save_model(self, request: HttpRequest, obj: PolicyVersion, form: Any, change: bool) -> None:
        spec = {name: form.cleaned_data[name] for name in SPEC_FIELDS if name in form.cleaned_data}
        try:
            if change:
                saved = policy_draft_update(
                    actor=request.user,
                    version=obj,
                    change_note=form.cleaned_data["change_note"],
                    **spec,
                )
            else:
                saved = policy_draft(
                    actor=request.user,
                    market=form.cleaned_data["market"],
                    key=form.cleaned_data["key"],
                    name=form.cleaned_data["name"],
                    change_note=form.cleaned_data["change_note"],
                    **spec,
                )
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc
        # The admin reads the saved object back (its message, its redirect): it is the service's.
        for field in PolicyVersion._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: PolicyVersion) -> None:
        policy_draft_delete(actor=request.user, version=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PolicyVersion]) -> None:
        for version in queryset:
            policy_draft_delete(actor=request.user, version=version)

    @admin.action(description="Publish the selected drafts (the versions in force are retired)")
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[PolicyVersion]) -> None:
        self._each(request, queryset, policy_publish, "is in force")

    @admin.action(description="Retire the selected published versions")
    def retire_selected(self, request: HttpRequest, queryset: QuerySet[PolicyVersion]) -> None:
        self._each(request, queryset, policy_retire, "is retired")

    def _each(
        self, request: HttpRequest, queryset: QuerySet[PolicyVersion], service: Any, done: str
    ) -> None:
        """One service call per version, each saying how it went (a refusal stops no other)."""
        for version in queryset.order_by("pk"):
            try:
                service(actor=request.user, version=version)
                self.message_user(request, f"{version} {done}.", messages.SUCCESS)
            except ApplicationError as exc:
                self.message_user(request, f"{version}: {exc.message}", messages.ERROR)


@admin.register(Timer)
class TimerAdmin(MarketScopedAdminMixin, admin.ModelAdmin[Timer]):
    """Clocks to look up (read-only: they move only through the services and the sweep)."""

    list_display = ["__str__", "lead_link", "market", "state", "due_at", "owner", "version"]
    list_filter = ["state", "market"]
    list_select_related = ["market", "owner", "version__policy"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="lead")
    def lead_link(self, obj: Timer) -> str:
        url = reverse("admin:leads_lead_change", args=[obj.lead_id])
        return format_html('<a href="{}">Lead #{}</a>', url, obj.lead_id)
