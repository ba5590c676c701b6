"""Admin for markets, market notes, API clients and the Market access page.

Every page runs in the staff member's market context (LeadOpsAdminSite.admin_view) and filters
by `request.market_access` too. Writes go through services; nothing here saves rows itself.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from leadops.core.admin import MarketScopedAdminMixin, request_scope
from leadops.core.errors import ApplicationError
from leadops.markets import services
from leadops.markets.models import ApiClient, Market, MarketNote
from leadops.markets.selectors import market_access_holders


@admin.register(Market)
class MarketAdmin(MarketScopedAdminMixin, admin.ModelAdmin[Market]):
    list_display = ["code", "name", "timezone"]
    search_fields = ["code__exact"]
    actions = None
    change_list_template = "admin/markets/market/change_list.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Market | None = None) -> list[str]:
        return ["code"] if obj else []

    def has_add_permission(self, request: HttpRequest) -> bool:
        return services.is_revops(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Market | None = None) -> bool:
        return services.is_revops(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Market | None = None) -> bool:
        return False  # leads, teams and audit events refer to markets for ever

    def save_model(self, request: HttpRequest, obj: Market, form: Any, change: bool) -> None:
        if change:
            services.market_update(
                actor=request.user, market=obj, name=obj.name, timezone=obj.timezone
            )
        else:
            created = services.market_create(
                actor=request.user, code=obj.code, name=obj.name, timezone=obj.timezone
            )
            obj.pk = created.pk

    def get_urls(self) -> list[URLPattern]:
        access = path(
            "access/", self.admin_site.admin_view(self.access_view), name="markets_market_access"
        )
        return [access, *super().get_urls()]

    def access_view(self, request: HttpRequest) -> HttpResponse:
        """Market access: who may see which market, and (for RevOps) grant or revoke it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        can_edit = services.is_revops(request.user)
        form = MarketAccessForm(request.POST or None, market_ids=request_scope(request)[0])
        if request.method == "POST":
            if not can_edit:
                raise PermissionDenied
            if form.is_valid():
                try:
                    form.apply(actor=request.user)
                except ApplicationError as exc:
                    messages.error(request, exc.message)
                else:
                    messages.success(request, form.summary())
                    return HttpResponseRedirect(reverse("admin:markets_market_access"))
        rows = market_access_holders(markets=self.get_queryset(request))
        context = {
            **self.admin_site.each_context(request),
            "title": "Market access",
            "rows": rows,
            "form": form,
            "can_edit": can_edit,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/markets/market_access.html", context)


class MarketAccessForm(forms.Form):
    market = forms.ModelChoiceField(queryset=Market.objects.none())
    user = forms.ModelChoiceField(queryset=User.objects.order_by("username"), required=False)
    group = forms.ModelChoiceField(queryset=Group.objects.order_by("name"), required=False)
    action = forms.ChoiceField(choices=[("grant", "Grant access"), ("revoke", "Revoke access")])

    def __init__(self, *args: Any, market_ids: frozenset[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        market_field = self.fields["market"]
        assert isinstance(market_field, forms.ModelChoiceField)
        market_field.queryset = Market.objects.filter(id__in=market_ids)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("user")) == bool(data.get("group")):
            raise forms.ValidationError("Choose either a user or a group.")
        return data

    def apply(self, *, actor: Any) -> None:
        data = self.cleaned_data
        service = (
            services.market_access_grant
            if data["action"] == "grant"
            else services.market_access_revoke
        )
        service(actor=actor, market=data["market"], user=data["user"], group=data["group"])

    def summary(self) -> str:
        data = self.cleaned_data
        who = data["user"] or data["group"]
        verb = "granted to" if data["action"] == "grant" else "revoked from"
        return f"Access to {data['market']} {verb} {who}."


@admin.register(MarketNote)
class MarketNoteAdmin(MarketScopedAdminMixin, admin.ModelAdmin[MarketNote]):
    list_display = ["id", "market", "text", "created_by", "created_at"]
    list_filter = ["market"]
    list_select_related = ["market", "created_by"]
    fields = ["market", "text"]
    show_full_result_count = False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletes go one by one through the service
        return actions

    def get_readonly_fields(self, request: HttpRequest, obj: MarketNote | None = None) -> list[str]:
        return ["market"] if obj else []

    def save_model(self, request: HttpRequest, obj: MarketNote, form: Any, change: bool) -> None:
        if change:
            services.market_note_update(actor=request.user, note=obj, text=obj.text)
        else:
            note = services.market_note_create(actor=request.user, market=obj.market, text=obj.text)
            obj.pk = note.pk

    def delete_model(self, request: HttpRequest, obj: MarketNote) -> None:
        services.market_note_delete(actor=request.user, note=obj)


class ApiClientForm(forms.ModelForm[ApiClient]):
    class Meta:
        model = ApiClient
        fields = ["name", "markets", "all_markets", "rate_limit", "is_active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("all_markets") == bool(data.get("markets")):
            raise forms.ValidationError("Choose some markets or tick all markets, not both.")
        return data


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin[ApiClient]):
    form = ApiClientForm
    list_display = ["name", "key_prefix", "all_markets", "is_active", "rate_limit", "last_used_at"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at"]
    filter_horizontal = ["markets"]
    actions = None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return services.is_revops(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: ApiClient | None = None) -> bool:
        return services.is_revops(request.user) and super().has_view_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: ApiClient | None = None) -> bool:
        return False  # deactivate instead: the audit log names clients for ever

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # The client is global (no market of its own); only its market choices are scoped.
        if db_field.name == "markets":
            kwargs["queryset"] = Market.objects.filter(id__in=request_scope(request)[0])
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        markets = list(form.cleaned_data["markets"])
        if change:
            services.api_client_update(
                actor=request.user,
                client=obj,
                markets=markets,
                all_markets=obj.all_markets,
                is_active=obj.is_active,
                rate_limit=obj.rate_limit,
            )
            return
        issued = services.api_client_create(
            actor=request.user,
            name=obj.name,
            markets=markets,
            all_markets=obj.all_markets,
            rate_limit=obj.rate_limit,
        )
        obj.pk = issued.client.pk
        messages.warning(
            request,
            f"API key for {obj.name}: {issued.key} — copy it now; it is not stored and "
            "will not be shown again.",
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Markets were set by the service already; the stock M2M save would repeat it."""


# Market grants are object permissions written only on the Market access page. The stock user
# and group pages must not write them as global permissions (ignored by design, but misleading),
# and must not drop `see_global` from RevOps when a group is saved.
MARKET_GRANT_CODENAMES = ["access_market", "see_global"]


def _without_market_grants(queryset: QuerySet[Permission]) -> QuerySet[Permission]:
    return queryset.exclude(content_type__app_label="markets", codename__in=MARKET_GRANT_CODENAMES)


admin.site.unregister(User)
admin.site.unregister(Group)


class _WithoutMarketGrantsMixin:
    """Leaves market grants out of a permission picker (`permissions_field` names it)."""

    permissions_field = ""

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        if db_field.name == self.permissions_field and field is not None:
            field.queryset = _without_market_grants(Permission.objects.all())
        return field


@admin.register(User)
class LeadOpsUserAdmin(_WithoutMarketGrantsMixin, UserAdmin):
    permissions_field = "user_permissions"


@admin.register(Group)
class LeadOpsGroupAdmin(_WithoutMarketGrantsMixin, GroupAdmin):
    permissions_field = "permissions"

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        kept = (
            list(
                form.instance.permissions.filter(
                    content_type__app_label="markets", codename__in=MARKET_GRANT_CODENAMES
                )
            )
            if change
            else []
        )
        super().save_related(request, form, formsets, change)
        form.instance.permissions.add(*kept)


from leadops.markets import admin_organisation  # noqa: E402, F401  (registers its pages)
