"""Request rates counted per process and shared in batches, not with a write per request.

DRF's stock throttle reads and rewrites one cache entry (a list of timestamps) on every request
of a client: with the database cache that is four statements on one hot row. Here each process
counts what it admits and adds its count to the shared store now and then (`RateStore.add`:
one statement, or one Redis round trip, per sync):

- at least every `API_THROTTLE_SYNC_SECONDS` (1 s) for a busy client;
- at once when a request would take more than 1/16 of the headroom the last sync left, so a
  small limit (2/min) is synced on every request and stays exact; a big one (600/min) is synced
  every few dozen requests. A client can overshoot only by what several processes admit in the
  same moment from the last 1/16 each.

Windows are fixed (a minute for "600/min", starting on the minute): a refused client is told
exactly when its window ends (`Retry-After`), and a burst can straddle two windows.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from leadops.core.sql import sql_run

if TYPE_CHECKING:
    from rest_framework.views import APIView

HEADROOM_SHARE = 16


class RateStore(Protocol):
    def add(self, key: str, *, window: int, delta: int, lifetime: int) -> int:
        """Add `delta` to the count of `key` in the window starting at `window` (epoch
        seconds) and return the count across every process."""


class DatabaseRateStore:
    """`core_ratecount` (UNLOGGED): one upsert, which also drops the key's older windows."""

    def add(self, key: str, *, window: int, delta: int, lifetime: int) -> int:
        rows = sql_run(
            "WITH gone AS (DELETE FROM core_ratecount WHERE key = %s AND window_start < %s)"
            " INSERT INTO core_ratecount AS r (key, window_start, count) VALUES (%s, %s, %s)"
            " ON CONFLICT (key, window_start) DO UPDATE SET count = r.count + EXCLUDED.count"
            " RETURNING count",
            [key, window, key, window, delta],
        )
        return int(rows[0][0])


class RedisRateStore:
    """INCRBY on the window's key, which expires after the window: one round trip."""

    def add(self, key: str, *, window: int, delta: int, lifetime: int) -> int:
        redis = caches["default"]
        name = redis.make_and_validate_key(f"{key}:{window}")
        client = redis._cache.get_client(name, write=True)  # type: ignore[attr-defined]
        pipe = client.pipeline()
        pipe.incrby(name, delta)
        pipe.expire(name, lifetime)
        total, _ = pipe.execute()
        return int(total)


def rate_store() -> RateStore:
    """Redis when the cache is Redis (CACHE_URL), otherwise the database table."""
    return RedisRateStore() if isinstance(caches["default"], RedisCache) else DatabaseRateStore()


@dataclass
class _Window:
    start: int
    shared: int = 0  # the window's count everywhere, as of the last sync
    unsynced: int = 0  # admitted here since the last sync (-1: a refusal to take back)
    synced_at: float = -math.inf


_windows: dict[str, _Window] = {}
_lock = threading.Lock()


def rates_forget() -> None:
    """Forget this process's unsynced counts (tests that reuse a key)."""
    with _lock:
        _windows.clear()


def rate_admit(key: str, *, limit: int, duration: int) -> float | None:
    """Admit one request for `key` (None) or refuse it: the seconds until its window ends."""
    now = time.time()
    start = int(now // duration) * duration
    with _lock:
        window = _windows.get(key)
        if window is None or window.start != start:
            window = _windows[key] = _Window(start=start)
        due = time.monotonic() - window.synced_at >= settings.API_THROTTLE_SYNC_SECONDS
        if not due and window.unsynced + 1 <= (limit - window.shared) / HEADROOM_SHARE:
            window.unsynced += 1
            return None
        # Sync, counting this request provisionally; a refusal takes it back at the next sync.
        window.shared = rate_store().add(
            key, window=start, delta=window.unsynced + 1, lifetime=2 * duration
        )
        window.unsynced, window.synced_at = 0, time.monotonic()
        if window.shared <= limit:
            return None
        window.unsynced = -1
        return start + duration - now


class SharedRateThrottle(BaseThrottle):
    """A DRF throttle over `rate_admit`; subclasses name the rate and the key."""

    scope = ""

    def get_rate(self, request: Request) -> str:
        raise NotImplementedError

    def get_key(self, request: Request, view: APIView) -> str:
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        limit, duration = parse_rate(self.get_rate(request))
        self._wait = rate_admit(
            f"throttle:{self.scope}:{self.get_key(request, view)}", limit=limit, duration=duration
        )
        return self._wait is None

    def wait(self) -> float | None:
        return max(math.ceil(self._wait), 1) if self._wait is not None else None


PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "600/min" → (600, 60): DRF's notation (the period's first letter counts)."""
    count, _, period = rate.partition("/")
    try:
        return int(count), PERIODS[period.strip()[:1].lower()]
    except (KeyError, ValueError):
        raise ValueError(f"{rate!r} is not a rate like 600/min (s, min, hour or day).") from None
