"""The routing pages people work in: a rule set with its versions and their differences, a
version with its rules as sentences, the draft's JSON editor, fixtures run on demand, a
simulation beside the published rules, and the governance steps as buttons. Views only; each
action calls a service in routing/versions.py or routing/simulate.py."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from leadops.core.errors import ApplicationError
from leadops.leads.models import Lead, Source
from leadops.markets.models import Market, MarketTableRow, Team, TeamMember
from leadops.markets.services import is_revops
from routing.backtests import run_is_stale
from routing.describe import rule_sentence, versions_diff
from routing.models import RuleSet, RuleVersion
from routing.rules import FIELDS, OPERATORS, PICKS, STATUSES, WHEN_CLOSED
from routing.simulate import TYPED_FIELDS, version_simulate
from routing.versions import (
    APPROVE_PERM,
    RulesInvalid,
    error_dict,
    fixtures_run,
    rule_set_ensure,
    version_approve,
    version_draft_create,
    version_draft_update,
    version_publish,
    version_rollback,
    version_submit,
    version_withdraw,
)

State = RuleVersion.State


def can_edit(request: HttpRequest) -> bool:
    return is_revops(request.user) and request.user.has_perm("routing.change_ruleversion")


def _cards(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "position": i + 1,
            "id": r.get("id"),
            "name": r.get("name", ""),
            "sentence": rule_sentence(r),
        }
        for i, r in enumerate(content.get("rules", []))
    ]


def rule_set_context(request: HttpRequest, rule_set: RuleSet) -> dict[str, Any]:
    versions = list(rule_set.versions.select_related("author", "approver").order_by("-number"))
    published = next((v for v in versions if v.state == State.PUBLISHED), None)
    by_number = {v.number: v for v in versions}
    left = by_number.get(_int(request.GET.get("a")))
    right = by_number.get(_int(request.GET.get("b")))
    return {
        "rule_set": rule_set,
        "versions": versions,
        "published": published,
        "cards": _cards(published.content) if published else [],
        "compare": (left, right, versions_diff(left.content, right.content))
        if left and right
        else None,
        "can_edit": can_edit(request),
    }


def editor_choices(version: RuleVersion) -> dict[str, Any]:
    """What the form view offers: the fields and operators, the teams and people of the rule
    set's market (any market's for the global one), sources and countries to pick from."""
    teams = (
        Team.objects.all()
        if version.market_id is None
        else Team.objects.filter(market_id=version.market_id)
    )
    members = TeamMember.objects.filter(is_active=True)
    if version.market_id is not None:
        members = members.filter(market_id=version.market_id)
    return {
        "fields": list(FIELDS),
        "operators": list(OPERATORS),
        "teams": sorted(set(teams.values_list("name", flat=True))),
        "people": sorted(set(members.values_list("user__username", flat=True))),
        "picks": list(PICKS),
        "when_closed": list(WHEN_CLOSED),
        "statuses": list(STATUSES),
        "values": {
            "source": sorted(Source.objects.values_list("slug", flat=True)),
            "country": sorted(
                set(MarketTableRow.objects.exclude(country="").values_list("country", flat=True))
            ),
            "market": sorted(Market.objects.values_list("code", flat=True)),
        },
    }


def version_context(request: HttpRequest, version: RuleVersion, **extra: Any) -> dict[str, Any]:
    published = (
        RuleVersion.objects.filter(rule_set_id=version.rule_set_id, state=State.PUBLISHED)
        .exclude(pk=version.pk)
        .first()
    )
    editable = can_edit(request)
    if version.state == State.SUBMITTED and "fixtures" not in extra:
        # The approver decides on the differences and the fixtures' results, both on the page.
        extra["fixtures"] = fixtures_run(version=version)
    return {
        "version": version,
        "cards": _cards(version.content),
        "published": published,
        "against_published": versions_diff(
            published.content if published else None, version.content
        ),
        "json": json.dumps(version.content, indent=2, ensure_ascii=False, sort_keys=True),
        "can_edit": editable and version.state == State.DRAFT,
        "can_govern": editable,
        "can_approve": request.user.has_perm(APPROVE_PERM) and version.author_id != request.user.pk,
        "typed_fields": TYPED_FIELDS,
        "backtests": [
            {"run": run, "stale": run_is_stale(run)}
            for run in version.backtests.select_related("job", "version")[:5]
        ],
        "can_backtest": is_revops(request.user),
        "choices": editor_choices(version) if editable and version.state == State.DRAFT else None,
        "now": timezone.now(),
        **extra,
    }


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else -1


def version_act(request: HttpRequest, version: RuleVersion) -> HttpResponse:
    """One step on a version's page; a refusal comes back as a message (or the page with the
    errors), nothing half-done."""
    action = request.POST.get("action", "")
    note = request.POST.get("note", "").strip()
    here = reverse("admin:routing_ruleversion_change", args=[version.pk])
    if action in ("simulate", "fixtures"):
        return _read_only(request, version, action)
    if action in ("backtest", "backtest_cancel"):
        return _backtest(request, version, action)
    if not can_edit(request):
        raise PermissionDenied
    try:
        if action == "save":
            content = json.loads(request.POST.get("content", ""))
            version_draft_update(
                actor=request.user, version=version, content=content, change_note=note or None
            )
            messages.success(request, "Draft saved: the rules hold.")
        elif action == "submit":
            version_submit(actor=request.user, version=version)
            messages.success(request, f"Version {version.number} submitted for approval.")
        elif action == "withdraw":
            version_withdraw(actor=request.user, version=version, note=note)
            messages.success(request, f"Version {version.number} is a draft again.")
        elif action == "approve":
            version_approve(actor=request.user, version=version, note=note)
            messages.success(request, f"Version {version.number} approved.")
        elif action == "publish":
            version_publish(actor=request.user, version=version)
            messages.success(request, f"Version {version.number} is in force.")
        elif action == "rollback":
            made = version_rollback(actor=request.user, version=version, change_note=note)
            messages.success(
                request, f"Version {made.number} republishes version {version.number}."
            )
            here = reverse("admin:routing_ruleversion_change", args=[made.pk])
        elif action == "copy":
            made = version_draft_create(
                actor=request.user,
                rule_set=version.rule_set,
                content=version.content,
                change_note=note or f"from version {version.number}",
            )
            messages.success(
                request, f"Draft version {made.number} made from version {version.number}."
            )
            here = reverse("admin:routing_ruleversion_change", args=[made.pk])
        else:
            messages.error(request, f"Unknown action {action!r}.")
    except json.JSONDecodeError as exc:
        return _page(
            request, version, json_error=f"Not JSON: {exc}", posted=request.POST.get("content", "")
        )
    except RulesInvalid as exc:
        return _page(
            request,
            version,
            errors=[error_dict(e) for e in exc.errors],
            posted=request.POST.get("content", ""),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(here)


def _read_only(request: HttpRequest, version: RuleVersion, action: str) -> HttpResponse:
    if action == "fixtures":
        return _page(request, version, fixtures=fixtures_run(version=version))
    at = parse_datetime(request.POST.get("at", "") or "") or timezone.now()
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    lead_id = _int(request.POST.get("lead"))
    lead = (
        Lead.objects.filter(pk=lead_id).select_related("first_source").first()
        if lead_id > 0
        else None
    )
    if lead_id > 0 and lead is None:
        messages.error(request, f"No lead #{lead_id} in your markets.")
        return HttpResponseRedirect(reverse("admin:routing_ruleversion_change", args=[version.pk]))
    fields = {f: request.POST.get(f, "") for f in TYPED_FIELDS}
    try:
        simulation = version_simulate(version=version, lead=lead, fields=fields, at=at)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("admin:routing_ruleversion_change", args=[version.pk]))
    return _page(request, version, simulation=simulation, simulated_at=at)


def _page(request: HttpRequest, version: RuleVersion, **extra: Any) -> HttpResponse:
    from django.contrib import admin

    model_admin = admin.site._registry[RuleVersion]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": RuleVersion._meta,
        "title": str(version),
        **version_context(request, version, **extra),
    }
    return TemplateResponse(request, "admin/routing/ruleversion/page.html", context)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def rule_set_add(request: HttpRequest, site_context: dict[str, Any]) -> HttpResponse:
    """A market without rules (or the global fallback) gets its rule set, then its first draft
    is written on the rule set's page."""
    from leadops.core.admin import request_scope

    market_ids, see_global = request_scope(request)
    taken = set(RuleSet.objects.values_list("market_id", flat=True))
    markets = list(Market.objects.filter(pk__in=market_ids).exclude(pk__in=taken).order_by("code"))
    if request.method == "POST":
        wanted = request.POST.get("market", "")
        market = next((m for m in markets if str(m.pk) == wanted), None)
        if market is None and not (wanted == "global" and see_global and None not in taken):
            messages.error(request, "Choose a market without rules, or the global fallback.")
        else:
            made = rule_set_ensure(actor=request.user, market=market)
            messages.success(request, f"{made} made: write its first draft here.")
            return HttpResponseRedirect(reverse("admin:routing_ruleset_change", args=[made.pk]))
    context = {
        **site_context,
        "opts": RuleSet._meta,
        "title": "Rules for another market",
        "markets": markets,
        "global_free": see_global and None not in taken,
    }
    return TemplateResponse(request, "admin/routing/ruleset/add.html", context)


def rule_set_draft(request: HttpRequest, rule_set: RuleSet) -> HttpResponse:
    """A new draft: the rules in force copied, or none."""
    if not can_edit(request):
        raise PermissionDenied
    published = rule_set.versions.filter(state=State.PUBLISHED).first()
    start = published.content if published and request.POST.get("from") == "published" else {}
    try:
        made = version_draft_create(
            actor=request.user,
            rule_set=rule_set,
            content={"rules": [], **start},
            change_note=request.POST.get("note", ""),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(reverse("admin:routing_ruleset_change", args=[rule_set.pk]))
    messages.success(request, f"Draft version {made.number} made.")
    return HttpResponseRedirect(reverse("admin:routing_ruleversion_change", args=[made.pk]))


def _backtest(request: HttpRequest, version: RuleVersion, action: str) -> HttpResponse:
    """Start a backtest over the reader's markets (a Job), or cancel one."""
    from django.db import transaction

    from leadops.core.admin import request_scope
    from routing.backtests import backtest_cancel, backtest_start
    from routing.models import BacktestRun
    from routing.tasks import backtest_job

    here = reverse("admin:routing_ruleversion_change", args=[version.pk])
    if not is_revops(request.user):
        raise PermissionDenied
    try:
        if action == "backtest_cancel":
            run = BacktestRun.objects.select_related("job").get(
                pk=_int(request.POST.get("run")), version=version
            )
            backtest_cancel(actor=request.user, run=run)
            messages.success(request, "The backtest stops at its next step and keeps nothing.")
            return HttpResponseRedirect(here)
        market_ids, _ = request_scope(request)
        since = parse_date(request.POST.get("since", "") or "")
        limit = _int(request.POST.get("limit"))
        run = backtest_start(
            actor=request.user,
            version=version,
            market_ids=sorted(market_ids),
            since=since,
            limit=limit if limit > 0 else None,
        )
        transaction.on_commit(lambda: backtest_job.delay(run.pk))
        messages.success(request, "Backtest started: its progress shows below.")
    except (ApplicationError, BacktestRun.DoesNotExist) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
    return HttpResponseRedirect(here + "#backtest")
