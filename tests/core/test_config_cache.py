"""Config read once per change: a committed change anywhere is seen at the next snapshot, an
uncommitted or rolled-back one never reaches another transaction, and bookkeeping writes
(an API client's last use) do not throw the cache away."""

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction

from leadops.core.access import system_context
from leadops.core.config import config_generation, config_snapshot
from leadops.leads.models import Source
from leadops.leads.selectors import sources_by_slug
from leadops.leads.sources import source_ensure
from leadops.markets.models import ApiClient
from leadops.markets.selectors import api_client_by_prefix, market_access_for
from leadops.markets.services import api_client_create, api_client_update
from tests.fixtures import SYSTEM
from tests.leads.test_api_ingest import api

pytestmark = pytest.mark.django_db(transaction=True)


def other_process_sql(statement, params=()):
    """A change committed by another connection, as another web process or the admin would."""
    info = psycopg.conninfo.conninfo_to_dict(settings.DATABASE_URL)
    info["dbname"] = str(connection.settings_dict["NAME"])
    with psycopg.connect(psycopg.conninfo.make_conninfo("", **info), autocommit=True) as other:
        other.execute(statement, params)


def generation():
    with config_snapshot():
        return config_generation()


def test_a_change_committed_elsewhere_is_seen_at_the_next_snapshot():
    # given sources cached in this process
    source_ensure(actor=SYSTEM, slug="feed", name="Feed")
    with config_snapshot():
        assert sources_by_slug()["feed"].name == "Feed"
    before = generation()

    # when another connection renames the source and commits
    other_process_sql("UPDATE leads_source SET name = 'Renamed feed' WHERE slug = 'feed'")

    # then the generation moved and the next snapshot reads the new name
    assert generation() != before
    with config_snapshot():
        assert sources_by_slug()["feed"].name == "Renamed feed"


def test_one_snapshot_keeps_one_config_even_if_a_change_commits_meanwhile():
    # given a snapshot that has read the sources
    source_ensure(actor=SYSTEM, slug="steady", name="Steady")
    with config_snapshot():
        first = sources_by_slug()["steady"].name

        # when a rename commits elsewhere during it
        other_process_sql("UPDATE leads_source SET name = 'Moved' WHERE slug = 'steady'")

        # then the snapshot still answers from what it read
        assert sources_by_slug()["steady"].name == first == "Steady"


def _rename_read_and_fail(slug, seen):
    with transaction.atomic():
        Source.objects.filter(slug=slug).update(name="Never committed")
        with config_snapshot():
            seen.append(sources_by_slug()[slug].name)
        raise RuntimeError("rolled back")


def test_a_rolled_back_change_never_reaches_the_next_transaction():
    # given a source, cached
    source_ensure(actor=SYSTEM, slug="kept", name="Kept")
    with config_snapshot():
        sources_by_slug()

    # when a transaction renames it, reads the config (caching its own uncommitted view), and
    # rolls back
    seen: list[str] = []
    with pytest.raises(RuntimeError):
        _rename_read_and_fail("kept", seen)
    assert seen == ["Never committed"]

    # then the next snapshot sees the committed name
    with config_snapshot():
        assert sources_by_slug()["kept"].name == "Kept"


def test_a_deactivated_key_is_refused_at_the_next_request_however_warm_the_cache(market_a):
    # given a client whose key and markets this process has cached by using them
    with system_context("tests"):
        issued = api_client_create(actor=SYSTEM, name="warm", markets=[market_a])
    assert api(issued.key).get("/api/v1/markets").status_code == 200

    # when it is deactivated in another transaction
    with system_context("tests"):
        client = ApiClient.objects.get(name="warm")
        api_client_update(
            actor=SYSTEM,
            client=client,
            markets=[market_a],
            all_markets=False,
            is_active=False,
            rate_limit="",
        )

    # then the very next request is refused
    response = api(issued.key).get("/api/v1/markets")
    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "This API client is deactivated."


def test_a_client_given_another_market_sees_it_at_the_next_snapshot(market_a, market_b):
    # given a client of market A, its access cached
    with system_context("tests"):
        api_client_create(actor=SYSTEM, name="growing", markets=[market_a])
        client = ApiClient.objects.get(name="growing")
    with config_snapshot():
        assert market_access_for(client).market_ids == {market_a.pk}

    # when it is given market B too
    with system_context("tests"):
        api_client_update(
            actor=SYSTEM,
            client=client,
            markets=[market_a, market_b],
            all_markets=False,
            is_active=True,
            rate_limit="",
        )

    # then its next snapshot resolves both
    with config_snapshot():
        assert market_access_for(client).market_ids == {market_a.pk, market_b.pk}


def test_writing_last_used_at_does_not_move_the_generation(market_a):
    # given a client
    with system_context("tests"):
        issued = api_client_create(actor=SYSTEM, name="busy", markets=[market_a])
    prefix = issued.key.split("_")[1]
    before = generation()

    # when its last use is written, as authentication does once a minute
    touch = "UPDATE markets_apiclient SET last_used_at = now() WHERE key_prefix = %s"
    other_process_sql(touch, [prefix])

    # then the cache stands, and a real change still moves it
    assert generation() == before
    change = "UPDATE markets_apiclient SET rate_limit = '5/min' WHERE key_prefix = %s"
    other_process_sql(change, [prefix])
    assert generation() != before
    with config_snapshot():
        cached = api_client_by_prefix(prefix)
        assert cached is not None
        assert cached.rate_limit == "5/min"


def test_an_unknown_key_prefix_is_not_remembered():
    # when keys with made-up prefixes are tried
    with config_snapshot():
        for n in range(5):
            assert api_client_by_prefix(f"nosuch{n}") is None

    # then nothing was kept for them
    from leadops.core import config

    assert not [name for name in config._cache if name.startswith("api_client:nosuch")]
