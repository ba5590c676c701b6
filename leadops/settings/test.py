"""Test settings: the base settings with fast hashing and a generated secret.

DATABASE_URL and CELERY_BROKER_URL work as in base: real servers when set, the embedded ones
otherwise. Nothing here swaps in SQLite or an in-memory broker.
"""

from __future__ import annotations

import os

os.environ.setdefault("LEADOPS_LOCAL_SECRETS", "true")

from leadops.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests serve static files from the apps (no collectstatic run); no static root to warn about.
STATIC_ROOT = None  # type: ignore[assignment]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
