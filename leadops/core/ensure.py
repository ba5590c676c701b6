"""Rows every database needs, (re)created after every migrate and every test flush.

Apps above core register an ensure function in their AppConfig.ready(); core runs them all on
post_migrate, in system context, so a flushed test database is whole again for the next test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps

from leadops.core.access import system_context

EnsureFunction = Callable[[], None]
_registry: dict[str, EnsureFunction] = {}


def ensure_register(name: str, function: EnsureFunction) -> None:
    """Register `function()`; it must be idempotent. Later registrations replace earlier."""
    _registry[name] = function


def ensure_all() -> list[str]:
    """Run every ensure function on the runtime connection, in one system-context transaction.

    Always the `default` alias: migrations run on `owner`, but by post_migrate they are
    committed, and the rows are then written exactly as the app would write them.
    """
    done = []
    with system_context("ensure_rows"):
        for name, function in _registry.items():
            function()
            done.append(name)
    return done


def on_post_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    # post_migrate is sent once per app that has models; run once, after the last one's, when
    # every table and permission exists.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender is not with_models[-1]:
        return
    ensure_all()
