"""Typed dependencies of the routes, each building on the one before.

Every dependency is `async def`: FastAPI runs plain `def` dependencies in a thread pool,
which would halve the throughput of the hot path for nothing.

Inspectors: `Authorization: Bearer <token>`; the token's SHA-256 is looked up (only hashes
are stored, so the lookup is the comparison). A missing, malformed, unknown or withdrawn
token is 401; a valid token whose role may not do the thing is 403. Any doubt refuses.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from contract.events import InspectorRole, Location, LocationSource
from contract.verdict import Lang
from records.rows import Inspector
from verify_api.errors import ApiError, ErrorCode
from verify_api.negotiation import language
from verify_api.schemas import Province
from verify_api.services import Services, Store
from verify_api.trustcache import HeldTrustList, NoTrustList

DEVICE_COOKIE = "ocop_device"
_DEVICE_ID = re.compile(r"[A-Za-z0-9._-]{8,128}")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]{20,512}=*")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ocop-inspectors"'}
_bearer = HTTPBearer(auto_error=False, description="an inspector's API token")


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_store(services: ServicesDep) -> Store:
    return services.store


StoreDep = Annotated[Store, Depends(get_store)]


async def get_trust(services: ServicesDep) -> HeldTrustList:
    try:
        return await services.trust.get()
    except NoTrustList:
        raise ApiError(ErrorCode.NO_TRUST_LIST) from None


TrustDep = Annotated[HeldTrustList, Depends(get_trust)]


async def get_lang(
    request: Request,
    lang: Annotated[Lang | None, Query(description="vi (default) or en")] = None,
) -> Lang:
    return language(lang, request.headers.get("accept-language"))


LangDep = Annotated[Lang, Depends(get_lang)]


async def get_place(
    province: Annotated[Province | None, Query(description="the province the client is in")] = None,
    lat_e6: Annotated[int | None, Query(ge=-90_000_000, le=90_000_000)] = None,
    lon_e6: Annotated[int | None, Query(ge=-180_000_000, le=180_000_000)] = None,
    accuracy_m: Annotated[int | None, Query(ge=0, le=20_000_000)] = None,
    source: LocationSource = LocationSource.GPS,
) -> tuple[str | None, Location | None]:
    """The coarse place a client chooses to share: a province, or a position in
    micro-degrees with its accuracy. Never derived from the client's address."""
    given = (lat_e6, lon_e6, accuracy_m)
    if all(value is None for value in given):
        return province, None
    if lat_e6 is None or lon_e6 is None or accuracy_m is None:
        raise ApiError(
            ErrorCode.INVALID_REQUEST, "lat_e6, lon_e6 and accuracy_m are given together"
        )
    location = Location(
        latitude_e6=lat_e6, longitude_e6=lon_e6, accuracy_m=accuracy_m, source=source
    )
    return province, location


PlaceDep = Annotated[tuple[str | None, Location | None], Depends(get_place)]


async def get_device_id(
    request: Request,
    x_device_id: Annotated[
        str | None, Header(description="an app's own stable device id; hashed, never stored")
    ] = None,
) -> str | None:
    """An app's header, else the cookie the consumer page sets; ignored unless well formed."""
    device = x_device_id or request.cookies.get(DEVICE_COOKIE)
    return device if device is not None and _DEVICE_ID.fullmatch(device) else None


DeviceDep = Annotated[str | None, Depends(get_device_id)]


async def optional_inspector(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Inspector | None:
    """The inspector a request authenticates as; None only if it sends no Authorization at
    all (a consumer). Sending a bad one is refused, never treated as anonymous."""
    if credentials is None:
        if "authorization" in request.headers:
            raise ApiError(ErrorCode.UNAUTHENTICATED, "use Authorization: Bearer", _CHALLENGE)
        return None
    token = credentials.credentials
    if not _TOKEN.fullmatch(token):
        raise ApiError(ErrorCode.UNAUTHENTICATED, "malformed token", _CHALLENGE)
    inspector = await store.inspector(hashlib.sha256(token.encode("ascii")).hexdigest())
    if inspector is None or not inspector.active:
        raise ApiError(ErrorCode.UNAUTHENTICATED, "unknown or withdrawn token", _CHALLENGE)
    return inspector


OptionalInspector = Annotated[Inspector | None, Depends(optional_inspector)]


async def current_inspector(inspector: OptionalInspector) -> Inspector:
    if inspector is None:
        raise ApiError(ErrorCode.UNAUTHENTICATED, "no token", _CHALLENGE)
    return inspector


CurrentInspector = Annotated[Inspector, Depends(current_inspector)]


def role_of(inspector: Inspector) -> InspectorRole | None:
    """None for a role this API does not know: it grants nothing."""
    try:
        return InspectorRole(inspector.role)
    except ValueError:
        return None


async def current_field_inspector(inspector: CurrentInspector) -> Inspector:
    """Records findings: inspectors and supervisors."""
    if role_of(inspector) is None:
        raise ApiError(ErrorCode.FORBIDDEN, f"role {inspector.role!r}")
    return inspector


FieldInspector = Annotated[Inspector, Depends(current_field_inspector)]


async def current_supervisor(inspector: CurrentInspector) -> Inspector:
    """Reads everyone's findings (and, later, alerts)."""
    if role_of(inspector) is not InspectorRole.SUPERVISOR:
        raise ApiError(ErrorCode.FORBIDDEN, "supervisors only")
    return inspector


CurrentSupervisor = Annotated[Inspector, Depends(current_supervisor)]
