import subprocess
import sys

import pytest
from django.db import connections


@pytest.mark.django_db(databases=["default", "owner"])
@pytest.mark.parametrize("alias", ["default", "owner"])
def test_connections_run_without_jit_and_as_their_role(alias):
    # Given the two connections the settings define (the runtime role and the owner)
    # When the server is asked what it runs with
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), current_user")
        jit, user = cursor.fetchone()

    # Then JIT compilation is off (it cost intake's lookup 46 ms for 2 ms of work) and the
    # owner alias still switches role (its options were extended, not replaced)
    assert jit == "off"
    assert user == {"default": "leadops_app", "owner": "leadops_owner"}[alias]


def test_a_web_worker_freezes_its_start_up_objects_and_collects_less_often():
    # Given a fresh interpreter
    # When it loads the WSGI application as gunicorn does
    probe = (
        "import gc, leadops.wsgi; "
        "print(gc.get_freeze_count() > 50_000, gc.get_threshold()[0], gc.get_count()[0] < 1000)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()

    # Then start-up's objects are frozen out of later collections and the young generation
    # is collected every 20,000 allocations, not every 700
    assert out == ["True", "20000", "True"]
