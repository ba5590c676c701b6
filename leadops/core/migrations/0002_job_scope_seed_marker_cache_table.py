"""Jobs get the scope of what they hold (under RLS), seed markers, and the database cache table.

The cache table is created here so that `migrate` alone prepares a database: without it every
API request failed (the throttle keeps its counts in the cache). `IF NOT EXISTS`, because
databases set up before this migration made it with `createcachetable`. With `CACHE_URL` set to
Redis the table simply stays empty.
"""

import django.contrib.postgres.fields
from django.db import migrations, models

from leadops.core.rls import rls_enable, scope_expression

CACHE_TABLE = """
CREATE TABLE IF NOT EXISTS leadops_cache (
    cache_key varchar(255) NOT NULL PRIMARY KEY,
    value text NOT NULL,
    expires timestamp with time zone NOT NULL
);
CREATE INDEX IF NOT EXISTS leadops_cache_expires ON leadops_cache (expires);
"""


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="job",
            name="scope_market_ids",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.BigIntegerField(),
                blank=True,
                default=list,
                help_text="Markets whose data the job holds; a reader needs all of them.",
                size=None,
            ),
        ),
        migrations.AddField(
            model_name="job",
            name="scope_global",
            field=models.BooleanField(
                default=True,
                help_text="The job holds data of no market (e.g. the whole audit chain).",
            ),
        ),
        migrations.AlterModelOptions(
            name="job",
            options={"base_manager_name": "objects", "ordering": ["-created_at", "-id"]},
        ),
        rls_enable(
            "core_job",
            expression=scope_expression("scope_market_ids", global_column="scope_global"),
        ),
        migrations.CreateModel(
            name="SeedMarker",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=120, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.RunSQL(
            sql=CACHE_TABLE, reverse_sql="DROP TABLE IF EXISTS leadops_cache", elidable=False
        ),
    ]
