"""Admin search stays an index lookup under RLS: `=` on a normalized column is leakproof, so
PostgreSQL may use it as an index condition; `iexact` (UPPER on both sides) is not."""

import pytest
from django.db import connection

from leadops.core.access import market_context
from leadops.leads.admin import lead_search_terms
from leadops.leads.models import Lead
from tests.leads.test_api_ingest import ADA, post

pytestmark = pytest.mark.django_db


def _plan(queryset):
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_equality_on_text_is_leakproof_and_upper_is_not():
    # RLS lets only leakproof predicates run ahead of the policy (and so use an index).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname, proleakproof FROM pg_proc WHERE oid IN"
            " ('texteq'::regproc, 'upper(text)'::regprocedure, 'lower(text)'::regprocedure)"
        )
        leakproof = dict(cursor.fetchall())

    assert leakproof == {"texteq": True, "upper": False, "lower": False}


def test_exact_normalized_search_is_an_index_condition_under_rls(table, key_a, market_a):
    post(key_a, ADA)
    terms = lead_search_terms(" ADA.Lovelace@Example.com ")

    with market_context(market_ids=[market_a.id]):
        plan = _plan(Lead.objects.filter(**terms).order_by())
        iexact = _plan(Lead.objects.filter(email_norm__iexact="x").order_by())

    # then the normalized email is an index condition, while UPPER() can only filter rows
    assert terms == {"email_norm": "ada.lovelace@example.com"}
    index_conditions = [line for line in plan.splitlines() if "Index Cond" in line]
    assert any("email_norm" in line for line in index_conditions), plan
    assert not any(
        "upper" in line.lower() for line in iexact.splitlines() if "Index Cond" in line
    ), iexact
