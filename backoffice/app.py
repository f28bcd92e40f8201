"""The workspace as its own sub-application: `create_workspace(settings, host=app)`, which
verify_api/app.py mounts at /inspect. It uses the services the host's lifespan opened
(`host.state.services`), so it shares their Cassandra session, trust list and Kafka sender;
the host's middleware (rate limit, sizes, deadline, metrics, security headers: the
workspace's own policy, verify_api.guards) wraps it.

Its errors are its own: pages in both languages, never the API's JSON, and a refused session
or form sends nothing.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from backoffice import desk, office_routes, routes
from backoffice.forms import FormRefused
from backoffice.pages import Assets
from backoffice.routes import Workspace
from backoffice.session import Refused, Sessions, workspace_key
from verify_api.errors import install_handlers
from verify_api.settings import ApiSettings

MOUNT = "/inspect"


def create_workspace(settings: ApiSettings, *, host: FastAPI) -> FastAPI:
    workspace = FastAPI(
        title="OCOP inspectors' workspace",
        openapi_url=None,  # pages, not an API: nothing here belongs in the API's OpenAPI
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )
    workspace.state.workspace = Workspace(
        settings=settings,
        sessions=Sessions(workspace_key(settings), settings.workspace_session_h * 3600),
        assets=Assets(),
        host=host,
    )
    workspace.include_router(routes.router)
    workspace.include_router(desk.router)
    workspace.include_router(office_routes.router)
    workspace.state.desk = desk.open_desk(settings)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        return routes.refusal_page(request, exc)

    async def form_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormRefused)
        return routes.form_page(request, exc)

    workspace.add_exception_handler(Refused, refused)
    workspace.add_exception_handler(FormRefused, form_refused)
    install_handlers(workspace, routes.api_error_page)
    return workspace
