"""Admin building blocks every app uses, and the page of background jobs."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from leadops.core.models import Job, MarketScopedQuerySet
from leadops.core.selectors import jobs_scope, jobs_visible


def request_scope(request: HttpRequest) -> tuple[frozenset[int], bool]:
    """The markets of the person behind an admin request, and whether they see global rows
    (set by the admin site's `admin_view`; nothing at all outside it)."""
    access = getattr(request, "market_access", None)
    if access is None:
        return frozenset(), False
    return frozenset(access.market_ids), bool(access.see_global)


def scope_column(model: type[models.Model]) -> str:
    """The column that says which market a row of `model` belongs to (a market's own id)."""
    return str(getattr(model, "market_scope_column", "market_id"))


def scoped_choices(model: type[models.Model], market_ids: frozenset[int]) -> QuerySet[Any] | None:
    """`model`'s rows in `market_ids`, through its own scoped manager; None for a model that is
    not market-scoped (users, groups, sources: global)."""
    rows = model._default_manager.all()
    if not isinstance(rows, MarketScopedQuerySet):
        return None
    return rows.filter(**{f"{scope_column(model)}__in": sorted(market_ids)})


class MarketScopedAdminMixin:
    """Market scoping for a ModelAdmin or inline, written once.

    - The queryset holds the rows of the person's markets; a row with a second market (a
      cross-market item) only when the person holds that one too. `scope_q` can be replaced
      for models with a rule of their own (audit events).
    - Foreign-key and many-to-many choices offer only rows of those markets, through the related
      model's own scoped manager (so this needs no import of Market).
    - A save guard: nothing is saved into a market the person does not hold, whatever was
      posted.
    Every page also runs in the person's market context (RLS), so each layer holds on its own.
    """

    second_scope_column: str | None = "second_market_id"

    def scope_q(self, request: HttpRequest) -> Q:
        ids, _see_global = request_scope(request)
        model = self.model  # type: ignore[attr-defined]
        scope = Q(**{f"{scope_column(model)}__in": sorted(ids)})
        second = self.second_scope_column
        if second and second in {f.attname for f in model._meta.concrete_fields}:
            scope &= Q(**{f"{second}__isnull": True}) | Q(**{f"{second}__in": sorted(ids)})
        return scope

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(self.scope_q(request))  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "queryset" not in kwargs:
            choices = scoped_choices(db_field.related_model, request_scope(request)[0])
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if "queryset" not in kwargs:
            choices = scoped_choices(db_field.related_model, request_scope(request)[0])
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        obj = super().save_form(request, form, change)  # type: ignore[misc]
        market_id = getattr(obj, scope_column(type(obj)), None)
        if market_id is not None and market_id not in request_scope(request)[0]:
            raise PermissionDenied("That market is not one of yours.")
        return obj


def request_jobs(request: HttpRequest) -> QuerySet[Job]:
    """The jobs this person may read: those whose whole scope they hold."""
    market_ids, see_global = request_scope(request)
    return jobs_visible(market_ids=market_ids, see_global=see_global)


PREVIEW_CHARS = 4096


def json_preview(value: Any, *, whole_url: str = "", limit: int = PREVIEW_CHARS) -> str:
    """A stored JSON value as readable, wrapping text; past `limit` characters a preview and,
    with `whole_url`, a link to the whole value (a 100 KB payload must not be the page)."""
    if value in (None, {}, []):
        return "—"
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    if len(text) <= limit:
        return format_html('<pre class="lo-json">{}</pre>', text)
    size = f"{len(text.encode()):,} bytes"
    more = (
        format_html('<a href="{}">Show all of it ({})</a>', whole_url, size)
        if whole_url
        else f"{size} in all"
    )
    return format_html(
        '<pre class="lo-json">{}…</pre><p class="help">Preview of the first {} characters. {}</p>',
        text[:limit],
        f"{limit:,}",
        more,
    )


class InlineSaveRefused(Exception):
    """A service refused a row of an inline: the whole save is undone and the form shown again.

    `errors` maps a formset prefix to (row index or None, message) pairs."""

    def __init__(self, errors: dict[str, list[tuple[int | None, str]]]) -> None:
        super().__init__("; ".join(m for rows in errors.values() for _i, m in rows))
        self.errors = errors


class RefusableInlineFormSet(BaseInlineFormSet):
    """Carries the refusals of a save that was undone, as errors on the rows they belong to."""

    refusals: list[tuple[int | None, str]] = []

    def clean(self) -> None:
        super().clean()
        if not self.refusals:
            return
        for index, message in self.refusals:
            if index is not None and index < len(self.forms):
                self.forms[index].add_error(None, message)
        raise forms.ValidationError(
            [message for _index, message in self.refusals]
            + ["Nothing of this change was saved; correct the rows above and save again."]
        )


@contextmanager
def inline_rows(formset: Any) -> Iterator[Callable[[int | None, Callable[[], Any]], None]]:
    """Run one service call per inline row; collect refusals instead of stopping at the first,
    then refuse the whole save if there were any (each row runs in a savepoint, so a refused row
    leaves the transaction usable for the next one)."""
    from leadops.core.errors import ApplicationError

    # Only to sort the rows into new, changed and deleted (the admin's change message reads
    # these lists): with commit=False the formset itself writes nothing, the services do.
    formset.save(commit=False)
    refused: list[tuple[int | None, str]] = []

    def run(index: int | None, call: Callable[[], Any]) -> None:
        try:
            with transaction.atomic():
                call()
        except (ApplicationError, ValueError) as exc:
            refused.append((index, getattr(exc, "message", None) or str(exc)))
        except forms.ValidationError as exc:
            refused.extend((index, message) for message in exc.messages)

    yield run
    if refused:
        raise InlineSaveRefused({formset.prefix: refused})


class AllOrNothingInlinesMixin:
    """A change form whose inline rows are saved all together or not at all.

    Each row goes through a service; if any refuses, the admin's transaction is rolled back (the
    parent object too) and the same form comes back with the person's input and the errors on
    the rows they belong to. Inlines must use `RefusableInlineFormSet`.
    """

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context
            )
        except InlineSaveRefused as refused:
            request._inline_refusals = refused.errors  # type: ignore[attr-defined]
            return super().changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context
            )

    def _create_formsets(self, request: HttpRequest, obj: Any, change: bool) -> Any:
        formsets, inlines = super()._create_formsets(request, obj, change)  # type: ignore[misc]
        refusals = getattr(request, "_inline_refusals", {})
        for formset in formsets:
            formset.refusals = refusals.get(formset.prefix, [])
        return formsets, inlines


class ReadOnlyAdminMixin:
    """For records nobody edits by hand (audit events, jobs): view only, and with no delete
    permission the admin offers no bulk delete either."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(MarketScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin[Job]):
    """Background jobs: started from the pages that need them; each readable by those who hold
    every market its result is about."""

    list_display = ["id", "kind", "actor_label", "state", "progress", "message", "created_at"]
    list_filter = ["kind", "state"]
    readonly_fields = [f.name for f in Job._meta.fields]

    def scope_q(self, request: HttpRequest) -> Q:
        market_ids, see_global = request_scope(request)
        return jobs_scope(market_ids=market_ids, see_global=see_global)
