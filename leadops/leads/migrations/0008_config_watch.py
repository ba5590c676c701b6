"""Changes to sources move the config generation (core/config.py): intake reads them cached."""

from django.db import migrations

from leadops.core.config import config_watch


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_config_generation_rate_counts"),
        ("leads", "0007_csv_imports"),
    ]

    operations = [config_watch("leads_source")]
