"""Typed dependencies of the routes, each building on the one before.

Every dependency is `async def`: FastAPI runs plain `def` dependencies in a thread pool,
which would halve the throughput of the hot path for nothing. The Digital Link routes, the
hot path, take no dependencies at all: solving even three cost them about a fifth of their
CPU under load (measured with bench/bench_api.py), so they call `read_caller` themselves.

Inspectors: `Authorization: Bearer <token>`; the token's SHA-256 is looked up (only hashes
are stored, so the lookup is the comparison). A missing, malformed, unknown or withdrawn
token is 401; a valid token whose role may not do the thing is 403. Any doubt refuses.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from starlette.requests import HTTPConnection

from contract import identifiers
from contract.events import InspectorRole, Location, LocationSource
from contract.verdict import Lang
from records.rows import Inspector
from verify_api.errors import ApiError, ErrorCode, describe
from verify_api.negotiation import language
from verify_api.schemas import UNIT_OR_CODE_HASH, Province
from verify_api.services import Services, Store
from verify_api.trustcache import HeldTrustList, NoTrustList

DEVICE_COOKIE = "ocop_device"
_DEVICE_ID = re.compile(r"[A-Za-z0-9._-]{8,128}")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]{20,512}=*")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ocop-inspectors"'}
_bearer = HTTPBearer(auto_error=False, description="an inspector's API token")


_CODE_HASH = re.compile(r"[0-9a-f]{64}")


def filed_under(unit: str) -> str:
    """What inspectors' routes take for a unit: a unit key (`/01/<GTIN-14>/21/<serial>`), or
    the hash under which what concerns a code that names no unit is filed (alerts, cases)."""
    if _CODE_HASH.fullmatch(unit):
        return unit
    product_key, _, serial = unit.rpartition("/21/")
    try:
        return identifiers.unit_key(product_key, serial)
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc)) from None


UnitOrCodeQuery = Annotated[
    str,
    Query(
        max_length=64,
        description="a unit key, or the hash of a code that names no unit",
        json_schema_extra=UNIT_OR_CODE_HASH,
    ),
]
"""The `unit` parameter of inspectors' routes, read with `filed_under`."""


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


LatitudeE6 = Annotated[int, Field(ge=-90_000_000, le=90_000_000)]
LongitudeE6 = Annotated[int, Field(ge=-180_000_000, le=180_000_000)]
AccuracyM = Annotated[int, Field(ge=0, le=20_000_000)]


class Position(BaseModel):
    """A position's three query parameters, as the OpenAPI shows them: together or not at all
    (`PlaceQuery` reads them)."""

    lat_e6: LatitudeE6
    lon_e6: LongitudeE6
    accuracy_m: AccuracyM


class PlaceQuery(BaseModel):
    """The coarse place a client chooses to share: a province, or a position in micro-degrees
    with its accuracy. Never derived from the client's address."""

    model_config = ConfigDict(extra="ignore")

    province: Province | None = None
    lat_e6: LatitudeE6 | None = None
    lon_e6: LongitudeE6 | None = None
    accuracy_m: AccuracyM | None = None
    source: LocationSource = LocationSource.GPS

    @model_validator(mode="after")
    def _together(self) -> PlaceQuery:
        given = [value is not None for value in (self.lat_e6, self.lon_e6, self.accuracy_m)]
        if any(given) and not all(given):
            raise ValueError("lat_e6, lon_e6 and accuracy_m are given together")
        return self

    def location(self) -> Location | None:
        if self.lat_e6 is None or self.lon_e6 is None or self.accuracy_m is None:
            return None
        return Location(
            latitude_e6=self.lat_e6,
            longitude_e6=self.lon_e6,
            accuracy_m=self.accuracy_m,
            source=self.source,
        )


PLACE_PARAMETERS = frozenset(PlaceQuery.model_fields)


@dataclass(frozen=True)
class Caller:
    """Who is scanning and what they chose to share; read straight from the request (one
    dependency instead of nine keeps FastAPI's share of a resolution small)."""

    lang: Lang
    province: str | None
    location: Location | None
    device_id: str | None
    """An app's X-Device-Id, else the consumer page's cookie; only if well formed."""
    inspector: Inspector | None
    """Set when the request carries a valid inspector token."""
    network: str | None
    """Where the request came from, as one independent client: the source address (an IPv6
    address by its /64, which one subscriber usually holds whole), or, when the source is a
    trusted proxy (`ApiSettings.trusted_proxies`), the nearest X-Forwarded-For entry that is
    not one. Never the client's own word: headers from anyone else are ignored."""


def client_network(
    request: HTTPConnection, trusted: Sequence[IPv4Network | IPv6Network]
) -> str | None:
    """The network a request came from (see `Caller.network`). Takes any HTTPConnection, so
    the rate limit (verify_api.guards) keys its buckets on the same answer from a bare scope."""
    peer = request.client.host if request.client else None
    hops = [peer] if peer else []
    if trusted and peer and _within(peer, trusted):
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [peer, *reversed([hop.strip() for hop in forwarded.split(",") if hop.strip()])]
    for hop in hops:  # nearest first: each proxy appends the address it saw
        if not _within(hop, trusted):
            return _network(hop)
    return _network(hops[-1]) if hops else None


def _within(address: str, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _network(address: str) -> str:
    try:
        ip = ip_address(address)
    except ValueError:
        return address[:64]  # not an address (a test client's name): itself
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ip_network(f"{ip}/64", strict=False))
    return str(ip)


async def read_caller(request: Request, store: Store) -> Caller:
    """The caller of a request; the Digital Link routes call it directly (see resolve.py)."""
    services: Services = request.app.state.services
    trusted_proxies = services.settings.trusted_proxies
    query = request.query_params
    place = PlaceQuery()
    if any(name in query for name in PLACE_PARAMETERS):
        try:
            place = PlaceQuery.model_validate(dict(query))
        except ValidationError as exc:
            raise ApiError(ErrorCode.INVALID_REQUEST, describe(exc.errors())) from None
    device = request.headers.get("x-device-id") or request.cookies.get(DEVICE_COOKIE)
    return Caller(
        lang=language(query.get("lang"), request.headers.get("accept-language")),
        province=place.province,
        location=place.location(),
        device_id=device if device is not None and _DEVICE_ID.fullmatch(device) else None,
        inspector=await _authenticated(request.headers.get("authorization"), store),
        network=client_network(request, trusted_proxies),
    )


async def get_caller(request: Request, store: StoreDep) -> Caller:
    return await read_caller(request, store)


CallerDep = Annotated[Caller, Depends(get_caller)]

CALLER_PARAMETERS: list[dict[str, Any]] = [
    {"name": "lang", "in": "query", "schema": {"type": "string"},
     "description": "`vi` (the default) or `en`; any other value is ignored, and "
     "Accept-Language decides"},
    {"name": "province", "in": "query", "schema": TypeAdapter(Province).json_schema(),
     "description": "the province the client is in, if it chooses to say"},
    {"name": "position", "in": "query", "style": "form", "explode": True,
     "schema": TypeAdapter(Position).json_schema(),
     "description": "`lat_e6`, `lon_e6` and `accuracy_m` (three query parameters, all or "
     "none): a position in micro-degrees and its accuracy in metres, if the client chooses "
     "to share one"},
    {"name": "source", "in": "query", "schema": {"enum": [s.value for s in LocationSource]},
     "description": "how the position was found (default `gps`)"},
    {"name": "X-Device-Id", "in": "header", "schema": {"type": "string"},
     "description": "an app's stable device id, 8 to 128 of A-Z a-z 0-9 . _ - (any other "
     "value is ignored); only a keyed hash of it is sent on"},
]  # fmt: skip
"""OpenAPI for what `get_caller` reads: it reads them itself, so FastAPI cannot list them."""


async def _authenticated(authorization: str | None, store: Store) -> Inspector | None:
    """The inspector an Authorization header names; None only when there is no header at all
    (a consumer). A bad one is refused, never taken as anonymous."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise ApiError(ErrorCode.UNAUTHENTICATED, "use Authorization: Bearer", _CHALLENGE)
    token = token.strip()
    if not _TOKEN.fullmatch(token):
        raise ApiError(ErrorCode.UNAUTHENTICATED, "malformed token", _CHALLENGE)
    inspector = await store.inspector(hashlib.sha256(token.encode("ascii")).hexdigest())
    if inspector is None or not inspector.active:
        raise ApiError(ErrorCode.UNAUTHENTICATED, "unknown or withdrawn token", _CHALLENGE)
    return inspector


async def optional_inspector(
    request: Request,
    store: StoreDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Inspector | None:
    """As `_authenticated`; the HTTPBearer dependency puts the scheme in the OpenAPI."""
    return await _authenticated(request.headers.get("authorization"), store)


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


def province_of(inspector: Inspector, asked: str | None) -> str | None:
    """The province whose alerts and cases an inspector is shown: an inspector registered
    for a province sees that one only (asking for another is forbidden); a supervisor, or an
    inspector registered without one, sees the one asked for."""
    if inspector.province is None or role_of(inspector) is InspectorRole.SUPERVISOR:
        return asked
    if asked is not None and asked != inspector.province:
        raise ApiError(
            ErrorCode.FORBIDDEN,
            f"thanh tra viên của {inspector.province} / an inspector of {inspector.province}",
        )
    return inspector.province


FIELD_ROLES = frozenset({InspectorRole.INSPECTOR, InspectorRole.SUPERVISOR})
"""Who checks shelves, records findings and triages alerts and cases (not the office's
evaluation staff, whose role is `office`)."""


async def current_field_inspector(inspector: CurrentInspector) -> Inspector:
    """Records findings: inspectors and supervisors."""
    if role_of(inspector) not in FIELD_ROLES:
        raise ApiError(ErrorCode.FORBIDDEN, f"role {inspector.role!r}")
    return inspector


FieldInspector = Annotated[Inspector, Depends(current_field_inspector)]


async def current_supervisor(inspector: CurrentInspector) -> Inspector:
    """Reads everyone's findings (and, later, alerts)."""
    if role_of(inspector) is not InspectorRole.SUPERVISOR:
        raise ApiError(ErrorCode.FORBIDDEN, "supervisors only")
    return inspector


CurrentSupervisor = Annotated[Inspector, Depends(current_supervisor)]
