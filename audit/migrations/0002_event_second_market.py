"""Events about objects that span two markets are readable only by holders of both.

New events carry the second market in a column (part of the signed body, compared by
`audit_verify --deep`). Older events are never updated (the guard triggers stay on): the
insert-only side table `audit_event_scope` adds the markets their reader must also hold, and the
read policy checks both. Apps fill the side table for their own objects in their migrations.
"""

from django.db import migrations, models

from leadops.core.rls import MARKETS, SEE_GLOBAL, SYSTEM

READ_SCOPE = (
    f"({SYSTEM} OR ("
    f"(market_id = ANY ({MARKETS}) OR (market_id IS NULL AND {SEE_GLOBAL}))"
    f" AND (second_market_id IS NULL OR second_market_id = ANY ({MARKETS}))"
    " AND NOT EXISTS (SELECT 1 FROM audit_event_scope s WHERE s.event_id = audit_event.id"
    f" AND NOT coalesce(s.market_id = ANY ({MARKETS}), false))))"
)

FORWARD = f"""
ALTER TABLE audit_event ADD COLUMN second_market_id bigint;

CREATE TABLE audit_event_scope (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id bigint NOT NULL REFERENCES audit_event (id),
    market_id bigint NOT NULL,
    UNIQUE (event_id, market_id)
);
CREATE TRIGGER audit_event_scope_guard BEFORE UPDATE OR DELETE ON audit_event_scope
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_event_scope_guard_truncate BEFORE TRUNCATE ON audit_event_scope
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

DROP POLICY audit_event_market_scope ON audit_event;
CREATE POLICY audit_event_market_scope ON audit_event FOR SELECT USING {READ_SCOPE};

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'leadops_app') THEN
        REVOKE ALL ON audit_event_scope FROM leadops_app;
        GRANT SELECT ON audit_event_scope TO leadops_app;
    END IF;
END $$;
"""

REVERSE = f"""
DROP POLICY audit_event_market_scope ON audit_event;
CREATE POLICY audit_event_market_scope ON audit_event FOR SELECT
    USING ({SYSTEM} OR (market_id = ANY ({MARKETS}) OR (market_id IS NULL AND {SEE_GLOBAL})));
DROP TABLE audit_event_scope;
ALTER TABLE audit_event DROP COLUMN second_market_id;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunSQL(sql=FORWARD, reverse_sql=REVERSE),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="auditevent",
                    name="second_market_id",
                    field=models.BigIntegerField(blank=True, null=True),
                ),
                migrations.CreateModel(
                    name="AuditEventScope",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "event",
                            models.ForeignKey(
                                on_delete=models.deletion.DO_NOTHING,
                                related_name="+",
                                to="audit.auditevent",
                            ),
                        ),
                        ("market_id", models.BigIntegerField()),
                    ],
                    options={"db_table": "audit_event_scope", "managed": False},
                ),
            ]
        ),
    ]
