"""Changes to markets, the market table, calendars and API clients move the config generation
(core/config.py), so every process's cached copy is re-read at its next request. An API
client's `last_used_at` is not config: writing it moves nothing."""

from django.db import migrations

from leadops.core.config import config_watch

CLIENT_COLUMNS = ("name", "key_prefix", "key_hash", "all_markets", "is_active", "rate_limit")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_config_generation_rate_counts"),
        ("markets", "0003_calendars_market_table_teams"),
    ]

    operations = [
        config_watch("markets_market"),
        config_watch("markets_markettableversion"),
        config_watch("markets_markettablerow"),
        config_watch("markets_calendarversion"),
        config_watch("markets_apiclient", columns=CLIENT_COLUMNS),
        config_watch("markets_apiclient_markets"),
    ]
