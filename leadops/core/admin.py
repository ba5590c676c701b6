"""Admin building blocks every app uses, and the page of background jobs."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from leadops.core.models import Job
from leadops.core.selectors import jobs_visible


def request_scope(request: HttpRequest) -> tuple[frozenset[int], bool]:
    """The markets of the person behind an admin request, and whether they see global rows
    (set by the admin site's `admin_view`; nothing at all outside it)."""
    access = getattr(request, "market_access", None)
    if access is None:
        return frozenset(), False
    return frozenset(access.market_ids), bool(access.see_global)


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
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Job]):
    """Background jobs: started from the pages that need them; each readable by those who hold
    every market its result is about."""

    list_display = ["id", "kind", "actor_label", "state", "progress", "message", "created_at"]
    list_filter = ["kind", "state"]
    readonly_fields = [f.name for f in Job._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        return request_jobs(request)
