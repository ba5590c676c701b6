"""Fixtures for intake: sources, a published market table and API clients."""

from __future__ import annotations

import pytest

from leadops.core.access import system_context
from leadops.leads.sources import source_ensure
from leadops.markets.market_table import (
    market_table_draft_create,
    market_table_publish,
    market_table_row_add,
)
from leadops.markets.services import api_client_create
from tests.fixtures import SYSTEM


@pytest.fixture
def web(db):
    return source_ensure(actor=SYSTEM, slug="web", name="Website", kind="web_form")


@pytest.fixture
def partner(db):
    return source_ensure(actor=SYSTEM, slug="partner", name="Partner", default_region="DE")


@pytest.fixture
def table(market_a, market_b, web):
    """DE → market A, FR → market B; nothing else."""
    with system_context("tests"):
        draft = market_table_draft_create(actor=SYSTEM, note="test table")
        market_table_row_add(
            actor=SYSTEM, version=draft, kind="country", key="DE", country="DE", market=market_a
        )
        market_table_row_add(
            actor=SYSTEM, version=draft, kind="country", key="FR", country="FR", market=market_b
        )
        return market_table_publish(actor=SYSTEM, version=draft)


@pytest.fixture
def key_a(market_a):
    with system_context("tests"):
        return api_client_create(actor=SYSTEM, name="client-a", markets=[market_a]).key


@pytest.fixture
def key_all(db):
    with system_context("tests"):
        return api_client_create(actor=SYSTEM, name="client-all", all_markets=True).key


@pytest.fixture
def lead(table, key_a):
    """One lead in market A, as POST /api/v1/leads answered it."""
    from tests.leads.test_api_ingest import ADA, post

    return post(key_a, ADA).json()
