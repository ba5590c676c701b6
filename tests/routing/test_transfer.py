"""Routing as code: `manage.py routing export/import` round-trips byte for byte, checks the whole
file before writing anything, writes nothing the second time, and the demo seed publishes its
rules through the same import, once."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, ManagementUtility, call_command

from audit.models import AuditEvent
from leadops.core.access import system_context
from leadops.core.actors import SystemActor
from leadops.core.errors import ApplicationError
from leadops.core.models import SeedMarker
from leadops.demo import DEMO_TEAMS
from leadops.management.commands.seed_demo import demo_routing_documents
from leadops.markets.models import UNASSIGNED_CODE, Market, Team
from leadops.markets.services import market_create
from leadops.markets.teams import team_ensure, team_member_set
from routing.models import RuleSet, RuleVersion
from routing.transfer import FORMAT, TransferInvalid, routing_export, routing_import
from routing.versions import rule_set_ensure, version_draft_create, version_import_publish
from tests.factories import UserFactory
from tests.routing.conftest import SYSTEM, publish, revops, rule

DE = {"field": "country", "op": "eq", "value": "DE"}


def _organisation() -> tuple[Market, Market]:
    """Markets AAA (team Inbound: ann, ben) and BBB (team Outbound: cat), as an empty database
    with the same markets would have them."""
    with system_context("tests"):
        a = market_create(actor=SYSTEM, code="AAA", name="Market A", timezone="Europe/Berlin")
        b = market_create(actor=SYSTEM, code="BBB", name="Market B", timezone="America/New_York")
        for market, team_name, people in ((a, "Inbound", ["ann", "ben"]), (b, "Outbound", ["cat"])):
            team = team_ensure(actor=SYSTEM, market=market, name=team_name)
            for username in people:
                team_member_set(actor=SYSTEM, team=team, user=UserFactory.create(username=username))
    return a, b


def _document(*rule_sets: tuple[str | None, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "rule_sets": [
            {
                "market": code,
                "name": f"{code} routing" if code else "Global fallback",
                "published": {"change_note": f"rules of {code}", "content": {"rules": rules}},
            }
            for code, rules in rule_sets
        ],
    }


def _counts() -> tuple[int, int, int]:
    with system_context("tests"):
        return (
            RuleSet.objects.count(),
            RuleVersion.objects.count(),
            AuditEvent.objects.count(),
        )


# The owner alias is allowed here only to empty the database the way a fresh one is empty.
@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_export_import_into_an_empty_database_export_is_byte_identical(tmp_path):
    # given rules people published: AAA at v2 (the number is not exported), a global fallback
    # with fixtures and a non-ASCII note, and BBB with a rule set but nothing published
    a, b = _organisation()
    author, approver = revops("rita_author"), revops("arno_approver")
    publish(a, [rule("a-old", DE, team="Inbound")], author=author, approver=approver)
    publish(
        a,
        [rule("a-de", DE, team="Inbound", pick="weighted"), rule("a-rest", owner="ben")],
        author=author,
        approver=approver,
    )
    publish(
        None,
        [rule("g-aaa", {"field": "market", "op": "eq", "value": "AAA"}, team="Inbound")],
        author=author,
        approver=approver,
        fixtures=[
            {"name": "Köln", "lead": {"market": "AAA"}, "expect": {"rule": "g-aaa"}},
        ],
    )
    with system_context("tests"):
        rule_set_ensure(actor=SYSTEM, market=b)
    path = tmp_path / "routing.json"
    call_command("routing", "export", str(path), stdout=io.StringIO())
    first = path.read_bytes()
    exported = json.loads(first)
    assert [r["market"] for r in exported["rule_sets"]] == [None, "AAA", "BBB"]
    assert exported["rule_sets"][2]["published"] is None
    assert "Köln" in first.decode("utf-8")

    # when the database is emptied, the same markets, teams and people are made again, and the
    # file is imported
    call_command("flush", "--noinput", database="owner", verbosity=0)
    _organisation()
    with system_context("tests"):
        # The audit log is never flushed: count only what the import writes.
        imported_before = AuditEvent.objects.filter(action="rule_version.imported").count()
    out = io.StringIO()
    call_command("routing", "import", str(path), stdout=out)

    # then exporting again gives the same bytes, and the imported versions were published by
    # the import (no author, no approver)
    call_command("routing", "export", str(path), stdout=io.StringIO())
    assert path.read_bytes() == first
    assert "AAA: created; published v1" in out.getvalue()
    assert "BBB: created; nothing published, as in the file" in out.getvalue()
    with system_context("tests"):
        imported = RuleVersion.objects.get(market__code="AAA")
        assert (imported.state, imported.author, imported.approver) == ("published", None, None)
        imported_now = AuditEvent.objects.filter(action="rule_version.imported").count()
        assert imported_now - imported_before == 2


@pytest.mark.django_db
def test_import_checks_everything_first_and_writes_nothing_on_a_problem(tmp_path):
    # given a file whose first rule set is fine, whose second has a team that is not in BBB,
    # and whose third names a market that does not exist
    _organisation()
    document = _document(
        ("AAA", [rule("a-de", DE, team="Inbound")]),
        ("BBB", [rule("b-us", team="Outbound"), rule("b-bad", team="Inbound")]),
        ("ZZZ", [rule("z", team="Inbound")]),
    )
    path = tmp_path / "routing.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    before = _counts()

    # when it is imported
    with pytest.raises(CommandError) as refused:
        call_command("routing", "import", str(path), stdout=io.StringIO())

    # then every problem is named with its rule set, rule and path, and nothing was written,
    # not even the first rule set's rules
    message = str(refused.value)
    assert "2 problem(s), nothing imported" in message
    assert (
        "the rule set of market BBB: rule 1 `b-bad`, at rules[1].then.team: "
        "No team 'Inbound' in BBB" in message
    )
    assert "$.rule_sets[2].market: there is no market 'ZZZ' here" in message
    assert _counts() == before
    with system_context("tests"):
        assert not RuleSet.objects.exists()


@pytest.mark.django_db
def test_a_fixture_lead_that_fails_is_a_problem_named_before_anything_is_written():
    _organisation()
    document = _document(("AAA", [rule("a-de", DE, team="Inbound")]))
    document["rule_sets"][0]["published"]["content"]["fixtures"] = [
        {"name": "french lead", "lead": {"country": "FR"}, "expect": {"rule": "a-de"}}
    ]
    before = _counts()

    with pytest.raises(TransferInvalid) as refused:
        routing_import(actor=SYSTEM, document=document, source="test")

    assert refused.value.problems == [
        "the rule set of market AAA: fixture 0 `french lead`, at fixtures[0].expect: expected "
        '{"rule": "a-de"}, the rules give {"rule": null}.'
    ]
    assert _counts() == before


@pytest.mark.django_db
def test_a_second_import_of_the_same_file_writes_no_row(tmp_path):
    # given a file imported once
    _organisation()
    document = _document(
        ("AAA", [rule("a-de", DE, team="Inbound")]), (None, [rule("g", team="Inbound")])
    )
    path = tmp_path / "routing.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    call_command("routing", "import", str(path), stdout=io.StringIO())
    before = _counts()

    # when it is imported again
    out = io.StringIO()
    call_command("routing", "import", str(path), stdout=out)

    # then no rule set, version or audit event was added, and each rule set says unchanged
    assert _counts() == before
    assert before[1] == 2
    assert out.getvalue().splitlines() == [
        "AAA: unchanged (v1 in force)",
        "Global fallback: unchanged (v1 in force)",
    ]


@pytest.mark.django_db
def test_a_changed_rule_set_is_published_and_retires_the_one_in_force():
    _organisation()
    routing_import(
        actor=SYSTEM, document=_document(("AAA", [rule("a", team="Inbound")])), source="f"
    )
    changed = _document(("AAA", [rule("a", DE, team="Inbound"), rule("b", owner="ann")]))
    changed["rule_sets"][0]["published"]["change_note"] = ""

    lines = routing_import(actor=SYSTEM, document=changed, source="routing.json")

    assert lines == ["AAA: published v2, replacing v1"]
    with system_context("tests"):
        states = dict(RuleVersion.objects.values_list("number", "state"))
        assert states == {1: "retired", 2: "published"}
        assert RuleVersion.objects.get(number=2).change_note == "imported from routing.json"
        actions = list(
            AuditEvent.objects.filter(action__startswith="rule_version.")
            .order_by("id")
            .values_list("action", flat=True)
        )
    assert actions[-3:] == [
        "rule_version.imported",
        "rule_version.retired",
        "rule_version.published",
    ]


@pytest.mark.django_db
def test_only_a_system_actor_publishes_without_an_approver(market_a, inbound, author):
    with system_context("tests"):
        rule_set = rule_set_ensure(actor=author, market=market_a)
        with pytest.raises(ApplicationError) as refused:
            version_import_publish(
                actor=author,
                rule_set=rule_set,
                content={"rules": [rule("r", team="Inbound")]},
                change_note="sneaky",
            )
        assert refused.value.code == "permission_denied"
        assert not RuleVersion.objects.exists()


@pytest.mark.django_db
def test_dash_exports_to_stdout_and_imports_from_stdin(monkeypatch):
    _organisation()
    document = _document(("AAA", [rule("a-de", DE, team="Inbound")]))
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(document)))
    out = io.StringIO()
    call_command("routing", "import", "-", stdout=out)
    assert out.getvalue() == "AAA: created; published v1\n"

    exported = io.StringIO()
    call_command("routing", "export", "-", stdout=exported)
    assert json.loads(exported.getvalue())["rule_sets"] == [
        {
            "market": "AAA",
            "name": "AAA routing",
            "published": {
                "change_note": "rules of AAA",
                "content": {"rules": [rule("a-de", DE, team="Inbound")]},
            },
        }
    ]


def test_help_explains_the_command(capsys):
    with pytest.raises(SystemExit) as done:
        ManagementUtility(["manage.py", "routing", "--help"]).execute()
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "{export,import,test}" in text
    assert "global fallback" in text
    assert "changes nothing" in text


# --- the demo seed ------------------------------------------------------------------------------


def _versions_by_market() -> dict[str | None, list[tuple[int, str]]]:
    with system_context("tests"):
        found: dict[str | None, list[tuple[int, str]]] = {}
        for code, number, state in RuleVersion.objects.order_by("number").values_list(
            "market__code", "number", "state"
        ):
            found.setdefault(code, []).append((number, state))
        return found


@pytest.mark.django_db
def test_seed_demo_twice_publishes_one_version_per_demo_market_with_a_team():
    call_command("seed_demo", "--quiet-logins", stdout=io.StringIO())
    first = _versions_by_market()
    before = _counts()

    call_command("seed_demo", "--quiet-logins", stdout=io.StringIO())

    # DE, US-EAST and AU have teams; FR has none and UNASSIGNED no team, so no global fallback
    assert first == {code: [(1, "published")] for code in ("DE", "US-EAST", "AU")}
    assert _versions_by_market() == first
    assert _counts() == before
    with system_context("tests"):
        assert AuditEvent.objects.filter(action="rule_version.imported").count() == 3
        assert SeedMarker.objects.filter(key__startswith="routing:").count() == 3


@pytest.mark.django_db
def test_the_seed_keeps_rules_a_person_changed():
    # given a seeded demo whose DE rules RevOps changed by hand, in a database that lost the
    # seed's markers (seeded before markers existed)
    call_command("seed_demo", "--quiet-logins", stdout=io.StringIO())
    with system_context("tests"):
        de = Market.objects.get(code="DE")
    publish(
        de,
        [rule("de-all", team="Inbound DACH")],
        author=User.objects.get(username="revops"),
        approver=revops("arno_approver"),
    )
    SeedMarker.objects.filter(key__startswith="routing:").delete()

    # when the seed runs again
    call_command("seed_demo", "--quiet-logins", stdout=io.StringIO())

    # then the person's version stays in force and nothing was imported over it
    versions = _versions_by_market()
    assert versions["DE"] == [(1, "retired"), (2, "published")]
    assert versions["AU"] == [(1, "published")]
    assert SeedMarker.objects.filter(key="routing:DE").exists()


@pytest.mark.django_db
def test_the_seed_adds_a_global_fallback_only_when_unassigned_has_a_team():
    # the demo has no team in UNASSIGNED: no global rule set
    assert None not in demo_routing_documents(DEMO_TEAMS)

    # with a triage team there, its global document imports cleanly
    with system_context("tests"):
        unassigned = Market.objects.get(code=UNASSIGNED_CODE)
        team = team_ensure(actor=SYSTEM, market=unassigned, name="Triage")
        team_member_set(actor=SYSTEM, team=team, user=UserFactory.create(username="tess"))
    documents = demo_routing_documents([(UNASSIGNED_CODE, "Triage", ["tess"])])

    lines = routing_import(actor=SystemActor("seed_demo"), document=documents[None], source="t")

    assert list(documents) == [None]
    assert lines == ["Global fallback: created; published v1"]
    with system_context("tests"):
        assert Team.objects.filter(market=unassigned).count() == 1
        assert RuleVersion.objects.get(market__isnull=True).state == "published"


@pytest.mark.django_db
def test_a_draft_is_not_exported():
    a, _b = _organisation()
    with system_context("tests"):
        rule_set = rule_set_ensure(actor=SYSTEM, market=a)
        version_draft_create(
            actor=SYSTEM,
            rule_set=rule_set,
            content={"rules": [rule("r", team="Inbound")]},
            change_note="work in progress",
        )
    assert json.loads(routing_export())["rule_sets"] == [
        {"market": "AAA", "name": "AAA routing", "published": None}
    ]


@pytest.mark.django_db
def test_routing_test_runs_a_files_fixtures_and_fails_the_run_on_one_failure(tmp_path):
    # given a rules file whose second fixture expects a rule its lead does not match
    rules = [
        {
            "id": "de",
            "when": {"field": "country", "op": "eq", "value": "DE"},
            "then": {"team": "In"},
        },
        {"id": "rest", "then": {"team": "In"}},
    ]
    fixtures = [
        {"name": "DE goes to de", "lead": {"country": "DE"}, "expect": {"rule": "de"}},
        {"name": "FR goes to de", "lead": {"country": "FR"}, "expect": {"rule": "de"}},
    ]
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": rules, "fixtures": fixtures}))

    # when it is tested
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("routing", "test", str(path), stdout=out)

    # then each fixture is reported, the failing one with what it saw, and the exit code is 1
    text = out.getvalue()
    assert "PASS the file: DE goes to de" in text
    assert "FAIL the file: FR goes to de" in text
    assert (
        "expected {'rule': 'de'}, got {'rule': 'rest', 'team': 'In'}; tried: rest matched" in text
    )
    assert "1 passed, 1 failed" in text
    assert failed.value.returncode == 1

    # and once the file's fixtures hold, it passes (exit 0)
    path.write_text(json.dumps({"rules": rules, "fixtures": fixtures[:1]}))
    out = io.StringIO()
    call_command("routing", "test", str(path), stdout=out)
    assert "1 passed, 0 failed" in out.getvalue()
