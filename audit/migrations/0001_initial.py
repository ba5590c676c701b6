"""The audit tables, the sealer and the guard, in SQL that runs on PostgreSQL 15 and 16."""

from django.db import migrations, models

from leadops.core.rls import policy_expression

READ_SCOPE = policy_expression("market_id", global_rows=True)

TABLES = """
CREATE TABLE audit_event (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    actor_kind varchar(20) NOT NULL,
    actor_id varchar(64) NOT NULL,
    actor_label varchar(150) NOT NULL,
    origin varchar(10) NOT NULL,
    action varchar(64) NOT NULL,
    target_type varchar(64) NOT NULL DEFAULT '',
    target_id varchar(64) NOT NULL DEFAULT '',
    market_id bigint,
    body bytea NOT NULL,
    entry_hash bytea NOT NULL CHECK (length(entry_hash) = 32)
);
CREATE INDEX audit_event_market_idx ON audit_event (market_id, id);
CREATE INDEX audit_event_target_idx ON audit_event (target_type, target_id);

CREATE TABLE audit_link (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    event_id bigint NOT NULL UNIQUE REFERENCES audit_event (id),
    prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
    chain_hash bytea NOT NULL CHECK (length(chain_hash) = 32)
);

CREATE TABLE audit_chain_head (
    id smallint PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL,
    head bytea NOT NULL
);
INSERT INTO audit_chain_head (id, seq, head) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_checkpoint (
    seq bigint PRIMARY KEY,
    chain_hash bytea NOT NULL,
    note text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_subject_key (
    subject_ref varchar(64) PRIMARY KEY,
    key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

# The sealer runs at COMMIT (deferred), so the head row is locked only for the commit tail and
# concurrent writers queue there instead of forking: the locked read of the single head row is
# re-evaluated after the wait, unlike "the newest event FOR UPDATE" (research/technical.md §1.2).
SEALER = """
CREATE FUNCTION audit_seal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    prev bytea;
    next_seq bigint;
BEGIN
    SELECT head, seq + 1 INTO prev, next_seq FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    UPDATE audit_chain_head SET seq = next_seq, head = sha256(prev || NEW.entry_hash)
        WHERE id = 1;
    INSERT INTO audit_link (seq, event_id, prev_hash, chain_hash)
        VALUES (next_seq, NEW.id, prev, sha256(prev || NEW.entry_hash));
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER audit_event_seal AFTER INSERT ON audit_event
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_seal();

CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'audit tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_event_guard BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_event_guard_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_link_guard BEFORE UPDATE OR DELETE ON audit_link
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_link_guard_truncate BEFORE TRUNCATE ON audit_link
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoint_guard BEFORE UPDATE OR DELETE ON audit_checkpoint
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoint_guard_truncate BEFORE TRUNCATE ON audit_checkpoint
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
"""

# Events are read in the reader's markets (global ones with see_global); anyone in a transaction
# may append one for any market, since writing your own action must never fail on scope.
SECURITY = f"""
ALTER TABLE audit_event ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_event FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_event_market_scope ON audit_event FOR SELECT USING {READ_SCOPE};
CREATE POLICY audit_event_append ON audit_event FOR INSERT WITH CHECK (true);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'leadops_app') THEN
        REVOKE ALL ON audit_event, audit_link, audit_chain_head, audit_checkpoint,
            audit_subject_key FROM leadops_app;
        GRANT SELECT, INSERT ON audit_event TO leadops_app;
        GRANT SELECT ON audit_link, audit_chain_head TO leadops_app;
        GRANT SELECT, INSERT ON audit_checkpoint TO leadops_app;
        GRANT SELECT, INSERT, DELETE ON audit_subject_key TO leadops_app;
    END IF;
END $$;
"""

REVERSE = """
DROP TABLE IF EXISTS audit_subject_key, audit_checkpoint, audit_chain_head, audit_link,
    audit_event CASCADE;
DROP FUNCTION IF EXISTS audit_seal(), audit_refuse_change();
"""


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.RunSQL(sql=TABLES + SEALER + SECURITY, reverse_sql=REVERSE),
        # Django's picture of the (unmanaged) tables created above.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditChainHead",
                    fields=[
                        ("id", models.SmallIntegerField(primary_key=True, serialize=False)),
                        ("seq", models.BigIntegerField()),
                        ("head", models.BinaryField()),
                    ],
                    options={
                        "db_table": "audit_chain_head",
                        "managed": False,
                    },
                ),
                migrations.CreateModel(
                    name="AuditCheckpoint",
                    fields=[
                        ("seq", models.BigIntegerField(primary_key=True, serialize=False)),
                        ("chain_hash", models.BinaryField()),
                        ("note", models.TextField()),
                        ("created_at", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "audit_checkpoint",
                        "ordering": ["-seq"],
                        "managed": False,
                    },
                ),
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("occurred_at", models.DateTimeField()),
                        ("actor_kind", models.CharField(max_length=20)),
                        ("actor_id", models.CharField(max_length=64)),
                        ("actor_label", models.CharField(max_length=150)),
                        ("origin", models.CharField(max_length=10)),
                        ("action", models.CharField(max_length=64)),
                        ("target_type", models.CharField(blank=True, max_length=64)),
                        ("target_id", models.CharField(blank=True, max_length=64)),
                        ("market_id", models.BigIntegerField(blank=True, null=True)),
                        ("body", models.BinaryField()),
                        ("entry_hash", models.BinaryField()),
                    ],
                    options={
                        "db_table": "audit_event",
                        "ordering": ["-id"],
                        "managed": False,
                    },
                ),
                migrations.CreateModel(
                    name="AuditLink",
                    fields=[
                        ("seq", models.BigIntegerField(primary_key=True, serialize=False)),
                        ("prev_hash", models.BinaryField()),
                        ("chain_hash", models.BinaryField()),
                    ],
                    options={
                        "db_table": "audit_link",
                        "managed": False,
                    },
                ),
                migrations.CreateModel(
                    name="SubjectKey",
                    fields=[
                        (
                            "subject_ref",
                            models.CharField(max_length=64, primary_key=True, serialize=False),
                        ),
                        ("key", models.BinaryField()),
                        ("created_at", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "audit_subject_key",
                        "managed": False,
                    },
                ),
            ],
        ),
    ]
