"""The review tiers of dedupe: a new lead that may be someone known files one `duplicate_review`
item (both markets when they differ) and is never merged without a person."""

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from leadops.core.access import market_context, system_context
from leadops.leads.ingest import leads_ingest
from leadops.leads.merges import duplicate_mark_remove, leads_mark_distinct
from leadops.leads.models import DuplicateMark, Lead
from leadops.leads.prepare import IngestItem
from leadops.leads.reviews import lead_duplicates_check
from leadops.queue.models import ExceptionItem
from tests.fixtures import SYSTEM
from tests.leads.test_intake_scope import lead_api


def item(source, external_id="", **fields):
    return IngestItem(source=source, payload=fields, fields=fields, external_id=external_id)


def ingest(source, *many):
    return leads_ingest(items=[item(source, **f) for f in many], actor=SYSTEM)


def reviews():
    with system_context("tests"):
        return list(ExceptionItem.objects.filter(kind="duplicate_review").order_by("id"))


DE = {"country": "DE", "postal_code": "10115"}  # market A
FR = {"country": "FR"}  # market B


@pytest.mark.django_db
def test_the_same_email_in_another_market_is_a_review_in_both_markets(
    table, web, market_a, market_b
):
    # given a lead in A
    [known] = ingest(web, {"email": "zoe@acme.io", **DE})

    # when the same email arrives for B
    [new] = ingest(web, {"email": "Zoe@ACME.io", **FR})

    # then a new lead in B, linked to the known one by one review item scoped to both markets
    assert (new.outcome, new.market) == ("review", "BBB")
    assert new.lead_id != known.lead_id
    assert new.duplicate_of == known.lead_id
    [review] = reviews()
    assert (review.market_id, review.second_market_id) == (market_b.id, market_a.id)
    assert review.target_id == str(new.lead_id)
    assert review.details["candidates"] == [
        {"lead": known.lead_id, "market_id": market_a.id, "tiers": ["email_other_market"]}
    ]


@pytest.mark.django_db
def test_the_same_phone_only_is_a_review_and_the_same_email_in_one_market_still_merges(table, web):
    [first] = ingest(web, {"email": "a@acme.io", "phone": "+49 30 1234567", **DE})

    [phone_only] = ingest(web, {"email": "b@other.io", "phone": "030 1234567", **DE})
    [same_email] = ingest(web, {"email": "a@acme.io", **DE})

    assert phone_only.outcome == "review"
    assert phone_only.duplicate_of == first.lead_id
    assert same_email.outcome == "merged"
    assert same_email.lead_id == first.lead_id
    [review] = reviews()
    assert review.second_market_id is None  # both in A
    assert review.details["candidates"][0]["tiers"] == ["phone"]


@pytest.mark.django_db
def test_names_compare_after_unicode_normalization_never_by_substring(table, web):
    ingest(web, {"email": "zoe@acme.io", "first_name": "Zoë", "last_name": "O'Brien", **DE})

    [same] = ingest(
        web,
        {
            "email": "zob@x.io",
            "first_name": "ZOE",
            "last_name": "O BRIEN",
            "website": "acme.io",
            **DE,
        },
    )
    [shorter] = ingest(
        web,
        {
            "email": "z@x2.io",
            "first_name": "Zo",
            "last_name": "O'Brien",
            "website": "acme.io",
            **DE,
        },
    )
    [elsewhere] = ingest(
        web,
        {"email": "zoe@other.io", "first_name": "Zoë", "last_name": "O'Brien", **DE},
    )

    assert same.outcome == "review"
    assert review_tiers(same.lead_id) == ["name_company"]
    assert shorter.outcome == "created"  # "Zo" is not "Zoë": whole names only
    assert elsewhere.outcome == "created"  # another company


@pytest.mark.django_db
def test_free_mail_domains_never_make_a_company_match(table, web):
    ingest(
        web, {"email": "zoe.obrien@gmail.com", "first_name": "Zoë", "last_name": "O'Brien", **DE}
    )

    [other] = ingest(
        web, {"email": "zoe.o@gmail.com", "first_name": "Zoë", "last_name": "O'Brien", **DE}
    )

    assert other.outcome == "created"
    assert reviews() == []


def review_tiers(lead_id):
    [review] = [r for r in reviews() if r.target_id == str(lead_id)]
    return [t for c in review.details["candidates"] for t in c["tiers"]]


@pytest.mark.django_db
def test_a_switchboard_phone_stops_filing_reviews_and_the_item_says_so(table, web, settings):
    settings.DEDUPE_SHARED_PHONE_LIMIT = 2
    board = "+49 30 9999999"
    # given three leads on one switchboard (the 2nd and 3rd were reviews)
    ingest(web, *[{"email": f"p{i}@acme.io", "phone": board, **DE} for i in range(3)])
    assert len(reviews()) == 2

    # when a fourth person calls from it, and a fifth who also shares a name at a company
    [fourth] = ingest(web, {"email": "p3@acme.io", "phone": board, **DE})
    ingest(web, {"email": "ann@beta.io", "first_name": "Ann", "last_name": "Lee", **DE})
    [fifth] = ingest(
        web,
        {"email": "ann.lee@beta.io", "phone": board, "first_name": "Ann", "last_name": "Lee", **DE},
    )

    # then the phone no longer files a review; the name match does, and says the phone was shared
    assert fourth.outcome == "created"
    assert fifth.outcome == "review"
    [item] = [r for r in reviews() if r.target_id == str(fifth.lead_id)]
    # (the lookup reads one lead past the limit: enough to know it is a switchboard)
    assert item.details["shared_phone_leads"] == 3
    assert [c["tiers"] for c in item.details["candidates"]] == [["name_company"]]


@pytest.mark.django_db
def test_candidates_per_item_are_capped(table, web, settings):
    settings.DEDUPE_MAX_CANDIDATES = 2
    ingest(web, *[{"email": f"p{i}@acme.io", "phone": "+49 30 5550000", **DE} for i in range(3)])

    [fourth] = ingest(web, {"email": "p9@acme.io", "phone": "+49 30 5550000", **DE})

    [item] = [r for r in reviews() if r.target_id == str(fourth.lead_id)]
    assert len(item.details["candidates"]) == 2
    assert item.details["omitted"] == 1


@pytest.mark.django_db
def test_a_third_lead_matching_two_known_leads_files_one_item(table, web):
    [a] = ingest(web, {"email": "kim@acme.io", **DE})
    [b] = ingest(web, {"email": "kim@beta.io", "phone": "+49 30 7777777", **DE})

    [c] = ingest(web, {"email": "kim@acme.io", "phone": "+49 30 7777777", **FR})

    items = [r for r in reviews() if r.target_id == str(c.lead_id)]
    assert len(items) == 1
    assert {x["lead"] for x in items[0].details["candidates"]} == {a.lead_id, b.lead_id}


@pytest.mark.django_db
def test_two_new_people_of_one_call_sharing_a_phone_are_a_review(table, web):
    first, second = ingest(
        web,
        {"email": "x1@acme.io", "phone": "+49 30 3333333", **DE},
        {"email": "x2@acme.io", "phone": "+49 30 3333333", **DE},
    )

    assert (first.outcome, second.outcome) == ("created", "review")
    assert second.duplicate_of == first.lead_id
    [item] = reviews()
    assert item.details["candidates"][0]["lead"] == first.lead_id


@pytest.mark.django_db
def test_a_batch_with_300_review_matches_uses_the_statements_of_a_batch_with_one(table, web):
    # given 300 known phones, and the caches of intake and of filing warm
    ingest(
        web,
        *[{"email": f"old{i}@acme.io", "phone": f"+49 30 100{i:04d}", **DE} for i in range(300)],
    )
    ingest(web, {"email": "warm@beta.io", "phone": "+49 30 1000299", **DE})

    def batch(area, matches):
        return [
            {
                "email": f"{area}.{i}@beta.io",
                "phone": f"+49 30 100{i:04d}" if i < matches else f"+49 {area} 200{i:04d}",
                **DE,
            }
            for i in range(1000)
        ]

    # when a batch of 1,000 brings one review match, another 300, a third none
    with CaptureQueriesContext(connection) as one:
        ingest(web, *batch("40", 1))
    with CaptureQueriesContext(connection) as many:
        results = ingest(web, *batch("69", 300))
    with CaptureQueriesContext(connection) as none:
        ingest(web, *batch("89", 0))

    # then the count does not grow with the matches: filing any item at all is one INSERT
    assert sum(r.outcome == "review" for r in results) == 300
    assert len(many.captured_queries) == len(one.captured_queries)
    assert len(none.captured_queries) == len(one.captured_queries) - 1


@pytest.mark.django_db(transaction=True)
def test_the_same_pair_from_sixteen_connections_files_one_item(table, web):
    # given a known lead in A
    ingest(web, {"email": "race@acme.io", **DE})
    workers = 16
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            ingest(web, {"email": "race@acme.io", **FR})
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    # when 16 connections submit the same person for B at once
    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then one lead in B and one review item
    assert errors == []
    with system_context("tests"):
        assert Lead.objects.filter(email_norm="race@acme.io").count() == 2
    assert len(reviews()) == 1


@pytest.mark.django_db
def test_the_review_item_and_its_audit_event_are_seen_only_with_both_markets(
    table, web, market_a, market_b
):
    ingest(web, {"email": "pat@acme.io", **DE})
    ingest(web, {"email": "pat@acme.io", **FR})
    [review] = reviews()

    def seen(markets):
        with market_context(market_ids=markets):
            items = ExceptionItem.objects.filter(pk=review.pk).count()
            events = AuditEvent.objects.filter(
                action="exception.filed", target_id=str(review.pk)
            ).count()
            return items, events

    assert seen([market_b.id]) == (0, 0)
    assert seen([market_a.id]) == (0, 0)
    assert seen([market_a.id, market_b.id]) == (1, 1)


@pytest.mark.django_db
def test_an_answer_names_the_candidate_only_to_a_caller_holding_its_market(
    table, web, market_b, key_all
):
    from leadops.markets.services import api_client_create

    with system_context("tests"):
        key_b = api_client_create(actor=SYSTEM, name="client-b", markets=[market_b]).key
    lead_api(key_all, {"source": "web", "email": "sam@acme.io", **DE})

    only_b = lead_api(key_b, {"source": "web", "email": "sam@acme.io", **FR}).json()
    both = lead_api(key_all, {"source": "web", "email": "sam@acme.io", "country": "FR"}).json()

    # B's client learns nothing about A: to it, a lead was created
    assert (only_b["outcome"], only_b["duplicate_of"]) == ("created", None)
    # the same person again in B merges; a caller holding both markets would have seen the review
    assert both["outcome"] == "merged"
    with system_context("tests"):
        first_answer = Lead.objects.get(pk=only_b["lead_id"])
    assert first_answer.market_id == market_b.id
    assert len(reviews()) == 1


@pytest.mark.django_db
def test_not_duplicates_is_never_flagged_again_until_the_mark_is_undone(table, web):
    [a] = ingest(web, {"email": "lee@acme.io", "phone": "+49 30 4444444", **DE})
    [b] = ingest(web, {"email": "lee@beta.io", "phone": "+49 30 4444444", **DE})
    with system_context("tests"):
        lead_a, lead_b = Lead.objects.get(pk=a.lead_id), Lead.objects.get(pk=b.lead_id)
        ExceptionItem.objects.filter(kind="duplicate_review").update(status="dismissed")

        # when a person says they are different people, a fresh check finds nothing
        mark = leads_mark_distinct(actor=SYSTEM, lead=lead_a, other=lead_b, note="twins")
        assert lead_duplicates_check(actor=SYSTEM, lead=lead_b) is None

        # and once the mark is undone, the pair is offered again
        duplicate_mark_remove(actor=SYSTEM, mark=mark)
        assert not DuplicateMark.objects.exists()
        item_id = lead_duplicates_check(actor=SYSTEM, lead=lead_b)
        assert item_id is not None
        assert ExceptionItem.objects.get(pk=item_id).details["candidates"][0]["lead"] == a.lead_id
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"duplicates.marked_distinct", "duplicates.mark_removed"} <= actions
