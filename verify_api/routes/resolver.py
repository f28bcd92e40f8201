"""The GS1-Conformant resolver (GS1 resolver standard 1.2) over this system's pages and APIs.

    /01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}]   GS1 Digital Link (numeric AIs)
    /p/{code}[/10/{lot}][/21/{serial}]               our own keys, for products without a GTIN
    /.well-known/gs1resolver                         the resolver description file

Each request is parsed first (interop.digital_link: a malformed link is 400 with its defect,
in the client's language), then the link catalogue of its levels is built from the records
(one product read, one batch read for a lot), then interop.linkset chooses: the linkset
(`?linkType=linkset`, `Accept: application/linkset+json`), the link of a requested
`linkType` (404 if there is none at any level), or the default link at the request's level
or the nearest above; a 307 to it passes the request's whole query string on and carries a
Link header to the linkset.

The catalogue (who points where):

| level | link type | target |
| --- | --- | --- |
| product | gs1:defaultLink, gs1:pip | the registry's product page (HTML vi/en, JSON) |
| product | gs1:certificationInfo | the certification history (JSON), the registry page |
| lot | gs1:traceability | the batch's sealed chain (/batches/...) |
| lot | gs1:epcis | the EPCIS query for the lot class, the batch's EPCIS document |
| lot | gs1:recallStatus | /recall/...: recalled or not, now |
| unit (label) | gs1:defaultLink, gs1:verificationService | the consumer page (the label URL) |
| unit (label) | gs1:leaveReview | the consumer page's report form |

A unit's links exist only for a request that carries the label's signed pairs (a label
scan): the consumer page judges the label, and without its signature there is nothing to
judge. Such a request's default link is its own URL, so verify_api.routes.resolve serves
the consumer page in place instead of redirecting to itself (`unit_answer`): a phone opening
a printed QR code still gets the page at once. A bare unit URI (no label pairs, as in EPCIS
identifiers) falls back to the lot's links, then the product's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from contract import gs1, identifiers
from contract.identifiers import KeyScheme
from contract.verdict import Lang
from interop.digital_link import (
    DigitalLink,
    DigitalLinkError,
    epcis_uri,
    gtin_link,
    parse_digital_link,
)
from interop.linkset import (
    GS1_VOC,
    LINKSET_CONTEXT_LINK_HEADER,
    LINKSET_MEDIA_TYPE,
    Catalogue,
    LevelLinks,
    LinkRefusal,
    LinkTarget,
    LinkType,
    build_linkset,
    choose_link,
    forward_query,
    linkset_link_header,
    wants_linkset,
)
from keys.certs import utc_now
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.negotiation import language
from verify_api.schemas import GTIN_14, LOT, PRODUCT_CODE
from verify_api.services import Services

router = APIRouter(tags=["resolver"])

LABEL_MARKS = ("s", "k", "sig")
"""Query keys only a printed label has: a request with any of them is a label scan."""
LABEL_KEYS = ("13", "17", "s", "k", "sig")
"""The label's pairs (contract.label), carried by the unit's links."""
CACHE = {"Cache-Control": "public, max-age=60", "Vary": "Accept, Accept-Language"}
"""As the registry: a link can change when a batch is recalled, so a minute at most."""
REDIRECT = {"Cache-Control": "no-store", "Vary": "Accept, Accept-Language"}


# -- our own keys, shaped like a Digital Link ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeLink:
    """A `/p/` key (an OCOP product code) with its lot and serial: its levels as a Digital
    Link has them, for interop.linkset."""

    code: str
    lot: str | None = None
    serial: str | None = None

    @property
    def product_key(self) -> str:
        return f"/{KeyScheme.PRODUCT_CODE}/{self.code}"

    @property
    def path(self) -> str:
        lot = f"/10/{gs1.dl_escape(self.lot)}" if self.lot is not None else ""
        serial = f"/21/{self.serial}" if self.serial is not None else ""
        return f"{self.product_key}{lot}{serial}"

    def levels(self) -> tuple[CodeLink, ...]:
        found = [self]
        if self.serial is not None and self.lot is not None:
            found.append(CodeLink(self.code, self.lot))
        if self.serial is not None or self.lot is not None:
            found.append(CodeLink(self.code))
        return tuple(found)


def parse_code_link(path: str) -> CodeLink | str:
    """A `/p/` path, or why it is not one (raw, percent-escaped as sent)."""
    segments = path.removesuffix("/").split("/")
    if len(segments) < 3 or segments[:2] != ["", "p"]:
        return f"path {path!r}"
    try:
        code = identifiers.validate_product_code(segments[2])
        pairs = dict(zip(segments[3::2], segments[4::2], strict=False))
        if len(segments) % 2 == 0 or list(pairs) not in ([], ["10"], ["10", "21"], ["21"]):
            return f"qualifiers {'/'.join(segments[3:])!r}: 10 (lot), then 21 (serial)"
        lot = gs1.validate_lot(unquote(pairs["10"], errors="strict")) if "10" in pairs else None
        serial = identifiers.validate_serial(pairs["21"]) if "21" in pairs else None
    except (ValueError, UnicodeDecodeError) as exc:
        return str(exc)
    return CodeLink(code, lot, serial)


Link = DigitalLink | CodeLink


def _raw_path(request: Request) -> str:
    raw: bytes | None = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else request.url.path


def _query(request: Request) -> str:
    return str(request.scope["query_string"].decode("latin-1"))


def parse_request(request: Request) -> Link:
    """The request's link, or a 400 naming the defect in the client's language."""
    path, query = _raw_path(request), _query(request)
    lang = language(request.query_params.get("lang"), request.headers.get("accept-language"))
    if path.startswith("/p/"):
        code = parse_code_link(path)
        if isinstance(code, str):
            raise ApiError(ErrorCode.MALFORMED_DIGITAL_LINK, code)
        return code
    parsed = parse_digital_link(path, query)
    if isinstance(parsed, DigitalLinkError):
        detail = f"{parsed.defect.value}: {parsed.sentence(lang)} {parsed.detail}"
        raise ApiError(ErrorCode.MALFORMED_DIGITAL_LINK, detail)
    return parsed


# -- the catalogue -------------------------------------------------------------------------------


def _product_key(link: Link) -> str:
    return f"/01/{link.gtin}" if isinstance(link, DigitalLink) else link.product_key


def _lot_class(link: Link, root: str) -> str:
    """The lot's EPC class as interop.epcis names it in every event."""
    if isinstance(link, DigitalLink):
        return epcis_uri(gtin_link(link.gtin, lot=link.lot))
    return f"{root}{link.path}"


def product_links(root: str, product_key: str, name: str) -> LevelLinks:
    page = f"{root}/registry/products{product_key}"
    return {
        LinkType.DEFAULT_LINK: [LinkTarget(href=page, title=f"{name}: sổ đăng ký OCOP")],
        LinkType.PIP: [
            LinkTarget(
                href=page, title=f"{name}: sổ đăng ký OCOP", type="text/html", hreflang=("vi",)
            ),
            LinkTarget(
                href=f"{page}?lang=en",
                title=f"{name}: OCOP registry",
                type="text/html",
                hreflang=("en",),
            ),
            LinkTarget(
                href=page, title=f"{name}: OCOP registry entry (JSON)", type="application/json"
            ),
        ],
        LinkType.CERTIFICATION_INFO: [
            LinkTarget(
                href=f"{root}/products{product_key}/certifications",
                title="Giấy chứng nhận OCOP và hạng sao hiện tại / OCOP certificates "
                "and current stars",
                type="application/json",
            ),
            LinkTarget(
                href=page,
                title="Giấy chứng nhận OCOP / OCOP certificates",
                type="text/html",
                hreflang=("vi",),
            ),
        ],
    }


def lot_links(root: str, link: Link) -> LevelLinks:
    batch = link.path
    query = f"{root}/epcis/events?MATCH_anyEPCClass={quote(_lot_class(link, root), safe='')}"
    return {
        LinkType.TRACEABILITY: [
            LinkTarget(href=f"{root}/batches{batch}", type="application/json",
                       title="Chuỗi hồ sơ của lô hàng / the batch's sealed records"),
        ],
        LinkType.EPCIS: [
            LinkTarget(href=query, type="application/json",
                       title="Sự kiện EPCIS của lô hàng / the lot's EPCIS events"),
            LinkTarget(href=f"{root}/epcis/batches{batch}", type="application/ld+json",
                       title="Tài liệu EPCIS của lô hàng / the batch's EPCIS document"),
        ],
        LinkType.RECALL_STATUS: [
            LinkTarget(href=f"{root}/recall{batch}", type="application/json",
                       title="Tình trạng thu hồi / recall status"),
        ],
    }  # fmt: skip


def unit_links(root: str, link: Link, label_query: str) -> LevelLinks:
    label = f"{root}{link.path}?{label_query}"
    return {
        LinkType.DEFAULT_LINK: [LinkTarget(href=label, title="Kiểm tra sản phẩm này")],
        LinkType.VERIFICATION_SERVICE: [
            LinkTarget(href=label, title="Kiểm tra sản phẩm này", type="text/html",
                       hreflang=("vi",)),
            LinkTarget(href=f"{label}&lang=en", title="Check this unit", type="text/html",
                       hreflang=("en",)),
            LinkTarget(href=label, title="Verdict on this unit (JSON)", type="application/json"),
        ],
        LinkType.LEAVE_REVIEW: [
            LinkTarget(href=f"{label}#report", title="Báo cáo nghi hàng giả / report a "
                       "suspected fake", type="text/html"),
        ],
    }  # fmt: skip


async def catalogue_for(
    services: Services, link: Link, label_query: str | None
) -> tuple[Catalogue, str]:
    """The links of every level of `link` and the product's name; 404 for an unknown
    product. A lot without records has no links of its own (its request falls back to the
    product's); a unit has links only for a label scan."""
    root = services.settings.public_origin
    product_key = _product_key(link)
    product = await services.store.product(product_key)
    if product is None:
        raise ApiError(ErrorCode.UNKNOWN_PRODUCT, product_key)
    catalogue: dict[str, LevelLinks] = {product_key: product_links(root, product_key, product.name)}
    has_lot = link.lot is not None and (not isinstance(link, DigitalLink) or link.cpv is None)
    if has_lot:
        lot = link.levels()[1] if link.serial is not None else link
        if await services.store.batch(lot.path) is not None:
            catalogue[lot.path] = lot_links(root, lot)
    if label_query is not None and link.serial is not None and has_lot:
        catalogue[link.path] = unit_links(root, link, label_query)
    return catalogue, product.name


# -- answers -------------------------------------------------------------------------------------


def _location(href: str, query: str) -> str:
    """The target with the request's query passed on: every pair the target does not already
    carry (a unit's links carry the label's pairs), before the target's fragment."""
    base, hash_mark, fragment = href.partition("#")
    held = set(urlsplit(base).query.split("&"))
    extra = "&".join(pair for pair in query.split("&") if pair and pair not in held)
    return forward_query(base, extra) + f"{hash_mark}{fragment}"


async def answer(request: Request, link: Link, *, in_place: bool = False) -> Response | None:
    """The resolver's answer to a request for `link`: a linkset, or a 307 to the chosen link.
    None when the chosen link is the request's own URL and `in_place` (the unit route serves
    its consumer page itself)."""
    services: Services = request.app.state.services
    root = services.settings.public_origin
    query = _query(request)
    params = request.query_params
    label = any(key in params for key in LABEL_MARKS)
    label_query = None
    if label:
        label_query = "&".join(
            pair for pair in query.split("&") if pair.partition("=")[0] in LABEL_KEYS
        )
    catalogue, name = await catalogue_for(services, link, label_query)
    link_type, accept = params.get("linkType"), request.headers.get("accept")
    if wants_linkset(link_type, accept):
        body = build_linkset(link, catalogue, root=root, item_description=name)
        asked = accept or ""
        json_only = LINKSET_MEDIA_TYPE not in asked and "application/json" in asked
        media = "application/json" if json_only else None
        return Response(
            body.model_dump_json(),
            media_type=media or LINKSET_MEDIA_TYPE,
            headers=CACHE | {"Link": LINKSET_CONTEXT_LINK_HEADER},
        )
    languages = request.headers.get("accept-language")
    if params.get("lang") in (Lang.VI.value, Lang.EN.value):
        languages = params["lang"]
    choice = choose_link(
        link, catalogue, link_type=link_type, accept=accept, accept_language=languages
    )
    if isinstance(choice, LinkRefusal):
        lang = language(params.get("lang"), request.headers.get("accept-language"))
        detail = f"{choice.problem.value}: {choice.problem.sentence(lang)} {choice.detail}"
        raise ApiError(ErrorCode.NO_SUCH_LINK, detail)
    target = choice.target.href
    if in_place and urlsplit(target).path == link.path == _raw_path(request):
        return None
    headers = REDIRECT | {
        "Location": _location(target, query),
        "Link": linkset_link_header(link, root),
    }
    return Response(status_code=307, headers=headers)


async def unit_answer(request: Request) -> Response | None:
    """For verify_api.routes.resolve: None when the unit route should judge the label as it
    always has (a label scan asking for nothing else, or a malformed unit path, labelled or
    not, which gets its verdict as the route documents it), else the resolver's answer (a
    linkset, a requested link type, or a bare unit URI's default link)."""
    query = request.scope["query_string"]
    asks = b"linkType=" in query or LINKSET_MEDIA_TYPE in (request.headers.get("accept") or "")
    label = any(key in request.query_params for key in LABEL_MARKS)
    if label and not asks:
        return None
    try:
        link = parse_request(request)
    except ApiError:
        return None  # the unit route's verdict (`malformed`, 400) says what is wrong
    return await answer(request, link, in_place=True)


# -- routes ----------------------------------------------------------------------------------------

LINK_TYPE = {
    "name": "linkType",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
    "description": "`linkset` (or `all`) for the list of links; a GS1 link type "
    "(`gs1:pip`, `gs1:certificationInfo`, `gs1:traceability`, `gs1:epcis`, "
    "`gs1:verificationService`, `gs1:recallStatus`, `gs1:leaveReview`, `gs1:defaultLink`, "
    "or its URI) for a redirect to that link. Any other query pair is passed on.",
}
_LINKSET_SCHEMA = {
    "type": "object",
    "required": ["linkset"],
    "properties": {"linkset": {"type": "array", "items": {"type": "object"}}},
}
_REDIRECT_HEADERS = {
    "Location": {"description": "the chosen link, with the request's query string passed on",
                 "schema": {"type": "string"}, "required": True},
    "Link": {"description": "the linkset of the request URI (rel `linkset`)",
             "schema": {"type": "string"}, "required": True},
}  # fmt: skip
RESOLVER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The linkset (RFC 9264, GS1's linkset schema), for `?linkType=linkset` "
        "or `Accept: application/linkset+json`; `Link` names its JSON-LD context.",
        "content": {
            LINKSET_MEDIA_TYPE: {"schema": _LINKSET_SCHEMA},
            "application/json": {"schema": _LINKSET_SCHEMA},
        },
    },
    307: {"description": "Redirect to the chosen link.", "headers": _REDIRECT_HEADERS},
}
_RESPONSES = RESOLVER_RESPONSES | error_responses(
    ErrorCode.MALFORMED_DIGITAL_LINK,
    ErrorCode.UNKNOWN_PRODUCT,
    ErrorCode.NO_SUCH_LINK,
    ErrorCode.RATE_LIMITED,
    ErrorCode.STORE_UNAVAILABLE,
)
_DESCRIPTION = """
GS1-Conformant resolver (standard 1.2). Without `linkType`, a **307** to the default link
(the product's registry page; a lot has no default of its own and falls back to it), with the
request's query string passed on and a `Link` header to the linkset. `?linkType=gs1:...`
redirects to that link, the best match for `Accept` and `Accept-Language` (`?lang=` too).
`?linkType=linkset` or `Accept: application/linkset+json`: **200** with the linkset of every
level up to the GTIN. **400** for a malformed Digital Link (`detail` names the defect: bad
check digit, qualifier order, unknown AI, extra segment, bad lot, bad date attribute);
**404** for an unknown product or a link type it does not have. Trailing slashes, the
variant (AI 22) and `/01/{gtin}/21/{serial}` are accepted too (not listed as operations).
See docs/resolver.md.
"""

Gtin = Annotated[str, Path(description="GTIN-14", json_schema_extra=GTIN_14)]
Code = Annotated[str, Path(description="OCOP product code", json_schema_extra=PRODUCT_CODE)]
_NOT_A_DOT_SEGMENT = {"not": {"enum": [".", ".."]}}
Lot = Annotated[
    str,
    Path(
        description="lot (GS1 AI 10), percent-escaped", json_schema_extra=LOT | _NOT_A_DOT_SEGMENT
    ),
]


def _resolver_route(
    path: str, operation_id: str, summary: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.get(
        path,
        operation_id=operation_id,
        summary=summary,
        description=_DESCRIPTION,
        responses=_RESPONSES,
        response_class=Response,
        openapi_extra={"parameters": [LINK_TYPE]},
    )


@_resolver_route("/01/{gtin}", "resolve_gtin", "GS1 resolver: a product with a GTIN")
async def resolve_gtin(request: Request, gtin: Gtin) -> Response:
    return await _answer(request)


@_resolver_route("/01/{gtin}/10/{lot:path}", "resolve_gtin_lot", "GS1 resolver: a lot")
async def resolve_gtin_lot(request: Request, gtin: Gtin, lot: Lot) -> Response:
    return await _answer(request)


@_resolver_route("/p/{code}", "resolve_code", "Resolver: a product without a GTIN")
async def resolve_code(request: Request, code: Code) -> Response:
    return await _answer(request)


@_resolver_route("/p/{code}/10/{lot:path}", "resolve_code_lot", "Resolver: a lot of a /p/ product")
async def resolve_code_lot(request: Request, code: Code, lot: Lot) -> Response:
    return await _answer(request)


@router.get("/01/{rest:path}", include_in_schema=False)
async def resolve_other_gtin_link(request: Request) -> Response:
    """Every other path under /01/: a trailing slash, a variant, a serial without a lot, or a
    malformed link (400)."""
    return await _answer(request)


@router.get("/p/{rest:path}", include_in_schema=False)
async def resolve_other_code_link(request: Request) -> Response:
    return await _answer(request)


async def _answer(request: Request) -> Response:
    answered = await answer(request, parse_request(request))
    assert answered is not None  # not in place: every choice is answered
    return answered


# -- the resolver description file -----------------------------------------------------------


class SupportedLinkType(BaseModel):
    model_config = ConfigDict(frozen=True)

    namespace: str
    prefix: str
    profile: str


class ResolverDescription(BaseModel):
    """GS1 resolver standard 1.2's description file (/.well-known/gs1resolver)."""

    model_config = ConfigDict(frozen=True)

    name: str
    resolverRoot: str
    supportedPrimaryKeys: list[str]
    supportedLinkType: list[SupportedLinkType]
    linkTypeDefaultCanBeLinkset: bool
    supportedLinkTypes: list[str]
    """The link types this resolver serves (an OCOP addition: the CURIEs, for a client)."""


@router.get(
    "/.well-known/gs1resolver",
    operation_id="gs1_resolver_description",
    summary="GS1 resolver description file",
    description="What a GS1-aware client reads first: the resolver's root, the primary keys "
    "it resolves (01, GTIN) and the link types it serves. Our `/p/` keys are not GS1 keys "
    "and are not listed.",
    response_model=ResolverDescription,
    responses=error_responses(ErrorCode.RATE_LIMITED),
)
async def gs1_resolver_description(request: Request) -> Response:
    services: Services = request.app.state.services
    description = ResolverDescription(
        name="OCOP trace resolver (Việt Nam)",
        resolverRoot=services.settings.public_origin,
        supportedPrimaryKeys=["01"],
        supportedLinkType=[
            SupportedLinkType(
                namespace=GS1_VOC, prefix="gs1:", profile="https://gs1.org/voc/?show=linktypes"
            )
        ],
        linkTypeDefaultCanBeLinkset=False,
        supportedLinkTypes=[link_type.curie for link_type in LinkType],
    )
    return Response(
        description.model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


# -- recall status ---------------------------------------------------------------------------


class RecallStatus(BaseModel):
    """gs1:recallStatus of a lot: recalled or not, as the records say now."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    recalled: bool
    recalled_at: str | None
    reason: str | None
    status: str
    checked_at: str


_RECALL_RESPONSES = error_responses(
    ErrorCode.BAD_REQUEST,
    ErrorCode.UNKNOWN_BATCH,
    ErrorCode.RATE_LIMITED,
    ErrorCode.STORE_UNAVAILABLE,
)
_RECALL_DESCRIPTION = (
    "Whether the batch is recalled, when and why (gs1:recallStatus of a lot). Never cached: "
    "a recall must show at once. **400** for a malformed product key or lot, **404** for a "
    "batch with no records."
)


async def _recall(request: Request, scheme: KeyScheme, value: str, lot: str) -> Response:
    services: Services = request.app.state.services
    try:
        batch_id = identifiers.batch_id(identifiers.product_key(scheme, value), lot)
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc)) from None
    state = await services.store.batch(batch_id)
    if state is None:
        raise ApiError(ErrorCode.UNKNOWN_BATCH, batch_id)
    body = RecallStatus(
        batch_id=batch_id,
        recalled=state.recalled_at is not None,
        recalled_at=state.recalled_at.isoformat() if state.recalled_at else None,
        reason=state.recall_reason,
        status=state.status,
        checked_at=utc_now().isoformat(),
    )
    return Response(body.model_dump_json(), media_type="application/json", headers=REDIRECT)


@router.get(
    "/recall/01/{gtin}/10/{lot:path}",
    operation_id="recall_status_gtin",
    summary="Recall status of a batch of a product with a GTIN",
    description=_RECALL_DESCRIPTION,
    response_model=RecallStatus,
    responses=_RECALL_RESPONSES,
)
async def recall_status_gtin(request: Request, gtin: Gtin, lot: Lot) -> Response:
    return await _recall(request, KeyScheme.GTIN, gtin, lot)


@router.get(
    "/recall/p/{code}/10/{lot:path}",
    operation_id="recall_status_code",
    summary="Recall status of a batch of a product without a GTIN",
    description=_RECALL_DESCRIPTION,
    response_model=RecallStatus,
    responses=_RECALL_RESPONSES,
)
async def recall_status_code(request: Request, code: Code, lot: Lot) -> Response:
    return await _recall(request, KeyScheme.PRODUCT_CODE, code, lot)
