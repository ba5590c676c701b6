"""seed_demo: made once, never undoing people, and a second run that writes nothing."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection

from leadops.core.access import system_context
from leadops.core.models import SeedMarker
from leadops.demo import DEMO_NOTES, DEMO_PASSWORD, DEMO_USERS
from leadops.markets.models import Market, MarketNote
from leadops.markets.services import market_note_delete
from leadops.queue.models import ExceptionItem
from leadops.queue.services import exception_dismiss, exception_resolve

pytestmark = pytest.mark.django_db


def table_fingerprints() -> dict[str, str]:
    """Every public table's row count and a hash of its rows: equal means no row changed."""
    fingerprints = {}
    with system_context("tests"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                f' FROM "{table}" t'
            )
            count, digest = cursor.fetchone()
            fingerprints[table] = f"{count}:{digest}"
    return fingerprints


def chain_head() -> tuple[int, bytes]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, head FROM audit_chain_head WHERE id = 1")
        seq, head = cursor.fetchone()
    return seq, bytes(head)


def flagged_item(note_index: int) -> ExceptionItem:
    code, text = DEMO_NOTES[note_index]
    note = MarketNote.objects.get(market__code=code, text=text)
    return ExceptionItem.objects.get(
        kind="note_flagged", target_type="markets.marketnote", target_id=str(note.pk)
    )


@pytest.mark.django_db(transaction=True)
def test_a_second_seed_changes_no_row_and_leaves_the_chain_head_where_it_was():
    # given a seeded database (committed, so its audit events are sealed into the chain)
    call_command("seed_demo", "--quiet-logins")
    before, head_before = table_fingerprints(), chain_head()

    # when the seed runs again, with no worker or beat running
    call_command("seed_demo", "--quiet-logins")

    # then no table gained, lost or changed a row, and no audit event was appended
    assert table_fingerprints() == before
    assert chain_head() == head_before
    assert head_before[0] > 0
    # the SLA rows are among them: the demo policies (one version each, none added by the
    # second run) and the clocks of the demo leads
    assert before["sla_policy"].startswith("4:")
    assert before["sla_policyversion"].startswith("4:")
    assert not before["sla_timer"].startswith("0:")


def test_the_seed_never_undoes_what_people_resolved_dismissed_deleted_or_changed():
    # given a seeded demo where a manager resolved one flag, dismissed another, RevOps deleted
    # the flagged AU note, and revops changed their password
    call_command("seed_demo", "--quiet-logins")
    manager = User.objects.get(username="manager")
    revops = User.objects.get(username="revops")
    with system_context("tests"):
        exception_resolve(actor=manager, item=flagged_item(0), resolution="keep")
        exception_dismiss(actor=manager, item=flagged_item(1), note="old news")
        code, text = DEMO_NOTES[3]
        market_note_delete(actor=revops, note=MarketNote.objects.get(market__code=code, text=text))
    revops.set_password("something else entirely")
    revops.save()

    # when the seed runs again
    call_command("seed_demo", "--quiet-logins")

    # then nothing came back: no new flag on the worked notes, the deleted note stays deleted,
    # and the changed password stays changed
    with system_context("tests"):
        assert flagged_item(0).status == ExceptionItem.Status.RESOLVED
        assert flagged_item(1).status == ExceptionItem.Status.DISMISSED
        assert ExceptionItem.objects.filter(kind="note_flagged").count() == 3
        assert not MarketNote.objects.filter(text=DEMO_NOTES[3][1]).exists()
        assert MarketNote.objects.count() == len(DEMO_NOTES) - 1
    assert authenticate(username="revops", password=DEMO_PASSWORD) is None
    assert authenticate(username="manager", password=DEMO_PASSWORD) is not None


def test_a_database_seeded_before_markers_is_marked_not_seeded_again():
    # given a demo seeded by an older version (no markers) where a flag was resolved since
    call_command("seed_demo", "--quiet-logins")
    with system_context("tests"):
        exception_resolve(
            actor=User.objects.get(username="manager"), item=flagged_item(0), resolution="keep"
        )
    SeedMarker.objects.all().delete()
    before = {k: v for k, v in table_fingerprints().items() if k != "core_seedmarker"}

    # when the new seed runs
    call_command("seed_demo", "--quiet-logins")

    # then it recognised every piece and made nothing again, not even the resolved flag
    after = {k: v for k, v in table_fingerprints().items() if k != "core_seedmarker"}
    assert after == before
    assert SeedMarker.objects.filter(key="flag:0").exists()


def test_seed_demo_gives_one_working_login_per_demo_user():
    call_command("seed_demo", "--quiet-logins")
    call_command("seed_demo", "--quiet-logins")

    usernames = [username for username, *_ in DEMO_USERS]
    assert User.objects.filter(username__in=usernames).count() == len(usernames)
    for username in usernames:
        assert authenticate(username=username, password=DEMO_PASSWORD) is not None
    assert User.objects.get(username="admin").is_superuser
    assert not User.objects.get(username="manager").is_superuser
    assert User.objects.get(username="manager").is_staff
    # sales reps exist for the teams but cannot log in
    assert not User.objects.get(username="lena").has_usable_password()


def test_seed_demo_manager_sees_only_de_and_revops_sees_all():
    from leadops.markets.selectors import market_access_for

    call_command("seed_demo", "--quiet-logins")
    call_command("seed_demo", "--quiet-logins")

    manager = market_access_for(User.objects.get(username="manager"))
    revops = market_access_for(User.objects.get(username="revops"))
    with system_context("tests"):
        codes = {m.id: m.code for m in Market.objects.all()}
        assert MarketNote.objects.count() == 4  # not duplicated by the second run
    assert {codes[i] for i in manager.market_ids} == {"DE"}
    assert {codes[i] for i in revops.market_ids} == {"DE", "FR", "US-EAST", "AU", "UNASSIGNED"}
    assert revops.see_global
    assert not manager.see_global


def test_tests_run_on_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 150000
