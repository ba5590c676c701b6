from django.apps import AppConfig


class SlaConfig(AppConfig):
    """SLA policies, timers, sweeps and escalation."""

    name = "leadops.sla"
    label = "sla"
    verbose_name = "SLAs"
