"""`manage.py erase_subject --email X | --phone Y`: forget a person (GDPR erasure)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.services import subject_erase
from leadops.core.actors import SystemActor


class Command(BaseCommand):
    help = (
        "Erase a data subject: every registered eraser scrubs its copies, the subject's "
        "commitment key is deleted (so audit commitments become unlinkable) and a "
        "`subject.erased` event without personal data is recorded. Give the normalized value."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--email", help="normalized email, e.g. ada@example.com")
        who.add_argument("--phone", help="E.164 phone, e.g. +4930123456")

    def handle(self, *args: Any, **options: Any) -> None:
        identity = f"email:{options['email']}" if options["email"] else f"phone:{options['phone']}"
        report = subject_erase(actor=SystemActor("erase_subject"), identity=identity)
        scrubbed = ", ".join(f"{name}: {count}" for name, count in report.scrubbed.items())
        self.stdout.write(
            f"erased; key deleted: {'yes' if report.key_deleted else 'no key existed'}; "
            f"scrubbed: {scrubbed or 'no erasers registered yet'}"
        )
