from django.apps import AppConfig


class LeadsConfig(AppConfig):
    """Sources, submissions, the canonical lead, touches, activities, normalization, dedupe."""

    name = "leadops.leads"
    label = "leads"
    verbose_name = "Leads"
