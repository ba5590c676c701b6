"""The shared-count throttle: exact for small limits across processes, batched for big ones,
refusals not counted, Retry-After the end of the window; on the database and on Redis."""

import os
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadops.api import throttle
from leadops.api.throttle import DatabaseRateStore, RedisRateStore, rate_admit

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("CELERY_BROKER_URL", "")


class Process:
    """One web process's local state, swapped in around each call."""

    def __init__(self):
        self.windows = {}

    def admit(self, key, **rate):
        saved, throttle._windows = throttle._windows, self.windows
        try:
            return rate_admit(key, **rate)
        finally:
            throttle._windows = saved


def fresh_key():
    return f"test:{uuid.uuid4().hex}"


@pytest.fixture(params=["database", "redis"])
def store(request, settings):
    if request.param == "redis":
        if not REDIS_URL.startswith("redis://"):
            pytest.skip("needs Redis: CELERY_BROKER_URL=redis://… (CI has one)")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
            }
        }
    return request.param


def test_a_small_limit_is_exact_across_processes(store):
    # given two processes serving one client allowed five requests a minute
    key, one, two = fresh_key(), Process(), Process()

    # when they take turns with twelve requests
    answers = [(one if i % 2 else two).admit(key, limit=5, duration=60) for i in range(12)]

    # then exactly five pass, whichever process served them
    assert sum(answer is None for answer in answers) == 5
    assert answers[:5] == [None] * 5
    assert throttle.rate_store().__class__ is (
        RedisRateStore if store == "redis" else DatabaseRateStore
    )


def test_a_big_limit_syncs_once_per_interval_not_per_request(settings):
    # given a client allowed 600 a minute, synced at most every 60 s
    settings.API_THROTTLE_SYNC_SECONDS = 60
    key = fresh_key()
    assert rate_admit(key, limit=600, duration=60) is None  # the first request syncs

    # when ten more come
    with CaptureQueriesContext(connection) as captured:
        answers = [rate_admit(key, limit=600, duration=60) for _ in range(10)]

    # then they pass without a statement: their count waits in the process
    assert answers == [None] * 10
    assert len(captured) == 0


def test_requests_near_the_limit_are_synced_every_time(settings):
    # given a client allowed 32 a minute: 1/16 of the headroom is two requests
    settings.API_THROTTLE_SYNC_SECONDS = 60
    key = fresh_key()
    with CaptureQueriesContext(connection) as captured:
        answers = [rate_admit(key, limit=32, duration=60) for _ in range(40)]

    # then 32 pass, and every request once the headroom is small is synced
    assert sum(answer is None for answer in answers) == 32
    assert len(captured) >= 20


def test_a_refused_request_is_not_counted_and_says_when_the_window_ends(store):
    # given a client at its limit of two
    key, one, two = fresh_key(), Process(), Process()
    assert one.admit(key, limit=2, duration=60) is None
    assert one.admit(key, limit=2, duration=60) is None

    # when it is refused twice by one process
    waits = [one.admit(key, limit=2, duration=60) for _ in range(2)]

    # then the wait is what is left of the window, and the shared count still says two
    assert all(0 < wait <= 60 for wait in waits)
    if store == "database":
        with connection.cursor() as cursor:
            cursor.execute("SELECT sum(count) FROM core_ratecount WHERE key = %s", [key])
            total = cursor.fetchone()[0]
        assert total == 2 + 1  # the last refusal is taken back at the process's next sync
    assert two.admit(key, limit=2, duration=60) is not None
