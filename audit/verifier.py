"""The stand-alone audit verifier: one file, importing neither Django nor LeadOps.

Copy it anywhere with Python 3.11+ and the `cryptography` package, and check an export of the
audit log (`manage.py audit_verify --export log.jsonl`) against signed checkpoints:

    python verifier.py log.jsonl --checkpoints checkpoints.jsonl --key 'name+id+base64'
    python verifier.py --golden golden_vectors.json

Contents: the RFC 8785 canonicalizer for audit bodies, the C2SP signed-note checkpoints
(Ed25519), and the chain check itself. LeadOps imports these from here, so the app and an
outside auditor run the very same code.

What it proves: every event up to the newest checkpoint it is given is exactly as signed
(edits, deletions, insertions and reordering all break a link or a checkpoint). What no
verifier can prove: that nothing was cut off after the newest exported checkpoint.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# ---------------------------------------------------------------------------------------------
# RFC 8785 canonical JSON
# ---------------------------------------------------------------------------------------------
# RFC 8785 (JSON Canonicalization Scheme) for the types audit bodies may hold.
#
# Allowed: dict with str keys, list, str, int within ±(2**53 - 1), bool, None. Floats are refused
# (their canonical form depends on ECMAScript number formatting, and money or scores must travel
# as strings anyway), and so are integers a JavaScript reader would round.
#
# Strings are escaped exactly as ECMAScript's JSON.stringify does (which is what RFC 8785
# prescribes): `"` `\\` and the control characters, with the short forms \\b \\f \\n \\r \\t and
# lowercase \\u00xx otherwise; everything else is literal UTF-8. Object keys are sorted by their
# UTF-16 code units, not by code points: the two orders differ above U+FFFF.
#
# This module imports only the standard library: the stand-alone verifier uses it too.

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalizationError(ValueError):
    """A value that has no canonical form in audit bodies; the message names where it is."""


_encode_string = json.JSONEncoder(ensure_ascii=False).encode


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _string(value: str, path: str) -> str:
    if not value.isascii():  # ASCII has no surrogates: most strings skip the check
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CanonicalizationError(
                f"{path}: lone surrogate in string, not valid Unicode"
            ) from exc
    return _encode_string(value)


def _sorted_keys(value: dict[str, Any]) -> list[str]:
    # Code point order is UTF-16 order unless a key holds a character above U+FFFF; ASCII keys
    # (nearly all of them) are sorted as they are.
    if all(key.isascii() for key in value):
        return sorted(value)
    return sorted(value, key=_utf16_key)


def _write(value: Any, path: str, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalizationError(
                f"{path}: integer {value} is beyond ±(2**53 - 1); send it as a string"
            )
        out.append(str(value))
    elif isinstance(value, float):
        raise CanonicalizationError(f"{path}: floats are not allowed; send {value!r} as a string")
    elif isinstance(value, str):
        out.append(_string(value, path))
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalizationError(f"{path}: object key {key!r} is not a string")
        out.append("{")
        for index, key in enumerate(_sorted_keys(value)):
            if index:
                out.append(",")
            out.append(_string(key, path))
            out.append(":")
            _write(value[key], f"{path}.{key}", out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, f"{path}[{index}]", out)
        out.append("]")
    else:
        raise CanonicalizationError(
            f"{path}: {type(value).__name__} has no canonical form; convert it to a string"
        )


# The common case through the C encoder: for the exact built-in types `_plain` admits, with ASCII
# keys (code point order is UTF-16 order) and no float, json.dumps writes byte for byte what
# `_write` writes (the same string escaper, `sort_keys`, no spaces). Anything else, including
# every value that must be refused, takes `_write`, which names where the problem is.
_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode


def _plain(value: Any) -> bool:
    """Whether `value` holds only exact dicts with ASCII string keys, lists, tuples, strings
    without lone surrogates, safe integers, booleans and None (walked without recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str:
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return False
        elif kind is dict:
            for key in item:
                if type(key) is not str or not key.isascii():
                    return False
            pending.extend(item.values())
        elif kind is list or kind is tuple:
            pending.extend(item)
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                return False
        elif item is not None and kind is not bool:
            return False
    return True


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of `value`."""
    if _plain(value):
        return _dumps(value).encode("utf-8")
    out: list[str] = []
    _write(value, "$", out)
    return "".join(out).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Signed checkpoints
# ---------------------------------------------------------------------------------------------
# Signed checkpoints in the C2SP signed-note format, with Ed25519 keys.
#
# A checkpoint's text is `<origin>\\n<seq>\\n<base64 chain_hash>\\n`; the note appends a blank line
# and one signature line `— <name> <base64(key id || signature)>`. The key id is the first four
# bytes of sha256(name || "\\n" || 0x01 || public key), and a verifier key is written
# `<name>+<hex key id>+<base64(0x01 || public key)>`. Standard library and `cryptography` only:
# the stand-alone verifier uses this module.

ED25519 = b"\x01"
EM_DASH = "\u2014"


class NoteError(ValueError):
    """A checkpoint note that is malformed or whose signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    seq: int
    chain_hash: bytes


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + _raw_public(public)).digest()[:4]


def signer_from_seed(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != 32:
        raise NoteError(f"an Ed25519 seed is 32 bytes, this one is {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def verifier_key(name: str, public: Ed25519PublicKey) -> str:
    encoded = base64.b64encode(ED25519 + _raw_public(public)).decode()
    return f"{name}+{key_id(name, public).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, Ed25519PublicKey]:
    try:
        name, _hex_id, encoded = vkey.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise NoteError(f"not a verifier key (name+keyid+base64): {vkey!r}") from exc
    if raw[:1] != ED25519 or len(raw) != 33:
        raise NoteError("verifier key is not an Ed25519 key")
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_id(name, public).hex() != _hex_id:
        raise NoteError("verifier key id does not match its name and key")
    return name, public


def checkpoint_text(checkpoint: Checkpoint) -> str:
    root = base64.b64encode(checkpoint.chain_hash).decode()
    return f"{checkpoint.origin}\n{checkpoint.seq}\n{root}\n"


def sign_checkpoint(checkpoint: Checkpoint, *, name: str, key: Ed25519PrivateKey) -> str:
    text = checkpoint_text(checkpoint)
    signature = key.sign(text.encode())
    blob = base64.b64encode(key_id(name, key.public_key()) + signature).decode()
    return f"{text}\n{EM_DASH} {name} {blob}\n"


def open_checkpoint(note: str, *, name: str, public: Ed25519PublicKey) -> Checkpoint:
    """Verify the note's signature by `name` and return the checkpoint it vouches for."""
    text, sep, signatures = note.partition("\n\n")
    if not sep:
        raise NoteError("note has no signature block")
    text += "\n"
    wanted = key_id(name, public)
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or parts[1] != name:
            continue
        blob = base64.b64decode(parts[2])
        if blob[:4] != wanted:
            continue
        try:
            public.verify(blob[4:], text.encode())
        except InvalidSignature as exc:
            raise NoteError("checkpoint signature does not verify") from exc
        lines = text.splitlines()
        if len(lines) < 3:
            raise NoteError("checkpoint text needs origin, size and hash lines")
        return Checkpoint(origin=lines[0], seq=int(lines[1]), chain_hash=base64.b64decode(lines[2]))
    raise NoteError(f"note carries no signature by {name}")


# ---------------------------------------------------------------------------------------------
# The chain
# ---------------------------------------------------------------------------------------------
# entry_hash = sha256(body); chain_hash = sha256(prev_hash || entry_hash); the first event's
# prev_hash is 32 zero bytes; seq runs 1, 2, 3, … without gaps.

GENESIS = bytes(32)


class ChainRecord(NamedTuple):
    """One link and its event. A tuple, not a dataclass: a verifier builds millions of them."""

    seq: int
    body: bytes
    entry_hash: bytes
    prev_hash: bytes
    chain_hash: bytes


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    verified_through_seq: int
    first_bad_seq: int | None = None
    problem: str = ""
    checkpoints_checked: int = 0

    def summary(self) -> str:
        if self.ok:
            return (
                f"OK: {self.checked} events verified through seq {self.verified_through_seq}, "
                f"{self.checkpoints_checked} checkpoint(s) matched"
            )
        return f"FAILED at seq {self.first_bad_seq}: {self.problem}"


def link_hash(prev_hash: bytes, entry_hash: bytes) -> bytes:
    return hashlib.sha256(prev_hash + entry_hash).digest()


def verify_chain(
    records: Iterable[ChainRecord],
    *,
    checkpoints: dict[int, bytes] | None = None,
    deep: Any = None,
) -> VerifyResult:
    """Walk the chain in seq order, in constant memory, and stop at the first bad event.

    `checkpoints` maps a signed seq to its signed chain hash; `deep(record)` may return a
    problem string (the app uses it to compare bodies with their columns).
    """
    checkpoints = checkpoints or {}
    sha256 = hashlib.sha256
    expected = 1
    prev = GENESIS
    matched = 0

    def failed(seq: int, problem: str) -> VerifyResult:
        return VerifyResult(False, expected - 1, expected - 1, seq, problem, matched)

    for record in records:
        seq = record.seq
        if seq != expected:
            return failed(expected, f"event {expected} is missing (found seq {seq} next)")
        if sha256(record.body).digest() != record.entry_hash:
            return failed(seq, "body does not match its entry hash")
        if record.prev_hash != prev:
            return failed(seq, "prev_hash does not link to the previous event's chain hash")
        if sha256(prev + record.entry_hash).digest() != record.chain_hash:
            return failed(seq, "chain_hash is not sha256(prev_hash || entry_hash)")
        if deep is not None:
            problem = deep(record)
            if problem:
                return failed(seq, problem)
        signed = checkpoints.get(seq)
        if signed is not None:
            if signed != record.chain_hash:
                return failed(seq, f"the signed checkpoint at seq {seq} no longer matches")
            matched += 1
        prev = record.chain_hash
        expected += 1
    beyond = sorted(seq for seq in checkpoints if seq >= expected)
    if beyond:
        return failed(
            beyond[0],
            f"the log ends at seq {expected - 1}, but a signed checkpoint vouches for seq "
            f"{beyond[0]}: events were removed",
        )
    return VerifyResult(True, expected - 1, expected - 1, None, "", matched)


def read_export(lines: Iterable[str]) -> Iterator[ChainRecord]:
    """Records from the JSON Lines export: seq, body (text), and the three hashes in hex."""
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        yield ChainRecord(
            seq=int(row["seq"]),
            body=row["body"].encode("utf-8"),
            entry_hash=bytes.fromhex(row["entry_hash"]),
            prev_hash=bytes.fromhex(row["prev_hash"]),
            chain_hash=bytes.fromhex(row["chain_hash"]),
        )


def export_line(record: ChainRecord) -> str:
    return json.dumps(
        {
            "seq": record.seq,
            "body": record.body.decode("utf-8"),
            "entry_hash": record.entry_hash.hex(),
            "prev_hash": record.prev_hash.hex(),
            "chain_hash": record.chain_hash.hex(),
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def read_checkpoints(lines: Iterable[str], *, vkey: str) -> dict[int, bytes]:
    """Signed checkpoints (JSON Lines of {"seq", "note"}), each verified with `vkey`."""
    name, public = parse_verifier_key(vkey)
    signed: dict[int, bytes] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        note = json.loads(line)["note"]
        try:
            checkpoint = open_checkpoint(note, name=name, public=public)
        except NoteError as exc:
            raise NoteError(f"checkpoint line {number}: {exc}") from exc
        signed[checkpoint.seq] = checkpoint.chain_hash
    return signed


def verify_golden(vectors: dict[str, Any]) -> list[str]:
    """Check the committed golden vectors; returns the problems (empty when all hold)."""
    problems = []
    for case in vectors["canonical"]:
        got = canonicalize(case["input"]).decode("utf-8")
        if got != case["output"]:
            problems.append(f"canonical {case['name']}: got {got!r}")
    for case in vectors["rejected"]:
        value = case["input"] if "input" in case else int(case["integer"])
        try:
            canonicalize(value)
        except CanonicalizationError:
            continue
        problems.append(f"rejected {case['name']}: was accepted")
    records = [
        ChainRecord(
            seq=row["seq"],
            body=canonicalize(row["event"]),
            entry_hash=bytes.fromhex(row["entry_hash"]),
            prev_hash=bytes.fromhex(row["prev_hash"]),
            chain_hash=bytes.fromhex(row["chain_hash"]),
        )
        for row in vectors["chain"]
    ]
    signed = read_checkpoints([json.dumps(vectors["checkpoint"])], vkey=vectors["verifier_key"])
    result = verify_chain(records, checkpoints=signed)
    if not result.ok or result.checkpoints_checked != 1:
        problems.append(f"chain: {result.summary()}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Verify a LeadOps audit export against signed checkpoints, stand-alone."
    )
    parser.add_argument("export", nargs="?", help="JSON Lines export (audit_verify --export)")
    parser.add_argument("--checkpoints", help="JSON Lines of signed checkpoints")
    parser.add_argument("--key", help="verifier key: name+keyid+base64 (printed by make run)")
    parser.add_argument("--golden", help="check the golden vectors file instead")
    args = parser.parse_args(argv)
    if args.golden:
        with open(args.golden, encoding="utf-8") as handle:
            problems = verify_golden(json.load(handle))
        for problem in problems:
            print(problem)
        print("golden vectors: " + ("FAILED" if problems else "OK"))
        return 1 if problems else 0
    if not args.export:
        parser.error("give an export file, or --golden FILE")
    if bool(args.checkpoints) != bool(args.key):
        parser.error("--checkpoints and --key go together")
    signed: dict[int, bytes] = {}
    try:
        if args.checkpoints:
            with open(args.checkpoints, encoding="utf-8") as handle:
                signed = read_checkpoints(handle, vkey=args.key)
    except NoteError as exc:
        print(f"FAILED: {exc}")
        return 1
    with open(args.export, encoding="utf-8") as handle:
        result = verify_chain(read_export(handle), checkpoints=signed)
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
