"""SLA policies as code: `manage.py sla export/import` round-trips byte for byte, checks the whole
file before writing anything, writes nothing for an unchanged policy, leaves policies the file
does not name alone, and the demo seed publishes its policies through the same import, once."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, ManagementUtility, call_command

from audit.models import AuditEvent
from leadops.core.access import system_context
from leadops.core.models import SeedMarker
from leadops.demo import DEMO_SLA_POLICIES
from leadops.markets.models import Market, Team
from leadops.markets.services import market_create
from leadops.sla.models import Policy, PolicyVersion, Timer
from leadops.sla.policies import SPEC_FIELDS, policy_draft, policy_publish, policy_retire
from leadops.sla.steps import escalation_steps
from leadops.sla.transfer import FORMAT, TransferInvalid, sla_export, sla_import
from tests.routing.conftest import revops
from tests.sla.conftest import SYSTEM, sla_publish

HOT: dict[str, Any] = {
    "score_min": 50,
    "sources": ["web", "events"],
    "minutes": 30,
    "ladder": [
        {"step": "notify_owner", "after": 0},
        {"step": "reassign", "after": 15},
        {"step": "file_breach", "after": 30},
    ],
}


def _markets() -> tuple[Market, Market]:
    """Markets AAA and BBB, as an empty database with the same markets would have them."""
    with system_context("tests"):
        a = market_create(actor=SYSTEM, code="AAA", name="Market A", timezone="Europe/Berlin")
        b = market_create(actor=SYSTEM, code="BBB", name="Market B", timezone="America/New_York")
    return a, b


def _policy(key: str, *, note: str | None = None, name: str = "", **spec: Any) -> dict[str, Any]:
    published: dict[str, Any] = {"change_note": f"policy {key}" if note is None else note, **spec}
    return {"key": key, "name": name or key.title(), "published": published}


def _document(**markets: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": FORMAT, "markets": {code.replace("_", "-"): p for code, p in markets.items()}}


def _write(tmp_path, document: dict[str, Any]) -> str:
    path = tmp_path / "sla.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def _import(path: str, *args: str) -> list[str]:
    out = io.StringIO()
    call_command("sla", "import", path, *args, stdout=out)
    return out.getvalue().splitlines()


def _counts() -> tuple[int, int, int]:
    with system_context("tests"):
        return Policy.objects.count(), PolicyVersion.objects.count(), AuditEvent.objects.count()


def _states(market: str | None = None) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """Each policy's versions (number, state), by (market code, key)."""
    with system_context("tests"):
        found: dict[tuple[str, str], list[tuple[int, str]]] = {}
        versions = PolicyVersion.objects.order_by("policy__market__code", "policy__key", "number")
        if market is not None:
            versions = versions.filter(market__code=market)
        for code, key, number, state in versions.values_list(
            "market__code", "policy__key", "number", "state"
        ):
            found.setdefault((code, key), []).append((number, state))
        return found


# --- export and import ------------------------------------------------------------------------


# The owner alias is allowed here only to empty the database the way a fresh one is empty.
@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_export_import_into_an_empty_database_export_is_byte_identical(tmp_path):
    # given policies people published: AAA's inbound at v2 (the number is not exported) with a
    # non-ASCII note, AAA's hot one with every kind of field, BBB's inbound; and in BBB a
    # retired policy and a policy that is only a draft (neither is in force: neither exported)
    a, b = _markets()
    sla_publish(a, "inbound", minutes=90)
    with system_context("tests"):
        draft = policy_draft(
            actor=SYSTEM,
            market=a,
            key="inbound",
            name="",
            change_note="Köln: eine Stunde, nicht anderthalb",
            minutes=60,
            warn_percent=80,
        )
        policy_publish(actor=SYSTEM, version=draft)
    sla_publish(a, "hot", field="country", field_value="DE", restart_on_reassign=True, **HOT)
    sla_publish(b, "inbound", hours="owner", response_by="owner", activity_kinds=["call"])
    with system_context("tests"):
        policy_retire(actor=SYSTEM, version=sla_publish(b, "old"))
        policy_draft(actor=SYSTEM, market=b, key="someday", name="Someday", change_note="wip")
    path = tmp_path / "sla.json"
    out = io.StringIO()
    call_command("sla", "export", "-o", str(path), stdout=out)
    first = path.read_bytes()
    exported = json.loads(first)
    assert out.getvalue() == f"exported 3 policies of 2 market(s) to {path}\n"
    assert [p["key"] for p in exported["markets"]["AAA"]] == ["hot", "inbound"]
    assert [p["key"] for p in exported["markets"]["BBB"]] == ["inbound"]
    assert set(exported["markets"]["AAA"][0]["published"]) == {"change_note", *SPEC_FIELDS}
    assert "Köln" in first.decode("utf-8")

    # when the database is emptied, the same markets are made again, and the file is imported
    call_command("flush", "--noinput", database="owner", verbosity=0)
    _markets()
    lines = _import(str(path))

    # then exporting again gives the same bytes, and every policy was created and published
    # by the import
    call_command("sla", "export", "-o", str(path), stdout=io.StringIO())
    assert path.read_bytes() == first
    assert lines == [
        "AAA hot: created; published v1",
        "AAA inbound: created; published v1",
        "BBB inbound: created; published v1",
        "sla import: published 3, unchanged 0, left alone 0 (not in the file)",
    ]
    with system_context("tests"):
        imported = PolicyVersion.objects.get(market__code="AAA", policy__key="inbound")
        assert imported.change_note == "Köln: eine Stunde, nicht anderthalb"
        assert (imported.author, imported.published_by) == ("system:sla_import",) * 2


@pytest.mark.django_db
def test_import_checks_everything_first_and_writes_nothing_on_a_problem(tmp_path):
    # given a file whose first policy is fine, whose second promises no time at all, and whose
    # BBB policy has a ladder step nobody registered
    a, _b = _markets()
    sla_publish(a, "inbound", minutes=90)
    path = _write(
        tmp_path,
        _document(
            AAA=[_policy("inbound", minutes=45), _policy("hot", score_min=50, minutes=0)],
            BBB=[_policy("inbound", ladder=[{"step": "page_the_ceo", "after": 0}])],
        ),
    )
    before, states = _counts(), _states()

    # when it is imported
    with pytest.raises(CommandError) as refused:
        _import(path)

    # then every problem names its place in the file, the market, the policy key and the field,
    # and nothing was written, not even the first policy's new version
    message = str(refused.value)
    assert "2 problem(s), nothing imported" in message
    assert (
        "$.markets.AAA[1].published.minutes: market AAA, policy `hot`: "
        "A whole number of business minutes from 1 to 43,200." in message
    )
    assert (
        "$.markets.BBB[0].published.ladder: market BBB, policy `inbound`: Step 1: one of "
        f"{', '.join(escalation_steps())}." in message
    )
    assert {"notify_owner", "notify_manager", "file_breach", "reassign"} <= set(escalation_steps())
    assert _counts() == before
    assert _states() == states == {("AAA", "inbound"): [(1, "published")]}


@pytest.mark.django_db
def test_an_unknown_market_is_refused_and_nothing_is_written(tmp_path):
    _markets()
    path = _write(tmp_path, _document(AAA=[_policy("inbound")], ZZZ=[_policy("inbound")]))
    before = _counts()

    with pytest.raises(CommandError) as refused:
        _import(path)

    assert str(refused.value) == (
        f"{path}: 1 problem(s), nothing imported:\n"
        "  - $.markets.ZZZ: there is no market 'ZZZ' here; create it first "
        "(`manage.py markets import`) or remove it from the file."
    )
    assert _counts() == before


@pytest.mark.django_db
def test_wrong_types_and_unknown_fields_are_problems_named_by_field_never_an_exception():
    _markets()
    document = _document(
        AAA=[
            _policy(
                "inbound",
                minute=60,
                score_min="ten",
                activity_kinds="call",
                ladder=[{"step": "notify_owner", "after": "5"}, {"step": "file_breach"}],
                restart_on_reassign="yes",
            ),
            {"key": "Not a key!", "name": "x", "published": {}},
            _policy("inbound"),
        ]
    )

    with pytest.raises(TransferInvalid) as refused:
        sla_import(actor=SYSTEM, document=document, source="test")

    label = "market AAA, policy `inbound`"
    assert refused.value.problems == [
        f"$.markets.AAA[0].published.minute: {label}: not a policy field; the fields are "
        f"change_note, {', '.join(SPEC_FIELDS)}.",
        f"$.markets.AAA[0].published.score_min: {label}: A whole number, or null for no bound.",
        f"$.markets.AAA[0].published.ladder: {label}: Step 1: `after` is a whole number of "
        "business minutes.",
        f"$.markets.AAA[0].published.restart_on_reassign: {label}: true or false.",
        f"$.markets.AAA[0].published.activity_kinds: {label}: A list of activity kinds "
        "(call, email, meeting, note).",
        "$.markets.AAA[1].key: market AAA: a policy key is letters, digits, - and _ (at most "
        "50), got 'Not a key!'.",
        f"$.markets.AAA[2].key: {label} is already at $.markets.AAA[0].",
    ]
    assert _counts()[:2] == (0, 0)


@pytest.mark.django_db
def test_a_second_import_of_the_same_file_writes_no_version(tmp_path):
    # given a file imported once
    _markets()
    document = _document(AAA=[_policy("inbound", minutes=45), _policy("hot", **HOT)])
    path = _write(tmp_path, document)
    _import(path)
    before = _counts()

    # when it is imported again, once as it is and once with only a new change note
    again = _import(path)
    document["markets"]["AAA"][0]["published"]["change_note"] = "a new reason, same promise"
    noted = _import(_write(tmp_path, document))

    # then no policy, version or audit event was added, and each policy says unchanged
    assert _counts() == before
    assert before[:2] == (2, 2)
    assert (
        again
        == noted
        == [
            "AAA hot: unchanged (v1 in force)",
            "AAA inbound: unchanged (v1 in force)",
            "sla import: published 0, unchanged 2, left alone 0 (not in the file)",
        ]
    )


@pytest.mark.django_db
def test_a_changed_policy_is_published_and_retires_the_one_in_force(tmp_path):
    # given AAA's inbound policy in force at v1, published by a person
    a, _b = _markets()
    first = sla_publish(a, "inbound", minutes=60)

    # when a file with a shorter promise and no change note is imported
    lines = _import(_write(tmp_path, _document(AAA=[_policy("inbound", note="", minutes=30)])))

    # then v2 is in force, v1 is retired (its content as it was), and the change note says
    # where the version came from
    assert lines == [
        "AAA inbound: published v2, replacing v1",
        "sla import: published 1, unchanged 0, left alone 0 (not in the file)",
    ]
    assert _states() == {("AAA", "inbound"): [(1, "retired"), (2, "published")]}
    with system_context("tests"):
        new = PolicyVersion.objects.get(number=2)
        assert (new.minutes, new.change_note) == (30, f"imported from {tmp_path / 'sla.json'}")
        assert PolicyVersion.objects.get(pk=first.pk).minutes == 60
        actions = list(
            AuditEvent.objects.filter(action__startswith="sla.")
            .order_by("id")
            .values_list("action", flat=True)
        )
    assert actions[-2:] == ["sla.policy_drafted", "sla.policy_published"]


@pytest.mark.django_db
def test_fields_the_file_leaves_out_are_the_defaults_not_the_version_in_force():
    a, _b = _markets()
    sla_publish(a, "inbound", minutes=60, warn_percent=50, score_min=10)

    report = sla_import(
        actor=SYSTEM, document=_document(AAA=[_policy("inbound", minutes=60)]), source="t"
    )

    assert report.lines[0] == "AAA inbound: published v2, replacing v1"
    with system_context("tests"):
        new = PolicyVersion.objects.get(number=2)
        assert (new.warn_percent, new.score_min) == (75, None)


@pytest.mark.django_db
def test_policies_the_file_does_not_name_are_left_alone_and_said_so(tmp_path):
    # given AAA's inbound and hot policies, and BBB's inbound, in force
    a, b = _markets()
    sla_publish(a, "inbound")
    sla_publish(a, "hot", **HOT)
    sla_publish(b, "inbound")

    # when a file naming only AAA's inbound policy (changed) is imported
    lines = _import(_write(tmp_path, _document(AAA=[_policy("inbound", minutes=20)])))

    # then only that policy has a new version, and the summary names the others
    assert lines == [
        "AAA inbound: published v2, replacing v1",
        "AAA hot: not in the file, left alone (v1 in force)",
        "BBB inbound: not in the file, left alone (v1 in force)",
        "sla import: published 1, unchanged 0, left alone 2 (not in the file)",
    ]
    assert _states()[("AAA", "hot")] == _states()[("BBB", "inbound")] == [(1, "published")]


@pytest.mark.django_db
def test_a_policy_with_a_draft_in_progress_is_a_problem_when_the_file_changes_it(tmp_path):
    a, _b = _markets()
    sla_publish(a, "inbound", minutes=60)
    with system_context("tests"):
        policy_draft(
            actor=revops("rita"), market=a, key="inbound", name="", change_note="wip", minutes=5
        )
    before = _counts()

    with pytest.raises(CommandError) as refused:
        _import(_write(tmp_path, _document(AAA=[_policy("inbound", minutes=30)])))

    assert (
        "$.markets.AAA[0]: market AAA, policy `inbound` has a draft here (v2 by rita): publish "
        "or delete it first" in str(refused.value)
    )
    assert _counts() == before
    # an unchanged policy writes nothing, so its draft is no obstacle
    assert _import(_write(tmp_path, _document(AAA=[_policy("inbound", minutes=60)])))[0] == (
        "AAA inbound: unchanged (v1 in force)"
    )


@pytest.mark.django_db
def test_a_dry_run_says_what_it_would_publish_and_writes_nothing(tmp_path):
    a, _b = _markets()
    sla_publish(a, "inbound", minutes=60)
    before = _counts()

    lines = _import(
        _write(tmp_path, _document(AAA=[_policy("inbound", minutes=30), _policy("hot", **HOT)])),
        "--dry-run",
    )

    assert lines == [
        "AAA hot: created; would publish v1",
        "AAA inbound: would publish v2, replacing v1",
        "sla import: would publish 2, unchanged 0, left alone 0 (not in the file): dry run, "
        "nothing written",
    ]
    assert _counts() == before


@pytest.mark.django_db
def test_export_of_one_market_and_from_stdin_and_to_stdout(monkeypatch):
    a, _b = _markets()
    sla_publish(a, "inbound")
    monkeypatch.setattr("sys.stdin", io.StringIO(sla_export(market="AAA")))
    with system_context("tests"):
        market_create(actor=SYSTEM, code="CCC", name="Market C", timezone="Europe/Paris")

    # a market asked for is listed even with no policy
    out = io.StringIO()
    call_command("sla", "export", "--market", "BBB", stdout=out)
    assert json.loads(out.getvalue()) == {"format": FORMAT, "markets": {"BBB": []}}
    assert json.loads(sla_export())["markets"].keys() == {"AAA"}
    assert _import("-") == [
        "AAA inbound: unchanged (v1 in force)",
        "sla import: published 0, unchanged 1, left alone 0 (not in the file)",
    ]
    with pytest.raises(CommandError, match="There is no market 'ZZZ'"):
        call_command("sla", "export", "--market", "ZZZ", stdout=io.StringIO())


@pytest.mark.django_db
def test_a_file_that_is_no_sla_export_is_refused_with_a_message(tmp_path):
    path = tmp_path / "sla.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="Expecting property name"):
        _import(str(path))
    path.write_text(json.dumps({"format": "leadops-routing/1"}), encoding="utf-8")
    with pytest.raises(CommandError, match="expected 'leadops-sla/1'"):
        _import(str(path))
    with pytest.raises(CommandError, match="No such file"):
        _import(str(tmp_path / "missing.json"))


def test_help_explains_the_command(capsys):
    with pytest.raises(SystemExit) as done:
        ManagementUtility(["manage.py", "sla", "--help"]).execute()
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "{export,import}" in text
    assert "changes nothing" in text
    assert "leaves policies the file does not name alone" in text

    with pytest.raises(SystemExit):
        ManagementUtility(["manage.py", "sla", "import", "--help"]).execute()
    assert "--dry-run" in capsys.readouterr().out


# --- the demo seed ------------------------------------------------------------------------------


def _sla_markers() -> set[str]:
    return set(SeedMarker.objects.filter(key__startswith="sla:").values_list("key", flat=True))


@pytest.mark.django_db
def test_seed_demo_twice_publishes_each_demo_policy_once_and_starts_the_demo_leads_clocks():
    call_command("seed_demo", "--quiet-logins", stdout=io.StringIO())
    first, before = _states(), _counts()

    call_command("seed_demo", "--quiet-logins", stdout=io.StringIO())

    # DE, US-EAST and AU (the markets with a team) promise inbound leads an answer; DE's hot
    # leads get a tighter one; the second run wrote nothing
    assert first == {
        ("AU", "inbound"): [(1, "published")],
        ("DE", "hot"): [(1, "published")],
        ("DE", "inbound"): [(1, "published")],
        ("US-EAST", "inbound"): [(1, "published")],
    }
    assert len(DEMO_SLA_POLICIES) == 4
    assert _states() == first
    assert _counts() == before
    assert _sla_markers() == {
        "sla:AU:inbound",
        "sla:DE:hot",
        "sla:DE:inbound",
        "sla:US-EAST:inbound",
    }
    with system_context("tests"):
        hot = PolicyVersion.objects.get(market__code="DE", policy__key="hot")
        assert (hot.score_min, hot.minutes, hot.published_by) == (50, 30, "system:seed_demo")
        assert [s["step"] for s in hot.ladder] == [
            "notify_owner",
            "notify_manager",
            "reassign",
            "file_breach",
        ]
        # the demo leads arrived after the policies: the leads of those markets have clocks
        assert set(Timer.objects.values_list("market__code", flat=True)) >= {"DE", "AU"}
        managers = dict(Team.objects.values_list("name", "manager__username"))
    assert managers == {"Inbound DACH": "manager", "Inbound East": None, "Inbound ANZ": None}


@pytest.mark.django_db
def test_the_seed_keeps_policies_a_person_changed_or_retired():
    # given a seeded demo where RevOps changed DE's inbound promise, retired DE's hot one and
    # took the DE team's manager off, in a database that lost the seed's markers (seeded before
    # markers existed) except the team manager's
    call_command("seed_demo", "--quiet-logins", stdout=io.StringIO())
    rita = User.objects.get(username="revops")
    with system_context("tests"):
        de = Market.objects.get(code="DE")
        draft = policy_draft(
            actor=rita, market=de, key="inbound", name="", change_note="two hours", minutes=120
        )
        policy_publish(actor=rita, version=draft)
        policy_retire(actor=rita, version=PolicyVersion.objects.get(market=de, policy__key="hot"))
        Team.objects.filter(name="Inbound DACH").update(manager=None)
        SeedMarker.objects.filter(key__startswith="sla:").delete()
    states = _states()

    # when the seed runs again
    call_command("seed_demo", "--quiet-logins", stdout=io.StringIO())

    # then the person's versions stay as they are, nothing was published over them, and the
    # pieces are marked again
    assert _states() == states
    assert states[("DE", "inbound")] == [(1, "retired"), (2, "published")]
    assert states[("DE", "hot")] == [(1, "retired")]
    assert len(_sla_markers()) == 4
    with system_context("tests"):
        assert Team.objects.get(name="Inbound DACH").manager is None
