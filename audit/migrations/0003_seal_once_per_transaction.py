"""The sealer chains every pending event of a transaction in its first firing.

PostgreSQL constraint triggers fire per row, so a transaction that appends 1,000 events used to
lock the head, update it and insert a link 1,000 times at COMMIT. Now the first firing (for the
transaction's first event: ids grow with insertion order) locks the head once, reads every event
it can see that has no link yet, chains them in id order in memory and writes their links and
the new head in two statements. Later firings find their event linked and return after one
index probe.

Why "visible and unlinked" means "this transaction's": every other committed event was linked
in its own transaction (the link commits with it), uncommitted events of others are invisible,
and events of a rolled-back savepoint are gone. The head lock is taken first, so a writer
committing at the same moment is waited for and its links are seen by the next statement
(READ COMMITTED takes a new snapshot per statement), never chained twice.

The sealer runs as the tables' owner (SECURITY DEFINER), and audit_event's row-level security
is forced on the owner too; a read policy for the owner lets it see every pending event whatever
markets the writing transaction holds. The owner could switch RLS off anyway; the runtime role
gains nothing.
"""

from django.db import migrations

SEAL_ALL = """
CREATE OR REPLACE FUNCTION audit_seal_pending(first_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
-- The planner settings hold for this call only: the pending events are a short id range at
-- the end of a long table, and a misestimated generic plan would scan the whole log and all
-- its links at every commit. These force the pkey range and one link probe per event.
DECLARE
    prev bytea;
    last_seq bigint;
    ids bigint[] := '{}';
    seqs bigint[] := '{}';
    prevs bytea[] := '{}';
    chains bytea[] := '{}';
    pending record;
BEGIN
    SELECT head, seq INTO prev, last_seq FROM audit_chain_head WHERE id = 1 FOR UPDATE;
    FOR pending IN
        SELECT e.id, e.entry_hash FROM audit_event e
        WHERE e.id >= first_id
          AND NOT EXISTS (SELECT 1 FROM audit_link l WHERE l.event_id = e.id)
        ORDER BY e.id
    LOOP
        last_seq := last_seq + 1;
        ids := ids || pending.id;
        seqs := seqs || last_seq;
        prevs := prevs || prev;
        prev := sha256(prev || pending.entry_hash);
        chains := chains || prev;
    END LOOP;
    INSERT INTO audit_link (seq, event_id, prev_hash, chain_hash)
        SELECT * FROM unnest(seqs, ids, prevs, chains);
    UPDATE audit_chain_head SET seq = last_seq, head = prev WHERE id = 1;
END;
$$;
REVOKE ALL ON FUNCTION audit_seal_pending(bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION audit_seal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_link WHERE event_id = NEW.id) THEN
        PERFORM audit_seal_pending(NEW.id);
    END IF;
    RETURN NULL;  -- later firings: sealed by this transaction's first one
END;
$$;
"""

SEAL_EACH = """
CREATE OR REPLACE FUNCTION audit_seal() RETURNS trigger
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
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_event_second_market")]

    operations = [
        migrations.RunSQL(
            sql="CREATE POLICY audit_event_sealer_reads ON audit_event FOR SELECT"
            " TO CURRENT_USER USING (true)",
            reverse_sql="DROP POLICY IF EXISTS audit_event_sealer_reads ON audit_event",
        ),
        migrations.RunSQL(
            sql=SEAL_ALL,
            reverse_sql=SEAL_EACH + "DROP FUNCTION IF EXISTS audit_seal_pending(bigint);",
        ),
    ]
