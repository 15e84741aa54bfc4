"""The JSON API: one NinjaAPI, one router per domain; OpenAPI at /api/openapi.json."""

from ninja import NinjaAPI

from hotline.hashes.api import router as hashes_router
from hotline.reports.api import router as reports_router

api = NinjaAPI(
    title="Hotline API",
    version="1",
    description="Report intake for partner hotlines, industry and police. "
    "Authenticate with `Authorization: Bearer <token>`.",
    urls_namespace="api",
)
api.add_router("/v1", reports_router)
api.add_router("/v1", hashes_router)
