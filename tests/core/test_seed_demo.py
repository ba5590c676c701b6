import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command

from leadops.demo import DEMO_PASSWORD, DEMO_USERS

pytestmark = pytest.mark.django_db


def test_seed_demo_twice_leaves_one_working_login_per_demo_user():
    # given a demo user whose password someone changed
    call_command("seed_demo", "--quiet-logins")
    changed = User.objects.get(username="revops")
    changed.set_password("something else entirely")
    changed.save()

    # when seed_demo runs again
    call_command("seed_demo", "--quiet-logins")

    # then there is still exactly one of each, and every printed login works again
    usernames = [username for username, *_ in DEMO_USERS]
    assert User.objects.filter(username__in=usernames).count() == len(usernames)
    for username in usernames:
        assert authenticate(username=username, password=DEMO_PASSWORD) is not None
    assert User.objects.get(username="admin").is_superuser
    assert not User.objects.get(username="manager").is_superuser
    assert User.objects.get(username="manager").is_staff


def test_seed_demo_manager_sees_only_de_and_revops_sees_all():
    from leadops.markets.selectors import market_access_for

    call_command("seed_demo", "--quiet-logins")
    call_command("seed_demo", "--quiet-logins")

    manager = market_access_for(User.objects.get(username="manager"))
    revops = market_access_for(User.objects.get(username="revops"))
    from leadops.core.access import system_context
    from leadops.markets.models import Market, MarketNote

    with system_context("tests"):
        codes = {m.id: m.code for m in Market.objects.all()}
        assert MarketNote.objects.count() == 4  # not duplicated by the second run
    assert {codes[i] for i in manager.market_ids} == {"DE"}
    assert {codes[i] for i in revops.market_ids} == {"DE", "FR", "US-EAST", "AU", "UNASSIGNED"}
    assert revops.see_global
    assert not manager.see_global


def test_tests_run_on_postgresql():
    from django.db import connection

    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 150000
