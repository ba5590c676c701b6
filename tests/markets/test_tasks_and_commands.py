import pytest
from celery import shared_task
from django.core.management import CommandError, call_command
from django.db import connection

from leadops.core.access import access_current

pytestmark = pytest.mark.django_db


@shared_task(name="tests.context_probe")
def context_probe() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(current_setting('leadops.market_ids', true), ''), "
            "coalesce(current_setting('leadops.system', true), '')"
        )
        return list(cursor.fetchone())


def test_task_context_does_not_leak_into_the_next_task(market_a):
    scoped = context_probe.apply(kwargs={"market_ids": [market_a.id]}).get()
    system = context_probe.apply().get()

    assert scoped == [str(market_a.id), ""]
    assert system == ["", "task:tests.context_probe"]
    assert access_current() is None


def test_createapiclient_prints_the_key_once(market_a, capsys):
    call_command("createapiclient", "feed", "--markets", "AAA")

    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("lo_")


def test_createapiclient_names_unknown_markets(market_a):
    with pytest.raises(CommandError, match="unknown market code"):
        call_command("createapiclient", "feed", "--markets", "AAA,ZZZ")
