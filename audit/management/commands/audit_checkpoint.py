"""`manage.py audit_checkpoint`: sign the current chain head (beat does this on a schedule)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.services import audit_checkpoint_create, checkpoint_file, signing_key_public
from leadops.core.actors import SystemActor


class Command(BaseCommand):
    help = (
        "Sign the current audit chain head as a C2SP checkpoint (Ed25519), store it and append "
        "it to AUDIT_CHECKPOINT_DIR/checkpoints.jsonl. --public-key prints the verifier key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--public-key", action="store_true", help="only print the verifier key and exit"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["public_key"]:
            self.stdout.write(signing_key_public())
            return
        checkpoint = audit_checkpoint_create(actor=SystemActor("audit_checkpoint"))
        if checkpoint is None:
            self.stdout.write("nothing new to sign: the head is already checkpointed (or empty)")
            return
        self.stdout.write(
            f"signed checkpoint at seq {checkpoint.seq}; appended to {checkpoint_file()}"
        )
