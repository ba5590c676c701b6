"""Words for ids, for pages: market codes, readable targets, times in a market's zone.

Core sits below markets, so it cannot look markets up itself: the markets app registers the
lookup (`market_codes_register`) in its AppConfig.ready(), like every registry here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.apps import apps
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

MarketInfo = tuple[str, str]  # (code, IANA time zone)
MarketLookup = Callable[[], dict[int, MarketInfo]]
_market_lookup: list[MarketLookup] = []
# Every market's code and zone, kept for a minute: a page naming markets on each of its rows
# makes at most one query for all of them (codes never change; a new market is a cache miss).
_cache: dict[str, object] = {"at": 0.0, "markets": {}}
_cache_lock = threading.Lock()
CACHE_SECONDS = 60.0


def market_codes_register(lookup: MarketLookup) -> None:
    """`lookup()` returns {market id: (code, time zone)} for every market."""
    _market_lookup[:] = [lookup]


def markets_info(ids: Iterable[int | None]) -> dict[int, MarketInfo]:
    """Code and time zone of each market id."""
    wanted = {i for i in ids if i is not None}
    if not wanted or not _market_lookup:
        return {}
    with _cache_lock:
        known: dict[int, MarketInfo] = _cache["markets"]  # type: ignore[assignment]
        stale = time.monotonic() - float(_cache["at"]) > CACHE_SECONDS  # type: ignore[arg-type]
        if stale or not wanted <= known.keys():
            known = _market_lookup[0]()
            _cache.update(at=time.monotonic(), markets=known)
    return {i: known[i] for i in wanted if i in known}


def markets_info_forget() -> None:
    """Drop the cached codes (tests; a market's time zone changed and must show at once)."""
    with _cache_lock:
        _cache.update(at=0.0, markets={})


def market_code(market_id: int | None) -> str:
    if market_id is None:
        return "global"
    return markets_info([market_id]).get(market_id, (f"market {market_id}", ""))[0]


def market_zone(market_id: int | None) -> str:
    if market_id is None:
        return ""
    return markets_info([market_id]).get(market_id, ("", ""))[1]


def market_codes_text(first: int | None, second: int | None = None) -> str:
    """ "DE", "DE + US-EAST", or "global" for an event of no market."""
    if first is None:
        return "global"
    return " + ".join(market_code(i) for i in (first, second) if i is not None)


def model_label(target_type: str) -> str:
    """ "markets.marketnote" → "Market note" (the model's own name), else the text as is."""
    try:
        model = apps.get_model(target_type)
    except (LookupError, ValueError):
        return target_type
    name = str(model._meta.verbose_name)
    return name[:1].upper() + name[1:]


def target_link(target_type: str, target_id: str) -> str:
    """ "Market note #4", linked to its admin page when it has one."""
    if not target_type:
        return "—"
    label = f"{model_label(target_type)} #{target_id}"
    app_label, _, model = target_type.partition(".")
    try:
        url = reverse(f"admin:{app_label}_{model}_change", args=[target_id])
    except NoReverseMatch:
        return label
    return format_html('<a href="{}">{}</a>', url, label)


def local_time(moment: datetime | None, zone: str = "") -> str:
    """A time in the market's zone with the zone's name, the UTC time on hover:
    "2026-12-03 11:38 CET". Without a zone: the server's."""
    if moment is None:
        return "—"
    here = moment.astimezone(ZoneInfo(zone)) if zone else timezone.localtime(moment)
    utc = moment.astimezone(ZoneInfo("UTC"))
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat(),
        utc.strftime("%Y-%m-%d %H:%M"),
        here.strftime("%Y-%m-%d %H:%M %Z"),
    )


def duration(seconds: float | None) -> str:
    """A span of time as people read it at a glance: "12 min", "3 h 05 min", "2 d 4 h" (past
    48 hours), "—" for none. Wall-clock or business time alike: the caller says which."""
    if seconds is None:
        return "—"
    minutes = int(abs(seconds) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
