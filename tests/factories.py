"""factory-boy factories shared across apps (per-app factories live beside their tests)."""

from __future__ import annotations

import factory
from django.contrib.auth.models import User

TEST_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    is_staff = False
    password = factory.django.Password(TEST_PASSWORD)
