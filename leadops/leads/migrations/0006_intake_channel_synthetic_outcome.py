"""Submissions name their channel; leads can be synthetic (test leads); idempotency keys keep the
outcome they answered instead of an HTTP status (the door knows no HTTP)."""

from django.db import migrations, models

# Finished keys answered with a body naming its outcome: keep that, then drop the status.
OUTCOME_FROM_BODY = """
UPDATE leads_idempotencykey SET outcome = coalesce(response_body::jsonb ->> 'outcome', '')
WHERE state = 'done' AND response_body LIKE '{%'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0005_source_touch_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencykey",
            name="outcome",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.RunSQL(OUTCOME_FROM_BODY, reverse_sql=migrations.RunSQL.noop),
        migrations.RemoveField(
            model_name="idempotencykey",
            name="response_status",
        ),
        migrations.AddField(
            model_name="historicallead",
            name="is_synthetic",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="lead",
            name="is_synthetic",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="submission",
            name="channel",
            field=models.CharField(
                blank=True,
                choices=[
                    ("api", "API (one lead)"),
                    ("batch", "API (batch)"),
                    ("source", "Source format (API)"),
                    ("form", "Public form"),
                    ("seed", "Demo seed"),
                    ("csv", "CSV import"),
                ],
                help_text="the door it came through",
                max_length=10,
            ),
        ),
    ]
