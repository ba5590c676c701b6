"""Every change to markets, market access and API clients. Keyword-only, explicit actor, one
transaction each, and one audit event in that transaction."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth.models import AbstractUser, Group, Permission, User
from django.db import transaction
from django.db.models import Q
from guardian.shortcuts import assign_perm, remove_perm

from audit.services import audit_record
from leadops.core.access import system_context
from leadops.core.actors import Actor
from leadops.core.errors import ApplicationError
from leadops.markets.models import (
    REVOPS_GROUP,
    UNASSIGNED_CODE,
    ApiClient,
    Market,
    MarketNote,
)

ACCESS_PERM = "markets.access_market"
KEY_PREFIX_BYTES = 4  # 8 hex characters: the public lookup part of a key


def manager_group_name(market: Market) -> str:
    return f"Managers {market.code}"


MANAGER_PERMS = [
    "markets.view_market",
    "markets.view_marketnote",
    "markets.add_marketnote",
    "markets.change_marketnote",
    "audit.view_auditevent",
    "queue.view_exceptionitem",
    "queue.change_exceptionitem",
    "markets.view_calendarversion",
    "markets.view_markettableversion",
    "markets.view_markettablerow",
    "markets.view_team",
    "markets.view_teammember",
    "markets.view_outofoffice",
    "leads.view_lead",
    "leads.view_submission",
    "leads.view_sourcetouch",
    "leads.view_activity",
    # Managers read their markets' routing rules and decisions.
    "routing.view_ruleset",
    "routing.view_ruleversion",
    "routing.view_decision",
    # Managers read their markets' SLA policies and clocks (the board, the lead page).
    "sla.view_policy",
    "sla.view_policyversion",
    "sla.view_timer",
    # Jobs are scoped like everything else: a manager sees the jobs about their markets only.
    "core.view_job",
    # Managers import lists into their own markets (with a mapping RevOps made).
    "leads.view_importfile",
    "leads.add_importfile",
]
REVOPS_PERMS = [
    *MANAGER_PERMS,
    "markets.see_global",
    "markets.add_market",
    "markets.change_market",
    "markets.delete_marketnote",
    "markets.view_apiclient",
    "markets.add_apiclient",
    "markets.change_apiclient",
    "queue.view_queueownership",
    "queue.add_queueownership",
    "queue.change_queueownership",
    "markets.add_calendarversion",
    "markets.add_markettableversion",
    "markets.change_markettableversion",
    "markets.add_markettablerow",
    "markets.delete_markettablerow",
    "markets.add_team",
    "markets.change_team",
    "markets.add_teammember",
    "markets.change_teammember",
    "markets.add_outofoffice",
    "leads.view_source",
    "leads.add_source",
    "leads.change_source",
    "leads.view_sourcemapping",
    "leads.add_sourcemapping",
    # Routing: RevOps write drafts and approve each other's (never their own: routing/versions).
    "routing.add_ruleset",
    "routing.add_ruleversion",
    "routing.change_ruleversion",
    "routing.approve_ruleversion",
    # SLA policies: RevOps write drafts, publish and retire them.
    "sla.add_policyversion",
    "sla.change_policyversion",
    "sla.delete_policyversion",
]


def _group_with_perms(name: str, perms: list[str]) -> Group:
    group, _ = Group.objects.get_or_create(name=name)
    wanted = Q()
    for perm in perms:
        app_label, codename = perm.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    group.permissions.add(*Permission.objects.filter(wanted))
    return group


def revops_group_ensure() -> Group:
    """The RevOps group: `see_global`, market and client admin, and access to every market
    (granted object by object as markets appear)."""
    return _group_with_perms(REVOPS_GROUP, REVOPS_PERMS)


def is_revops(user: object) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    groups = getattr(user, "groups", None)
    return bool(groups is not None and groups.filter(name=REVOPS_GROUP).exists())


@transaction.atomic
def market_create(*, actor: Actor, code: str, name: str, timezone: str) -> Market:
    """Create a market, its manager group, and grant it to its managers and to RevOps."""
    with system_context("market_create"):
        market = Market(code=code, name=name, timezone=timezone)
        market.full_clean()
        market.save()
        _market_groups_ensure(market)
        # Imported here: calendars import this module's neighbours, not the other way round.
        from leadops.markets.calendars import DEFAULT_HOURS, calendar_version_create

        calendar_version_create(
            actor=actor, market=market, hours=DEFAULT_HOURS, holidays=[], note="default hours"
        )
        audit_record(
            actor=actor,
            action="market.created",
            target=market,
            market_id=market.id,
            data={"code": code, "name": name, "timezone": timezone},
        )
    return market


def _market_groups_ensure(market: Market) -> None:
    assign_perm(ACCESS_PERM, revops_group_ensure(), market)
    if market.is_unassigned:
        return  # RevOps works unassigned leads; no manager group of its own
    managers = _group_with_perms(manager_group_name(market), MANAGER_PERMS)
    assign_perm(ACCESS_PERM, managers, market)


def markets_ensure() -> None:
    """Registered with core's ensure-service (runs in system context): UNASSIGNED exists, every
    market has its manager group, and RevOps can see every market."""
    Market.objects.get_or_create(
        code=UNASSIGNED_CODE, defaults={"name": "Unassigned", "timezone": "UTC"}
    )
    for market in Market.objects.all():
        _market_groups_ensure(market)


@transaction.atomic
def market_update(*, actor: Actor, market: Market, name: str, timezone: str) -> Market:
    """Rename a market or change its time zone; the code never changes (exports rely on it)."""
    market.name = name
    market.timezone = timezone
    market.full_clean()
    market.save(update_fields=["name", "timezone"])
    audit_record(
        actor=actor,
        action="market.updated",
        target=market,
        market_id=market.id,
        data={"name": name, "timezone": timezone},
    )
    return market


@transaction.atomic
def market_access_grant(
    *, actor: Actor, market: Market, user: AbstractUser | None = None, group: Group | None = None
) -> None:
    """Give a user or a group access to one market's data."""
    target = _one_target(user=user, group=group)
    assign_perm(ACCESS_PERM, target, market)
    _access_audit(actor, "market_access.granted", market, target)


@transaction.atomic
def market_access_revoke(
    *, actor: Actor, market: Market, user: AbstractUser | None = None, group: Group | None = None
) -> None:
    """Take a user's or group's access to one market away. RevOps keeps every market."""
    target = _one_target(user=user, group=group)
    if isinstance(target, Group) and target.name == REVOPS_GROUP:
        raise ApplicationError(
            "RevOps keeps access to every market; remove people from the RevOps group instead.",
            code="revops_keeps_all_markets",
        )
    remove_perm(ACCESS_PERM, target, market)
    _access_audit(actor, "market_access.revoked", market, target)


def _access_audit(actor: Actor, action: str, market: Market, target: AbstractUser | Group) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=target,
        market_id=market.id,
        data={"market": market.code, "grantee": str(target)},
    )


def _one_target(*, user: AbstractUser | None, group: Group | None) -> AbstractUser | Group:
    if (user is None) == (group is None):
        raise ApplicationError("Grant to exactly one of a user or a group.", code="one_target")
    return user if user is not None else group  # type: ignore[return-value]


@transaction.atomic
def market_note_create(*, actor: Actor, market: Market, text: str) -> MarketNote:
    """Add a note; runs in the caller's market context, so RLS refuses foreign markets."""
    author = actor if isinstance(actor, User) else None
    note = MarketNote(market=market, text=text, created_by=author)
    note.full_clean()
    note.save()
    audit_record(actor=actor, action="market_note.created", target=note, market_id=note.market_id)
    return note


@transaction.atomic
def market_note_update(*, actor: Actor, note: MarketNote, text: str) -> MarketNote:
    note.text = text
    note.full_clean()
    note.save(update_fields=["text"])
    audit_record(actor=actor, action="market_note.updated", target=note, market_id=note.market_id)
    return note


@transaction.atomic
def market_note_delete(*, actor: Actor, note: MarketNote) -> None:
    audit_record(actor=actor, action="market_note.deleted", target=note, market_id=note.market_id)
    note.delete()


@dataclass(frozen=True)
class IssuedKey:
    client: ApiClient
    key: str  # shown once, never stored


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_client_create(
    *,
    actor: Actor,
    name: str,
    markets: list[Market] | None = None,
    all_markets: bool = False,
    rate_limit: str = "",
) -> IssuedKey:
    """Create an API client and its key. The key is returned once; only its hash is kept.

    Keys are `lo_<prefix>_<secret>`: the prefix finds the row, the sha256 of the whole key
    proves it. 32 random bytes make a slow hash pointless.
    """
    if all_markets == bool(markets):
        raise ApplicationError(
            "Give the client a list of markets or all markets, not both or neither.",
            code="client_scope",
        )
    prefix = secrets.token_hex(KEY_PREFIX_BYTES)
    key = f"lo_{prefix}_{secrets.token_urlsafe(32)}"
    client = ApiClient(
        name=name,
        key_prefix=prefix,
        key_hash=api_key_hash(key),
        all_markets=all_markets,
        rate_limit=rate_limit,
    )
    client.full_clean()
    client.save()
    if markets:
        client.markets.set(markets)
    _client_audit(actor, "api_client.created", client, markets or [])
    return IssuedKey(client=client, key=key)


def _client_audit(actor: Actor, action: str, client: ApiClient, markets: list[Market]) -> None:
    # Global: an API client's scope is not any one market's business.
    audit_record(
        actor=actor,
        action=action,
        target=client,
        data={
            "name": client.name,
            "key_prefix": client.key_prefix,
            "markets": sorted(m.code for m in markets),
            "all_markets": client.all_markets,
            "is_active": client.is_active,
            "rate_limit": client.rate_limit,
        },
    )


@transaction.atomic
def api_client_update(
    *,
    actor: Actor,
    client: ApiClient,
    markets: list[Market],
    all_markets: bool,
    is_active: bool,
    rate_limit: str,
) -> ApiClient:
    """Change a client's scope, rate or active flag; its key stays as issued."""
    if all_markets == bool(markets):
        raise ApplicationError(
            "Give the client a list of markets or all markets, not both or neither.",
            code="client_scope",
        )
    client.all_markets = all_markets
    client.is_active = is_active
    client.rate_limit = rate_limit
    client.full_clean()
    client.save(update_fields=["all_markets", "is_active", "rate_limit"])
    client.markets.set(markets)
    _client_audit(actor, "api_client.updated", client, markets)
    return client
