from django.apps import AppConfig


class MarketsConfig(AppConfig):
    """Markets, the market table, business calendars, teams and market access grants."""

    name = "leadops.markets"
    label = "markets"
    verbose_name = "Markets"

    def ready(self) -> None:
        from leadops.core.ensure import ensure_register
        from leadops.core.labels import market_codes_register
        from leadops.markets.selectors import markets_info
        from leadops.markets.services import markets_ensure

        ensure_register("markets", markets_ensure)
        market_codes_register(markets_info)
