"""EPCIS 2.0 over the batch chains: each batch's document, and a subset of the query interface.

    GET /epcis/batches/01/{gtin}/10/{lot}   (and /epcis/batches/p/{code}/10/{lot})
    GET /epcis/events?MATCH_anyEPCClass=...|...&MATCH_epc=...&EQ_bizStep=...&GE_eventTime=...
                     &LT_eventTime=...&EQ_bizLocation=...&perPage=...&nextPageToken=...

Both are built from the batches' sealed chain records by interop.epcis.batch_document, so an
event has the same eventID (its CBV 2.0 hash) wherever it is served.

No general events index: a query must name what it is about, with `MATCH_anyEPCClass` (a
lot class, https://id.gs1.org/01/{gtin}/10/{lot}) or `MATCH_epc` (a unit,
https://id.gs1.org/01/{gtin}/21/{serial}), and is answered from the chains of the batches
those name: one batch partition and one chain partition per batch, at most
`MAX_BATCHES` of them. A query naming neither would have to read every batch: it is refused
with QueryTooComplexException (413), as EPCIS 2.0 (section 8.2.3) lets an implementation
refuse a query it is not willing to run. The other parameters filter those events.

Errors are RFC 7807 problems with the EPCIS exception as `type` (the REST binding's OpenAPI,
gs1/EPCIS "REST Bindings/openapi.yaml"): an unknown or repeated parameter, a bad time, a bad
perPage or a token of another query is `epcisException:QueryParameterException` (400).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import NAMESPACE_URL, uuid5

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response

from contract import identifiers
from contract.certification import ProductGroup
from contract.events import (
    BatchEvent,
    BatchOpened,
    ProducerKind,
    ProducerRegistered,
    ProductRegistered,
    decode_signed_event,
)
from contract.identifiers import KeyScheme
from interop.digital_link import DigitalLink, parse_digital_link
from interop.epcis import CBVMDA, EPCIS_CONTEXT, batch_document
from interop.event_hash import CBV, canonical_value
from keys.certs import utc_now
from records.rows import Producer, Product
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.routes.resolver import Code, Gtin, Lot
from verify_api.services import Services

router = APIRouter(prefix="/epcis", tags=["epcis"])

LD_JSON = "application/ld+json"
PROBLEM_JSON = "application/problem+json"
VERSIONS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
MAX_BATCHES = 20
"""Batches one query may read (each value of MATCH_* names one)."""
PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 200
PARAMETERS = (
    "MATCH_epc",
    "MATCH_anyEPCClass",
    "EQ_bizStep",
    "GE_eventTime",
    "LT_eventTime",
    "EQ_bizLocation",
    "eventType",
    "perPage",
    "nextPageToken",
)


# -- a batch's document ---------------------------------------------------------------------


def _events(records: Sequence[Any]) -> list[BatchEvent]:
    events: list[BatchEvent] = []
    for record in records:
        event = decode_signed_event(record.event).body
        events.append(event)  # type: ignore[arg-type]  # a batch chain holds batch events
    return events


def _product(row: Product | None) -> ProductRegistered | None:
    """The registry row as the master data's registration (interop.epcis reads the event)."""
    if row is None:
        return None
    try:
        return ProductRegistered(
            event_id=uuid5(NAMESPACE_URL, row.product_key), occurred_at=row.registered_at,
            authority_id=row.authority_id, product_key=row.product_key,
            producer_id=row.producer_id, name=row.name, name_en=row.name_en,
            product_group=ProductGroup(row.product_group),
        )  # fmt: skip
    except (ValidationError, ValueError):
        return None


def _producer(row: Producer | None) -> ProducerRegistered | None:
    if row is None:
        return None
    try:
        return ProducerRegistered(
            event_id=uuid5(NAMESPACE_URL, row.producer_id), occurred_at=row.registered_at,
            authority_id=row.authority_id, producer_id=row.producer_id, name=row.name,
            kind=ProducerKind(row.kind), address=row.address, commune=row.commune,
            district=row.district, province=row.province, gln=row.gln,
        )  # fmt: skip
    except (ValidationError, ValueError):
        return None


async def batch_document_of(services: Services, batch_id: str) -> dict[str, Any] | None:
    """The batch's EPCIS document from its chain, or None for a batch with no opening. The
    producer is read for every document, the query's too: its GLN is the events' place, so
    an event's id depends on it."""
    records = await services.store.chain(batch_id)
    events = _events(records)
    opened = next((e for e in events if isinstance(e, BatchOpened)), None)
    if opened is None:
        return None
    product = _product(await services.store.product(opened.product_key))
    producer = _producer(await services.store.producer(opened.producer_id))
    document = batch_document(
        events,
        root=services.settings.public_origin,
        now=utc_now(),
        product=product,
        producer=producer,
    )
    return document.as_json()


def _media(request: Request) -> str:
    accept = request.headers.get("accept") or ""
    return "application/json" if "application/json" in accept and LD_JSON not in accept else LD_JSON


async def _document(request: Request, scheme: KeyScheme, value: str, lot: str) -> Response:
    services: Services = request.app.state.services
    try:
        batch_id = identifiers.batch_id(identifiers.product_key(scheme, value), lot)
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc)) from None
    document = await batch_document_of(services, batch_id)
    if document is None:
        raise ApiError(ErrorCode.UNKNOWN_BATCH, batch_id)
    return Response(
        json.dumps(document, ensure_ascii=False),
        media_type=_media(request),
        headers=VERSIONS | {"Cache-Control": "no-store", "Vary": "Accept"},
    )


_DOCUMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The EPCIS 2.0 document (JSON-LD): every event of the batch, each with "
        "its CBV 2.0 event hash as eventID, and master data for the product, parties and places.",
        "content": {LD_JSON: {"schema": {"type": "object"}}},
    },
    **error_responses(
        ErrorCode.BAD_REQUEST,
        ErrorCode.UNKNOWN_BATCH,
        ErrorCode.RATE_LIMITED,
        ErrorCode.STORE_UNAVAILABLE,
    ),
}
_DOCUMENT_DESCRIPTION = (
    "The batch's life as an EPCIS 2.0 document: commissioning (with ILMD lot and expiry), "
    "shipping and receiving with source and destination, recall, expiry. "
    "`application/ld+json` unless `Accept` asks for `application/json`. **400** for a "
    "malformed product key or lot, **404** for a batch with no records."
)


@router.get(
    "/batches/01/{gtin}/10/{lot:path}",
    operation_id="epcis_batch_gtin",
    summary="EPCIS document of a batch of a product with a GTIN",
    description=_DOCUMENT_DESCRIPTION,
    responses=_DOCUMENT_RESPONSES,
    response_class=Response,
)
async def epcis_batch_gtin(request: Request, gtin: Gtin, lot: Lot) -> Response:
    return await _document(request, KeyScheme.GTIN, gtin, lot)


@router.get(
    "/batches/p/{code}/10/{lot:path}",
    operation_id="epcis_batch_code",
    summary="EPCIS document of a batch of a product without a GTIN",
    description=_DOCUMENT_DESCRIPTION,
    responses=_DOCUMENT_RESPONSES,
    response_class=Response,
)
async def epcis_batch_code(request: Request, code: Code, lot: Lot) -> Response:
    return await _document(request, KeyScheme.PRODUCT_CODE, code, lot)


# -- the query ---------------------------------------------------------------------------------


class QueryProblem(Exception):
    """An EPCIS query exception, answered as an RFC 7807 problem."""

    def __init__(self, kind: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.status = status
        self.detail = detail

    def response(self) -> Response:
        body = {
            "type": f"epcisException:{self.kind}",
            "title": _TITLES[self.kind],
            "status": self.status,
            "detail": self.detail,
        }
        return JSONResponse(
            body,
            status_code=self.status,
            media_type=PROBLEM_JSON,
            headers={"Cache-Control": "no-store"},
        )


_TITLES = {
    "QueryParameterException": "Tham số truy vấn không hợp lệ / invalid query parameter",
    "QueryTooComplexException": "Truy vấn quá rộng / query too complex",
}


def _bad(detail: str) -> QueryProblem:
    return QueryProblem("QueryParameterException", 400, detail)


def _parse_time(name: str, text: str) -> datetime:
    """An RFC 3339 date-time (a leap second read as the second before it)."""
    written = text.upper().replace("Z", "+00:00")
    if written[17:19] == "60":
        written = f"{written[:17]}59{written[19:]}"
    try:
        moment = datetime.fromisoformat(written)
    except ValueError:
        raise _bad(f"{name}: not a date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise _bad(f"{name}: a date-time needs its offset: {text!r}")
    return moment


def _uris(name: str, text: str) -> list[str]:
    """URIs joined with "|": each must at least have its scheme's colon (the OpenAPI's
    pattern says the same); one that names nothing of ours matches no event."""
    values = text.split("|")
    for value in values:
        if ":" not in value:
            raise _bad(f"{name}: not a URI: {value!r}")
    return [value.strip() for value in values]


class EventQuery:
    """The parsed query; every refusal a QueryParameterException naming the parameter."""

    def __init__(self, raw: str) -> None:
        pairs: dict[str, str] = {}
        for pair in raw.split("&") if raw else ():
            key, _, value = pair.partition("=")
            name, text = unquote(key), unquote(value.replace("+", " "))
            if name not in PARAMETERS:
                raise _bad(f"unknown parameter {name!r}: this repository answers "
                           f"{', '.join(PARAMETERS)}")  # fmt: skip
            if name in pairs:
                raise _bad(f"{name} given twice: join values with '|'")
            pairs[name] = text
        self.epcs = _uris("MATCH_epc", pairs["MATCH_epc"]) if "MATCH_epc" in pairs else None
        classes = pairs.get("MATCH_anyEPCClass")
        self.classes = _uris("MATCH_anyEPCClass", classes) if classes is not None else None
        locations = pairs.get("EQ_bizLocation")
        self.locations = _uris("EQ_bizLocation", locations) if locations is not None else None
        steps = pairs.get("EQ_bizStep")
        self.steps = steps.split("|") if steps is not None else None
        if self.steps is not None and not all(self.steps):
            raise _bad("EQ_bizStep: an empty value")
        self.steps = [step.strip() for step in self.steps] if self.steps is not None else None
        self.since = (
            _parse_time("GE_eventTime", pairs["GE_eventTime"]) if "GE_eventTime" in pairs else None
        )
        self.until = (
            _parse_time("LT_eventTime", pairs["LT_eventTime"]) if "LT_eventTime" in pairs else None
        )
        types = pairs.get("eventType")
        self.types = types.split("|") if types is not None else None
        per_page = pairs.get("perPage", str(PER_PAGE_DEFAULT))
        if not (per_page.isascii() and per_page.isdigit() and 1 <= int(per_page) <= PER_PAGE_MAX):
            raise _bad(f"perPage: a whole number from 1 to {PER_PAGE_MAX}, got {per_page!r}")
        self.per_page = int(per_page)
        self.token = pairs.get("nextPageToken")
        self.fingerprint = hashlib.sha256(
            json.dumps(sorted((k, v) for k, v in pairs.items() if k != "nextPageToken")).encode()
        ).hexdigest()[:16]
        self.offset = self._offset()

    def _offset(self) -> int:
        if self.token is None:
            return 0
        try:
            padded = self.token + "=" * (-len(self.token) % 4)
            fingerprint, offset = json.loads(base64.urlsafe_b64decode(padded))
        except (ValueError, TypeError):
            raise _bad("nextPageToken: not a token of this query") from None
        if fingerprint != self.fingerprint or not isinstance(offset, int) or offset <= 0:
            raise _bad("nextPageToken: not a token of this query")
        return offset

    def token_for(self, offset: int) -> str:
        text = json.dumps([self.fingerprint, offset]).encode()
        return base64.urlsafe_b64encode(text).decode().rstrip("=")

    def matches(self, event: dict[str, Any]) -> bool:
        if self.types is not None and event["type"] not in self.types:
            return False
        if self.epcs is not None:
            held = {canonical_value(epc) for epc in event.get("epcList", ())}
            if not held & {canonical_value(epc) for epc in self.epcs}:
                return False
        if self.classes is not None:
            held = {canonical_value(q["epcClass"]) for q in event.get("quantityList", ())}
            if not held & {canonical_value(c) for c in self.classes}:
                return False
        if self.steps is not None:
            step = event.get("bizStep")
            if step is None or _step(step) not in {_step(s) for s in self.steps}:
                return False
        if self.locations is not None:
            place = event.get("bizLocation", {}).get("id")
            if place is None or canonical_value(place) not in {
                canonical_value(p) for p in self.locations
            }:
                return False
        moment = datetime.fromisoformat(event["eventTime"])
        if self.since is not None and moment < self.since:
            return False
        return not (self.until is not None and moment >= self.until)


def _step(value: str) -> str:
    return canonical_value(value) if ":" in value else f"{CBV}BizStep-{value}"


def _batch_of_class(value: str, root: str) -> str | None:
    """The batch a lot class names (id.gs1.org, our resolver, or our /p/ form), if any."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return None
    if f"{parts.scheme}://{parts.netloc}" == root and parts.path.startswith("/p/"):
        try:
            key, lot = identifiers.split_batch_id(parts.path)
            return identifiers.batch_id(key, lot)
        except ValueError:
            return None
    link = parse_digital_link(parts.path)
    if isinstance(link, DigitalLink) and link.lot is not None and link.serial is None:
        return link.path if link.cpv is None else None
    return None


def _unit_of(value: str, root: str) -> str | None:
    """The unit key an EPC names (a serial of a GTIN, or of our /p/ form), if any."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return None
    if f"{parts.scheme}://{parts.netloc}" == root and parts.path.startswith("/p/"):
        key, _, serial = parts.path.rpartition("/21/")
        try:
            return identifiers.unit_key(key, serial)
        except ValueError:
            return None
    link = parse_digital_link(parts.path)
    if isinstance(link, DigitalLink) and link.serial is not None:
        return identifiers.unit_key(f"/01/{link.gtin}", link.serial)
    return None


async def _batches(services: Services, query: EventQuery, root: str) -> list[str]:
    if query.epcs is None and query.classes is None:
        raise QueryProblem(
            "QueryTooComplexException", 413,
            "name what the query is about with MATCH_anyEPCClass (a lot) or MATCH_epc (a "
            "unit): this repository answers from each batch's records, never by scanning "
            "them all",
        )  # fmt: skip
    values = [*(query.epcs or ()), *(query.classes or ())]
    if len(values) > MAX_BATCHES:
        raise QueryProblem(
            "QueryTooComplexException", 413, f"at most {MAX_BATCHES} EPCs and classes"
        )
    batches: list[str] = []
    for value in query.classes or ():
        batch = _batch_of_class(value, root)
        if batch is not None and batch not in batches:
            batches.append(batch)
    for value in query.epcs or ():
        unit_key = _unit_of(value, root)
        unit = await services.store.unit(unit_key) if unit_key else None
        if unit is not None and unit.batch_id not in batches:
            batches.append(unit.batch_id)
    return batches


_QUERY_DESCRIPTION = f"""
A subset of the EPCIS 2.0 query interface (REST binding, `GET /events`), answered from the
batches' records: an `EPCISQueryDocument` (application/json) with the matching events,
oldest first, each with its CBV 2.0 hash as eventID.

**`MATCH_anyEPCClass` or `MATCH_epc` is required**: a lot class
(`https://id.gs1.org/01/{{gtin}}/10/{{lot}}`) or a unit (`https://id.gs1.org/01/{{gtin}}/21/{{serial}}`),
several joined with `|`, at most {MAX_BATCHES} in all; without either the query would have to
read every batch, and is refused with **413** `epcisException:QueryTooComplexException`.
Matching is exact, as EPCIS 2.0 defines it for URIs (a Digital Link on another host matches its
id.gs1.org form): `MATCH_epc` matches the commissioning of the unit (the events naming the lot
name the lot's class, not the unit). `EQ_bizStep` (CBV word or URI), `EQ_bizLocation` (a
location's URI), `GE_eventTime`, `LT_eventTime` (date-times with offsets) and `eventType`
filter. Paging: `perPage` (default {PER_PAGE_DEFAULT}, at most {PER_PAGE_MAX}); while more
events remain, the `Link` header (rel `next`) gives the URL of the next page with its
`nextPageToken` (tokens do not expire). Any other parameter, a parameter given twice, a bad
time or perPage, or a token of another query: **400** `epcisException:QueryParameterException`
(RFC 7807, application/problem+json).
"""


def _parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", **schema}}  # fmt: skip


_URIS = r"^[^|]*:[^|]*(\|[^|]*:[^|]*)*$"
_WORDS = r"^[^|]+(\|[^|]+)*$"
_QUERY_PARAMETERS = [
    _parameter("MATCH_epc", "units' URIs, joined with |", pattern=_URIS),
    _parameter("MATCH_anyEPCClass", "lot classes' URIs, joined with |", pattern=_URIS),
    _parameter("EQ_bizStep", "CBV business steps (word or URI), joined with |", pattern=_WORDS),
    _parameter("EQ_bizLocation", "business locations' URIs, joined with |", pattern=_URIS),
    _parameter("GE_eventTime", "events at or after this date-time", format="date-time"),
    _parameter("LT_eventTime", "events before this date-time", format="date-time"),
    _parameter("eventType", "event types, joined with | (all ours are ObjectEvent)"),
    _parameter(
        "perPage", f"events per page, 1 to {PER_PAGE_MAX}", pattern="^([1-9][0-9]?|1[0-9]{2}|200)$"
    ),
]
"""`nextPageToken` is not listed: a client takes it from the `Link` header's URL, never
makes one (any other value is a QueryParameterException)."""
_PROBLEM = {
    "type": "object",
    "required": ["type", "title"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}
_QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An EPCISQueryDocument; `Link` rel `next` while more events remain.",
        "content": {"application/json": {"schema": {"type": "object"}}},
        "headers": {
            "Link": {"description": "the next page, rel `next`", "schema": {"type": "string"}},
        },
    },
    400: {
        "description": "`epcisException:QueryParameterException`",
        "content": {PROBLEM_JSON: {"schema": _PROBLEM}},
    },
    413: {
        "description": "`epcisException:QueryTooComplexException`: no MATCH_epc or "
        f"MATCH_anyEPCClass, or more than {MAX_BATCHES} values",
        "content": {PROBLEM_JSON: {"schema": _PROBLEM}},
    },
    **error_responses(ErrorCode.RATE_LIMITED, ErrorCode.STORE_UNAVAILABLE),
}


@router.get(
    "/events",
    operation_id="epcis_events",
    summary="EPCIS 2.0 events query (a subset)",
    description=_QUERY_DESCRIPTION,
    responses=_QUERY_RESPONSES,
    response_class=Response,
    openapi_extra={"parameters": _QUERY_PARAMETERS},
)
async def epcis_events(request: Request) -> Response:
    services: Services = request.app.state.services
    root = services.settings.public_origin
    raw = request.scope["query_string"].decode("latin-1")
    try:
        query = EventQuery(raw)
        batches = await _batches(services, query, root)
    except QueryProblem as problem:
        return problem.response()
    found: dict[str, dict[str, Any]] = {}
    for batch_id in batches:
        document = await batch_document_of(services, batch_id)
        for event in document["epcisBody"]["eventList"] if document else ():
            if query.matches(event):
                found.setdefault(event["eventID"], event)
    ordered = sorted(
        found.values(), key=lambda e: (datetime.fromisoformat(e["eventTime"]), e["eventID"])
    )
    page = ordered[query.offset : query.offset + query.per_page]
    headers = VERSIONS | {"Cache-Control": "no-store"}
    following = query.offset + query.per_page
    if following < len(ordered):
        kept = [p for p in raw.split("&") if p and not p.startswith("nextPageToken=")]
        kept.append(f"nextPageToken={query.token_for(following)}")
        headers["Link"] = f'<{root}/epcis/events?{"&".join(kept)}>; rel="next"'
    body = {
        "@context": [EPCIS_CONTEXT, {"cbvmda": CBVMDA}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": utc_now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": page},
            }
        },
    }
    return Response(
        json.dumps(body, ensure_ascii=False), media_type="application/json", headers=headers
    )
