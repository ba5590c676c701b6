"""Everything about a two-market item needs both markets: its notifications (a second market
column and the two-column policy) and its older audit events (rows in the insert-only
`audit_event_scope`, since audit events are never updated). Items remember whom they were
escalated to."""

import django.db.models.deletion
from django.db import migrations, models

from leadops.core.rls import policy_expression, rls_policy_replace

# As the owner in a migration, RLS is forced too: see every market for the backfill.
COVER_OLD_EVENTS = """
SELECT set_config('leadops.system', 'migration queue 0002: two-market audit scope', true);
INSERT INTO audit_event_scope (event_id, market_id)
SELECT e.id, i.second_market_id
FROM audit_event e
JOIN queue_exceptionitem i
  ON e.target_type = 'queue.exceptionitem' AND e.target_id = i.id::text
WHERE i.second_market_id IS NOT NULL AND e.second_market_id IS NULL
ON CONFLICT DO NOTHING;
UPDATE queue_notification n SET second_market_id = i.second_market_id
FROM queue_exceptionitem i
WHERE n.item_id = i.id AND i.second_market_id IS NOT NULL;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_event_second_market"),
        ("markets", "0003_calendars_market_table_teams"),
        ("queue", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="exceptionitem",
            name="escalated_to",
            field=models.CharField(
                blank=True,
                help_text="The owner group notified when it went overdue.",
                max_length=150,
            ),
        ),
        migrations.AddField(
            model_name="notification",
            name="second_market",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="markets.market",
            ),
        ),
        rls_policy_replace(
            "queue_notification",
            new=policy_expression(second_column="second_market_id"),
            old=policy_expression(),
        ),
        migrations.RunSQL(sql=COVER_OLD_EVENTS, reverse_sql=migrations.RunSQL.noop),
    ]
