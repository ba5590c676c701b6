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


def test_tests_run_on_postgresql():
    from django.db import connection

    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 150000
