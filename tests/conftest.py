"""Global fixtures. Tests run on real PostgreSQL and a real Celery broker (see README)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.factories import UserFactory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run browser tests last: their event loop must not surround any other test."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture
def staff_user(db: None) -> User:
    return UserFactory.create(is_staff=True)


@pytest.fixture
def superuser(db: None) -> User:
    return UserFactory.create(is_staff=True, is_superuser=True)
