"""Who did something. Every service takes an explicit actor and passes it on to the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True)
class SystemActor:
    """A task, command or other non-person actor; `name` says which (e.g. "seed_demo")."""

    name: str

    def __str__(self) -> str:
        return f"system:{self.name}"


Actor = AbstractBaseUser | AnonymousUser | SystemActor
