"""The JSON API: one NinjaAPI, one router per domain; OpenAPI at /api/openapi.json."""

from ninja import NinjaAPI

from hotline.hashes.api import router as hashes_router
from hotline.partners.api import router as partners_router
from hotline.reports.api import router as reports_router
from hotline.takedown.api import router as takedown_router

api = NinjaAPI(
    title="Hotline API",
    version="1",
    description="Report intake for partner hotlines, industry and police. "
    "Authenticate with `Authorization: Bearer <token>`.",
    urls_namespace="api",
)
api.add_router("/v1", reports_router)
api.add_router("/v1", hashes_router)
api.add_router("/v1", partners_router)
api.add_router("/v1", takedown_router)
