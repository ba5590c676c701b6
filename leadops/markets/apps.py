from django.apps import AppConfig


class MarketsConfig(AppConfig):
    """Markets, the market table, business calendars, teams and market access grants."""

    name = "leadops.markets"
    label = "markets"
    verbose_name = "Markets"
