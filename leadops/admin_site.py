"""The LeadOps admin site: the product for RevOps and sales managers.

Process pages (the dashboard now; market access, backtests and the exception queue later) are
added here through `get_urls()` + `admin_view()`, so they share the admin's login and permissions.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse

from leadops.core.access import market_context
from leadops.core.actors import origin_context
from leadops.markets.selectors import NO_ACCESS, market_access_for


class LeadOpsAdminSite(admin.AdminSite):
    site_header = "LeadOps"
    site_title = "LeadOps"
    index_title = "Lead operations"
    # No public site sits behind the admin, so no "View site" link.
    site_url = None

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Any:
        """Every admin page runs in one transaction scoped to the staff member's markets.

        `request.market_access` carries the resolved scope for querysets and forms, so the ORM
        filter and RLS both apply. A lazy TemplateResponse is rendered inside the transaction,
        because its template may still query.
        """

        @wraps(view)
        def scoped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            access = market_access_for(request.user) if request.user.is_active else NO_ACCESS
            request.market_access = access  # type: ignore[attr-defined]
            with (
                origin_context("admin"),
                market_context(market_ids=access.market_ids, see_global=access.see_global),
            ):
                response = view(request, *args, **kwargs)
                if isinstance(response, TemplateResponse):
                    response.render()
                return response

        return super().admin_view(scoped, cacheable)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The index starts with the pages people work from, each shown to those who may use
        it; the model lists follow."""
        context = {**(extra_context or {}), "work_links": self.work_links(request)}
        return super().index(request, context)

    def work_links(self, request: HttpRequest) -> list[tuple[str, str, str]]:
        """(title, url, what it is for) of the process pages this person may open."""
        from leadops.markets.services import is_revops
        from leadops.sla.admin_board import board_allowed

        user = request.user
        candidates = [
            (
                user.has_perm("queue.view_exceptionitem"),
                "Exception queue",
                "admin:queue_exceptionitem_changelist",
                "Items that need a person in your markets.",
            ),
            (True, "Dashboard", "admin:dashboard", "Intake, queue, routing and SLA figures."),
            (
                board_allowed(request),
                "SLA board",
                "admin:sla_board",
                "Open first-response clocks per owner, what is due next, today's breaches.",
            ),
            (
                user.has_perm("leads.view_lead"),
                "Leads",
                "admin:leads_lead_changelist",
                "Find a lead by its email, phone or company domain.",
            ),
            (
                user.has_perm("markets.view_market"),
                "Market access",
                "admin:markets_market_access",
                "Who may see which market"
                + ("; grant and revoke." if is_revops(user) else " (RevOps grants)."),
            ),
            (
                is_revops(user),
                "Retag leads",
                "admin:leads_retag",
                "Preview and apply what a market-table version would move.",
            ),
            (
                user.has_perm("audit.view_auditevent"),
                "Audit log",
                "admin:audit_auditevent_changelist",
                "Every consequential action in your markets.",
            ),
            (
                user.has_perm("markets.see_global"),
                "Audit verification",
                "admin:audit_verify",
                "Check the whole hash chain and its signed checkpoints.",
            ),
            (
                user.has_perm("core.view_job"),
                "Jobs",
                "admin:core_job_changelist",
                "Background work (verifications, retags) and its results.",
            ),
        ]
        return [(title, reverse(name), why) for ok, title, name, why in candidates if ok]

    def get_urls(self) -> list[URLResolver | URLPattern]:
        extra: list[URLResolver | URLPattern] = [
            path("dashboard/", self.admin_view(self.dashboard_view), name="dashboard"),
            path("home/", self.admin_view(self.home_view), name="home"),
            path("landing/", self.admin_view(self.landing_view), name="landing"),
            path("sla/board/", self.admin_view(self.sla_board_view), name="sla_board"),
        ]
        return extra + super().get_urls()

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """After logging in, people land where they work (`landing_view`) unless a page sent
        them here."""
        from django.contrib.auth import REDIRECT_FIELD_NAME

        context = dict(extra_context or {})
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:landing", current_app=self.name)
        return super().login(request, context)

    def landing_view(self, request: HttpRequest) -> HttpResponse:
        """RevOps land on the dashboard, a manager on the home page of their markets, anyone
        else on the index."""
        from django.http import HttpResponseRedirect

        from leadops.markets.services import is_revops

        access = getattr(request, "market_access", NO_ACCESS)
        if is_revops(request.user):
            return HttpResponseRedirect(reverse("admin:dashboard"))
        if access.market_ids:
            return HttpResponseRedirect(reverse("admin:home"))
        return HttpResponseRedirect(reverse("admin:index"))

    def dashboard_view(self, request: HttpRequest) -> TemplateResponse:
        """The operations dashboard for the reader's markets and a period (`leadops.dashboard`).
        Sections whose features do not exist yet say so instead of showing zeros."""
        from leadops.dashboard_page import dashboard_context

        context: dict[str, Any] = {
            **self.each_context(request),
            "title": "Dashboard",
            **dashboard_context(request),
        }
        return TemplateResponse(request, "admin/dashboard.html", context)

    def sla_board_view(self, request: HttpRequest) -> TemplateResponse:
        """A manager's SLA board: open clocks per owner, what is due next, today's breaches
        (`leadops.sla.admin_board`)."""
        from leadops.sla.admin_board import sla_board_view

        return sla_board_view(request, self.each_context(request))

    def home_view(self, request: HttpRequest) -> TemplateResponse:
        """A manager's home: what needs them now, their teams and who is available, today's
        intake, for their markets."""
        from leadops.dashboard_page import home_context

        context: dict[str, Any] = {
            **self.each_context(request),
            "title": "Your markets today",
            **home_context(request),
        }
        return TemplateResponse(request, "admin/home.html", context)
