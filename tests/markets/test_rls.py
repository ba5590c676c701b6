"""Row-level security holds on its own: raw SQL, no ORM, as the runtime role."""

import pytest
from django.db import DatabaseError, connection, transaction

from leadops.core.access import MarketContextMissing, market_context, system_context
from leadops.markets.models import MarketNote
from leadops.markets.selectors import market_access_for, market_note_list

pytestmark = pytest.mark.django_db

# Tables that carry market_id but are deliberately not under RLS, with the reason.
RLS_EXEMPT: dict[str, str] = {
    "markets_apiclient_markets": (
        "an access-grant table (which client may see which market), not market data; the "
        "resolver reads it in system context and only RevOps edits it"
    ),
    "audit_event_scope": (
        "the markets an older audit event needs its reader to hold: audit_event's own policy "
        "reads it, so it must not hide rows from that check; it holds ids only, no event data"
    ),
}


def _fetch(query, params=()):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def test_suite_runs_as_the_runtime_role_without_any_bypass():
    row = _fetch(
        "SELECT current_user, r.rolsuper, r.rolbypassrls, pg_get_userbyid(c.relowner) "
        "FROM pg_roles r, pg_class c WHERE r.rolname = current_user "
        "AND c.relname = 'markets_marketnote'"
    )[0]

    assert row == ("leadops_app", False, False, "leadops_owner")


def test_every_table_with_a_market_column_is_under_forced_rls_with_a_policy():
    # given every table in the schema that has a market_id column (history tables included)
    tables = {
        name
        for (name,) in _fetch(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'market_id'"
        )
    } | {"markets_market"}  # scoped on its own id

    # then each has RLS enabled and forced and at least one policy
    rows = _fetch(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
        "(SELECT count(*) FROM pg_policies p WHERE p.tablename = c.relname) "
        "FROM pg_class c WHERE c.relname = ANY(%s)",
        [sorted(tables)],
    )
    unprotected = {
        name for name, enabled, forced, policies in rows if not (enabled and forced and policies)
    }
    assert "markets_marketnote" in tables
    assert unprotected - set(RLS_EXEMPT) == set()


def test_raw_sql_under_a_context_sees_only_that_market(notes, market_a):
    with market_context(market_ids=[market_a.id]):
        rows = _fetch("SELECT text FROM markets_marketnote ORDER BY id")

    assert rows == [("note in A",)]


def test_raw_sql_with_no_context_sees_nothing(notes):
    with transaction.atomic():
        assert _fetch("SELECT count(*) FROM markets_marketnote") == [(0,)]
        assert _fetch("SELECT count(*) FROM markets_market") == [(0,)]


def test_reset_setting_reads_as_no_access_not_an_error(notes):
    with transaction.atomic():
        _fetch("SELECT set_config('leadops.market_ids', '1', true)")
        with connection.cursor() as cursor:
            cursor.execute("RESET leadops.market_ids")
        assert _fetch("SELECT count(*) FROM markets_marketnote") == [(0,)]


def test_cross_market_insert_fails_with_check(notes, market_a, market_b):
    with (
        pytest.raises(DatabaseError, match="row-level security"),
        market_context(market_ids=[market_a.id]),
    ):
        _fetch(
            "INSERT INTO markets_marketnote (market_id, text, created_at) "
            "VALUES (%s, 'smuggled', now())",
            [market_b.id],
        )
    with system_context("tests"):
        assert not MarketNote.objects.filter(text="smuggled").exists()


def test_orm_query_with_no_context_raises():
    with pytest.raises(MarketContextMissing):
        list(MarketNote.objects.all())
    with pytest.raises(MarketContextMissing):
        MarketNote.objects.count()


@pytest.mark.django_db(transaction=True)
def test_context_outside_a_transaction_is_refused():
    from leadops.core.access import _apply

    with pytest.raises(MarketContextMissing, match=r"inside transaction\.atomic"):
        _apply(None, "default")


def test_selector_scopes_even_when_rls_is_open(notes, manager_a):
    # given RLS opened by system context
    access = market_access_for(manager_a)
    with system_context("tests"):
        # when the selector runs for a manager of A
        texts = [note.text for note in market_note_list(access=access)]

    # then the ORM filter alone keeps B's note out
    assert texts == ["note in A"]


@pytest.mark.django_db(transaction=True)
def test_context_does_not_outlive_its_transaction_on_a_reused_connection(notes, market_a):
    # given a request-like transaction that saw market A
    with market_context(market_ids=[market_a.id]):
        assert _fetch("SELECT count(*) FROM markets_marketnote") == [(1,)]
    backend_pid = _fetch("SELECT pg_backend_pid()")

    # when the next transaction runs on the same connection
    with transaction.atomic():
        setting = _fetch("SELECT coalesce(current_setting('leadops.market_ids', true), '')")
        count = _fetch("SELECT count(*) FROM markets_marketnote")

    # then nothing of A's context is left
    assert _fetch("SELECT pg_backend_pid()") == backend_pid
    assert setting == [("",)]
    assert count == [(0,)]
