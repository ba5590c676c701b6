"""Changes to queue ownership move the config generation (core/config.py): filing an exception
reads it cached."""

from django.db import migrations

from leadops.core.config import config_watch


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_config_generation_rate_counts"),
        ("queue", "0002_two_market_scope_escalated_to"),
    ]

    operations = [config_watch("queue_queueownership")]
