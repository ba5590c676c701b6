"""WSGI entry point (gunicorn leadops.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from leadops.core.collector import collector_tune

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadops.settings.base")

application = get_wsgi_application()
# Start-up is over (settings, apps, models): what it made stays for the process's life.
collector_tune()
