"""The public OCOP registry, no login: every registered product of every province, searched
by name without diacritics, GTIN (the EAN-13 under a pack's barcode), certificate number,
producer, commune, province, stars, product group and status; and each product's page:
its stars and validity, whether the OCOP logo may be printed on it today and why
(contract.logo), its certificate history and its producer.

For inspectors facing packs that carry no code of ours: the check is against the registry,
by product. HTML for a browser (Vietnamese, English with ?lang=en), JSON for an app, by
Accept, as the resolver answers (verify_api.negotiation).

The registry is the processors' table (records.registry); this module only reads it: a
search is one indexed query of at most `limit + 1` rows, a product page one partition of
the registry and one of the certifications, read together.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from starlette.responses import HTMLResponse, Response

from contract import identifiers, search
from contract.certification import ProductGroup
from contract.identifiers import KeyScheme
from contract.search import RegistryStatus, SearchTermError
from contract.verdict import Lang
from keys.certs import utc_now
from records.registry import RegistryReader
from verify_api import ratings, views
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.i18n import STRINGS
from verify_api.negotiation import language, wants_json
from verify_api.rendering import _ENV
from verify_api.schemas import (
    GTIN_14,
    GTIN_FORMAT,
    PRODUCT_CODE,
    RegistryProductOut,
    RegistrySearchOut,
)
from verify_api.services import Services

router = APIRouter(prefix="/registry", tags=["registry"])

CACHE = {"Cache-Control": "public, max-age=60", "Vary": "Accept, Accept-Language"}
"""Anonymous and the same for everyone: a minute's caching (a status can change at any
instant a recognition ends, so not longer)."""

_SEARCH_PAGE = _ENV.get_template("registry.html")
_PRODUCT_PAGE = _ENV.get_template("registry_product.html")


async def registry_of(request: Request) -> RegistryReader:
    """The app's registry reader, prepared on first use from the records' session (its
    statements are prepared off the event loop: preparing blocks on a round trip)."""
    held: RegistryReader | None = getattr(request.app.state, "registry_reader", None)
    if held is None:
        services: Services = request.app.state.services
        session = getattr(services.store, "session", None)
        if session is None:
            raise ApiError(ErrorCode.STORE_UNAVAILABLE, "no Cassandra session")
        held = await asyncio.to_thread(RegistryReader, session)
        request.app.state.registry_reader = held
    return held


def _words(lang: Lang) -> dict[str, str]:
    return STRINGS[lang] | WORDS[lang]


def _switch(request: Request, lang: Lang) -> str:
    """This URL in the other language."""
    kept = [(name, value) for name, value in request.query_params.multi_items() if name != "lang"]
    other = "en" if lang is Lang.VI else "vi"
    return f"{request.url.path}?{urlencode([*kept, ('lang', other)])}"


# -- search -------------------------------------------------------------------------------------

_TERMS = ("q", "gtin", "certificate", "producer", "commune", "province", "stars", "group")
_SEARCH_DESCRIPTION = (
    "Registered OCOP products matching **every** term given. Text terms are matched word by "
    "word, without diacritics or case (`mam cay hong tien` finds *Mắm cáy Hồng Tiến*; đ "
    "matches d); a `q` that is a barcode's digits with a good check digit is a GTIN. A "
    "province finds what was registered under it and, for a province that took others in on "
    "1 July 2025, what was registered under those (`Hưng Yên` finds former Thái Bình's "
    "products). Results come in the index's order, `limit` at a time (20, at most 50); "
    "`next_page` is the `page` of the next. Each item says whether the OCOP logo may be "
    "printed on the product today. No term at all, or one without a letter or digit, finds "
    "no product (the registry is never listed whole). **422** for a term that cannot be "
    "searched (too long, control characters, a bad GTIN or check digit, stars, group, status "
    "or limit not one of theirs); **400** for a page token this API did not make."
)


def _parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", **schema}}  # fmt: skip


_TEXT = {"pattern": search.TEXT_PATTERN}
_SEARCH_PARAMETERS = [
    _parameter("q", "words of the product's name (Vietnamese or English), diacritics "
               "optional; or a barcode's digits", maxLength=search.MAX_TERM, **_TEXT),
    _parameter("gtin", "the EAN-13 under the barcode (or a GTIN-8, -12 or -14), with a good "
               "check digit", pattern=search.GTIN_PATTERN, format=GTIN_FORMAT),
    _parameter("certificate", "a certificate number", maxLength=search.MAX_CERTIFICATE,
               **_TEXT),
    _parameter("producer", "words of the producer's name, or its id",
               maxLength=search.MAX_TERM, **_TEXT),
    _parameter("commune", "commune or ward ('Xã', 'Phường' optional)",
               maxLength=search.MAX_PLACE, **_TEXT),
    _parameter("province", "province, as registered or as it is since 1 July 2025",
               maxLength=search.MAX_PLACE, **_TEXT),
    _parameter("stars", "stars of the recognition that applies", pattern=search.STARS_PATTERN),
    _parameter("group", "product group", enum=[group.value for group in ProductGroup]),
    _parameter("status", "`in_force` (expiring ones included), `expiring` (within 90 days), "
               "`expired`, `revoked`, `none` (never certified)",
               enum=[status.value for status in RegistryStatus]),
    _parameter("page", "`next_page` of the previous page", pattern=search.PAGE_PATTERN),
    _parameter("limit", "products per page (default 20)", pattern=search.LIMIT_PATTERN),
    _parameter("lang", "`vi` (the default) or `en`; any other value is ignored, and "
               "Accept-Language decides"),
]  # fmt: skip
"""The route reads its query itself (contract.search.parse_query, whose rules these are), so
that every refusal says what was wrong in both languages and no FastAPI parameter is solved
per request: the parameters are described here rather than declared."""


@router.get(
    "/products",
    operation_id="registry_search",
    summary="Search the public OCOP registry",
    description=_SEARCH_DESCRIPTION,
    response_model=RegistrySearchOut,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **error_responses(
            ErrorCode.BAD_REQUEST,
            ErrorCode.INVALID_REQUEST,
            ErrorCode.RATE_LIMITED,
            ErrorCode.STORE_UNAVAILABLE,
        ),
    },
    openapi_extra={"parameters": _SEARCH_PARAMETERS},
)
async def registry_search(request: Request) -> Response:
    now = utc_now()
    params = {
        name: request.query_params[name]
        for name in (*_TERMS, "status", "page", "limit")
        if name in request.query_params
    }
    try:
        query = search.parse_query(params)
    except SearchTermError as exc:
        code = ErrorCode.BAD_REQUEST if exc.token else ErrorCode.INVALID_REQUEST
        raise ApiError(code, exc.sentence()) from None
    rows, after = [], None
    if not (query.empty or query.nothing):
        found = await (await registry_of(request)).search(query, now)
        rows, after = found.rows, found.after
    token = search.encode_page(after) if after else None
    next_url = None
    if token is not None:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        next_url = f"{request.url.path}?{urlencode([*kept, ('page', token)])}"
    body = views.registry_search_out(rows, token, next_url, now)
    if wants_json(request.headers.get("accept")):
        return Response(body.model_dump_json(), media_type="application/json", headers=CACHE)
    lang = language(request.query_params.get("lang"), request.headers.get("accept-language"))
    html = _SEARCH_PAGE.render(
        s=body, t=_words(lang), lang=lang, searched=not query.empty,
        q=request.query_params.get("q", ""),
        filters=_status_links(request), switch_href=_switch(request, lang), now=now,
    )  # fmt: skip
    return HTMLResponse(html, headers=CACHE)


def _status_links(request: Request) -> list[tuple[str, str]]:
    """The same search with each status (the page starts again)."""
    kept = [
        (name, value)
        for name, value in request.query_params.multi_items()
        if name not in ("status", "page")
    ]
    if not any(name in _TERMS for name, _ in kept):
        return []
    return [
        (status.value, f"{request.url.path}?{urlencode([*kept, ('status', status.value)])}")
        for status in RegistryStatus
    ]


# -- a product's page ---------------------------------------------------------------------------

_PRODUCT_DESCRIPTION = (
    "A registered product: its stars and validity now, computed from every certification "
    "of its producer; whether the OCOP logo may be printed on it **today** and why (a "
    "reason code and a sentence in both languages: only at 3★ or more, only while the "
    "recognition is in force, Decision 1162/QĐ-VPĐP-OCOP); its rating history and "
    "certificates with the authority-signed documents; its producer and address (with the "
    "province it is in since 1 July 2025); its batches in circulation (packed, not recalled, not "
    "past their expiry date) and its recalls. HTML or JSON by Accept. **400** for a malformed "
    "GTIN-14 (search by `gtin=` for an EAN-13) or code, **404** for a product not in the "
    "registry (which may not carry the OCOP logo)."
)
_PRODUCT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}},
    **error_responses(
        ErrorCode.BAD_REQUEST,
        ErrorCode.UNKNOWN_PRODUCT,
        ErrorCode.RATE_LIMITED,
        ErrorCode.STORE_UNAVAILABLE,
    ),
}
_NOT_REGISTERED = (
    "{key} không có trong sổ đăng ký OCOP: không được in logo OCOP trên sản phẩm này",
    "{key} is not in the OCOP registry: the OCOP logo may not be printed on it",
)


async def _product_page(request: Request, product_key: str) -> Response:
    now = utc_now()
    services: Services = request.app.state.services
    registry = await registry_of(request)
    row, stored, batches = await asyncio.gather(
        registry.product(product_key),
        services.store.certifications(product_key),
        registry.batches(product_key),
    )
    if row is None:
        detail = " / ".join(text.format(key=product_key) for text in _NOT_REGISTERED)
        raise ApiError(ErrorCode.UNKNOWN_PRODUCT, detail)
    stored = ratings.of_producer(stored, row.producer_id)
    rating = ratings.rating_at(stored, now)
    body = views.registry_product_out(row, rating.state, rating.history, stored, batches, now)
    if wants_json(request.headers.get("accept")):
        return Response(body.model_dump_json(), media_type="application/json", headers=CACHE)
    lang = language(request.query_params.get("lang"), request.headers.get("accept-language"))
    html = _PRODUCT_PAGE.render(
        p=body, t=_words(lang), lang=lang, switch_href=_switch(request, lang),
        search_href=f"{router.prefix}/products", now=now,
    )  # fmt: skip
    return HTMLResponse(html, headers=CACHE)


def _bad_key(exc: ValueError) -> ApiError:
    return ApiError(ErrorCode.BAD_REQUEST, f"mã sản phẩm không hợp lệ / not a product key: {exc}")


@router.get(
    "/products/01/{gtin}",
    operation_id="registry_product_gtin",
    summary="A registered product with a GTIN",
    description=_PRODUCT_DESCRIPTION,
    response_model=RegistryProductOut,
    responses=_PRODUCT_RESPONSES,
)
async def registry_product_gtin(
    request: Request, gtin: Annotated[str, Path(description="GTIN-14", json_schema_extra=GTIN_14)]
) -> Response:
    try:
        product_key = identifiers.product_key(KeyScheme.GTIN, gtin)
    except ValueError as exc:
        raise _bad_key(exc) from None
    return await _product_page(request, product_key)


@router.get(
    "/products/p/{code}",
    operation_id="registry_product_code",
    summary="A registered product without a GTIN (OCOP product code)",
    description=_PRODUCT_DESCRIPTION,
    response_model=RegistryProductOut,
    responses=_PRODUCT_RESPONSES,
)
async def registry_product_code(
    request: Request,
    code: Annotated[str, Path(description="OCOP product code", json_schema_extra=PRODUCT_CODE)],
) -> Response:
    try:
        product_key = identifiers.product_key(KeyScheme.PRODUCT_CODE, code)
    except ValueError as exc:
        raise _bad_key(exc) from None
    return await _product_page(request, product_key)


# -- the pages' words -------------------------------------------------------------------------

WORDS: dict[Lang, dict[str, str]] = {
    Lang.VI: {
        "registry_title": "Sổ đăng ký sản phẩm OCOP",
        "registry_search_label": "Tên sản phẩm, mã vạch hoặc số giấy chứng nhận",
        "registry_search_go": "Tìm",
        "registry_lead": "Mọi sản phẩm OCOP đã đăng ký, của mọi tỉnh: hạng sao, hiệu lực, và "
        "sản phẩm có được in logo OCOP hôm nay hay không.",
        "registry_how": "Tìm bằng địa chỉ trang, không cần dấu, ví dụ",
        "registry_terms": "Điều kiện: q (tên), gtin (mã vạch EAN-13), certificate (số giấy "
        "chứng nhận), producer, commune, province, stars, group, status.",
        "registry_found": "{count} sản phẩm trên trang này",
        "registry_none_found": "Không tìm thấy sản phẩm nào. Sản phẩm không có trong sổ đăng "
        "ký thì không được in logo OCOP.",
        "registry_next": "Trang sau",
        "registry_by_status": "Theo trạng thái",
        "registry_status_in_force": "Còn hiệu lực",
        "registry_status_expiring": "Sắp hết hiệu lực (90 ngày)",
        "registry_status_expired": "Hết hiệu lực",
        "registry_status_revoked": "Đã thu hồi",
        "registry_status_none": "Chưa được công nhận",
        "registry_expiring": "hết hiệu lực trong vòng 90 ngày",
        "registry_search": "Tra cứu sổ đăng ký",
        "logo_heading": "Logo OCOP hôm nay",
        "logo_allowed": "Được in logo OCOP",
        "logo_not_allowed": "Không được in logo OCOP",
        "province_now": "nay thuộc {province}",
        "certificates_heading": "Giấy chứng nhận",
        "gtin": "Mã GTIN",
        "product_key": "Mã sản phẩm",
        "producer_unknown": "Chưa có thông tin chủ thể.",
        "revoked_by": "Thu hồi theo {decision}: {reason}",
        "batches_heading": "Lô hàng đang lưu hành",
        "batches_none": "Không có lô nào đang lưu hành.",
        "batch_line": "Lô {lot}: sản xuất {made}, hạn dùng {expiry}, {units} sản phẩm",
        "recalls_heading": "Lô bị thu hồi",
        "recall_line": "Lô {lot} (sản xuất {made}) thu hồi ngày {at}: {reason}",
    },
    Lang.EN: {
        "registry_title": "OCOP product registry",
        "registry_search_label": "Product name, barcode or certificate number",
        "registry_search_go": "Search",
        "registry_lead": "Every registered OCOP product of every province: its stars, its "
        "validity, and whether the OCOP logo may be printed on it today.",
        "registry_how": "Search by the page's address, diacritics optional, for example",
        "registry_terms": "Terms: q (name), gtin (EAN-13 barcode), certificate (certificate "
        "number), producer, commune, province, stars, group, status.",
        "registry_found": "Products on this page: {count}",
        "registry_none_found": "No product found. A product that is not in the registry may "
        "not carry the OCOP logo.",
        "registry_next": "Next page",
        "registry_by_status": "By status",
        "registry_status_in_force": "In force",
        "registry_status_expiring": "Expiring (90 days)",
        "registry_status_expired": "Expired",
        "registry_status_revoked": "Revoked",
        "registry_status_none": "Never recognised",
        "registry_expiring": "expires within 90 days",
        "registry_search": "Search the registry",
        "logo_heading": "The OCOP logo today",
        "logo_allowed": "The OCOP logo may be printed",
        "logo_not_allowed": "The OCOP logo may not be printed",
        "province_now": "now in {province}",
        "certificates_heading": "Certificates",
        "gtin": "GTIN",
        "product_key": "Product key",
        "producer_unknown": "No producer details yet.",
        "revoked_by": "Revoked by {decision}: {reason}",
        "batches_heading": "Batches in circulation",
        "batches_none": "No batch in circulation.",
        "batch_line": "Lot {lot}: made {made}, use by {expiry}, {units} units",
        "recalls_heading": "Recalled batches",
        "recall_line": "Lot {lot} (made {made}) recalled on {at}: {reason}",
    },
}
"""The registry pages' own words; the rest are the consumer page's (verify_api.i18n)."""
