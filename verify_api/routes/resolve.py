"""The GS1 Digital Link paths printed in every QR code: a phone opens the consumer page.

The label is judged exactly as printed: the path as the client sent it (percent-escapes
included) and the label's own query parameters in their order, under this resolver's host,
because that is what the producer signed. The API's own parameters (lang, province, a
position) are taken out first; anything else is part of the label and must verify.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from contract.events import ScannerKind
from contract.verdict import Reason
from keys.certs import utc_now
from verify_api.deps import (
    DEVICE_COOKIE,
    DeviceDep,
    LangDep,
    OptionalInspector,
    PlaceDep,
    ServicesDep,
)
from verify_api.errors import ErrorCode, error_responses
from verify_api.negotiation import wants_json
from verify_api.rendering import NO_STORE, resolution_page
from verify_api.schemas import Resolution

API_PARAMETERS = frozenset({"lang", "province", "lat_e6", "lon_e6", "accuracy_m", "source"})
DEVICE_COOKIE_MAX_AGE_S = 2 * 365 * 86_400

router = APIRouter(tags=["resolve"])

_DESCRIPTION = """
Resolves the unit a QR code names. `Accept: application/json` gets the verdict and its facts
as JSON; anything else (a phone's browser) gets the consumer page, in Vietnamese unless
`?lang=en` or `Accept-Language` asks for English.

Status codes:
- **200**: a verdict, whatever it is: genuine, warning or counterfeit. A forged label is
  an answer, and the page must render for the person holding it.
- **400**: the path has the shape of a label but a field is malformed (bad GTIN check digit,
  serial, lot, date, stars, key id, signature encoding, non-canonical spelling): the body is
  still the full verdict (`reason: malformed`, `defect` names the part), page or JSON.
- **404**: not a Digital Link path of this resolver at all.
- **413/414**: oversize request; **429**: rate limited (see `Retry-After`);
  **503**: no trust list published yet, or the records are unreachable.

Every resolution also sends a scan event (time, the place the client chose to share, a keyed
hash of the device id; no personal data) without waiting for Kafka.
"""

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The verdict: the consumer page (text/html) or JSON.",
        "content": {"text/html": {}},
    },
    400: {"model": Resolution, "description": "A malformed label: the verdict `malformed`."},
    **error_responses(
        ErrorCode.NOT_FOUND,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.URL_TOO_LONG,
        ErrorCode.RATE_LIMITED,
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.NO_TRUST_LIST,
        ErrorCode.STORE_UNAVAILABLE,
    ),
}


def label_text(host: str, request: Request) -> str:
    """The label URL as printed, rebuilt from the request as the client sent it."""
    query = "&".join(
        pair
        for pair in request.scope["query_string"].decode("latin-1").split("&")
        if pair and pair.partition("=")[0] not in API_PARAMETERS
    )
    return f"https://{host}{_raw_path(request)}" + (f"?{query}" if query else "")


def _raw_path(request: Request) -> str:
    """The path as sent: the decoded one would turn an escaped "/" in a lot into a separator."""
    raw: bytes | None = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else request.url.path


async def _resolve(
    request: Request,
    services: ServicesDep,
    lang: LangDep,
    place: PlaceDep,
    device_id: DeviceDep,
    inspector: OptionalInspector,
) -> Response:
    text = label_text(services.settings.resolver_host, request)
    now = utc_now()
    resolved = await services.resolve(text, now)
    as_json = wants_json(request.headers.get("accept"))
    # a browser without our cookie gets one, so its later scans count as the same device
    new_device = None if as_json or device_id or inspector else secrets.token_urlsafe(18)
    province, location = place
    services.record_scan(
        resolved,
        text,
        now,
        scanner=ScannerKind.INSPECTOR if inspector else ScannerKind.CONSUMER,
        province=province,
        location=location,
        device_id=device_id or new_device,
    )
    resolution = resolved.resolution
    status = 400 if resolution.reason is Reason.MALFORMED else 200
    if as_json:
        return Response(
            resolution.model_dump_json(),
            status_code=status,
            media_type="application/json",
            headers=NO_STORE,
        )
    other = "en" if lang.value == "vi" else "vi"
    switch = f"{_raw_path(request)}?{_with_lang(request, other)}"
    page = HTMLResponse(resolution_page(resolution, lang, switch), status, headers=NO_STORE)
    if new_device is not None:
        page.set_cookie(
            DEVICE_COOKIE,
            new_device,
            max_age=DEVICE_COOKIE_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return page


def _with_lang(request: Request, lang: str) -> str:
    raw = request.scope["query_string"].decode("latin-1")
    kept = [pair for pair in raw.split("&") if pair and pair.partition("=")[0] != "lang"]
    return "&".join([*kept, f"lang={lang}"])


Gtin = Annotated[str, Path(description="GTIN-14", examples=["08931234567897"])]
Lot = Annotated[str, Path(description="lot (GS1 AI 10), percent-escaped as printed")]
Serial = Annotated[str, Path(description="unit serial (12 characters, Crockford base32)")]


@router.get(
    "/01/{gtin}/10/{lot:path}/21/{serial}",
    operation_id="resolve_gtin_unit",
    summary="Resolve a unit of a product with a GTIN",
    description=_DESCRIPTION,
    response_model=Resolution,
    responses=_RESPONSES,
)
async def resolve_gtin_unit(
    gtin: Gtin,
    lot: Lot,
    serial: Serial,
    request: Request,
    services: ServicesDep,
    lang: LangDep,
    place: PlaceDep,
    device_id: DeviceDep,
    inspector: OptionalInspector,
) -> Response:
    return await _resolve(request, services, lang, place, device_id, inspector)


@router.get(
    "/p/{code}/10/{lot:path}/21/{serial}",
    operation_id="resolve_product_code_unit",
    summary="Resolve a unit of a product without a GTIN (OCOP product code)",
    description=_DESCRIPTION,
    response_model=Resolution,
    responses=_RESPONSES,
)
async def resolve_product_code_unit(
    code: Annotated[str, Path(description="OCOP product code", examples=["TB-BANHCAY-01"])],
    lot: Lot,
    serial: Serial,
    request: Request,
    services: ServicesDep,
    lang: LangDep,
    place: PlaceDep,
    device_id: DeviceDep,
    inspector: OptionalInspector,
) -> Response:
    return await _resolve(request, services, lang, place, device_id, inspector)
