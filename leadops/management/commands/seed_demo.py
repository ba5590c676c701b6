"""`manage.py seed_demo`: demo users, markets, notes, queue items and leads for `make run`.

Each piece is made once and remembered by a seed marker (`core_seedmarker`), in the transaction
that made it. A later run skips every marked piece, so it never re-creates what a person has
since resolved, dismissed, deleted or changed, and with everything marked it writes nothing at
all (one query). A database seeded before markers existed is recognised piece by piece: what is
there already is marked, not made again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.core.services import seed_mark, seed_markers, user_ensure
from leadops.demo import (
    DEMO_CONFLICTS,
    DEMO_FLAGS,
    DEMO_HOLIDAY_YEARS,
    DEMO_HOT_SCORE,
    DEMO_LEADS,
    DEMO_MARKETS,
    DEMO_NOTES,
    DEMO_OUT_OF_OFFICE,
    DEMO_OWN_HOURS,
    DEMO_PASSWORD,
    DEMO_SLA_NOTE,
    DEMO_SLA_POLICIES,
    DEMO_SOURCES,
    DEMO_TABLE,
    DEMO_TEAM_MANAGERS,
    DEMO_TEAMS,
    DEMO_USERS,
    demo_logins_text,
)
from leadops.intake import Submitted, intake_submit
from leadops.kinds import NOTE_FLAGGED, NOTES_CONFLICT, note_flag, notes_conflict_file
from leadops.leads.models import Lead, Source
from leadops.leads.rollups import intake_hours_fold
from leadops.leads.sources import source_ensure
from leadops.markets.calendars import holidays_from_package
from leadops.markets.config import FORMAT, config_import
from leadops.markets.models import UNASSIGNED_CODE, Market, MarketNote, Team
from leadops.markets.services import market_note_create
from leadops.markets.teams import team_manager_set
from leadops.queue.models import ExceptionItem, QueueOwnership
from leadops.queue.services import queue_ownership_set
from leadops.sla.models import Policy
from leadops.sla.transfer import FORMAT as SLA_FORMAT
from leadops.sla.transfer import sla_import
from routing.models import RuleVersion
from routing.transfer import FORMAT as ROUTING_FORMAT
from routing.transfer import routing_import

ACTOR = SystemActor("seed_demo")


class Seeder:
    """Makes each piece of demo data at most once, remembering it by key."""

    def __init__(self, done: frozenset[str]) -> None:
        self.done = done
        self.made: list[str] = []

    def once(self, key: str, *, found: Callable[[], bool], make: Callable[[], object]) -> None:
        """Make the piece unless it is marked; if it exists without a mark (seeded before
        markers), mark it without touching it. The piece and its mark commit together."""
        if key in self.done:
            return
        with system_context("seed_demo"), transaction.atomic():
            if not found():
                make()
                self.made.append(key)
            seed_mark(actor=ACTOR, key=key)


class Command(BaseCommand):
    help = (
        "Create the demo organisation once: users (password: leadops-demo), markets, teams, "
        "notes, exception-queue items and leads. Safe to run on every start: each piece is "
        "made once and never again, so nothing a person resolved, dismissed, deleted or "
        "changed comes back, and a run with everything there writes nothing. Never run it "
        "against a production database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--quiet-logins", action="store_true", help="Do not print the demo logins table."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        seeder = Seeder(seed_markers())
        self._people_and_organisation(seeder)
        self._routing(seeder)
        # Before the leads: the demo leads start their first-response clocks under them.
        self._sla(seeder)
        self._notes_and_queue(seeder)
        seeder.once(
            "leads",
            found=lambda: Lead.objects.exists(),
            make=self._leads,
        )
        # The dashboard reads a rollup beat folds every minute: fold now so a fresh demo shows
        # its figures at once (an unchanged hour writes nothing, so a second run changes no row).
        intake_hours_fold(everything=True)
        if options["verbosity"] > 1:
            for key in seeder.made:
                self.stdout.write(f"made {key}")
        if options["verbosity"] > 0:
            made = len(seeder.made)
            self.stdout.write(
                f"seed_demo: {made} piece(s) made" if made else "seed_demo: everything was there"
            )
        if not options["quiet_logins"]:
            self.stdout.write(demo_logins_text())

    def _people_and_organisation(self, seeder: Seeder) -> None:
        # Sales reps only need to exist (they never log in to the admin): no password to hash.
        for _market, _team, members in DEMO_TEAMS:
            for username in members:
                _user_once(seeder, username, first_name=username.title(), password=None)
        for slug, name, kind, region in DEMO_SOURCES:
            seeder.once(
                f"source:{slug}",
                found=partial(_source_exists, slug),
                make=partial(
                    source_ensure,
                    actor=ACTOR,
                    slug=slug,
                    name=name,
                    kind=kind,
                    default_region=region,
                ),
            )
        # The organisation goes in as a markets document, exactly as `markets import` would.
        seeder.once(
            "organisation",
            found=partial(_market_exists, DEMO_MARKETS[0][0]),
            make=lambda: config_import(actor=ACTOR, document=demo_document()),
        )
        # The staff logins, in their groups (which exist once the markets do).
        for username, first_name, _role, superuser, groups in DEMO_USERS:
            _user_once(
                seeder,
                username,
                first_name=first_name,
                password=DEMO_PASSWORD,
                is_superuser=superuser,
                groups=groups,
            )
        # Each team's manager (told of its SLA breaches), once: a manager a person changed or
        # removed since stays as they left it.
        for (code, team), username in DEMO_TEAM_MANAGERS.items():
            seeder.once(
                f"team_manager:{code}:{team}",
                found=partial(_team_manager_set_or_gone, code, team, username),
                make=partial(_team_manager_set, code, team, username),
            )

    def _routing(self, seeder: Seeder) -> None:
        # Each demo market's rules go in as a routing document, exactly as `routing import`
        # would (published by the import: the seed is the reviewed file). One marker per rule
        # set: rules a person has changed since, or published before markers existed, are kept.
        for code, document in demo_routing_documents(DEMO_TEAMS).items():
            seeder.once(
                f"routing:{code or 'global'}",
                found=partial(_routing_exists, code),
                make=partial(routing_import, actor=ACTOR, document=document, source="seed_demo"),
            )

    def _sla(self, seeder: Seeder) -> None:
        # Each demo policy goes in as an SLA document, exactly as `sla import` would. One marker
        # per policy: a policy a person has changed, retired or drafted since (or that was there
        # before markers existed) is kept as it is, never published over.
        for (code, key), document in demo_sla_documents().items():
            seeder.once(
                f"sla:{code}:{key}",
                found=partial(_sla_policy_exists, code, key),
                make=partial(sla_import, actor=ACTOR, document=document, source="seed_demo"),
            )

    def _notes_and_queue(self, seeder: Seeder) -> None:
        for index, (code, text) in enumerate(DEMO_NOTES):
            seeder.once(
                f"note:{index}",
                found=partial(_note_exists, index),
                make=partial(_note_make, code, text),
            )
        seeder.once(
            "ownership:AU:note_flagged",
            found=lambda: QueueOwnership.objects.filter(
                kind=NOTE_FLAGGED.key, market__code="AU"
            ).exists(),
            make=lambda: queue_ownership_set(
                actor=ACTOR,
                kind=NOTE_FLAGGED.key,
                market=Market.objects.get(code="AU"),
                owner_group=Group.objects.get(name="Managers AU"),
                recovery_minutes=1,
            ),
        )
        for index, reason in DEMO_FLAGS:
            seeder.once(
                f"flag:{index}",
                found=partial(_item_exists_or_note_gone, NOTE_FLAGGED.key, index),
                make=partial(_flag_make, index, reason),
            )
        for first, second in DEMO_CONFLICTS:
            seeder.once(
                f"conflict:{first}-{second}",
                found=partial(_item_exists_or_note_gone, NOTES_CONFLICT.key, first, second),
                make=partial(_conflict_make, first, second),
            )

    def _leads(self) -> None:
        intake_submit(
            actor=ACTOR,
            channel="seed",
            items=[Submitted(payload={**fields, "source": slug}) for slug, fields in DEMO_LEADS],
        )


def _user_exists(username: str) -> bool:
    return User.objects.filter(username=username).exists()


def _user_once(
    seeder: Seeder,
    username: str,
    *,
    first_name: str,
    password: str | None,
    is_superuser: bool = False,
    groups: list[str] | None = None,
) -> None:
    """A demo login (with a password: staff) or a sales rep (none: never logs in)."""
    seeder.once(
        f"user:{username}",
        found=partial(_user_exists, username),
        make=partial(
            user_ensure,
            actor=ACTOR,
            username=username,
            password=password,
            email=f"{username}@demo.leadops.invalid",
            first_name=first_name,
            is_staff=password is not None,
            is_superuser=is_superuser,
            groups=groups,
        ),
    )


def _source_exists(slug: str) -> bool:
    return Source.objects.filter(slug=slug).exists()


def _market_exists(code: str) -> bool:
    return Market.objects.filter(code=code).exists()


def _routing_exists(code: str | None) -> bool:
    """The rule set has a version of any state: someone (or an older seed) made rules."""
    if code is None:
        return RuleVersion.objects.filter(market__isnull=True).exists()
    return RuleVersion.objects.filter(market__code=code).exists()


def _team_manager_set_or_gone(code: str, team: str, username: str) -> bool:
    """The team has a manager already (or the team or the login is gone): nothing to do."""
    found = Team.objects.filter(market__code=code, name=team).first()
    return found is None or found.manager_id is not None or not _user_exists(username)


def _team_manager_set(code: str, team: str, username: str) -> None:
    team_manager_set(
        actor=ACTOR,
        team=Team.objects.get(market__code=code, name=team),
        manager=User.objects.get(username=username),
    )


def _sla_policy_exists(code: str, key: str) -> bool:
    """The policy exists in any state (a person, or an older seed, made it)."""
    return Policy.objects.filter(market__code=code, key=key).exists()


def _note(index: int) -> MarketNote | None:
    code, text = DEMO_NOTES[index]
    return MarketNote.objects.filter(market__code=code, text=text).first()


def _note_exists(index: int) -> bool:
    return _note(index) is not None


def _note_make(code: str, text: str) -> MarketNote:
    return market_note_create(actor=ACTOR, market=Market.objects.get(code=code), text=text)


def _item_exists_or_note_gone(kind: str, index: int, *others: int) -> bool:
    """An item of `kind` about note `index` exists in any status (a resolved or dismissed item
    is a person's work, kept as is), or a note it is about was deleted by a person."""
    target = _note(index)
    if target is None or any(_note(other) is None for other in others):
        return True
    return ExceptionItem.objects.filter(
        kind=kind, target_type="markets.marketnote", target_id=str(target.pk)
    ).exists()


def _flag_make(index: int, reason: str) -> None:
    note = _note(index)
    assert note is not None  # _item_exists_or_note_gone checked it
    note_flag(actor=ACTOR, note=note, reason=reason)


def _conflict_make(first: int, second: int) -> None:
    one, two = _note(first), _note(second)
    assert one is not None  # _item_exists_or_note_gone checked both
    assert two is not None
    notes_conflict_file(actor=ACTOR, first=one, second=two)


def demo_document() -> dict[str, Any]:
    """The demo organisation as a markets document (the format of `markets export`)."""
    next_monday = (timezone.now() + timedelta(days=7 - timezone.now().weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    markets = []
    for code, name, zone, countries, hours in DEMO_MARKETS:
        teams = [
            {
                "name": team,
                "members": [
                    {
                        "username": username,
                        "is_active": True,
                        "weight": 2 if index == 0 else 1,
                        "cap_open": 40,
                        "cap_daily": 15,
                        "hours": DEMO_OWN_HOURS.get(username, ""),
                        "hubspot_owner_id": f"{9000 + sum(map(ord, username))}",
                        "salesforce_user_id": f"005DEMO{username.upper():0<8}"[:18],
                        "slack_handle": f"@{username}",
                        "teams_handle": f"{username}@demo.leadops.invalid",
                        "out_of_office": [
                            {
                                "starts_at": next_monday.isoformat(),
                                "ends_at": (next_monday + timedelta(days=5)).isoformat(),
                                "note": "holiday",
                            }
                        ]
                        if username == DEMO_OUT_OF_OFFICE
                        else [],
                    }
                    for index, username in enumerate(members)
                ],
            }
            for market, team, members in DEMO_TEAMS
            if market == code
        ]
        markets.append(
            {
                "code": code,
                "name": name,
                "timezone": zone,
                "calendar": {
                    "hours": hours,
                    "holidays": holidays_from_package(countries, DEMO_HOLIDAY_YEARS),
                    "holiday_source": ", ".join(countries),
                },
                "teams": teams,
            }
        )
    rows = [
        {"kind": kind, "key": key, "country": country, "market": market}
        for kind, key, country, market in DEMO_TABLE
    ]
    return {
        "format": FORMAT,
        "markets": markets,
        "market_table": {"note": "Demo table: DACH, France, US East, ANZ", "rows": rows},
    }


def demo_routing_documents(
    teams: list[tuple[str, str, list[str]]],
) -> dict[str | None, dict[str, Any]]:
    """One routing document per demo market with a team (its first team takes the leads),
    plus the global fallback for UNASSIGNED leads when a team works there; keyed by market
    code (None: global). A market without a team gets no rules: nobody could take a lead."""
    first: dict[str, tuple[str, list[str]]] = {}
    for code, team, members in teams:
        if members:
            first.setdefault(code, (team, members))
    partner_sources = [slug for slug, _name, kind, _region in DEMO_SOURCES if kind != "web_form"]
    documents: dict[str | None, dict[str, Any]] = {}
    for code, (team, members) in first.items():
        if code == UNASSIGNED_CODE:
            continue
        documents[code] = _routing_document(
            code, _market_rules(code, team, members, partner_sources)
        )
    if UNASSIGNED_CODE in first:
        team, _members = first[UNASSIGNED_CODE]
        triage = "unassigned-triage"
        content = {
            "rules": [
                {
                    "id": triage,
                    "name": "Leads no market claims: the triage team, in turn",
                    "when": {"field": "market", "op": "eq", "value": UNASSIGNED_CODE},
                    "then": {"team": team, "pick": "round_robin"},
                }
            ],
            "fixtures": [
                {
                    "name": "a lead from a country no market covers",
                    "lead": {"market": UNASSIGNED_CODE, "country": "JP", "source": "web"},
                    "expect": {"rule": triage, "team": team},
                }
            ],
        }
        documents[None] = _routing_document(None, content)
    return documents


def _routing_document(code: str | None, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": ROUTING_FORMAT,
        "rule_sets": [
            {
                "market": code,
                "name": f"{code} routing" if code else "Global fallback",
                "published": {
                    "change_note": "Demo rules: high scores first, partner leads to a named "
                    "rep, everyone else by weight.",
                    "content": content,
                },
            }
        ],
    }


def _market_rules(
    code: str, team: str, members: list[str], partner_sources: list[str]
) -> dict[str, Any]:
    slug = code.lower()
    hot, partner, rest = f"{slug}-hot", f"{slug}-partner", f"{slug}-everyone-else"
    rep = members[1] if len(members) > 1 else members[0]
    return {
        "rules": [
            {
                "id": hot,
                "name": f"Score {DEMO_HOT_SCORE}+: {team} in turn, waiting for opening hours",
                "when": {"field": "score", "op": "gte", "value": DEMO_HOT_SCORE},
                "then": {
                    "team": team,
                    "pick": "round_robin",
                    "when_closed": "wait",
                    "tags": ["hot"],
                },
            },
            {
                "id": partner,
                "name": f"Trade-fair and partner leads: {rep}, who knows the partners",
                "when": {"field": "source", "op": "in", "value": partner_sources},
                "then": {"owner": rep, "tags": ["partner"]},
            },
            {
                "id": rest,
                "name": f"Everyone else: {team} by weight, waiting for opening hours",
                "then": {"team": team, "pick": "weighted", "when_closed": "wait"},
            },
        ],
        "fixtures": [
            {
                "name": "senior web lead",
                "lead": {"market": code, "source": "web", "score": 65},
                "expect": {"rule": hot, "team": team},
            },
            {
                "name": "a high-score partner lead is hot first",
                "lead": {"market": code, "source": partner_sources[0], "score": 70},
                "expect": {"rule": hot, "team": team},
            },
            {
                "name": "partner lead",
                "lead": {"market": code, "source": partner_sources[0], "score": 10},
                "expect": {"rule": partner},
            },
            {
                "name": "plain web form",
                "lead": {"market": code, "source": "web", "score": 5},
                "expect": {"rule": rest, "team": team},
            },
        ],
    }


def demo_sla_documents() -> dict[tuple[str, str], dict[str, Any]]:
    """One SLA document per demo policy (the format of `sla export`), keyed by (market, key):
    each is imported on its own, so each is made once and kept once a person changed it."""
    return {
        (code, key): {
            "format": SLA_FORMAT,
            "markets": {
                code: [
                    {
                        "key": key,
                        "name": name,
                        "published": {"change_note": DEMO_SLA_NOTE, **copy.deepcopy(content)},
                    }
                ]
            },
        }
        for code, key, name, content in DEMO_SLA_POLICIES
    }
