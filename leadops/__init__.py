"""LeadOps: wiring (settings, urls, Celery, admin site, API plumbing) and the core apps."""

from leadops.celery import app as celery_app

__all__ = ["celery_app"]
