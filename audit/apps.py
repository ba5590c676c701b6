from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only, hash-chained audit log, checkpoints and the verifier."""

    name = "audit"
    label = "audit"
    verbose_name = "Audit"
