import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from leadops.core.access import system_context
from leadops.markets.calendars import calendar_version_create
from leadops.markets.config import ConfigError, config_export, config_import
from leadops.markets.market_table import (
    market_table_draft_create,
    market_table_publish,
    market_table_row_add,
)
from leadops.markets.models import CalendarVersion, Market, Team
from leadops.markets.services import market_create
from leadops.markets.teams import out_of_office_add, team_ensure, team_member_set
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

USERNAMES = ["ana", "ben"]


def _build_organisation():
    from leadops.leads.sources import source_ensure

    source_ensure(actor=SYSTEM, slug="web", name="Web")
    for username in USERNAMES:
        UserFactory.create(username=username)
    with system_context("tests"):
        de = market_create(actor=SYSTEM, code="DE", name="Germany", timezone="Europe/Berlin")
        au = market_create(actor=SYSTEM, code="AU", name="Australia", timezone="Australia/Sydney")
        calendar_version_create(
            actor=SYSTEM,
            market=de,
            hours="Mon-Fri 08:00-18:00\nSat 10:00-12:00",
            holidays=[["2026-12-25", "Christmas Day"]],
            holiday_source="DE",
            note="x",
        )
        team = team_ensure(actor=SYSTEM, market=de, name="Inbound")
        from django.contrib.auth.models import User

        ana = team_member_set(
            actor=SYSTEM,
            team=team,
            user=User.objects.get(username="ana"),
            weight=3,
            hours="Mon 07:00-15:00",
            slack_handle="@ana",
        )
        team_member_set(actor=SYSTEM, team=team, user=User.objects.get(username="ben"), cap_open=9)
        out_of_office_add(
            actor=SYSTEM,
            member=ana,
            starts_at=datetime(2026, 12, 1, tzinfo=UTC),
            ends_at=datetime(2026, 12, 8, tzinfo=UTC),
            note="away",
        )
        draft = market_table_draft_create(actor=SYSTEM, note="first")
        for kind, key, country, market in [
            ("country", "DE", "DE", de),
            ("postal", "10", "DE", au),
            ("source", "web", "", au),
        ]:
            market_table_row_add(
                actor=SYSTEM, version=draft, kind=kind, key=key, country=country, market=market
            )
        market_table_publish(actor=SYSTEM, version=draft)


# The owner alias is allowed here only to empty the database the way a fresh one is empty.
@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_export_import_into_an_empty_database_export_is_byte_identical():
    # given an organisation, exported
    _build_organisation()
    first = config_export()

    # when the database is emptied (only the rows every database has come back) and the file
    # is imported after the people are created again
    call_command("flush", "--noinput", database="owner", verbosity=0)
    from leadops.leads.sources import source_ensure

    source_ensure(actor=SYSTEM, slug="web", name="Web")
    for username in USERNAMES:
        UserFactory.create(username=username)
    config_import(actor=SYSTEM, document=json.loads(first))

    # then exporting again gives the same bytes, and a second import changes nothing
    assert config_export() == first
    assert config_import(actor=SYSTEM, document=json.loads(first)) == []


@pytest.mark.django_db
def test_import_twice_changes_nothing_the_second_time():
    _build_organisation()
    document = json.loads(config_export())
    document["markets"][0]["teams"] = [{"name": "Night", "members": []}]

    first = config_import(actor=SYSTEM, document=document)
    second = config_import(actor=SYSTEM, document=document)

    assert any("Night" in change for change in first)
    assert second == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="v0"), "$.format"),
        (lambda d: d["markets"][1].pop("timezone"), "$.markets[1].timezone: missing"),
        (lambda d: d["markets"][1]["calendar"].update(hours="Funday 9-5"), "$.markets[1].calendar"),
        (
            lambda d: d["markets"][1]["teams"][0]["members"][0].update(username="ghost"),
            "$.markets[1].teams[0].members[0].username: no user 'ghost'",
        ),
        (lambda d: d["market_table"]["rows"][0].update(kind="planet"), "rows[0].kind"),
    ],
)
def test_a_malformed_file_changes_nothing_and_names_the_first_error(mutate, message):
    _build_organisation()
    document = json.loads(config_export())
    document["markets"].append(
        {"code": "NEW", "name": "New", "timezone": "UTC", "calendar": None, "teams": []}
    )
    mutate(document)
    with system_context("tests"):
        versions_before = CalendarVersion.objects.count()

    with pytest.raises(ConfigError) as refused:
        config_import(actor=SYSTEM, document=document)

    assert message in str(refused.value)
    with system_context("tests"):
        assert not Market.objects.filter(code="NEW").exists()
        assert CalendarVersion.objects.count() == versions_before


@pytest.mark.django_db
def test_command_round_trip_and_error(tmp_path):
    _build_organisation()
    path = tmp_path / "markets.json"
    call_command("markets", "export", str(path))
    path.write_text(path.read_text().replace('"Inbound"', '"Inbound DE"'))

    call_command("markets", "import", str(path))
    with system_context("tests"):
        assert Team.objects.filter(name="Inbound DE").exists()

    path.write_text("{not json")
    with pytest.raises(CommandError, match="Expecting property name"):
        call_command("markets", "import", str(path))
