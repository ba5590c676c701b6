from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    """Outbox relay, CRM providers, notifiers, pull cursors, field ownership and conflicts."""

    name = "connectors"
    label = "connectors"
    verbose_name = "Connectors"
