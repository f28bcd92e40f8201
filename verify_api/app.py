"""The FastAPI app: `create_app(settings)`, with a lifespan that opens what it holds.

Errors are answered in one shape everywhere (verify_api.errors): a stable code and a
sentence in the client's language, as JSON, or as a page for a browser. Cassandra being
unreachable mid-request is 503, not 500: the client may simply try again.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.responses import Response
from starlette.routing import Route, compile_path
from starlette.types import ASGIApp

from backoffice.app import create_workspace
from verify_api import deadline, errors
from verify_api.deadline import Deadline
from verify_api.errors import ErrorCode, describe, install_handlers
from verify_api.guards import (
    RATE_EXEMPT,
    Docs,
    Guard,
    SecurityHeaders,
    TokenBuckets,
    allow_header,
)
from verify_api.metrics import ApiMetrics, Timing
from verify_api.rendering import error_response
from verify_api.routes import ROUTERS
from verify_api.services import Services, open_services
from verify_api.settings import ApiSettings

ServicesFactory = Callable[[ApiSettings], Awaitable[Services]]


class _Api(FastAPI):
    """FastAPI with verify_api.guards.SecurityHeaders outside everything, Starlette's own
    error middleware included, so that even its 500 carries them."""

    docs: Docs | None = None

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), docs=self.docs)

    def openapi(self) -> dict[str, Any]:
        """FastAPI's OpenAPI, completed with what the routes do not declare themselves (see
        `_every_answer`); made once, like FastAPI's."""
        if self.openapi_schema is None:
            self.openapi_schema = _every_answer(super().openapi())
        return self.openapi_schema


def _methods_at(request: Request) -> set[str]:
    """The methods of every route at the request's path: Starlette's 405 names only those of
    the first route the path matched (/inspectors/inspections has a GET and a POST route)."""
    path = request.scope["path"]
    return {
        method
        for context in iter_route_contexts(request.app.router.routes)
        if isinstance(context.original_route, Route) and context.path is not None
        and compile_path(context.path)[0].match(path)
        for method in context.original_route.methods or ()
    }  # fmt: skip


_VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"
_IMPLICIT_METHODS = (
    "Every path also answers **HEAD** as GET without the body (a HEAD of a label is not "
    "counted as a scan) and **OPTIONS** with 204 and `Allow` (a CORS preflight on the public "
    "routes); both come from the API's guards (verify_api.guards), not from the operations "
    "below, and are not listed as operations. A method a path does not have is 405 with "
    "`Allow`."
)


def _never_null(schema: dict[str, Any]) -> None:
    alternatives = [item for item in schema.get("anyOf", []) if item != {"type": "null"}]
    if len(alternatives) == 1 and len(schema["anyOf"]) == 2:
        del schema["anyOf"]
        schema.update(alternatives[0] | schema)


def _every_answer(spec: dict[str, Any]) -> dict[str, Any]:
    """Every status and body an operation can really get, in the OpenAPI:

    - what the guards, the deadline and the server answer on every route
      (`errors.answered_on_every_route`, with the exemptions of the rate limit and of the
      deadline), and 404 on a route with path parameters (a parameter holding "/", or none,
      names a path no route has);
    - 422 as the validation handler (`invalid`) sends it, an `ErrorBody`, not FastAPI's
      `HTTPValidationError`, which the API never sends;
    - `ErrorBody.error` as the enum of the codes it can hold;
    - an optional parameter as absent when not given, not as `null` (FastAPI writes `X | None`
      as `anyOf` with null, which a client can only send as the text "null").
    """
    not_found = errors.rendered(errors.error_responses(ErrorCode.NOT_FOUND)[404])
    invalid = errors.rendered(errors.error_responses(ErrorCode.INVALID_REQUEST)[422])
    for path, operations in spec["paths"].items():
        everywhere = errors.answered_on_every_route(
            rate_limited=path not in RATE_EXEMPT, deadline=path not in deadline.EXEMPT
        )
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _never_null(parameter["schema"])
            responses: dict[str, Any] = operation["responses"]
            refused = responses.get("422", {}).get("content", {}).get("application/json", {})
            if refused.get("schema", {}).get("$ref") == _VALIDATION_ERROR:
                responses["422"] = invalid
            errors.add_answers(responses, everywhere)
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                errors.add_answers(responses, {404: not_found})
    schemas = spec["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["ErrorBody"]["properties"]["error"]["enum"] = [code.value for code in ErrorCode]
    info = spec["info"]
    info["description"] = "\n\n".join(filter(None, [info.get("description"), _IMPLICIT_METHODS]))
    return spec


def create_app(settings: ApiSettings, *, services: ServicesFactory = open_services) -> FastAPI:
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        held = await services(settings)
        app.state.services = held
        metrics.scan_events.sink = held.events
        # What start-up made (modules, schemas, the driver's metadata) lives as long as the
        # process: kept out of the collector's full passes, which otherwise stalled every
        # request in flight for 30-100 ms (measured under bench/bench_api.py's paced load).
        gc.freeze()
        try:
            yield
        finally:
            await held.close()

    app = _Api(
        title="OCOP trace verify API",
        summary="Resolves the QR code on an OCOP product to its provenance and its current "
        "star rating; the inspectors' API; the published trust list.",
        version="1.0",
        lifespan=lifespan,
        redirect_slashes=False,  # its redirect is built from the Host header: a 404 instead
        docs_url=None,  # FastAPI's would load Swagger UI from a CDN: guards.Docs serves it
        redoc_url=None,
    )
    for router in ROUTERS:
        app.include_router(router)
    if settings.docs_enabled:
        app.docs = Docs(app.openapi_url or "/openapi.json", app.title)
        app.include_router(app.docs.router)
    app.mount("/inspect", create_workspace(settings, host=app))  # inspectors' workspace

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, ErrorCode.INVALID_REQUEST, describe(exc.errors()))

    # a 405's Allow: the path's methods, and the Guard's HEAD and OPTIONS
    install_handlers(app, error_response, lambda r: allow_header(", ".join(_methods_at(r))))
    app.add_exception_handler(RequestValidationError, invalid)

    # innermost first: the deadline counts from the guards' admission (verify_api.deadline)
    app.add_middleware(
        Deadline,
        seconds=settings.request_deadline_s,
        in_flight=settings.requests_in_flight,
        missed=metrics.deadline_missed.inc,
    )
    buckets = None
    if settings.rate_limit_per_s > 0:
        buckets = TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst)
    app.add_middleware(
        Guard,
        buckets=buckets,
        max_url=settings.max_url_length,
        max_body=settings.max_body_bytes,
        trusted=settings.trusted_proxies,
    )
    app.state.metrics = metrics
    app.add_middleware(Timing, metrics=metrics)  # last, so outermost: refusals are timed too
    return app


def app_from_environment() -> FastAPI:
    """For `uvicorn --factory verify_api.app:app_from_environment` (OCOP_* variables)."""
    return create_app(ApiSettings())
