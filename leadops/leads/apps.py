from django.apps import AppConfig


class LeadsConfig(AppConfig):
    """Sources, submissions, the canonical lead, touches, activities, normalization, dedupe."""

    name = "leadops.leads"
    label = "leads"
    verbose_name = "Leads"

    def ready(self) -> None:
        from audit.services import eraser_register
        from leadops.leads.exports import exports_erase
        from leadops.leads.merges import lead_merges_erase
        from leadops.leads.services import lead_kinds_register, leads_erase
        from leadops.leads.sources import source_slug_problem
        from leadops.markets.market_table import source_slug_validator_register

        lead_kinds_register()
        eraser_register("leads", leads_erase)
        eraser_register("lead_merges", lead_merges_erase)
        eraser_register("lead_exports", exports_erase)
        source_slug_validator_register(source_slug_problem)
