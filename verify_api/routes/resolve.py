"""The GS1 Digital Link paths printed in every QR code: a phone opens the consumer page.

The label is judged exactly as printed: the path as the client sent it (percent-escapes
included) and the label's signed query parameters in their order, under this resolver's
host, because that is what the producer signed. Any other pair (the API's own lang,
province and position; GS1 data attributes; tracking pairs a messaging app appends) is not
part of the label and is ignored by the verdict (contract.label.decode_label).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from contract.events import ScannerKind
from contract.verdict import Lang, Reason
from keys.certs import utc_now
from verify_api.deps import CALLER_PARAMETERS, DEVICE_COOKIE, read_caller
from verify_api.errors import ErrorCode, error_responses
from verify_api.guards import HEAD_ONLY
from verify_api.metrics import RESOLUTION
from verify_api.negotiation import wants_json
from verify_api.rendering import NO_STORE
from verify_api.routes import resolver
from verify_api.schemas import GTIN_14, LOT, PRODUCT_CODE, SERIAL, Resolution
from verify_api.services import Services

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
- **404**: not a Digital Link path of this resolver at all; an unknown product or link type
  for a `linkType` request.

As a GS1-Conformant resolver (verify_api.routes.resolver, docs/resolver.md), the unit's
default link is this page: a label scan gets it in place. `?linkType=linkset` or
`Accept: application/linkset+json` gets the linkset (**200**), `?linkType=gs1:...` a **307**
to that link (this page itself for `gs1:verificationService` and `gs1:defaultLink`), and a
bare unit URI without the label's pairs a **307** to its lot's or product's default link.
- **413/414**: oversize request; **429**: rate limited (see `Retry-After`);
  **503**: no trust list published yet, or the records are unreachable.

Every resolution also sends a scan event (time, the place the client chose to share, a keyed
hash of the device id; no personal data) without waiting for Kafka.
"""

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The verdict: the consumer page (text/html) or JSON; or the linkset "
        "(application/linkset+json) for `?linkType=linkset`.",
        "content": {
            "text/html": {},
            **resolver.RESOLVER_RESPONSES[200]["content"],
        },
    },
    307: resolver.RESOLVER_RESPONSES[307],
    400: {
        "model": Resolution,
        "description": "A malformed label: the verdict `malformed`, as a page or JSON.",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    **error_responses(
        ErrorCode.NOT_FOUND,
        ErrorCode.UNKNOWN_PRODUCT,
        ErrorCode.NO_SUCH_LINK,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.URL_TOO_LONG,
        ErrorCode.RATE_LIMITED,
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.NO_TRUST_LIST,
        ErrorCode.STORE_UNAVAILABLE,
    ),
}


_PACK_DAY = (
    "^[0-9]{2}(?:(?:0[13578]|1[02])(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)(?:0[1-9]|[12][0-9]|30)"
    "|02(?:0[1-9]|1[0-9]|2[0-8]))$|^(?:[02468][048]|[13579][26])0229$"
)
"""A day of 2000-2099 as YYMMDD (leap years: YY divisible by 4, 2000 included)."""
_NOT_A_DOT_SEGMENT = {"not": {"enum": [".", ".."]}}
"""A lot of "." or ".." cannot be in a URL's path as itself: it would be a dot segment."""
_LABEL_PARAMETERS = [
    {"name": "lot", "in": "path", "required": True,
     "schema": {"type": "string", **LOT, **_NOT_A_DOT_SEGMENT},
     "description": "lot (GS1 AI 10), percent-escaped as printed"},
    {"name": "serial", "in": "path", "required": True, "schema": {"type": "string", **SERIAL},
     "description": "unit serial (12 characters, Crockford base32)"},
    {"name": "13", "in": "query", "required": True,
     "schema": {"type": "string", "pattern": _PACK_DAY},
     "description": "packing day YYMMDD (GS1 AI 13), 2000 to 2099"},
    {"name": "s", "in": "query", "required": True, "schema": {"enum": [0, 3, 4, 5]},
     "description": "printed stars: 0 (no star logo), 3, 4 or 5"},
    {"name": "k", "in": "query", "required": True,
     "schema": {"type": "string", "pattern": "^[a-z2-7]{13}$"},
     "description": "the producer key's id"},
    {"name": "sig", "in": "query", "required": True,
     "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{85}[AQgw]$"},
     "description": "Ed25519 signature, base64url without padding (86 characters)"},
]  # fmt: skip
"""The label as it is printed: the path and the four signed pairs, in this order (any other
pair is ignored). A label that does not have this shape gets the verdict `malformed` (400);
the shape is not all: a GTIN's check digit, and the whole URL's length (at most 512
characters, with any pair appended), are checked too."""


def _openapi(key: str, description: str) -> dict[str, Any]:
    """The route reads the label from the raw request (see `label_text`) and the caller with
    one dependency, so its parameters are described here rather than declared."""
    value = GTIN_14 if key == "gtin" else PRODUCT_CODE
    product = {"name": key, "in": "path", "required": True,
               "schema": {"type": "string", **value}, "description": description}  # fmt: skip
    return {
        "parameters": [product, *_LABEL_PARAMETERS, *CALLER_PARAMETERS, resolver.LINK_TYPE],
        "security": [{}, {"HTTPBearer": []}],
    }


def label_text(host: str, request: Request) -> str:
    """The label URL as printed, rebuilt from the request as the client sent it. Pairs that
    are not the label's (the API's own `lang`, `province`, a position; tracking pairs) stay:
    contract.label reads only the signed ones."""
    query = request.scope["query_string"].decode("latin-1")
    return f"https://{host}{_raw_path(request)}" + (f"?{query}" if query else "")


def _raw_path(request: Request) -> str:
    """The path as sent: the decoded one would turn an escaped "/" in a lot into a separator."""
    raw: bytes | None = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else request.url.path


async def _resolve(request: Request) -> Response:
    resolved_by_links = await resolver.unit_answer(request)
    if resolved_by_links is not None:  # a linkset, a link type, or a bare unit URI
        return resolved_by_links
    services: Services = request.app.state.services
    caller = await read_caller(request, services.store)
    text = label_text(services.settings.resolver_host, request)
    now = utc_now()
    resolved = await services.resolve(text, now)
    as_json = wants_json(request.headers.get("accept"))
    inspector = caller.inspector
    # a browser without our cookie gets one, so its later scans count as the same device
    new_device = None if as_json or caller.device_id or inspector else secrets.token_urlsafe(18)
    if not request.scope.get(HEAD_ONLY):  # a link checker's HEAD is no scan of the code
        services.record_scan(
            resolved,
            text,
            now,
            scanner=ScannerKind.INSPECTOR if inspector else ScannerKind.CONSUMER,
            province=caller.province,
            location=caller.location,
            device_id=caller.device_id or new_device,
            network=caller.network,
        )
    resolution = request.scope[RESOLUTION] = resolved.resolution
    status = 400 if resolution.reason is Reason.MALFORMED else 200
    if as_json:
        return Response(
            resolution.model_dump_json(),
            status_code=status,
            media_type="application/json",
            headers=NO_STORE,
        )
    lang = caller.lang
    switch = f"{_raw_path(request)}?{_with_lang(request, 'en' if lang is Lang.VI else 'vi')}"
    html = services.pages.render(resolution, resolved.facts_key, lang, switch)
    page = HTMLResponse(html, status, headers=NO_STORE)
    if new_device is not None:
        secure = services.settings.secure_cookies or request.scope["scheme"] == "https"
        page.headers.append("set-cookie", _device_cookie(new_device, secure=secure))
    return page


def _device_cookie(device_id: str, *, secure: bool) -> str:
    """The Set-Cookie header of a new device id, written out: Response.set_cookie's trip
    through http.cookies costs 24 µs, more than the rest of the response, and here the
    value is base64url (no quoting needed) and every attribute is fixed.

    Secure when the API's public origin is https (OCOP_PUBLIC_BASE_URL), whatever the last
    hop was: behind a proxy that ends TLS, the API itself sees plain http."""
    flag = "; Secure" if secure else ""
    return (
        f"{DEVICE_COOKIE}={device_id}; HttpOnly; Max-Age={DEVICE_COOKIE_MAX_AGE_S}; Path=/; "
        f"SameSite=lax{flag}"
    )


def _with_lang(request: Request, lang: str) -> str:
    raw = request.scope["query_string"].decode("latin-1")
    kept = [pair for pair in raw.split("&") if pair and pair.partition("=")[0] != "lang"]
    return "&".join([*kept, f"lang={lang}"])


@router.get(
    "/01/{gtin}/10/{lot:path}/21/{serial}",
    operation_id="resolve_gtin_unit",
    summary="Resolve a unit of a product with a GTIN",
    description=_DESCRIPTION,
    response_model=Resolution,
    responses=_RESPONSES,
    openapi_extra=_openapi("gtin", "GTIN-14"),
)
async def resolve_gtin_unit(request: Request) -> Response:
    return await _resolve(request)


@router.get(
    "/p/{code}/10/{lot:path}/21/{serial}",
    operation_id="resolve_product_code_unit",
    summary="Resolve a unit of a product without a GTIN (OCOP product code)",
    description=_DESCRIPTION,
    response_model=Resolution,
    responses=_RESPONSES,
    openapi_extra=_openapi("code", "OCOP product code (products without a GTIN)"),
)
async def resolve_product_code_unit(request: Request) -> Response:
    return await _resolve(request)
