"""Consumers' reports of suspected fakes: the consumer page's form and a JSON route for apps.
No login. A report travels as a ConsumerReported event on the scan topic, keyed like the
code's scans, and the processors file it as a case for the inspectors of the province where
the product was bought (records.cases; inspectors read it at /inspectors/cases).

**One report per client, unit and day.** A report's id is a UUIDv5 of the client's network
(deps.Caller.network, under the keyed hash the scan analytics use: services.client_hash),
what it is filed under (the unit key of a code of ours; the SHA-256 of any other code, as
inspectors' findings on such codes are kept) and the day in Vietnam. So a second report of a
client on that unit that day is the same report: it gets the same receipt, is answered
`already_received`, and nothing is sent (this API process remembers what it sent, and asks
the records whether the case is stored); a flood from one client is one case, and the rate
limit applies as everywhere. A resend after a 503 is harmless: same id, same case. Its
receipt is the first 40 bits of the id in Crockford base32 (contract.events.report_receipt).

**A code that is not one of ours** (forged, foreign, mistyped) is still worth a report: the
shop it was sold in is the lead. It is filed under the code's hash, and the receipt says so.

**Statuses.** 202 `received` once Kafka has the report; 200 `already_received`. 422
`invalid_report` with what is wrong, field by field, in the client's language; 403
`cross_site_form` for a browser posting from another site (its Sec-Fetch-Site); 503
`report_not_sent` (not sent: send it again) or `report_unconfirmed` (Kafka took it without
acknowledging it in time: it may or may not be recorded; send it again, it will not be
recorded twice), as events_unavailable and finding_unconfirmed mean for findings
(verify_api.events).
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import date
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from contract.encoding import canonical_bytes
from contract.events import ConsumerReported, ReportProblem
from contract.label import vietnam_date
from contract.verdict import Lang
from keys.certs import utc_now
from verify_api import views
from verify_api.deps import ServicesDep, client_network
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.events import DeliveryUnconfirmed, EventSink, EventsUnavailable
from verify_api.i18n import STRINGS
from verify_api.negotiation import language, wants_json
from verify_api.rendering import NO_STORE
from verify_api.routes.cases import CasesDep, CaseStore
from verify_api.schemas import (
    FORM_WHITE_SPACE,
    REPORT_FORM_SCHEMA,
    TYPED_FIELDS,
    ReportForm,
    ReportIn,
    ReportReceipt,
    ReportStatus,
)
from verify_api.services import Services

log = logging.getLogger(__name__)

REPORT_IDS = uuid.UUID("0b6c3f7e-2a51-4d8e-8f3b-6e1d9c0a7b24")
"""The UUIDv5 namespace of reports' ids: fixed forever, or a resend would be a new report."""
REMEMBERED_REPORTS = 50_000
"""Reports an API process remembers having sent (about 5 MB): a repeat is answered without
asking the records."""
STORED_CHECK_S = 0.5
"""How long a report waits for the records to say whether its case is stored; past it (or
if they fail) it is sent, which is harmless: the same id is the same case."""
FORM = "application/x-www-form-urlencoded"
_DRAFT = uuid.UUID(int=0)
"""A report's id before it is known (it depends on what the report is filed under)."""
_REPORT_FIELDS = ("code", "label", "shop", "province", "problem", "note", "contact")

_ENV = Environment(
    loader=PackageLoader("verify_api", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)  # as verify_api.rendering's: the page's base, escaped, failing on a missing value
_RECEIPT = _ENV.get_template("receipt.html")


def report_id(client: str | None, filed_under: str, day: date) -> uuid.UUID:
    """The id of a client's report on a unit (or a code's hash) on a day in Vietnam.
    `client`: services.client_hash of the client's network ("" when there is none)."""
    name = canonical_bytes([client or "", filed_under, day.isoformat()]).decode("utf-8")
    return uuid.uuid5(REPORT_IDS, name)


def problems(errors: Sequence[Mapping[str, Any]], lang: Lang) -> str:
    """What is wrong with a report, field by field, in the client's language."""
    t = STRINGS[lang]
    said: list[str] = []
    for error in errors:
        where = [str(part) for part in error.get("loc", ()) if part != "body"]
        field = where[0] if where else None
        kind = error.get("type")
        if kind == "extra_forbidden" and field is not None:
            sentence = t["report_unknown_field"].format(field=field[:40])
        elif kind == "note_required":
            sentence = t["report_field_note"]
        elif field in _REPORT_FIELDS:
            choices = ", ".join(problem.value for problem in ReportProblem)
            sentence = t[f"report_field_{field}"].format(choices=choices)
        else:  # not JSON, not an object, no body
            sentence = t["report_unreadable"]
        if sentence not in said:
            said.append(sentence)
    return "; ".join(said)


def _lang(request: Request) -> Lang:
    return language(request.query_params.get("lang"), request.headers.get("accept-language"))


def _invalid(request: Request, errors: Sequence[Mapping[str, Any]]) -> ApiError:
    return ApiError(ErrorCode.INVALID_REPORT, problems(errors, _lang(request)))


class ReportRoute(APIRoute):
    """A route whose refused body is `invalid_report` with what is wrong in the client's
    language, not pydantic's English (FastAPI's way to wrap a route's handler); a body
    FastAPI cannot even decode (not UTF-8: its 400) is one too."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as exc:
                raise _invalid(request, exc.errors()) from None
            except HTTPException as exc:
                if exc.status_code != HTTPStatus.BAD_REQUEST:
                    raise
                raise _invalid(request, [{"loc": ("body",), "type": "unreadable"}]) from None

        return handler


router = APIRouter(prefix="/reports", tags=["reports"], route_class=ReportRoute)


class RecentReports:
    """The reports this API process has sent (the most recent `size`), and those being sent:
    a report sent while its first copy is still on its way joins it, so a burst of one
    client's copies is one event."""

    def __init__(self, size: int = REMEMBERED_REPORTS) -> None:
        self._size = size
        self._sent: OrderedDict[uuid.UUID, None] = OrderedDict()
        self._sending: dict[uuid.UUID, asyncio.Task[bool]] = {}

    async def file(self, report: ConsumerReported, events: EventSink, cases: CaseStore) -> bool:
        """True if this call sent the report; False if it was already received. Raises
        EventsUnavailable (or DeliveryUnconfirmed) as verify_api.events' `deliver` does; a
        copy that joined a failed sending gets the same error."""
        key = report.event_id
        if key in self._sent:
            self._sent.move_to_end(key)
            return False
        sending = self._sending.get(key)
        if sending is not None:
            await asyncio.shield(sending)
            return False
        # shielded: a client that goes away does not stop a report half-sent
        task = asyncio.ensure_future(self._send(report, events, cases))
        self._sending[key] = task
        task.add_done_callback(lambda _: self._sending.pop(key, None))
        return await asyncio.shield(task)

    async def _send(self, report: ConsumerReported, events: EventSink, cases: CaseStore) -> bool:
        new = not await _stored(cases, report.event_id)
        if new:
            await events.deliver(report)
        self._sent[report.event_id] = None
        if len(self._sent) > self._size:
            self._sent.popitem(last=False)
        return new


async def _stored(cases: CaseStore, case_id: uuid.UUID) -> bool:
    """Whether the records hold the case already (another API process sent it)."""
    try:
        async with asyncio.timeout(STORED_CHECK_S):
            return await cases.case(case_id) is not None
    except Exception as exc:  # slow or down: send it, a copy of a stored report is harmless
        log.warning("could not read case %s (%r): sending the report", case_id, exc)
        return False


def recent_reports(request: Request) -> RecentReports:
    """This app's memory of the reports it sent (made on first use)."""
    state = request.app.state
    recent: RecentReports | None = getattr(state, "recent_reports", None)
    if recent is None:
        recent = state.recent_reports = RecentReports()
    return recent


def _same_site(request: Request) -> None:
    """A browser says where a request comes from (Sec-Fetch-Site); a report is taken from
    this site's page and from apps (which send no such header), never from another site's."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise ApiError(ErrorCode.CROSS_SITE_FORM, f"Sec-Fetch-Site: {site[:20]}")


async def _file(
    request: Request, services: Services, cases: CaseStore, fields: ReportIn | ReportForm, code: str
) -> tuple[ReportReceipt, bool]:
    """Resolve the code, make the report, send it unless it was received; its receipt, and
    whether it is new."""
    now = utc_now()
    resolved = await services.resolve(code, now)
    batch_id, serial = resolved.unit or (None, None)
    client = services.client_hash(client_network(request, services.settings.trusted_proxies))
    try:
        draft = ConsumerReported(
            event_id=_DRAFT, occurred_at=now, code=unicodedata.normalize("NFC", code)[:1024],
            batch_id=batch_id, serial=serial, province=fields.province,
            reason=resolved.resolution.reason, shop=fields.shop, problem=fields.problem,
            note=fields.note, contact=fields.contact, client=client,
        )  # fmt: skip
    except ValidationError as exc:  # longer once in NFC, which a few characters are
        raise _invalid(request, exc.errors()) from None
    filed = draft.topic_key().decode("utf-8")
    report = draft.model_copy(update={"event_id": report_id(client, filed, vietnam_date(now))})
    try:
        new = await recent_reports(request).file(report, services.events, cases)
    except DeliveryUnconfirmed as exc:
        raise ApiError(ErrorCode.REPORT_UNCONFIRMED, f"report {report.receipt}: {exc}") from None
    except EventsUnavailable as exc:
        raise ApiError(ErrorCode.REPORT_NOT_SENT, f"report {report.receipt}: {exc}") from None
    status = ReportStatus.RECEIVED if new else ReportStatus.ALREADY_RECEIVED
    return views.report_receipt(report, status, draft.unit_key()), new


def _json(receipt: ReportReceipt, new: bool) -> Response:
    return Response(
        receipt.model_dump_json(),
        status_code=202 if new else 200,
        media_type="application/json",
        headers=NO_STORE,
    )


_ERRORS = (
    ErrorCode.INVALID_REPORT,
    ErrorCode.CROSS_SITE_FORM,
    ErrorCode.BODY_TOO_LARGE,
    ErrorCode.RATE_LIMITED,
    ErrorCode.NO_TRUST_LIST,
    ErrorCode.REPORT_NOT_SENT,
    ErrorCode.REPORT_UNCONFIRMED,
    ErrorCode.STORE_UNAVAILABLE,
)
_RECEIVED = (
    "`received`: Kafka has the report; the processors file it as a case for the inspectors "
    "of its province shortly."
)
_AGAIN = (
    "`already_received`: this client reported this unit (or code) today already; the same "
    "receipt, and nothing was sent."
)


@router.post(
    "",
    operation_id="report_suspected_fake",
    summary="Report a suspected fake (an app; no login)",
    description="The code as scanned, where it was bought and what looks wrong. **202** "
    "`received`: Kafka has it, and it becomes a case for the inspectors of `province`. **200** "
    "`already_received`: one report per client (its network), unit and day in Vietnam; the "
    "same receipt, nothing sent. A code that is not one of ours is taken too, filed under "
    "its hash (`unit_key` null). **422** `invalid_report`: what is wrong, field by field, in "
    "the client's language (`lang`, Accept-Language). **503** `report_not_sent` or "
    "`report_unconfirmed`: send it again unchanged; it is recorded once.",
    status_code=202,
    response_model=ReportReceipt,
    responses={
        202: {"description": _RECEIVED},
        200: {"model": ReportReceipt, "description": _AGAIN},
        **error_responses(*_ERRORS),
    },
)
async def report(
    body: ReportIn, request: Request, services: ServicesDep, cases: CasesDep
) -> Response:
    _same_site(request)
    receipt, new = await _file(request, services, cases, body, body.code)
    return _json(receipt, new)


def form_fields(request: Request, body: bytes) -> ReportForm:
    """The report form's body, read as a browser sends it (UTF-8, as the form asks): each
    field once; a typed field trimmed, a note's CR LF made a line feed, an empty note or
    contact none."""
    content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    unreadable = [{"loc": ("body",), "type": "unreadable"}]
    if content_type != FORM:
        raise _invalid(request, unreadable)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body),
            errors="strict", max_num_fields=len(_REPORT_FIELDS) * 2,
        )  # fmt: skip
    except ValueError:  # not UTF-8, not a form, too many fields
        raise _invalid(request, unreadable) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            t = STRINGS[_lang(request)]
            raise ApiError(ErrorCode.INVALID_REPORT, t["report_repeated_field"].format(
                field=name[:40]))  # fmt: skip
        fields[name] = value
    for name in TYPED_FIELDS:
        if name in fields:
            fields[name] = fields[name].strip(FORM_WHITE_SPACE)
            if name == "note":
                fields[name] = fields[name].replace("\r\n", "\n")
            if not fields[name] and name in ("note", "contact"):
                del fields[name]
    try:
        return ReportForm.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(request, exc.errors()) from None


def _page(receipt: ReportReceipt, new: bool, back: str, lang: Lang) -> Response:
    html = _RECEIPT.render(receipt=receipt, t=STRINGS[lang], lang=lang, back=back)
    return HTMLResponse(html, status_code=202 if new else 200, headers=NO_STORE)


_PAGE = {"text/html": {"schema": {"type": "string"}}}


@router.post(
    "/form",
    operation_id="report_suspected_fake_form",
    summary="Report a suspected fake from the consumer page's form (no login)",
    description="What the consumer page's form posts (no script): the page's own label and "
    "the consumer's answers, form-encoded. Answers the receipt page (text/html; JSON to a "
    "client that prefers it), with the statuses of `POST /reports`.",
    status_code=202,
    response_model=ReportReceipt,
    responses={
        202: {"description": _RECEIVED, "content": _PAGE},
        200: {"model": ReportReceipt, "description": _AGAIN, "content": _PAGE},
        **error_responses(*_ERRORS),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {FORM: {"schema": REPORT_FORM_SCHEMA}}}
    },
)
async def report_form(request: Request, services: ServicesDep, cases: CasesDep) -> Response:
    _same_site(request)
    form = form_fields(request, await request.body())
    code = f"https://{services.settings.resolver_host}{form.label}"
    receipt, new = await _file(request, services, cases, form, code)
    if wants_json(request.headers.get("accept")):
        return _json(receipt, new)
    lang = _lang(request)
    back = f"{form.label}{'&' if '?' in form.label else '?'}lang={lang.value}"
    return _page(receipt, new, back, lang)
