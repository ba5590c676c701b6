"""Admin for business calendars, the market table and teams. RevOps edits; managers read their
own markets. Every save goes through a service."""

from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from leadops.core.admin import (
    AllOrNothingInlinesMixin,
    MarketScopedAdminMixin,
    RefusableInlineFormSet,
    inline_rows,
    request_scope,
)
from leadops.core.errors import ApplicationError
from leadops.markets import calendars, market_table, teams
from leadops.markets.business_time import CalendarError, open_spans, parse_hours
from leadops.markets.models import (
    CalendarVersion,
    Market,
    MarketTableRow,
    MarketTableVersion,
    OutOfOffice,
    Team,
    TeamMember,
)
from leadops.markets.services import is_revops


class RevOpsEditsMixin:
    """Managers read, RevOps (and superusers) write; nobody deletes history."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_revops(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_revops(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CalendarForm(forms.ModelForm[CalendarVersion]):
    holidays_text = forms.CharField(
        label="Holidays",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="One per line: 2026-12-25 Christmas Day",
    )
    seed_countries = forms.CharField(
        required=False,
        help_text="Add holidays from the holidays package, e.g. DE or AU-NSW, FR (comma-separated)",
    )
    seed_years = forms.CharField(required=False, help_text="e.g. 2026, 2027")

    class Meta:
        model = CalendarVersion
        fields = ["market", "hours", "note"]
        widgets = {"hours": forms.Textarea(attrs={"rows": 6})}

    def clean_hours(self) -> str:
        try:
            parse_hours(self.cleaned_data["hours"])
        except CalendarError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return str(self.cleaned_data["hours"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            rows = calendars.parse_holidays(data.get("holidays_text", ""))
            countries = [c for c in data.get("seed_countries", "").replace(" ", "").split(",") if c]
            if countries:
                years = [
                    int(y) for y in data.get("seed_years", "").replace(" ", "").split(",") if y
                ]
                if not years:
                    raise CalendarError("give the years to seed holidays for")
                seeded = calendars.holidays_from_package(countries, years)
                known = {day for day, _ in rows}
                rows += [row for row in seeded if row[0] not in known]
        except (CalendarError, ValueError) as exc:
            raise forms.ValidationError(str(exc)) from exc
        data["holiday_rows"] = sorted(rows)
        return data


@admin.register(CalendarVersion)
class CalendarVersionAdmin(
    MarketScopedAdminMixin, RevOpsEditsMixin, admin.ModelAdmin[CalendarVersion]
):
    form = CalendarForm
    list_display = ["market", "version", "in_force", "timezone", "note", "created_by", "created_at"]
    list_filter = ["market"]
    list_select_related = ["market"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CalendarVersion]:
        newest = CalendarVersion.objects.filter(market=OuterRef("market")).order_by("-version")
        return super().get_queryset(request).annotate(newest=Subquery(newest.values("version")[:1]))

    @admin.display(description="in force", boolean=True)
    def in_force(self, obj: CalendarVersion) -> bool:
        return getattr(obj, "newest", None) == obj.version

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # versions are immutable: add a new one

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["market", "hours", "holidays_text", "seed_countries", "seed_years", "note"]
        return [
            "market",
            "version",
            "standing",
            "timezone",
            "hours",
            "next_open",
            "holiday_list",
            "note",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.get_fields(request, obj)

    @admin.display(description="standing")
    def standing(self, obj: CalendarVersion) -> str:
        newest = getattr(obj, "newest", None)
        if newest == obj.version:
            return "In force: the market's business hours and holidays now."
        return f"Replaced by version {newest}." if newest else "—"

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        market = Market.objects.filter(
            pk=str(request.GET.get("market") or "0").strip() or 0,
            id__in=request_scope(request)[0],
        ).first()
        current = calendars.calendar_version_current(market) if market else None
        initial["hours"] = current.hours if current else calendars.DEFAULT_HOURS
        if current:
            initial["holidays_text"] = calendars.format_holidays(current.holidays)
        return initial

    @admin.display(description="holidays")
    def holiday_list(self, obj: CalendarVersion) -> str:
        return calendars.format_holidays(obj.holidays) or "—"

    @admin.display(description="next open intervals (market time)")
    def next_open(self, obj: CalendarVersion) -> str:
        zone = calendars.calendar_of(obj).zone
        spans = []
        for start, end in open_spans(calendars.calendar_of(obj), timezone.now()):
            spans.append(
                (
                    f"{start.astimezone(zone):%a %Y-%m-%d %H:%M}",
                    f"{end.astimezone(zone):%a %H:%M %Z}",
                )
            )
            if len(spans) == 8:
                break
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} → {}</li>", spans))

    def save_model(
        self, request: HttpRequest, obj: CalendarVersion, form: Any, change: bool
    ) -> None:
        version = calendars.calendar_version_create(
            actor=request.user,
            market=obj.market,
            hours=obj.hours,
            holidays=form.cleaned_data["holiday_rows"],
            note=obj.note,
            holiday_source=form.cleaned_data.get("seed_countries", ""),
        )
        obj.pk = version.pk


class MarketTableRowInline(
    MarketScopedAdminMixin, admin.TabularInline[MarketTableRow, MarketTableVersion]
):
    model = MarketTableRow
    formset = RefusableInlineFormSet
    fields = ["kind", "key", "country", "market"]
    extra = 1

    def _draft(self, obj: MarketTableVersion | None) -> bool:
        return obj is not None and obj.status == MarketTableVersion.Status.DRAFT

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_revops(request.user) and self._draft(obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # remove and add instead: each row change is its own audited step

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_revops(request.user) and self._draft(obj)


@admin.register(MarketTableVersion)
class MarketTableVersionAdmin(
    AllOrNothingInlinesMixin, RevOpsEditsMixin, admin.ModelAdmin[MarketTableVersion]
):
    list_display = ["number", "status", "note", "created_by", "published_at"]
    inlines = [MarketTableRowInline]
    change_form_template = "admin/markets/markettableversion/change_form.html"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Published and retired versions are frozen: read-only, with "New draft from this
        # version" instead of Save.
        if obj is not None and obj.status != MarketTableVersion.Status.DRAFT:
            return False
        return is_revops(request.user)

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        context["can_copy"] = is_revops(request.user)
        return super().render_change_form(request, context, *args, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return (
            ["note"] if obj is None else ["number", "status", "note", "created_by", "published_at"]
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(
        self, request: HttpRequest, obj: MarketTableVersion, form: Any, change: bool
    ) -> None:
        if not change:
            draft = market_table.market_table_draft_create(actor=request.user, note=obj.note)
            obj.pk = draft.pk
            obj.number = draft.number

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """All rows or none: a refused row undoes the whole save (AllOrNothingInlinesMixin)."""
        version = form.instance
        with inline_rows(formset) as run:
            for row in formset.deleted_objects:
                run(
                    None, partial(market_table.market_table_row_remove, actor=request.user, row=row)
                )
            for index, row_form in enumerate(formset.forms):
                if row_form in formset.deleted_forms or not row_form.has_changed():
                    continue
                if row_form.instance.pk is None:
                    data = row_form.cleaned_data
                    run(
                        index,
                        partial(
                            market_table.market_table_row_add,
                            actor=request.user,
                            version=version,
                            kind=data["kind"],
                            key=data["key"],
                            country=data.get("country", ""),
                            market=data["market"],
                        ),
                    )

    def get_urls(self) -> list[URLPattern]:
        publish = path(
            "<int:version_id>/publish/",
            self.admin_site.admin_view(self.publish_view),
            name="markets_markettableversion_publish",
        )
        copy = path(
            "<int:version_id>/new-draft/",
            self.admin_site.admin_view(self.new_draft_view),
            name="markets_markettableversion_new_draft",
        )
        return [publish, copy, *super().get_urls()]

    def new_draft_view(self, request: HttpRequest, version_id: int) -> HttpResponse:
        """A new draft with this version's rows; the person says why."""
        source = get_object_or_404(MarketTableVersion, pk=version_id)
        back = reverse("admin:markets_markettableversion_change", args=[version_id])
        if request.method != "POST" or not is_revops(request.user):
            return HttpResponseRedirect(back)
        try:
            draft = market_table.market_table_draft_create(
                actor=request.user, note=request.POST.get("note", ""), copy_of=source
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(back)
        messages.success(
            request, f"Draft version {draft.number} made from version {source.number}."
        )
        return HttpResponseRedirect(
            reverse("admin:markets_markettableversion_change", args=[draft.pk])
        )

    def publish_view(self, request: HttpRequest, version_id: int) -> HttpResponse:
        back = reverse("admin:markets_markettableversion_change", args=[version_id])
        if request.method != "POST" or not is_revops(request.user):
            return HttpResponseRedirect(back)
        version = get_object_or_404(MarketTableVersion, pk=version_id)
        try:
            market_table.market_table_publish(actor=request.user, version=version)
        except ApplicationError as exc:
            for problem in exc.extra.get("problems", [exc.message]):
                messages.error(request, problem)
        else:
            messages.success(request, f"Version {version.number} is published.")
        return HttpResponseRedirect(back)


class TeamMemberInline(MarketScopedAdminMixin, admin.StackedInline[TeamMember, Team]):
    """One block per member, as wide as the page: routing settings first, the CRM and chat
    handles folded away."""

    model = TeamMember
    formset = RefusableInlineFormSet
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["availability"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("user", "is_active", "availability"),
                    ("weight", "cap_open", "cap_daily"),
                    "hours",
                ]
            },
        ),
        (
            "CRM and chat",
            {
                "classes": ["collapse"],
                "fields": [
                    ("hubspot_owner_id", "salesforce_user_id"),
                    ("slack_handle", "teams_handle"),
                ],
            },
        ),
    ]
    formfield_overrides = {
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 40})},
        models.PositiveIntegerField: {"widget": forms.NumberInput(attrs={"style": "width: 5em"})},
        models.PositiveSmallIntegerField: {
            "widget": forms.NumberInput(attrs={"style": "width: 4em"})
        },
    }

    @admin.display(description="now")
    def availability(self, obj: TeamMember) -> str:
        if obj.pk is None:
            return "—"
        state = teams.is_available(obj, timezone.now())
        if state.available:
            return format_html('<strong class="lo-available">{}</strong>', "available now")
        return format_html('<span class="lo-unavailable">not available: {}</span>', state.reason)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: routing history names members


class TeamForm(forms.ModelForm[Team]):
    class Meta:
        model = Team
        fields = ["market", "name", "manager"]

    def clean(self) -> dict[str, Any]:
        """The manager must hold the team's market (the service says so too; here it is a
        message on the field instead of an error page)."""
        from leadops.markets.selectors import market_access_for

        data = super().clean() or {}
        manager = data.get("manager")
        market = data.get("market") or (self.instance.market if self.instance.pk else None)
        if (
            manager is not None
            and market is not None
            and market.pk not in market_access_for(manager).market_ids
        ):
            self.add_error(
                "manager",
                f"{manager.get_username()} does not hold market {market.code}: grant it"
                " first (Market access), or they could not read the notices.",
            )
        return data


@admin.register(Team)
class TeamAdmin(
    AllOrNothingInlinesMixin, MarketScopedAdminMixin, RevOpsEditsMixin, admin.ModelAdmin[Team]
):
    form = TeamForm
    list_display = ["name", "market", "manager", "member_count"]
    list_filter = ["market"]
    inlines = [TeamMemberInline]
    fields = ["market", "name", "manager"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        return (
            super()
            .get_queryset(request)
            .select_related("market")
            .annotate(members_active=Count("members", filter=Q(members__is_active=True)))
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["market", "name"] if obj else []

    @admin.display(description="active members", ordering="members_active")
    def member_count(self, obj: Team) -> int:
        return int(getattr(obj, "members_active", 0))

    def save_model(self, request: HttpRequest, obj: Team, form: Any, change: bool) -> None:
        # A team's market and name are fixed once created; its manager can change.
        team = (
            obj
            if change
            else teams.team_ensure(actor=request.user, market=obj.market, name=obj.name)
        )
        obj.pk = team.pk
        if "manager" in form.changed_data or (not change and obj.manager_id):
            teams.team_manager_set(actor=request.user, team=team, manager=obj.manager)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """All members or none: a refused row undoes the whole save."""
        with inline_rows(formset) as run:
            for index, member_form in enumerate(formset.forms):
                if not member_form.has_changed():
                    continue
                data = dict(member_form.cleaned_data)
                user = data.pop("user")
                fields = {key: data[key] for key in teams.MEMBER_FIELDS if key in data}
                run(
                    index,
                    partial(
                        teams.team_member_set,
                        actor=request.user,
                        team=form.instance,
                        user=user,
                        **fields,
                    ),
                )


@admin.register(OutOfOffice)
class OutOfOfficeAdmin(MarketScopedAdminMixin, RevOpsEditsMixin, admin.ModelAdmin[OutOfOffice]):
    list_display = ["member_name", "market", "starts_at", "ends_at", "note"]
    list_filter = ["market"]
    list_select_related = ["member__user", "member__team", "market"]
    actions = ["end_now"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["member", "starts_at", "ends_at", "note"]

    @admin.action(description="End the selected periods now (they are kept, never deleted)")
    def end_now(self, request: HttpRequest, queryset: Any) -> None:
        if not is_revops(request.user):
            raise PermissionDenied
        now = timezone.now()
        ended = 0
        for absence in queryset.filter(ends_at__gt=now):
            teams.out_of_office_end(actor=request.user, absence=absence, at=now)
            ended += 1
        self.message_user(request, f"Ended {ended} period(s).")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and is_revops(request.user)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "member" and field is not None:
            field.queryset = field.queryset.select_related("user", "team")
        return field

    @admin.display(description="member")
    def member_name(self, obj: OutOfOffice) -> str:
        return f"{obj.member.user} ({obj.member.team})"

    def save_model(self, request: HttpRequest, obj: OutOfOffice, form: Any, change: bool) -> None:
        absence = teams.out_of_office_add(
            actor=request.user,
            member=obj.member,
            starts_at=obj.starts_at,
            ends_at=obj.ends_at,
            note=obj.note,
        )
        obj.pk = absence.pk
