"""Who did something, and through which door. Every service takes an explicit actor and passes
it on to the audit log; the origin (admin, api, task, command) is set by the door itself."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True)
class SystemActor:
    """A task, command or other non-person actor; `name` says which (e.g. "seed_demo")."""

    name: str

    def __str__(self) -> str:
        return f"system:{self.name}"


class NamedActor(Protocol):
    """An actor defined in a higher layer (an API client) that names its own kind."""

    audit_actor_kind: str
    pk: Any


Actor = AbstractBaseUser | AnonymousUser | SystemActor | NamedActor

Origin = Literal["admin", "api", "task", "command"]
_origin: contextvars.ContextVar[Origin] = contextvars.ContextVar(
    "leadops_origin", default="command"
)


@dataclass(frozen=True)
class ActorRef:
    """How an actor is written into the audit log: a kind, a stable id and a readable label."""

    kind: str  # "user" | "api_client" | "system"
    id: str
    label: str


def actor_ref(actor: Actor) -> ActorRef:
    if isinstance(actor, SystemActor):
        return ActorRef(kind="system", id=actor.name, label=str(actor))
    kind = getattr(actor, "audit_actor_kind", None)
    if kind is not None:  # e.g. an API client, defined in a higher layer
        return ActorRef(kind=str(kind), id=str(actor.pk), label=str(actor))
    if isinstance(actor, AbstractBaseUser):
        return ActorRef(kind="user", id=str(actor.pk), label=actor.get_username())
    raise TypeError(f"{actor!r} is not an actor (a user, an API client or a SystemActor)")


def origin_current() -> Origin:
    return _origin.get()


@contextmanager
def origin_context(origin: Origin) -> Iterator[None]:
    token = _origin.set(origin)
    try:
        yield
    finally:
        _origin.reset(token)
