"""The JSON API: one NinjaAPI, one router per domain; OpenAPI at /api/openapi.json.

Besides each operation's own answers, the document lists the refusals the framework gives before a
view runs (:func:`refusals_for`): 400 (a body that is not JSON or not a readable form), 401 (no or a
bad token), 413 (a body over ``HOTLINE_MAX_BODY_BYTES``), 422 (a parameter or body that breaks the
schema) and 429 (the client's rate limit). Every one of them is JSON.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI, Schema
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.params.models import ParamModel, QueryModel
from pydantic import ConfigDict

from hotline.hashes.api import router as hashes_router
from hotline.partners.api import router as partners_router
from hotline.reports.api import router as reports_router
from hotline.takedown.api import router as takedown_router


class RequestRefusalOut(Schema):
    detail: str


class ValidationIssue(Schema):
    model_config = ConfigDict(extra="allow")

    type: str
    loc: list[str | int]
    msg: str


class ValidationRefusalOut(Schema):
    detail: list[ValidationIssue]


_REFUSALS: dict[int, tuple[type[Schema], str]] = {
    400: (RequestRefusalOut, "The body is not valid JSON, or not a readable form."),
    401: (RequestRefusalOut, "No bearer token, or an unknown or revoked one."),
    413: (RequestRefusalOut, "The body is larger than HOTLINE_MAX_BODY_BYTES (20 MiB unless configured)."),
    422: (ValidationRefusalOut, "A parameter or the body breaks the schema; `detail` names each field ('loc')."),
    429: (RequestRefusalOut, "The client's rate limit (HOTLINE_API_RATE) is reached; retry later."),
}


def refusals_for(operation: Operation) -> list[int]:
    """The statuses the framework may answer for ``operation`` before its view runs."""
    sources = {getattr(model, "__ninja_param_source__", "") for model in operation.models}
    statuses: list[int] = []
    if sources & {"body", "form", "file"}:
        statuses += [400, 413]
    if operation.auth_callbacks:
        statuses += [401, 429]
    if operation.models:
        statuses.append(422)
    return sorted(statuses)


class _Document(OpenAPISchema):
    def responses(self, operation: Operation) -> dict[int, dict[str, Any]]:
        result: dict[int, dict[str, Any]] = super().responses(operation)
        for status in refusals_for(operation):
            model, description = _REFUSALS[status]
            wrapped = operation._create_response_model(model)  # as ninja wraps an operation's own models
            assert wrapped is not None
            # ninja's own response models go the same way; its type bound only names parameter models.
            schema = self._create_schema_from_model(  # type: ignore[type-var]
                wrapped, by_alias=operation.by_alias, mode="serialization")[0]
            result.setdefault(status, {"description": description,
                                       "content": {self.api.renderer.media_type: {"schema": schema}}})
        return result


class HotlineAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None,
                           path_params: dict[str, Any] | None = None) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return _Document(self, path_prefix)


api = HotlineAPI(
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


def _forbid_unknown_query_parameters(ninja_api: NinjaAPI) -> None:
    """A query parameter an operation does not declare is refused (422, naming it) instead of ignored: a client's
    ``?bank=A`` (for ``banks``) would otherwise look up every bank and look like an answer about bank A. ninja
    keeps only the declared names before validating; here the others are kept too, and the model forbids them."""
    for _prefix, router in ninja_api._routers:
        for view in router.path_operations.values():
            for operation in view.operations:
                for model in operation.models:
                    if issubclass(model, QueryModel) and model.model_config.get("extra") != "forbid":
                        model.model_config["extra"] = "forbid"
                        model.model_rebuild(force=True)
                        model._map_data_paths = classmethod(_keeping_unknown)


def _keeping_unknown(cls: type[ParamModel], data: dict[str, Any]) -> dict[str, Any]:
    known = getattr(cls, "__ninja_flatten_map__", None) or {}
    mapped: dict[str, Any] = ParamModel._map_data_paths.__func__(cls, data)  # type: ignore[attr-defined]
    return mapped | {key: value for key, value in data.items() if key not in known}


_forbid_unknown_query_parameters(api)


@api.exception_handler(SuspiciousOperation)
def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    """Django raises these while reading a body (too large, too many fields or files); without this
    handler the framework answered 500 with a traceback in DEBUG and an HTML 400 page without it."""
    if isinstance(exc, RequestDataTooBig):
        return api.create_response(request, {"detail": f"the request body is larger than "
                                                       f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"}, status=413)
    return api.create_response(request, {"detail": "the request body cannot be read"}, status=400)


@api.exception_handler(MultiPartParserError)
def _multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return api.create_response(request, {"detail": "the multipart body cannot be read"}, status=400)
