"""Garbage-collector settings for the long-lived processes (web workers, Celery workers).

Everything a process builds while it starts (Django, the apps, URL maps, admin classes, about
150,000 containers) lives as long as the process. With CPython's defaults every 700 container
allocations trigger a young collection and every hundredth a full one that walks all of them
again: a 1,000-item intake call allocates a few hundred thousand containers and spent ~20 % of
its time in the collector (bench/ingest_batch.py, issue 14). Freezing what start-up made moves it
out of every later collection, and a larger first threshold collects the young generation ~30 times
less often; request objects form few cycles, so memory does not grow for it.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def collector_tune() -> None:
    """Call once a process has finished starting (after Django's setup, before serving)."""
    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
