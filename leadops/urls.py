from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from leadops.api.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", include("leadops.api.urls")),
    path("healthz", healthz, name="healthz"),
]

# Under /api/ a path that matches no endpoint (or an id that is not a number) answers in the
# API's own error format, not with an HTML page.
handler404 = "leadops.api.errors.not_found"
