from django.apps import AppConfig


class SlaConfig(AppConfig):
    """SLA policies, timers, sweeps and escalation."""

    name = "leadops.sla"
    label = "sla"
    verbose_name = "SLAs"

    def ready(self) -> None:
        from audit.services import eraser_register
        from leadops.leads.hooks import lead_change_listen
        from leadops.sla.escalation import sla_steps_register
        from leadops.sla.timers import (
            on_activity,
            on_assigned,
            on_merged,
            on_moved,
            on_status,
            timers_erase,
        )

        sla_steps_register()
        lead_change_listen("assigned", on_assigned)
        lead_change_listen("activity", on_activity)
        lead_change_listen("status", on_status)
        lead_change_listen("merged", on_merged)
        lead_change_listen("moved", on_moved)
        # Erasers run in name order: this one before "leads", which blanks the emails.
        eraser_register("lead_sla_timers", timers_erase)
