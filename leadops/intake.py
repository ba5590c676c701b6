"""The one intake door: every channel submits leads through `intake_submit`.

`POST /api/v1/leads`, the batch endpoint, `POST /api/v1/sources/{slug}/submissions`, the public
form, `seed_demo` and the CSV import all come here. The door owns, for any number of items at a
fixed number of statements:

1. idempotency (claim before the work, in a transaction of its own; replay, mismatch, busy);
2. validation, field by field (a refused item is kept as a rejected submission and its key is
   released: bad input does not use a key up);
3. one `leads_ingest` call for every valid item (the only caller: an import-linter contract);
4. the scope rule of the answer (DESIGN.md, External contract): an answer about a lead outside
   the caller's markets says `accepted` and nothing more;
5. completing the keys with the answers given.

It returns outcomes; the API maps them to HTTP (no status codes here or below). Routing, SLA
timers and the outbox hook in here: routing and the first-response clocks run inside ingest's
transaction (`IntakeRouter`, `IntakeClock`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rest_framework import serializers

from leadops.core.actors import Actor
from leadops.core.config import config_snapshot
from leadops.leads.fields import INPUT_LENGTHS
from leadops.leads.idempotency import (
    Claim,
    idempotency_claim_many,
    idempotency_complete_many,
    idempotency_release_many,
    request_hash,
)
from leadops.leads.ingest import (
    IngestResult,
    Refused,
    leads_ingest,
    leads_predict,
    submissions_reject,
)
from leadops.leads.models import Source, Submission
from leadops.leads.prepare import IngestItem
from leadops.leads.selectors import sources_by_slug
from leadops.sla.policies import policies_in_force
from leadops.sla.timers import IntakeClock
from routing.services import IntakeRouter, routing_in_force

Channel = Literal["api", "batch", "source", "form", "seed", "csv"]
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_KEY = 100
MAX_ATTRIBUTE_CHARS = 1000


def attribute_problem(value: Any) -> str | None:
    """Why an attribute value cannot be kept, or None: scalars only, text of bounded length."""
    if isinstance(value, dict | list):
        kind = "an object" if isinstance(value, dict) else "a list"
        return f"Must be a string, number, true/false or null, not {kind}."
    if isinstance(value, float) and not math.isfinite(value):
        return "Must be a finite number."
    if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_CHARS:
        return f"At most {MAX_ATTRIBUTE_CHARS:,} characters; this has {len(value):,}."
    return None


class LeadInput(serializers.Serializer):
    """One lead as a channel hands it in. `context["sources"]` maps slug → active Source (the
    door looks them up once for a whole batch)."""

    occurred_at = serializers.DateTimeField(
        required=False, help_text="When the person filled the form (default: when received)."
    )
    attributes = serializers.DictField(
        required=False,
        help_text=f"Anything else about the lead: at most {MAX_ATTRIBUTES} keys, each a string "
        f"(≤ {MAX_ATTRIBUTE_CHARS:,} characters), number, true/false or null. Kept on the lead.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # Declared here: "source" is also an attribute of DRF fields, which confuses the stubs.
        fields["source"] = serializers.SlugField(
            max_length=50, help_text="The slug of an active source, e.g. `web`."
        )
        for name, length in INPUT_LENGTHS.items():
            fields[name] = serializers.CharField(
                max_length=length, required=False, allow_blank=True, allow_null=True
            )
        return fields

    def validate_source(self, slug: str) -> Source:
        source = self.context.get("sources", {}).get(slug)
        if source is None:
            raise serializers.ValidationError(f"No active source {slug!r}.")
        return source

    def validate_attributes(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_ATTRIBUTES:
            raise serializers.ValidationError(
                f"At most {MAX_ATTRIBUTES} attributes; this has {len(value)}."
            )
        problems = {}
        for key, item in value.items():
            if len(key) > MAX_ATTRIBUTE_KEY:
                problems[key[:MAX_ATTRIBUTE_KEY]] = [
                    f"A key is at most {MAX_ATTRIBUTE_KEY} characters; this has {len(key)}."
                ]
            elif (problem := attribute_problem(item)) is not None:
                problems[key] = [problem]
        if problems:
            raise serializers.ValidationError(problems)
        return value

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not (data.get("email") or "").strip() and not (data.get("phone") or "").strip():
            raise serializers.ValidationError({"email": ["Give an email or a phone."]})
        return data

    def quick(self, data: Any) -> dict[str, Any] | None:
        """What `run_validation(data)` returns, for input that is plainly valid (text fields
        as strings within their lengths, a known active source, a flat attributes object),
        without DRF's per-field machinery: a batch spends most of its validation time there.
        None means "ask run_validation", which also words the errors. A property test holds
        the two to the same answer."""
        if not isinstance(data, dict):
            return None
        slug = data.get("source")
        source = self.context["sources"].get(slug.strip()) if isinstance(slug, str) else None
        if source is None:
            return None
        out: dict[str, Any] = {"source": source}
        for name, length in INPUT_LENGTHS.items():
            if name not in data:
                continue
            value = data[name]
            if value is None:
                out[name] = None
                continue
            if not isinstance(value, str):
                return None
            value = value.strip()
            if len(value) > length or "\x00" in value or not _surrogate_free(value):
                return None
            out[name] = value
        if not (out.get("email") or out.get("phone")):
            return None
        if "attributes" in data:
            attributes = data["attributes"]
            if not isinstance(attributes, dict) or not all(isinstance(k, str) for k in attributes):
                return None
            try:
                out["attributes"] = self.validate_attributes(dict(attributes))
            except serializers.ValidationError:
                return None
        if "occurred_at" in data:
            try:
                out["occurred_at"] = self.fields["occurred_at"].run_validation(data["occurred_at"])
            except serializers.ValidationError:
                return None
        return out


def _surrogate_free(text: str) -> bool:
    return text.isascii() or _SURROGATE.search(text) is None


_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Submitted:
    """One item as it arrived at a door. `payload` is kept exactly as sent; `fields` is what is
    validated when that is not the payload itself (a source's mapped fields, a form's allowed
    fields). `refused` carries a door's own refusal (a batch item over its size)."""

    payload: Any
    fields: Any = None
    idempotency_key: str = ""
    mapping_version: int | None = None
    refused: dict[str, list[str]] | None = None
    size_bytes: int | None = None

    @property
    def checked(self) -> Any:
        return self.payload if self.fields is None else self.fields


Kind = Literal["done", "accepted", "invalid", "too_large", "mismatch", "in_flight"]


@dataclass(frozen=True)
class Answer:
    """What became of one item. `outcome` is the intake outcome (created, merged, review,
    quarantined), `accepted` outside the caller's markets, or `rejected`; `body` is the answer
    the caller may see (already scoped), exactly as replays will give it again."""

    index: int
    kind: Kind
    outcome: str
    submission_id: int | None = None
    lead_id: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)


def answer_body(result: IngestResult, scope: frozenset[int] | None = None) -> dict[str, Any]:
    """The full answer about a lead in the caller's markets: ids, outcome, market code, status.
    A review whose candidate is in a market outside `scope` reads as `created`: the caller
    learns nothing about who exists elsewhere (both answer 201)."""
    outcome, duplicate_of = result.outcome, result.duplicate_of
    if scope is not None and result.duplicate_market_id not in (None, *scope):
        outcome, duplicate_of = Submission.Outcome.CREATED, None
    return {
        "submission_id": result.submission_id,
        "lead_id": result.lead_id,
        "outcome": str(outcome),
        "reason": result.reason or None,
        "market": result.market,
        "status": result.status,
        "owner": result.owner,
        "routing": result.routing,
        "sla": result.sla,
        "duplicate_of": duplicate_of,
    }


def _compact(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


def intake_submit(
    *,
    actor: Actor,
    channel: Channel,
    items: Sequence[Submitted],
    client: str = "",
    answer_scope: frozenset[int] | None = None,
    synthetic: bool = False,
) -> list[Answer]:
    """Submit `items` through every step of the door; answers in input order.

    `answer_scope`: the market ids the caller may read (None: every market, for system work).
    `synthetic` marks test leads, and only a system actor may set it.
    """
    from leadops.core.actors import SystemActor

    if synthetic and not isinstance(actor, SystemActor):
        raise PermissionError("Only system work may submit synthetic leads.")
    answers: dict[int, Answer] = {}

    # 1. Idempotency: claim every key at once, in a transaction of its own.
    keyed = [(i, s) for i, s in enumerate(items) if s.idempotency_key and s.refused is None]
    claims: dict[int, Claim] = dict(
        zip(
            [i for i, _ in keyed],
            idempotency_claim_many(
                client=client,
                keys=[(s.idempotency_key[:200], request_hash(s.payload)) for _, s in keyed],
            ),
            strict=True,
        )
    )
    claimed = [c.row_id for c in claims.values() if c.state == "claimed" and c.row_id]
    try:
        with config_snapshot():  # one config generation for the whole call
            _work(actor, channel, items, client, answer_scope, synthetic, claims, answers)
    except BaseException:
        # Nothing was answered: the keys are free for the retry.
        idempotency_release_many(row_ids=claimed)
        raise
    return [answers[i] for i in range(len(items))]


def _work(
    actor: Actor,
    channel: Channel,
    items: Sequence[Submitted],
    client: str,
    answer_scope: frozenset[int] | None,
    synthetic: bool,
    claims: dict[int, Claim],
    answers: dict[int, Answer],
) -> None:
    """Steps 2 to 5 of `intake_submit`, filling `answers`."""
    for i, claim in claims.items():
        if claim.state == "replay":
            body = json.loads(claim.answer)
            answers[i] = Answer(
                index=i,
                kind="accepted" if claim.outcome == "accepted" else "done",
                outcome=claim.outcome,
                submission_id=body.get("submission_id"),
                lead_id=body.get("lead_id"),
                body=body,
            )
        elif claim.state == "mismatch":
            answers[i] = Answer(index=i, kind="mismatch", outcome="")
        elif claim.state == "in_flight":
            answers[i] = Answer(index=i, kind="in_flight", outcome="")

    # 2. Validation: every source looked up once; each item checked on its own.
    pending = [i for i in range(len(items)) if i not in answers]
    refused, valid = _validate(items, pending, channel, client, synthetic, claims)
    if refused:
        ids = submissions_reject(actor=actor, refused=[r for _, r, _ in refused])
        for (i, r, kind), sid in zip(refused, ids, strict=True):
            answers[i] = Answer(
                index=i, kind=kind, outcome="rejected", submission_id=sid, errors=r.errors
            )

    # 3. One ingest call for everything valid.
    # Until some routing version is published there is nothing to route: ingest need not even
    # build the new leads' facts.
    results = (
        leads_ingest(
            items=[item for _, item in valid],
            actor=actor,
            router=IntakeRouter(actor=actor) if routing_in_force() else None,
            clock=IntakeClock(actor) if policies_in_force() else None,
        )
        if valid
        else []
    )

    # 4. The answers, scoped.
    for (i, _item), result in zip(valid, results, strict=True):
        if result.outcome == Submission.Outcome.REJECTED:  # no usable identity
            answers[i] = Answer(
                index=i,
                kind="invalid",
                outcome="rejected",
                submission_id=result.submission_id,
                errors=result.errors,
            )
        elif answer_scope is not None and result.market_id not in answer_scope:
            # Outside the caller's markets: no lead id, outcome or market, so an intake key is
            # never an oracle for who exists elsewhere.
            answers[i] = Answer(
                index=i,
                kind="accepted",
                outcome="accepted",
                submission_id=result.submission_id,
                body={"submission_id": result.submission_id, "outcome": "accepted"},
            )
        else:
            body = answer_body(result, answer_scope)
            answers[i] = Answer(
                index=i,
                kind="done",
                outcome=body["outcome"],
                submission_id=result.submission_id,
                lead_id=result.lead_id,
                body=body,
            )

    # 5. Keys: finished ones remember their answer; refused ones are free again.
    done, released = [], []
    for i, claim in claims.items():
        if claim.state != "claimed" or claim.row_id is None:
            continue
        answer = answers[i]
        if answer.kind in ("done", "accepted"):
            done.append((claim.row_id, answer.outcome, _compact(answer.body)))
        else:
            released.append(claim.row_id)
    idempotency_complete_many(done=done)
    idempotency_release_many(row_ids=released)


def _validate(
    items: Sequence[Submitted],
    pending: list[int],
    channel: str,
    client: str,
    synthetic: bool,
    claims: dict[int, Claim],
) -> tuple[list[tuple[int, Refused, Kind]], list[tuple[int, IngestItem]]]:
    """Check each pending item on its own (every named source looked up in one query): the
    refused ones with why, and the valid ones ready for ingest."""
    named = {i: _named_source(items[i]) for i in pending}
    everyone = sources_by_slug()
    found = {slug: everyone[slug] for slug in set(named.values()) if slug in everyone}
    sources = {slug: src for slug, src in found.items() if src.is_active}
    refused: list[tuple[int, Refused, Kind]] = []
    valid: list[tuple[int, IngestItem]] = []
    # One serializer checks every item: its fields are built once, not once per item.
    checker = LeadInput(context={"sources": sources})
    for i in pending:
        sent = items[i]
        known = found.get(named[i])  # the source it names, active or not, for the record
        if sent.refused is not None:
            refused.append((i, _refused(sent, known, sent.refused, client, channel), "too_large"))
            continue
        try:
            fields = checker.quick(sent.checked) or dict(checker.run_validation(sent.checked))
        except serializers.ValidationError as exc:
            problems = {
                k: [str(m) for m in v] if isinstance(v, list) else v
                for k, v in serializers.as_serializer_error(exc).items()
            }
            refused.append((i, _refused(sent, known, problems, client, channel), "invalid"))
            continue
        source = fields.pop("source")
        valid.append(
            (
                i,
                IngestItem(
                    source=source,
                    payload=sent.payload,
                    fields=fields,
                    external_id=(fields.get("external_id") or "").strip(),
                    idempotency_key=sent.idempotency_key[:200] if i in claims else "",
                    client=client,
                    mapping_version=sent.mapping_version,
                    channel=channel,
                    synthetic=synthetic,
                ),
            )
        )
    return refused, valid


@dataclass(frozen=True)
class Preview:
    """What submitting an item would do now, with nothing written: the predicted outcome and
    the normalized values (none of them outside the reader's markets: `accepted`)."""

    index: int
    outcome: str
    market: str = ""
    lead: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    errors: dict[str, Any] = field(default_factory=dict)


def intake_preview(
    *, items: Sequence[Submitted], answer_scope: frozenset[int] | None = None
) -> list[Preview]:
    """Validate and predict each item as `intake_submit` would handle it; writes nothing."""
    refused, valid = _validate(items, list(range(len(items))), "csv", "", False, {})
    previews = {i: Preview(index=i, outcome="rejected", errors=r.errors) for i, r, _kind in refused}
    predicted = leads_predict(items=[item for _, item in valid]) if valid else []
    for (i, _item), p in zip(valid, predicted, strict=True):
        if p.outcome == Submission.Outcome.REJECTED:
            previews[i] = Preview(index=i, outcome="rejected", errors=p.errors)
        elif answer_scope is not None and p.market_id not in answer_scope:
            previews[i] = Preview(index=i, outcome="accepted")
        else:
            previews[i] = Preview(
                index=i, outcome=p.outcome, market=p.market, lead=p.lead, reason=p.reason
            )
    return [previews[i] for i in range(len(items))]


def _named_source(sent: Submitted) -> str:
    checked = sent.checked
    if isinstance(checked, dict) and isinstance(checked.get("source"), str):
        return str(checked["source"])
    return ""


def _refused(
    sent: Submitted,
    source: Source | None,
    errors: dict[str, Any],
    client: str,
    channel: str,
) -> Refused:
    return Refused(
        source=source,
        payload=sent.payload,
        errors=errors,
        client=client,
        channel=channel,
        size_bytes=sent.size_bytes,
    )


def intake_refuse(
    *,
    actor: Actor,
    channel: Channel,
    client: str = "",
    source_slug: str = "",
    payload: Any = None,
    errors: dict[str, Any],
    size_bytes: int | None = None,
) -> int:
    """Keep a submission a door refused before reading it (a body over its size, one that is
    not JSON): nothing sent goes unrecorded. Returns the submission id."""
    source = Source.objects.filter(slug=source_slug).first() if source_slug else None
    [submission_id] = submissions_reject(
        actor=actor,
        refused=[
            Refused(
                source=source,
                payload=payload if payload is not None else {},
                errors=errors,
                client=client,
                channel=channel,
                size_bytes=size_bytes,
            )
        ],
    )
    return submission_id
