from django.apps import AppConfig


class LeadsConfig(AppConfig):
    """Sources, submissions, the canonical lead, touches, activities, normalization, dedupe."""

    name = "leadops.leads"
    label = "leads"
    verbose_name = "Leads"

    def ready(self) -> None:
        from leadops.leads.services import lead_kinds_register
        from leadops.leads.sources import source_slug_problem
        from leadops.markets.market_table import source_slug_validator_register

        lead_kinds_register()
        source_slug_validator_register(source_slug_problem)
