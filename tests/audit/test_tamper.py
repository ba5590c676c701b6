"""Every tamper is tried twice: naively (verify names the first altered seq) and by an owner who
rebuilds every later link and the head (only the checkpoints kept outside the database catch
that; `--checkpoints` names the first one that no longer matches)."""

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command

from audit.services import audit_checkpoint_create, checkpoint_file
from audit.verification import audit_verify_run
from tests.audit.conftest import (
    ACTOR,
    as_superuser,
    chain_order,
    head,
    record_events,
    rewrite_chain,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("restore_audit_log")]


@pytest.fixture(autouse=True)
def _checkpoint_dir(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"


@pytest.fixture
def log(superuser_sql):
    """Ten events, a checkpoint after the fifth and one after the tenth, both exported."""
    record_events(5)
    first = audit_checkpoint_create(actor=ACTOR)
    record_events(5)
    second = audit_checkpoint_create(actor=ACTOR)
    assert first is not None
    assert second is not None
    seq, _ = head(superuser_sql)
    # the checkpoints themselves add an event each: seq is the head now
    return {"first_cp": first.seq, "second_cp": second.seq, "head": seq, "sql": superuser_sql}


def _event_id(sql, seq):
    return sql.execute("SELECT event_id FROM audit_link WHERE seq = %s", [seq]).fetchone()[0]


def _edit_body(sql, seq):
    event_id = _event_id(sql, seq)
    body = json.loads(
        bytes(sql.execute("SELECT body FROM audit_event WHERE id = %s", [event_id]).fetchone()[0])
    )
    body["data"] = {"forged": True}
    new = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    as_superuser(
        sql,
        "UPDATE audit_event SET body = %s, entry_hash = %s WHERE id = %s",
        [new, hashlib.sha256(new).digest(), event_id],
    )


def _forge_event(sql):
    """A forged event inserted with the sealer off, so it gets no link of its own."""
    body = b'{"action":"test.forged"}'
    sql.execute("SET session_replication_role = replica")
    try:
        return sql.execute(
            "INSERT INTO audit_event (occurred_at, actor_kind, actor_id, actor_label, origin,"
            " action, body, entry_hash) VALUES (now(), 'system', 'x', 'x', 'command',"
            " 'test.forged', %s, %s) RETURNING id",
            [body, hashlib.sha256(body).digest()],
        ).fetchone()
    finally:
        sql.execute("SET session_replication_role = origin")


def _verify_with_file():
    return audit_verify_run(checkpoints_file=checkpoint_file())


def _drop_db_checkpoints(sql):
    as_superuser(sql, "DELETE FROM audit_checkpoint")


def _tampered_seq(log):
    return log["first_cp"] - 2  # inside the range both checkpoints cover


# --- naive tampering: the chain itself names the first bad seq ---------------------------------


def test_naive_body_edit_names_its_seq(log):
    seq = _tampered_seq(log)
    event_id = _event_id(log["sql"], seq)
    as_superuser(
        log["sql"], "UPDATE audit_event SET body = body || '\\x20'::bytea WHERE id = %s", [event_id]
    )

    result = audit_verify_run()

    assert (result.ok, result.first_bad_seq) == (False, seq)
    assert "entry hash" in result.problem


def test_naive_body_edit_with_rehashed_entry_breaks_the_link(log):
    seq = _tampered_seq(log)
    _edit_body(log["sql"], seq)

    result = audit_verify_run()

    assert (result.ok, result.first_bad_seq) == (False, seq)
    assert "chain_hash" in result.problem


def test_naive_column_edit_is_caught_by_deep(log):
    seq = _tampered_seq(log)
    as_superuser(
        log["sql"],
        "UPDATE audit_event SET action = 'test.innocent' WHERE id = %s",
        [_event_id(log["sql"], seq)],
    )

    assert audit_verify_run().ok  # the chain holds: only the column moved
    result = audit_verify_run(deep=True)

    assert (result.ok, result.first_bad_seq) == (False, seq)
    assert "column action" in result.problem


def test_editing_the_second_market_column_is_caught_by_deep(log):
    # the second market decides who may read an event: editing it must not go unnoticed
    sql = log["sql"]
    seq = _tampered_seq(log)
    event_id = _event_id(sql, seq)
    as_superuser(sql, "UPDATE audit_event SET second_market_id = 424242 WHERE id = %s", [event_id])

    result = audit_verify_run(deep=True)

    assert (result.ok, result.first_bad_seq) == (False, seq)
    assert "column second_market" in result.problem


def test_naive_deleted_event_names_the_gap(log):
    seq = _tampered_seq(log)
    as_superuser(log["sql"], "DELETE FROM audit_link WHERE seq = %s", [seq])

    result = audit_verify_run()

    assert (result.ok, result.first_bad_seq) == (False, seq)
    assert "missing" in result.problem


def test_naive_inserted_event_breaks_the_next_link(log):
    sql = log["sql"]
    seq = _tampered_seq(log)
    # shift the later links up by one and put a forged event in the gap
    as_superuser(sql, "UPDATE audit_link SET seq = seq + 1000000 WHERE seq >= %s", [seq])
    as_superuser(sql, "UPDATE audit_link SET seq = seq - 999999 WHERE seq > 1000000")
    row = _forge_event(sql)
    as_superuser(
        sql,
        "INSERT INTO audit_link VALUES (%s, %s, decode(repeat('11', 32), 'hex'), %s)",
        [seq, row[0], hashlib.sha256(b"x").digest()],
    )

    result = audit_verify_run()

    assert (result.ok, result.first_bad_seq) == (False, seq)


def test_naive_swap_of_two_events_names_the_first(log):
    sql = log["sql"]
    seq = _tampered_seq(log)
    a, b = _event_id(sql, seq), _event_id(sql, seq + 1)
    as_superuser(
        sql, "UPDATE audit_link SET event_id = -event_id WHERE seq IN (%s, %s)", [seq, seq + 1]
    )
    as_superuser(sql, "UPDATE audit_link SET event_id = %s WHERE seq = %s", [b, seq])
    as_superuser(sql, "UPDATE audit_link SET event_id = %s WHERE seq = %s", [a, seq + 1])

    result = audit_verify_run()

    assert (result.ok, result.first_bad_seq) == (False, seq)


def test_guard_trigger_disabled_by_the_owner_then_a_row_edited(log, owner_sql):
    # given the owner (not a superuser) switches the guard and forced RLS off, as it may
    seq = _tampered_seq(log)
    owner_sql.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_guard")
    owner_sql.execute("ALTER TABLE audit_event NO FORCE ROW LEVEL SECURITY")
    try:
        changed = owner_sql.execute(
            "UPDATE audit_event SET body = body || '\\x20'::bytea WHERE id = %s",
            [_event_id(log["sql"], seq)],
        ).rowcount
    finally:
        owner_sql.execute("ALTER TABLE audit_event FORCE ROW LEVEL SECURITY")
        owner_sql.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_guard")
    assert changed == 1

    # then the verifier still names the edited event
    result = audit_verify_run()
    assert (result.ok, result.first_bad_seq) == (False, seq)


def test_naive_cut_tail_is_caught_by_the_head_and_the_checkpoints(log):
    sql = log["sql"]
    as_superuser(sql, "DELETE FROM audit_link WHERE seq > %s", [log["first_cp"]])

    # the signed checkpoint in the database vouches for events that are gone
    result = audit_verify_run()
    assert (result.ok, result.first_bad_seq) == (False, log["second_cp"])
    assert "events were removed" in result.problem


def test_forged_checkpoint_signature_is_refused(log):
    path = checkpoint_file()
    lines = path.read_text().splitlines()
    entry = json.loads(lines[0])
    text, _, signature = entry["note"].partition("\n\n")
    forged_text = text.replace(f"\n{entry['seq']}\n", f"\n{entry['seq']}\n", 1)
    forged = (
        forged_text.rsplit("\n", 1)[0]
        + "\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        + "\n\n"
        + signature
    )
    lines[0] = json.dumps({"seq": entry["seq"], "note": forged})
    path.write_text("\n".join(lines) + "\n")

    result = _verify_with_file()

    assert result.ok is False
    assert "signature does not verify" in result.problem


# --- an owner who rebuilds the chain: only exported checkpoints catch it -----------------------


def _owner_rewrite(log, mutate):
    sql = log["sql"]
    order = chain_order(sql)
    order = mutate(sql, order)
    rewrite_chain(sql, order)
    _drop_db_checkpoints(sql)


def _assert_caught_by_file_only(log, first_checkpoint):
    assert audit_verify_run().ok, "a rebuilt chain is consistent on its own"
    result = _verify_with_file()
    assert result.ok is False
    assert result.first_bad_seq == first_checkpoint
    assert "checkpoint" in result.problem


def test_rebuilt_after_body_edit(log):
    def mutate(sql, order):
        _edit_body(sql, _tampered_seq(log))
        return order

    _owner_rewrite(log, mutate)
    _assert_caught_by_file_only(log, log["first_cp"])


def test_rebuilt_after_column_edit(log):
    def mutate(sql, order):
        # a column edit leaves every hash intact: --deep names the event itself
        as_superuser(
            sql,
            "UPDATE audit_event SET actor_id = 'someone' WHERE id = %s",
            [order[_tampered_seq(log) - 1]],
        )
        return order

    _owner_rewrite(log, mutate)
    result = audit_verify_run(checkpoints_file=checkpoint_file(), deep=True)
    assert (result.ok, result.first_bad_seq) == (False, _tampered_seq(log))


def test_rebuilt_after_deleting_an_event(log):
    _owner_rewrite(
        log, lambda sql, order: order[: _tampered_seq(log) - 1] + order[_tampered_seq(log) :]
    )
    _assert_caught_by_file_only(log, log["first_cp"])


def test_rebuilt_after_inserting_an_event(log):
    def mutate(sql, order):
        new_id = _forge_event(sql)[0]
        position = _tampered_seq(log) - 1
        return [*order[:position], new_id, *[i for i in order[position:] if i != new_id]]

    _owner_rewrite(log, mutate)
    _assert_caught_by_file_only(log, log["first_cp"])


def test_rebuilt_after_swapping_two_events(log):
    def mutate(sql, order):
        i = _tampered_seq(log) - 1
        order[i], order[i + 1] = order[i + 1], order[i]
        return order

    _owner_rewrite(log, mutate)
    _assert_caught_by_file_only(log, log["first_cp"])


def test_rebuilt_after_cutting_a_tail_holding_a_checkpoint(log):
    cut = log["second_cp"] - 2
    _owner_rewrite(log, lambda sql, order: order[:cut])

    assert audit_verify_run().ok
    result = _verify_with_file()
    assert (result.ok, result.first_bad_seq) == (False, log["second_cp"])
    assert "events were removed" in result.problem


def test_cut_after_the_newest_checkpoint_is_not_detectable(log):
    # documented limit: what follows the newest exported checkpoint can be cut unnoticed
    record_events(3)
    _owner_rewrite(log, lambda sql, order: order[: log["head"]])

    assert _verify_with_file().ok


def test_audit_verify_command_exits_1_naming_the_seq(log):
    seq = _tampered_seq(log)
    as_superuser(log["sql"], "DELETE FROM audit_link WHERE seq = %s", [seq])

    with pytest.raises(CommandError, match=f"broken at seq {seq}") as caught:
        call_command("audit_verify")
    assert caught.value.returncode == 1


def test_cut_tail_with_checkpoints_gone_is_caught_by_the_head(log):
    sql = log["sql"]
    _drop_db_checkpoints(sql)
    as_superuser(sql, "DELETE FROM audit_link WHERE seq > %s", [log["first_cp"]])

    result = audit_verify_run()

    assert (result.ok, result.first_bad_seq) == (False, log["first_cp"] + 1)
    assert "chain head says" in result.problem
