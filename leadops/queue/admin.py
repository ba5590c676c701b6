"""The exception queue page: a sales manager's main page in the admin.

Scoped to the markets the person holds (both markets for cross-market items); claim and release
in bulk; resolve or dismiss one item at a time on its page, with a note. Every button calls a
service; nothing here writes rows itself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from leadops.core.admin import MarketScopedAdminMixin, request_scope
from leadops.core.errors import ApplicationError
from leadops.core.labels import local_time, target_link
from leadops.queue import services
from leadops.queue.models import ExceptionItem, QueueOwnership
from leadops.queue.registry import UnknownKind, kind_get, kinds_all
from leadops.queue.selectors import notifications_unread


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(kind.key, kind.label) for kind in kinds_all()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


class OpenFilter(admin.SimpleListFilter):
    """Defaults to what needs work: open and claimed items."""

    title = "status"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("all", "All"), *ExceptionItem.Status.choices]

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Needs work (open or claimed)",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() is None:
            return queryset.filter(status__in=services.OPEN)
        if self.value() == "all":
            return queryset
        return queryset.filter(status=self.value())


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(due_at__lt=now, status__in=services.OPEN)
        if self.value() == "no":
            return queryset.exclude(due_at__lt=now, status__in=services.OPEN)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BUCKETS = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("1h", "Filed in the last hour"),
            ("1d", "Filed today (24 h)"),
            ("7d", "Filed this week"),
            ("older", "Older than a week"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() in self.BUCKETS:
            return queryset.filter(created_at__gte=now - self.BUCKETS[self.value() or ""])
        if self.value() == "older":
            return queryset.filter(created_at__lt=now - self.BUCKETS["7d"])
        return queryset


class MarketFilter(admin.SimpleListFilter):
    title = "market"
    parameter_name = "market"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from leadops.markets.models import Market

        return [
            (str(m.pk), m.code)
            for m in Market.objects.filter(id__in=request_scope(request)[0]).order_by("code")
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        return queryset.filter(Q(market_id=self.value()) | Q(second_market_id=self.value()))


@admin.register(ExceptionItem)
class ExceptionItemAdmin(MarketScopedAdminMixin, admin.ModelAdmin[ExceptionItem]):
    list_display = ["summary", "kind_label", "markets", "state", "age", "due"]
    list_filter = [OpenFilter, KindFilter, MarketFilter, OverdueFilter, AgeFilter]
    list_select_related = ["market", "second_market", "claimed_by"]
    actions = ["claim_selected", "release_selected"]
    show_full_result_count = False
    change_form_template = "admin/queue/exceptionitem/change_form.html"
    change_list_template = "admin/queue/exceptionitem/change_list.html"
    readonly_fields = (
        "kind_label",
        "summary",
        "markets",
        "state",
        "target",
        "details_table",
        "error_class",
        "remediation",
        "filed",
        "due",
        "escalation",
        "resolution",
        "note",
        "resolved_at",
        "resolved_by",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # items are filed by the system, never typed in

    def has_delete_permission(self, request: HttpRequest, obj: ExceptionItem | None = None) -> bool:
        return False  # closed items stay: they are the record of what was done

    # --- columns ---------------------------------------------------------------------------

    @admin.display(description="kind")
    def kind_label(self, obj: ExceptionItem) -> str:
        try:
            return kind_get(obj.kind).label
        except UnknownKind:
            return obj.kind

    @admin.display(description="market")
    def markets(self, obj: ExceptionItem) -> str:
        return f"{obj.market} + {obj.second_market}" if obj.second_market else str(obj.market)

    @admin.display(description="status")
    def state(self, obj: ExceptionItem) -> str:
        if obj.claim_active():
            until = local_time(obj.claim_expires_at, obj.market.timezone)
            return format_html("Claimed by {} until {}", obj.claimed_by, until)
        if obj.status == ExceptionItem.Status.CLAIMED:
            return "Open (claim expired)"
        return obj.get_status_display()

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: ExceptionItem) -> str:
        return timesince(obj.created_at)

    @admin.display(description="due (market time)", ordering="due_at")
    def due(self, obj: ExceptionItem) -> str:
        when = local_time(obj.due_at, obj.market.timezone)
        shown = (
            format_html('<strong style="color: var(--error-fg)">{} · overdue</strong>', when)
            if obj.is_overdue
            else when
        )
        if obj.escalated_at:
            return format_html('{}<br><span class="help">{}</span>', shown, self.escalation(obj))
        return shown

    @admin.display(description="escalated")
    def escalation(self, obj: ExceptionItem) -> str:
        if obj.escalated_at is None:
            return "—"
        at = local_time(obj.escalated_at, obj.market.timezone)
        return format_html("escalated {} to {}", at, obj.escalated_to or "its owner group")

    @admin.display(description="filed (market time)", ordering="created_at")
    def filed(self, obj: ExceptionItem) -> str:
        return local_time(obj.created_at, obj.market.timezone)

    @admin.display(description="about")
    def target(self, obj: ExceptionItem) -> str:
        return target_link(obj.target_type, obj.target_id)

    @admin.display(description="details")
    def details_table(self, obj: ExceptionItem) -> str:
        if not obj.details:
            return "—"
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", sorted(obj.details.items()))
        return format_html("<table>{}</table>", rows)

    # --- bulk actions ------------------------------------------------------------------------

    @admin.action(description="Claim selected items", permissions=["change"])
    def claim_selected(self, request: HttpRequest, queryset: QuerySet[ExceptionItem]) -> None:
        self._each(
            request,
            queryset,
            lambda item: services.exception_claim(actor=request.user, item=item),
            "claimed",
        )

    @admin.action(description="Release selected items", permissions=["change"])
    def release_selected(self, request: HttpRequest, queryset: QuerySet[ExceptionItem]) -> None:
        self._each(
            request,
            queryset,
            lambda item: services.exception_release(actor=request.user, item=item),
            "released",
        )

    def _each(
        self, request: HttpRequest, queryset: QuerySet[ExceptionItem], act: Any, verb: str
    ) -> None:
        done, refused = 0, []
        for item in queryset:
            try:
                act(item)
                done += 1
            except ApplicationError as exc:
                refused.append(f"#{item.pk}: {exc.message}")
        if done:
            messages.success(request, f"{done} item(s) {verb}.")
        for message in refused:
            messages.warning(request, message)

    # --- the item page ------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        act = path(
            "<int:item_id>/act/",
            self.admin_site.admin_view(self.act_view),
            name="queue_exceptionitem_act",
        )
        read = path(
            "notifications/read/",
            self.admin_site.admin_view(self.notifications_read_view),
            name="queue_notifications_read",
        )
        return [act, read, *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        item = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if item is not None:
            try:
                kind = kind_get(item.kind)
                page = kind.page_url(item)
                resolutions = tuple(r for r in kind.resolutions if not r.on_page or page is None)
            except UnknownKind:
                page, resolutions = None, ()
            context.update(
                {
                    "title": f"{self.kind_label(item)} #{item.pk}",
                    "item": item,
                    "resolutions": resolutions,
                    "page_url": page,
                    "claimed_by_me": item.claim_active() and item.claimed_by_id == request.user.pk,
                    "claimed_by_other": item.claim_active()
                    and item.claimed_by_id != request.user.pk,
                    "act_url": reverse("admin:queue_exceptionitem_act", args=[item.pk]),
                }
            )
        return super().change_view(request, object_id, form_url, context)

    def act_view(self, request: HttpRequest, item_id: int) -> HttpResponse:
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        item = get_object_or_404(self.get_queryset(request), pk=item_id)
        action = request.POST.get("action", "")
        note = request.POST.get("note", "").strip()
        actor = request.user
        try:
            if action == "claim":
                services.exception_claim(actor=actor, item=item)
                messages.success(request, "Claimed: it is yours for the next 30 minutes.")
            elif action == "release":
                services.exception_release(actor=actor, item=item)
                messages.success(request, "Released back to the queue.")
            elif action == "dismiss":
                services.exception_dismiss(actor=actor, item=item, note=note)
                messages.success(request, "Dismissed.")
                return HttpResponseRedirect(reverse("admin:queue_exceptionitem_changelist"))
            elif action.startswith("resolve:"):
                key = action.removeprefix("resolve:")
                services.exception_resolve(
                    actor=actor,
                    item=item,
                    resolution=key,
                    note=note,
                    value=request.POST.get(f"value:{key}", ""),
                )
                messages.success(request, "Resolved.")
                return HttpResponseRedirect(reverse("admin:queue_exceptionitem_changelist"))
            else:
                messages.error(request, f"Unknown action {action!r}.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("admin:queue_exceptionitem_change", args=[item.pk]))

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        context = dict(extra_context or {})
        context["notifications"] = list(
            notifications_unread(
                user_id=request.user.pk or 0, market_ids=request_scope(request)[0]
            )[:20]
        )
        return super().changelist_view(request, context)

    def notifications_read_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            raise PermissionDenied
        ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
        services.notifications_mark_read(actor=request.user, ids=ids)
        return HttpResponseRedirect(reverse("admin:queue_exceptionitem_changelist"))


@admin.register(QueueOwnership)
class QueueOwnershipAdmin(MarketScopedAdminMixin, admin.ModelAdmin[QueueOwnership]):
    list_display = ["kind", "market", "owner_group", "recovery_minutes"]
    list_filter = ["kind"]
    list_select_related = ["market", "owner_group"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: QueueOwnership | None = None
    ) -> list[str]:
        return ["kind", "market"] if obj else []

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        from django import forms

        if db_field.name == "kind":
            return forms.ChoiceField(choices=[(k.key, k.label) for k in kinds_all()])
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_delete_permission(
        self, request: HttpRequest, obj: QueueOwnership | None = None
    ) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: QueueOwnership, form: Any, change: bool
    ) -> None:
        saved = services.queue_ownership_set(
            actor=request.user,
            kind=obj.kind,
            market=obj.market,
            owner_group=obj.owner_group,
            recovery_minutes=obj.recovery_minutes,
        )
        obj.pk = saved.pk
