"""`create_app`: the case API as an ASGI app (FastAPI), over one database and data dir."""

import asyncio
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from casedesk import __version__
from casedesk.domain import limits
from casedesk.domain.clock import Clock, system_clock
from casedesk.server.database import Database
from casedesk.server.errors import ApiError, not_found
from casedesk.server.faults import FaultConfig
from casedesk.server.http import language, new_request_id
from casedesk.server.idempotency import json_response, purge_expired
from casedesk.server.routes import actions, cases, documents, reference
from casedesk.server.state import ServerState
from casedesk.server.validation import details_from

log = logging.getLogger("casedesk.server")

MULTIPART_OVERHEAD = 64 * 1024
JSON_MEDIA_ROUTES = ("/v1/cases",)


def _error(request: Request, error: ApiError) -> Response:
    lang = language(request)
    body: dict[str, Any] = {
        "error": {
            "code": error.code,
            "message": error.message(lang),
            "details": error.spoken_details(lang),
        },
        "meta": {"request_id": getattr(request.state, "request_id", None) or new_request_id()},
    }
    if error.data is not None:
        body["error"]["data"] = error.data
    return json_response(error.status, body, headers=error.headers)


async def _on_api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return _error(request, error)


async def _on_validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    raw_body = error.body
    details = details_from(error.errors(), language(request), body=raw_body)
    return _error(request, ApiError(400, "validation_error", details=details))


async def _on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 404:
        return _error(request, not_found("route"))
    if error.status_code == 405:
        headers = dict(error.headers or {})
        headers["Allow"] = ", ".join(_allowed_methods(request))
        failure = ApiError(405, "method_not_allowed", method=request.method, headers=headers)
        return _error(request, failure)
    return _error(
        request, ApiError(error.status_code, "validation_error", details=[("", str(error.detail))])
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's).

    Read from the OpenAPI paths, which list every route whatever routers they came from.
    """
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(
            r"\{[^/}]+\}", "[^/]+", re.escape(template).replace("\\{", "{").replace("\\}", "}")
        )
        if re.fullmatch(pattern, request.url.path):
            methods.update(method.upper() for method in operations)
    return sorted(methods)


def _openapi_without_defaults(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI documents a 422 `HTTPValidationError` on every route with parameters; ours
    answer 400 with the error body instead, so that default is removed from the schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    answer = operation.get("responses", {}).get("422")
                    if answer and "HTTPValidationError" in str(answer):
                        del operation["responses"]["422"]
            components = schema.get("components", {}).get("schemas", {})
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


async def _on_unexpected(request: Request, error: Exception) -> Response:
    log.exception("unhandled error in %s %s", request.method, request.url.path, exc_info=error)
    return _error(request, ApiError(500, "internal_error"))


class Gatekeeper(BaseHTTPMiddleware):
    """Request ids, body limits, media types, and the optional injected faults."""

    def __init__(self, app: Any, state: ServerState) -> None:
        super().__init__(app)
        self.state = state

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        request.state.request_id = new_request_id()
        refusal = self._refusal(request)
        if refusal is not None:
            return _error(request, refusal)
        faults = self.state.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.should_fail():
            return _error(request, ApiError(500, "injected_fault"))
        response = await call_next(request)
        response.headers["X-Request-Id"] = request.state.request_id
        return response

    def _refusal(self, request: Request) -> ApiError | None:
        faults = self.state.faults
        if faults.rate_limit_per_s and request.url.path.startswith("/v1/"):
            client = request.headers.get("x-api-key") or request.headers.get("authorization") or ""
            wait = faults.retry_after(client)
            if wait is not None:
                return ApiError(
                    429, "rate_limited", seconds=wait, headers={"Retry-After": str(wait)}
                )
        if request.method not in {"POST", "PUT", "PATCH"}:
            return None
        is_upload = request.url.path == "/v1/documents"
        cap = (
            self.state.document_max_bytes + MULTIPART_OVERHEAD
            if is_upload
            else limits.JSON_BODY_MAX_BYTES
        )
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            return ApiError(413, "payload_too_large", limit=cap)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if is_upload:
            if media != "multipart/form-data":
                return ApiError(415, "unsupported_media_type", expected="multipart/form-data")
            return None
        is_json = media == "application/json" or media.endswith("+json")
        has_body = bool(media) or (length is not None and length != "0")
        if has_body and not is_json:
            return ApiError(415, "unsupported_media_type", expected="application/json")
        return None


def create_app(
    database: Database,
    *,
    data_dir: Path,
    clock: Clock = system_clock,
    document_max_bytes: int = limits.DOCUMENT_MAX_BYTES,
    faults: FaultConfig | None = None,
) -> FastAPI:
    """The case API over `database`, storing uploads under `data_dir`."""
    state = ServerState(
        database=database,
        data_dir=data_dir,
        clock=clock,
        document_max_bytes=document_max_bytes,
        faults=faults or FaultConfig(),
    )
    purge_expired(database, clock)
    app = FastAPI(
        title="casedesk case API",
        version=__version__,
        description=(
            "Cases, their chat, escalations, overrides and permanent action log. "
            "Auth: `X-API-KEY` or `Authorization: Bearer`. Every POST takes an optional "
            "`Idempotency-Key` (1..255 printable ASCII; 24 h). Errors: "
            "`{error: {code, message, details[{path, message}], data?}, meta}`; "
            "`Accept-Language: en|fr`."
        ),
    )
    app.state.casedesk = state
    app.add_middleware(Gatekeeper, state=state)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    for module in (reference, cases, actions, documents):
        app.include_router(module.router)
    app.openapi = _openapi_without_defaults(app)  # type: ignore[method-assign]
    return app
