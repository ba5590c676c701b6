"""The life of a routing version: drafts checked on save, fixtures before submission, an
approver who is not the author, publishing that retires, rollback as a new version, and
published rules the database itself refuses to change."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from leadops.core.access import system_context
from leadops.core.errors import ApplicationError
from leadops.markets.teams import team_ensure
from routing.models import RuleVersion
from routing.versions import (
    RulesInvalid,
    rule_set_ensure,
    version_approve,
    version_draft_create,
    version_draft_update,
    version_rollback,
    version_submit,
)
from tests.routing.conftest import SYSTEM, publish, rule

pytestmark = pytest.mark.django_db

DE = {"field": "country", "op": "eq", "value": "DE"}


def draft(market, author, rules, fixtures=None):
    content = {"rules": rules}
    if fixtures is not None:
        content["fixtures"] = fixtures
    rule_set = rule_set_ensure(actor=author, market=market)
    return version_draft_create(actor=author, rule_set=rule_set, content=content, change_note="x")


def test_the_author_cannot_approve_their_own_version(market_a, inbound, author):
    with system_context("tests"):
        # given a submitted draft
        version = draft(market_a, author, [rule("r", DE, team="Inbound")])
        version_submit(actor=author, version=version)

        # when its author approves it
        with pytest.raises(ApplicationError) as refused:
            version_approve(actor=author, version=version)

    # then it is refused and the version is still waiting
    assert refused.value.code == "author_cannot_approve"
    with system_context("tests"):
        assert RuleVersion.objects.get(pk=version.pk).state == "submitted"


def test_approving_needs_the_approve_permission(market_a, inbound, author, manager_a):
    with system_context("tests"):
        version = draft(market_a, author, [rule("r", DE, team="Inbound")])
        version_submit(actor=author, version=version)
        with pytest.raises(ApplicationError) as refused:
            version_approve(actor=manager_a, version=version)
    assert refused.value.code == "permission_denied"


def test_publishing_retires_the_version_in_force(market_a, inbound, author, approver):
    # given a published version
    first = publish(market_a, [rule("r", DE, team="Inbound")], author=author, approver=approver)

    # when a second one is published
    second = publish(market_a, [rule("r2", team="Inbound")], author=author, approver=approver)

    # then the first is retired and the second is the one in force
    with system_context("tests"):
        first = RuleVersion.objects.get(pk=first.pk)
    assert first.state == "retired"
    assert first.retired_at is not None
    assert second.state == "published"
    assert second.number == first.number + 1
    with system_context("tests"):
        actions = list(
            AuditEvent.objects.filter(action__startswith="rule_version.").values_list(
                "action", flat=True
            )
        )
    assert actions.count("rule_version.published") == 2
    assert "rule_version.retired" in actions


def test_published_rules_cannot_change_even_by_sql(market_a, inbound, author, approver):
    # given a published version
    version = publish(market_a, [rule("r", DE, team="Inbound")], author=author, approver=approver)

    # when anything writes its content directly
    with (
        system_context("tests"),
        pytest.raises(DatabaseError) as refused,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE routing_ruleversion SET content = '{\"rules\": []}' WHERE id = %s",
            [version.pk],
        )

    # then the database refuses, and deleting it is refused too
    assert "can no longer change" in str(refused.value)
    with (
        system_context("tests"),
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM routing_ruleversion WHERE id = %s", [version.pk])


def test_a_retired_version_cannot_come_back_by_sql(market_a, inbound, author, approver):
    first = publish(market_a, [rule("r", DE, team="Inbound")], author=author, approver=approver)
    publish(market_a, [rule("r2", team="Inbound")], author=author, approver=approver)
    with (
        system_context("tests"),
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE routing_ruleversion SET state = 'draft' WHERE id = %s", [first.pk])


def test_a_draft_naming_a_team_of_another_market_is_refused_on_save(
    market_a, market_b, inbound, author
):
    # given a team that exists only in market B
    with system_context("tests"):
        team_ensure(actor=SYSTEM, market=market_b, name="Outbound B")

        # when a draft for market A names it
        with pytest.raises(RulesInvalid) as refused:
            draft(market_a, author, [rule("ok", team="Inbound"), rule("b", DE, team="Outbound B")])

    # then the error points at that rule's team
    [error] = refused.value.errors
    assert (error.rule, error.rule_id, error.path) == (1, "b", "rules[1].then.team")
    assert "AAA" in error.message


def test_an_owner_outside_the_market_is_refused_on_save(market_a, inbound, author):
    with system_context("tests"), pytest.raises(RulesInvalid) as refused:
        draft(market_a, author, [rule("r", owner="rita_author")])
    assert refused.value.errors[0].path == "rules[0].then.owner"
    assert "would not see the lead" in refused.value.errors[0].message


def test_a_failing_fixture_blocks_submission(market_a, inbound, author):
    # given a draft whose fixture expects DE leads to match rule "de"
    fixtures = [
        {"name": "DE goes inbound", "lead": {"country": "DE"}, "expect": {"rule": "de"}},
    ]
    with system_context("tests"):
        version = draft(
            market_a,
            author,
            [rule("de", {"field": "country", "op": "eq", "value": "FR"}, team="Inbound")],
            fixtures,
        )

        # when it is submitted
        with pytest.raises(ApplicationError) as refused:
            version_submit(actor=author, version=version)

        # then it is refused naming the fixture, and after fixing the rule it goes through
        assert refused.value.code == "fixtures_fail"
        assert "DE goes inbound" in refused.value.message
        version = version_draft_update(
            actor=author,
            version=version,
            content={"rules": [rule("de", DE, team="Inbound")], "fixtures": fixtures},
        )
        assert version_submit(actor=author, version=version).state == "submitted"


def test_rollback_republishes_earlier_rules_as_a_new_version(market_a, inbound, author, approver):
    # given v1 then v2 published
    first = publish(market_a, [rule("one", team="Inbound")], author=author, approver=approver)
    publish(market_a, [rule("two", team="Inbound")], author=author, approver=approver)

    # when an approver rolls back to v1
    with system_context("tests"):
        restored = version_rollback(actor=approver, version=first, change_note="v2 misroutes")

    # then v3 is in force with v1's rules, and v1 itself is untouched
    assert restored.number == 3
    assert restored.state == "published"
    assert restored.content == first.content
    assert restored.based_on_id == first.pk
    with system_context("tests"):
        assert RuleVersion.objects.get(pk=first.pk).state == "retired"
        assert RuleVersion.objects.filter(state="published").count() == 1


def test_an_invalid_rule_is_refused_with_the_rule_and_path(market_a, inbound, author):
    bad = rule(
        "deep",
        {"all": [DE, {"any": [{"field": "score", "op": "gt", "value": "x"}]}]},
        team="Inbound",
    )
    with system_context("tests"), pytest.raises(RulesInvalid) as refused:
        draft(market_a, author, [bad])
    assert refused.value.errors[0].path.startswith("rules[0].when.all[1].any[0]")


def test_a_change_note_is_required(market_a, inbound, author):
    with system_context("tests"), pytest.raises(ApplicationError) as refused:
        version_draft_create(
            actor=author,
            rule_set=rule_set_ensure(actor=author, market=market_a),
            content={"rules": []},
            change_note="  ",
        )
    assert refused.value.code == "change_note_required"
