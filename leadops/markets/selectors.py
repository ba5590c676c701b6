"""Reads of markets and market-scoped rows, and the resolver from a principal to market ids.

Every selector filters by the caller's market ids itself, so scoping holds even where RLS is
open (system context); RLS holds where a selector forgets. Each layer is tested with the other off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from django.contrib.auth.models import (
    AbstractBaseUser,
    AnonymousUser,
    Group,
    PermissionsMixin,
    User,
)
from django.db.models import QuerySet
from guardian.shortcuts import get_groups_with_perms, get_objects_for_user, get_users_with_perms

from leadops.core.access import system_context
from leadops.core.config import config_cached
from leadops.markets.models import (
    UNASSIGNED_CODE,
    ApiClient,
    Market,
    MarketNote,
    MarketTableVersion,
)

Principal = AbstractBaseUser | AnonymousUser | ApiClient


@dataclass(frozen=True)
class MarketAccess:
    """The resolved scope of a principal: the markets it may see, and whether global rows too."""

    market_ids: frozenset[int]
    see_global: bool


NO_ACCESS = MarketAccess(market_ids=frozenset(), see_global=False)


def market_access_for(principal: Principal) -> MarketAccess:
    """Resolve a user or API client to its markets, reading the grant tables in system context.

    Users: superusers see everything; others see the markets granted to them or their groups
    through the `access_market` object permission (global grants of it are ignored:
    `accept_global_perms=False`). API clients: their market list, or all with `all_markets`.
    """
    if isinstance(principal, ApiClient):
        if not principal.is_active:
            return NO_ACCESS
        # Read once per config change (a client's markets and flags move the generation).
        return config_cached(f"api_access:{principal.pk}", lambda: _client_access(principal))
    if not principal.is_authenticated or not principal.is_active:
        return NO_ACCESS
    with system_context("resolve_access"):
        if getattr(principal, "is_superuser", False):
            return MarketAccess(
                market_ids=frozenset(Market.objects.values_list("id", flat=True)), see_global=True
            )
        granted = get_objects_for_user(
            principal, "markets.access_market", klass=Market, accept_global_perms=False
        )
        ids = frozenset(granted.values_list("id", flat=True))
        see_global = isinstance(principal, PermissionsMixin) and principal.has_perm(
            "markets.see_global"
        )
    return MarketAccess(market_ids=ids, see_global=see_global)


def _client_access(client: ApiClient) -> MarketAccess:
    with system_context("resolve_access"):
        if client.all_markets:
            ids = frozenset(Market.objects.values_list("id", flat=True))
        else:
            ids = frozenset(
                ApiClient.markets.through.objects.filter(apiclient_id=client.pk).values_list(
                    "market_id", flat=True
                )
            )
    return MarketAccess(market_ids=ids, see_global=client.all_markets)


def api_client_by_prefix(prefix: str) -> ApiClient | None:
    """The API client whose key starts `lo_<prefix>_`, read once per config change. The
    instance is shared by the process's threads: read it, never change it."""
    return config_cached(
        f"api_client:{prefix}", lambda: ApiClient.objects.filter(key_prefix=prefix).first()
    )


@dataclass(frozen=True)
class MarketRef:
    id: int
    code: str
    timezone: str

    @property
    def is_unassigned(self) -> bool:
        return self.code == UNASSIGNED_CODE


def markets_by_id() -> dict[int, MarketRef]:
    """Every market by id, read once per config change."""
    return config_cached("markets", _markets_load)


def _markets_load() -> dict[int, MarketRef]:
    with system_context("config_cache"):
        return {
            m.id: MarketRef(id=m.id, code=m.code, timezone=m.timezone)
            for m in Market.objects.only("id", "code", "timezone")
        }


def market_list(*, access: MarketAccess) -> QuerySet[Market]:
    return Market.objects.filter(id__in=access.market_ids).order_by("code")


def market_note_list(*, access: MarketAccess) -> QuerySet[MarketNote]:
    return (
        MarketNote.objects.filter(market_id__in=access.market_ids)
        .select_related("market", "created_by")
        .order_by("-created_at", "-id")
    )


def markets_info() -> dict[int, tuple[str, str]]:
    """Code and time zone of every market, for labels on pages. A code is no market data (a page
    names only markets its reader holds anyway), so this reads in system context."""
    with system_context("market_labels"):
        return {
            pk: (code, zone)
            for pk, code, zone in Market.objects.values_list("id", "code", "timezone")
        }


def market_access_holders(*, markets: Iterable[Market]) -> list[dict[str, object]]:
    """Per market: the groups holding it and the people granted it directly (not through a
    group), sorted by name, for the Market access page."""
    rows: list[dict[str, object]] = []
    for market in markets:
        groups = cast(QuerySet[Group], get_groups_with_perms(market))
        users = cast(QuerySet[User], get_users_with_perms(market, with_group_users=False))
        rows.append(
            {
                "market": market,
                "groups": sorted(g.name for g in groups),
                "users": sorted(u.get_username() for u in users),
            }
        )
    return rows


def market_table_versions_open() -> QuerySet[MarketTableVersion]:
    """Drafts and the published version, newest first (what a retag may be run against)."""
    return MarketTableVersion.objects.exclude(status="retired").order_by("-number")
