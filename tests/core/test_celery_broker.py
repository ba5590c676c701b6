"""Beat's heartbeat task travels through the real broker to a real worker."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache

from leadops.celery import app
from leadops.core.services import HEARTBEAT_CACHE_KEY
from leadops.core.tasks import heartbeat

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.broker]


def test_heartbeat_sent_through_the_broker_is_run_by_a_worker():
    # given no heartbeat yet and a worker consuming from the configured broker
    cache.delete(HEARTBEAT_CACHE_KEY)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        # when the task is published as beat would publish it
        heartbeat.delay()

        # then the worker runs it and records the heartbeat
        deadline = time.monotonic() + 30
        while cache.get(HEARTBEAT_CACHE_KEY) is None and time.monotonic() < deadline:
            time.sleep(0.2)

    assert cache.get(HEARTBEAT_CACHE_KEY) is not None
    assert "core-heartbeat" in app.conf.beat_schedule
