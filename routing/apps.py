from django.apps import AppConfig


class RoutingConfig(AppConfig):
    """Rule sets, versions, the compiler and engine, assignment, simulation and backtest."""

    name = "routing"
    label = "routing"
    verbose_name = "Routing"
