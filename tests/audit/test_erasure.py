import json

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.services import (
    audit_record,
    commitment,
    commitments_many,
    eraser_register,
    subject_ref,
)
from audit.verification import audit_verify_run
from leadops.core.access import system_context
from tests.audit.conftest import ACTOR

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "ada.lovelace@example.test"


def _bodies(action):
    with system_context("tests"), connection.cursor() as cursor:
        cursor.execute("SELECT body FROM audit_event WHERE action = %s", [action])
        return [bytes(row[0]).decode() for row in cursor.fetchall()]


def test_personal_data_enters_the_body_only_as_a_keyed_commitment():
    with transaction.atomic():
        audit_record(actor=ACTOR, action="test.personal", personal={"email": EMAIL})

    body = _bodies("test.personal")[-1]
    with transaction.atomic():
        expected = commitment(field="email", value=EMAIL)
    assert EMAIL not in body
    assert f'"personal":{{"email":"{expected}"}}' in body


def test_many_commitments_reuse_known_keys_and_make_the_missing_ones_in_one_statement():
    # Given a subject whose key exists (an earlier event committed to their email)
    with transaction.atomic():
        audit_record(actor=ACTOR, action="test.personal", personal={"email": EMAIL})
        known = commitment(field="email", value=EMAIL)

    # When a batch commits to that email, a new one and a phone
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        got = commitments_many(
            [("email", EMAIL), ("email", "grace@example.test"), ("phone", "+4930123456")]
        )

    # Then the known key gave the same commitment, the others got keys of their own, and it
    # took one statement (the lookup of known keys rides on the insert)
    assert got[("email", EMAIL)] == known
    with transaction.atomic():
        assert got[("email", "grace@example.test")] == commitment(
            field="email", value="grace@example.test"
        )
        assert got[("phone", "+4930123456")] == commitment(field="phone", value="+4930123456")
    assert len(set(got.values())) == 3
    assert len(queries) == 1


def test_erasure_scrubs_copies_deletes_the_key_and_the_chain_still_verifies(monkeypatch):
    # given an event committing to the subject, and an app holding a copy of their data
    with transaction.atomic():
        audit_record(actor=ACTOR, action="test.erasable", personal={"email": EMAIL})
        before = commitment(field="email", value=EMAIL)
    scrubbed_identities = []

    def scrub(*, identity, actor):
        scrubbed_identities.append(identity)
        return 3

    eraser_register("test_copies", scrub)

    # when the subject is erased
    call_command("erase_subject", "--email", EMAIL)

    # then the copy was scrubbed, the key is gone, the event has no personal data, and a new
    # key gives a different commitment (the old one is unlinkable)
    assert scrubbed_identities == [f"email:{EMAIL}"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM audit_subject_key WHERE subject_ref = %s",
            [subject_ref(f"email:{EMAIL}")],
        )
        assert cursor.fetchone()[0] == 0
    erased = _bodies("subject.erased")[-1]
    assert EMAIL not in erased
    assert "test_copies" in json.loads(erased)["data"]["erasers"]
    with transaction.atomic():
        assert commitment(field="email", value=EMAIL) != before
    assert audit_verify_run().ok
