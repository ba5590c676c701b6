"""Simulating a draft on one lead at a chosen moment, beside the published rules: nothing is
written, nothing locked, every rule and candidate explained."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadops.core.access import system_context
from leadops.leads.models import Lead
from leadops.markets.models import TeamMember
from leadops.markets.teams import team_member_set
from routing.models import Decision
from routing.simulate import version_simulate
from routing.versions import rule_set_ensure, version_draft_create
from tests.leads.test_api_ingest import post
from tests.routing.conftest import SYSTEM, publish, rule

pytestmark = pytest.mark.django_db

SATURDAY = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def test_a_draft_is_simulated_beside_the_published_rules_and_nothing_is_written(
    table, key_a, market_a, inbound, author, approver
):
    # given published rules sending everyone to the team, and a draft sending hot leads to cat
    publish(market_a, [rule("everyone", team="Inbound")], author=author, approver=approver)
    lead = post(key_a, {"source": "web", "email": "hot@acme.io", "country": "DE"}).json()
    hot = {"field": "score", "op": "gte", "value": 0}
    with system_context("tests"):
        draft = version_draft_create(
            actor=author,
            rule_set=rule_set_ensure(actor=author, market=market_a),
            content={"rules": [rule("hot", hot, owner="cat"), rule("rest", team="Inbound")]},
            change_note="hot leads to cat",
        )
        decisions_before = Decision.objects.count()

        # when the draft is simulated on that lead, on a Saturday
        result = version_simulate(
            version=draft, lead=Lead.objects.get(pk=lead["lead_id"]), at=SATURDAY
        )

        # then the draft names cat by rule hot, the published version the team pool; each side
        # shows its conditions with operators and values; nothing was recorded
        draft_plan = result.draft.plan
        assert draft_plan.rule is not None
        assert draft_plan.rule.id == "hot"
        assert draft_plan.owner is not None
        assert draft_plan.owner.username == "cat"
        assert result.draft.rules[0]["conditions"][0]["op"] == "gte"
        assert result.published is not None
        assert result.published.plan.rule is not None
        assert result.published.plan.rule.id == "everyone"
        assert "round robin among ann, ben, cat, dan" in result.published.plan.reason
        assert Decision.objects.count() == decisions_before


def test_typed_fields_and_a_moment_show_why_members_are_skipped(market_a, inbound, author):
    # given cat works office hours and the draft asks for team Inbound
    with system_context("tests"):
        cat = TeamMember.objects.get(team=inbound, user__username="cat")
        team_member_set(actor=SYSTEM, team=inbound, user=cat.user, hours="Mon-Fri 09:00-17:00")
        draft = version_draft_create(
            actor=author,
            rule_set=rule_set_ensure(actor=author, market=market_a),
            content={
                "rules": [
                    rule("de", {"field": "country", "op": "eq", "value": "DE"}, team="Inbound")
                ]
            },
            change_note="x",
        )

        # when a person types a lead and picks Saturday
        result = version_simulate(
            version=draft,
            fields={"email": "x@acme.io", "country": "de", "score": "70"},
            at=SATURDAY,
        )

    # then cat is skipped as outside working hours, and the condition saw DE
    skipped = {c["user"]: c.get("skipped") for c in result.draft.plan.candidates}
    assert skipped["cat"] == "outside working hours"
    assert result.draft.rules[0]["conditions"][0]["actual"] == "DE"
    assert result.published is None
