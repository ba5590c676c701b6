from django.apps import AppConfig


class RoutingConfig(AppConfig):
    """Rule sets, versions, the compiler and engine, assignment, simulation and backtest."""

    name = "routing"
    label = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from audit.services import eraser_register
        from leadops.leads.hooks import reroute_register
        from leadops.sla.steps import escalation_step_register
        from routing.kinds import routing_kinds_register
        from routing.services import decisions_erase, leads_reassign, leads_reroute

        routing_kinds_register()
        reroute_register(leads_reroute)
        escalation_step_register("reassign", leads_reassign)
        # Erasers run in name order: this one before "leads", which blanks the leads' emails.
        eraser_register("lead_routing_decisions", decisions_erase)
