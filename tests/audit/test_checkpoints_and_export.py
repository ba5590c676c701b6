import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections

from audit.models import AuditCheckpoint
from audit.services import audit_checkpoint_create, checkpoint_file, signing_key_public
from audit.verifier import NoteError, open_checkpoint, parse_verifier_key
from leadops.core.access import system_context
from tests.audit.conftest import ACTOR, record_events

pytestmark = pytest.mark.django_db(transaction=True)

VERIFIER = Path(__file__).resolve().parents[2] / "audit" / "verifier.py"
GOLDEN = Path(__file__).resolve().parents[2] / "audit" / "golden_vectors.json"
# Runs the verifier with Django and LeadOps made unimportable: proof it needs neither.
ISOLATED = (
    "import runpy, sys; "
    "[sys.modules.__setitem__(name, None) for name in ('django', 'leadops', 'audit')]; "
    "sys.argv = ['verifier.py', *sys.argv[1:]]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


@pytest.fixture(autouse=True)
def _checkpoint_dir(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"


def _standalone(tmp_path, *args):
    copy = tmp_path / "verifier.py"
    copy.write_text(VERIFIER.read_text())
    return subprocess.run(
        [sys.executable, "-c", ISOLATED, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_checkpoint_is_signed_stored_and_appended_to_the_file():
    record_events(2)

    checkpoint = audit_checkpoint_create(actor=ACTOR)

    assert checkpoint is not None
    name, public = parse_verifier_key(signing_key_public())
    opened = open_checkpoint(checkpoint.note, name=name, public=public)
    assert opened.seq == checkpoint.seq
    assert opened.chain_hash == bytes(checkpoint.chain_hash)
    lines = checkpoint_file().read_text().splitlines()
    assert json.loads(lines[-1]) == {"seq": checkpoint.seq, "note": checkpoint.note}


def test_checkpoint_twice_signs_once():
    record_events(1)
    first = audit_checkpoint_create(actor=ACTOR)
    # the checkpoint records an event of its own, so the head moved: sign that, then stop
    second = audit_checkpoint_create(actor=ACTOR)
    third = audit_checkpoint_create(actor=ACTOR)

    assert first is not None
    assert second is not None
    assert second.seq == first.seq + 1
    assert third is None or third.seq == second.seq + 1


def test_two_concurrent_checkpoints_sign_the_head_once():
    record_events(1)
    made = []
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        try:
            made.append(audit_checkpoint_create(actor=ACTOR))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    seqs = sorted(c.seq for c in made if c is not None)
    with system_context("tests"):
        stored = list(AuditCheckpoint.objects.filter(seq__in=seqs).values_list("seq", flat=True))
    assert len(set(seqs)) == len(seqs)
    assert sorted(stored) == seqs


def test_a_note_signed_by_another_key_is_refused():
    from audit.verifier import Checkpoint, sign_checkpoint, signer_from_seed

    name, public = parse_verifier_key(signing_key_public())
    note = sign_checkpoint(
        Checkpoint(origin=name, seq=1, chain_hash=bytes(32)),
        name=name,
        key=signer_from_seed(b"\x07" * 32),
    )

    with pytest.raises(NoteError, match="no signature by"):
        open_checkpoint(note, name=name, public=public)


def test_export_verifies_stand_alone_without_django(tmp_path):
    # given a log with a checkpoint, exported
    record_events(3)
    audit_checkpoint_create(actor=ACTOR)
    export = tmp_path / "log.jsonl"
    call_command("audit_verify", "--export", str(export), "--checkpoints", str(checkpoint_file()))

    # when the stand-alone verifier checks it with Django and LeadOps unimportable
    ok = _standalone(
        tmp_path,
        str(export),
        "--checkpoints",
        str(checkpoint_file()),
        "--key",
        signing_key_public(),
    )

    # then it agrees; and an edited export is refused naming the seq
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK:")
    lines = export.read_text().splitlines()
    row = json.loads(lines[1])
    row["body"] = row["body"].replace('"v":1', '"v":2')
    lines[1] = json.dumps(row)
    export.write_text("\n".join(lines) + "\n")
    bad = _standalone(tmp_path, str(export))
    assert bad.returncode == 1
    assert bad.stdout.strip() == f"FAILED at seq {row['seq']}: body does not match its entry hash"


def test_standalone_verifier_passes_the_golden_vectors(tmp_path):
    result = _standalone(tmp_path, "--golden", str(GOLDEN))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "golden vectors: OK"


def test_golden_vectors_fail_when_an_expected_output_is_wrong(tmp_path):
    vectors = json.loads(GOLDEN.read_text())
    vectors["canonical"][1]["output"] = vectors["canonical"][1]["output"].replace('"1"', '"2"')
    vectors["chain"][1]["chain_hash"] = "00" * 32
    broken = tmp_path / "golden.json"
    broken.write_text(json.dumps(vectors))

    result = _standalone(tmp_path, "--golden", str(broken))

    assert result.returncode == 1
    assert "canonical rfc8785-3.2.3-key-order-utf16" in result.stdout
    assert "chain: FAILED at seq 2" in result.stdout
