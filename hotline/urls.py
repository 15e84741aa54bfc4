"""Routes. HTML pages sit under a language prefix (/nl/, /fr/; English has none)."""

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path

from hotline.api import api
from hotline.core.views import healthz

handler400 = "hotline.core.views.bad_request"
handler403 = "hotline.core.views.permission_denied"
handler404 = "hotline.core.views.page_not_found"
handler500 = "hotline.core.views.server_error"

urlpatterns = [
    path("api/", api.urls),
    path("healthz", healthz, name="healthz"),
]
urlpatterns += i18n_patterns(
    path("", include("hotline.core.urls")),
    path("", include("hotline.reports.urls")),
    path("", include("hotline.assessment.urls")),
    path("", include("hotline.assessment.incident_urls")),
    path("", include("hotline.evidence.urls")),
    path("", include("hotline.hashes.urls")),
    path("", include("hotline.core.audit_urls")),
    path("", include("hotline.tracing.urls")),
    path("", include("hotline.partners.urls")),
    path("", include("hotline.routing.urls")),
    path("", include("hotline.takedown.urls")),
    path("", include("hotline.mailintake.urls")),
    path("", include("hotline.cases.urls")),
    path("", include("hotline.retention.urls")),
    path("", include("hotline.stats.urls")),
    path("", include("hotline.selfreferral.urls")),
    path("", include("hotline.iccam.urls")),
    path("accounts/", include("hotline.accounts.urls")),
    path("admin/", admin.site.urls),
    prefix_default_language=False,
)
