"""The routing API: rule sets and versions read in the caller's scope, drafts written and
submitted by API clients, approval and publishing only by a person with the approve permission,
and a lead's routing decisions on its detail."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from leadops.core.access import system_context
from routing.models import RuleSet, RuleVersion
from routing.services import leads_reroute
from routing.versions import rule_set_ensure, version_draft_create, version_submit
from tests.leads.test_api_ingest import api, post
from tests.routing.conftest import SYSTEM, publish, rule

pytestmark = pytest.mark.django_db

DE = {"field": "country", "op": "eq", "value": "DE"}
CONTENT = {"rules": [rule("de-inbound", DE, team="Inbound")]}


def rule_set_of(market, actor=SYSTEM) -> RuleSet:
    with system_context("tests"):
        return rule_set_ensure(actor=actor, market=market)


def submitted(market, author) -> RuleVersion:
    with system_context("tests"):
        draft = version_draft_create(
            actor=author, rule_set=rule_set_of(market), content=CONTENT, change_note="to approve"
        )
        return version_submit(actor=author, version=draft)


def stored(version_id: int) -> RuleVersion:
    with system_context("tests"):
        return RuleVersion.objects.get(pk=version_id)


def test_rule_sets_are_listed_in_the_callers_scope(
    key_a, key_all, market_a, market_b, inbound, author, approver
):
    # given rule sets for market A (with a version in force), market B and the global fallback
    published = publish(market_a, CONTENT["rules"], author=author, approver=approver)
    rule_set_of(market_b)
    rule_set_of(None)

    # when a client holding market A and a client holding every market list them
    only_a = api(key_a).get("/api/v1/routing/rule-sets")
    every = api(key_all).get("/api/v1/routing/rule-sets")

    # then the first sees market A's alone, the second all three, the global one without market
    assert only_a.status_code == 200
    [row] = only_a.json()["results"]
    assert row == {
        "id": published.rule_set_id,
        "market": "AAA",
        "name": "AAA routing",
        "published_version": published.number,
        "versions_count": 1,
    }
    assert sorted(str(r["market"]) for r in every.json()["results"]) == ["AAA", "BBB", "None"]
    assert {r["versions_count"] for r in every.json()["results"] if r["market"] != "AAA"} == {0}


def test_versions_and_their_content_are_readable(key_a, market_a, inbound, author, approver):
    # given a published version and a newer draft
    published = publish(market_a, CONTENT["rules"], author=author, approver=approver)
    with system_context("tests"):
        draft = version_draft_create(
            actor=author,
            rule_set=published.rule_set,
            content={"rules": [rule("all", team="Inbound")]},
            change_note="everything to Inbound",
        )

    # when client A reads the rule set's versions and the draft
    listed = api(key_a).get(f"/api/v1/routing/rule-sets/{published.rule_set_id}/versions")
    detail = api(key_a).get(f"/api/v1/routing/versions/{draft.pk}")

    # then both versions are listed oldest first, and the draft comes with its rules
    assert listed.status_code == 200
    rows = listed.json()["results"]
    assert [(r["number"], r["state"]) for r in rows] == [(1, "published"), (2, "draft")]
    assert (rows[0]["author"], rows[0]["approver"]) == ("rita_author", "arno_approver")
    assert rows[0]["published_at"] is not None
    assert rows[0]["content_hash"] == published.content_hash
    assert "content" not in rows[0]
    assert detail.status_code == 200
    assert detail.json()["content"] == {"rules": [rule("all", team="Inbound")]}
    assert detail.json()["change_note"] == "everything to Inbound"


def test_a_draft_is_written_changed_and_submitted_through_the_api(key_a, market_a, inbound):
    rule_set = rule_set_of(market_a)
    client = api(key_a)

    # when client A writes a draft, changes its rules, and submits it
    created = client.post(
        f"/api/v1/routing/rule-sets/{rule_set.pk}/versions",
        {"content": CONTENT, "change_note": "German leads to Inbound"},
        format="json",
    )
    version_id = created.json()["id"]
    changed = client.put(
        f"/api/v1/routing/versions/{version_id}",
        {"content": {"rules": [rule("all", team="Inbound")]}},
        format="json",
    )
    sent = client.post(f"/api/v1/routing/versions/{version_id}/submit")

    # then the draft was made (by no person), changed with its note kept, and is now submitted
    assert created.status_code == 201
    assert created.json()["state"] == "draft"
    assert created.json()["author"] is None
    assert created.json()["content"] == CONTENT
    assert changed.status_code == 200
    assert changed.json()["content"] == {"rules": [rule("all", team="Inbound")]}
    assert changed.json()["change_note"] == "German leads to Inbound"
    assert changed.json()["content_hash"] != created.json()["content_hash"]
    assert sent.status_code == 200
    assert sent.json()["state"] == "submitted"
    assert sent.json()["submitted_at"] is not None
    # and each step is audited as the client's, through the API
    with system_context("tests"):
        trail = list(
            AuditEvent.objects.filter(target_type="routing.ruleversion", target_id=str(version_id))
            .order_by("id")
            .values_list("action", "actor_kind", "origin")
        )
    assert trail == [
        ("rule_version.drafted", "api_client", "api"),
        ("rule_version.edited", "api_client", "api"),
        ("rule_version.submitted", "api_client", "api"),
    ]


def test_a_submitted_version_cannot_be_changed(key_a, market_a, inbound, author):
    version = submitted(market_a, author)

    answer = api(key_a).put(
        f"/api/v1/routing/versions/{version.pk}", {"content": CONTENT}, format="json"
    )

    assert answer.status_code == 409
    assert answer.json()["code"] == "wrong_state"


def test_invalid_rules_are_field_errors_pointing_at_the_rule_and_path(key_a, market_a, inbound):
    rule_set = rule_set_of(market_a)

    # when a draft names a team market A does not have
    answer = api(key_a).post(
        f"/api/v1/routing/rule-sets/{rule_set.pk}/versions",
        {"content": {"rules": [rule("de-inbound", DE, team="Inbund")]}, "change_note": "typo"},
        format="json",
    )

    # then it is a 400 under `content` naming the rule, its id and the path; nothing is kept
    assert answer.status_code == 400
    [problem] = answer.json()["errors"]["content"]
    assert problem["rule"] == 0
    assert problem["rule_id"] == "de-inbound"
    assert problem["path"] == "rules[0].then.team"
    assert "Inbund" in problem["message"]
    with system_context("tests"):
        assert not RuleVersion.objects.filter(rule_set=rule_set).exists()


def test_a_missing_change_note_is_a_field_error(key_a, market_a, inbound):
    rule_set = rule_set_of(market_a)

    answer = api(key_a).post(
        f"/api/v1/routing/rule-sets/{rule_set.pk}/versions",
        {"content": CONTENT, "change_note": "  "},
        format="json",
    )

    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["change_note"]


def test_rule_sets_outside_the_callers_scope_are_not_found(
    key_a, market_a, market_b, author, approver
):
    # given market B's rule set with a version, and the global fallback
    with system_context("tests"):
        b_version = version_draft_create(
            actor=author,
            rule_set=rule_set_of(market_b),
            content={"rules": []},
            change_note="empty",
        )
    global_set = rule_set_of(None)
    client = api(key_a)
    body = {"content": {"rules": []}, "change_note": "not mine"}

    # when client A (market A only) reads and writes them, then each is a 404
    for rule_set_id in (b_version.rule_set_id, global_set.pk):
        path = f"/api/v1/routing/rule-sets/{rule_set_id}/versions"
        assert client.get(path).status_code == 404
        assert client.post(path, body, format="json").status_code == 404
    version_path = f"/api/v1/routing/versions/{b_version.pk}"
    assert client.get(version_path).status_code == 404
    assert client.put(version_path, body, format="json").status_code == 404
    assert client.post(f"{version_path}/submit").status_code == 404
    assert client.post(f"{version_path}/approve").status_code == 404
    # and market B's draft is as it was
    assert stored(b_version.pk).content == {"rules": []}
    assert stored(b_version.pk).change_note == "empty"


def test_a_client_with_every_market_writes_the_global_rules(key_all, market_a, inbound):
    global_set = rule_set_of(None)

    answer = api(key_all).post(
        f"/api/v1/routing/rule-sets/{global_set.pk}/versions",
        {"content": {"rules": [rule("fallback", team="Inbound")]}, "change_note": "fallback"},
        format="json",
    )

    assert answer.status_code == 201
    assert stored(answer.json()["id"]).market_id is None


def test_an_api_client_cannot_approve(key_a, market_a, inbound, author):
    version = submitted(market_a, author)

    # when client A approves the submitted version
    answer = api(key_a).post(f"/api/v1/routing/versions/{version.pk}/approve")

    # then it is refused as forbidden, and the version still waits for a person
    assert answer.status_code == 403
    assert answer.json()["code"] == "permission_denied"
    assert stored(version.pk).state == "submitted"


def test_a_manager_without_the_routing_permission_cannot_write_drafts(
    client, manager_a, market_a, inbound
):
    rule_set = rule_set_of(market_a)
    client.force_login(manager_a)

    # when market A's manager (who may read routing, not write it) posts a draft
    answer = client.post(
        f"/api/v1/routing/rule-sets/{rule_set.pk}/versions",
        {"content": CONTENT, "change_note": "mine"},
        content_type="application/json",
    )
    listed = client.get("/api/v1/routing/rule-sets")

    # then it is forbidden, though the manager reads the rule set
    assert answer.status_code == 403
    assert [r["id"] for r in listed.json()["results"]] == [rule_set.pk]


def test_a_revops_approver_approves_and_publishes_through_the_api(
    client, market_a, inbound, author, approver
):
    rule_set = rule_set_of(market_a)

    # given a draft the author wrote and submitted while logged in
    client.force_login(author)
    created = client.post(
        f"/api/v1/routing/rule-sets/{rule_set.pk}/versions",
        {"content": CONTENT, "change_note": "German leads to Inbound"},
        content_type="application/json",
    )
    path = f"/api/v1/routing/versions/{created.json()['id']}"
    client.post(f"{path}/submit", content_type="application/json")

    # when the author tries to approve it, then another RevOps person approves and publishes it
    own = client.post(f"{path}/approve", {}, content_type="application/json")
    client.force_login(approver)
    approved = client.post(
        f"{path}/approve", {"note": "looks right"}, content_type="application/json"
    )
    published = client.post(f"{path}/publish", content_type="application/json")

    # then the author was refused (409), and the version is in force, by the approver
    assert created.json()["author"] == "rita_author"
    assert own.status_code == 409
    assert own.json()["code"] == "author_cannot_approve"
    assert approved.status_code == 200
    assert (approved.json()["state"], approved.json()["approver"]) == ("approved", "arno_approver")
    assert published.status_code == 200
    assert published.json()["state"] == "published"
    assert published.json()["published_by"] == "arno_approver"
    [row] = client.get("/api/v1/routing/rule-sets").json()["results"]
    assert row["published_version"] == published.json()["number"]


def test_the_lead_detail_carries_its_routing_decisions(
    table, key_a, market_a, inbound, author, approver
):
    # given rules in force sending DE leads to Inbound
    version = publish(market_a, CONTENT["rules"], author=author, approver=approver)

    # when a DE lead is posted and read back
    posted = post(key_a, {"source": "web", "email": "ada@example.com", "country": "DE"})
    detail = api(key_a).get(f"/api/v1/leads/{posted.json()['lead_id']}")

    # then the detail names the team, and its routing is the decision intake made
    body = detail.json()
    assert detail.status_code == 200
    assert body["team"] == "Inbound"
    assert body["tags"] == []
    routing = body["routing"]
    assert routing["outcome"] == "assigned"
    assert (routing["version"], routing["rule"], routing["team"]) == (
        version.number,
        "de-inbound",
        "Inbound",
    )
    assert routing["owner"] == body["owner"]
    assert routing["owner"] in {"ann", "ben", "cat", "dan"}
    assert routing["trigger"] == "intake"
    assert routing["reason"]
    assert f"v{version.number} rule de-inbound matched" in routing["trace"]
    assert body["routing_decisions"] == [routing]


def test_the_lead_detail_lists_decisions_latest_first(
    table, key_a, market_a, inbound, author, approver
):
    # given a lead routed at intake, then routed again on demand under newer rules
    publish(market_a, CONTENT["rules"], author=author, approver=approver)
    lead_id = post(key_a, {"source": "web", "email": "ada@example.com", "country": "DE"}).json()[
        "lead_id"
    ]
    newer = publish(market_a, [rule("everyone", team="Inbound")], author=author, approver=approver)
    leads_reroute(actor=SYSTEM, lead_ids=[lead_id], trigger="manual")

    # when the lead is read
    body = api(key_a).get(f"/api/v1/leads/{lead_id}").json()

    # then the latest decision is its routing, and both are listed, latest first
    assert [(d["trigger"], d["rule"]) for d in body["routing_decisions"]] == [
        ("manual", "everyone"),
        ("intake", "de-inbound"),
    ]
    assert body["routing"] == body["routing_decisions"][0]
    assert body["routing"]["version"] == newer.number


def test_a_lead_never_routed_has_no_routing(lead, key_a):
    # given a lead in a market with no routing rules
    # when it is read alone and in the list
    body = api(key_a).get(f"/api/v1/leads/{lead['lead_id']}").json()
    [listed] = api(key_a).get("/api/v1/leads").json()["results"]

    # then it has no decisions, no team and no tags
    assert (body["routing"], body["routing_decisions"]) == (None, [])
    assert (body["team"], body["tags"]) == (None, [])
    assert (listed["team"], listed["tags"]) == (None, [])


def test_a_rule_set_is_made_on_first_use_in_scope_only(key_a, key_all, market_a, market_b):
    # when client A asks for market A's rule set twice, and for B's and the global one
    first = api(key_a).post("/api/v1/routing/rule-sets", {"market": "AAA"}, format="json")
    again = api(key_a).post("/api/v1/routing/rule-sets", {"market": "AAA"}, format="json")
    other = api(key_a).post("/api/v1/routing/rule-sets", {"market": "BBB"}, format="json")
    global_ = api(key_a).post("/api/v1/routing/rule-sets", {"market": None}, format="json")

    # then A's is made once (201, then 200 with the same id); B's and the global are not found
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["market"] == "AAA"
    assert (other.status_code, global_.status_code) == (404, 404)
    # and a client holding every market makes the global fallback
    made = api(key_all).post("/api/v1/routing/rule-sets", {"market": None}, format="json")
    assert made.status_code == 201
    assert made.json()["market"] is None
