"""Consumers' cases for inspectors: a province's cases on a day, a unit's cases, one case,
and closing one with a finding.

A consumer's report (verify_api.routes.reports) is filed by the processors as a case for the
inspectors of the province where the product was bought (records.cases), linked to the
unit's alerts open at the time. The API reads cases and sends an inspector's closing as a
CaseClosed event on the scan topic, keyed like the case's report, so it follows it (202 once
Kafka has it; 503 `events_unavailable` if it was not sent, `finding_unconfirmed` if Kafka
took it without acknowledging it in time: the app sends it again). A closing's event id comes
from the case, the inspector, the finding and the note, so a resend is the same closing; the
first closing of a case stands, and closing it otherwise is 409 `case_closed`.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Query, Request, status
from starlette.datastructures import State

from contract.encoding import JSON, canonical_bytes
from contract.events import CaseClosed
from contract.label import vietnam_date
from keys.certs import utc_now
from records.cases import DAY_READ_LIMIT, CaseReader, CaseRow
from records.rows import Inspector
from verify_api import views
from verify_api.deps import FieldInspector, ServicesDep, UnitOrCodeQuery, filed_under, province_of
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.events import DeliveryUnconfirmed, EventsUnavailable
from verify_api.schemas import (
    Accepted,
    CaseClosing,
    CaseList,
    CaseOut,
    CaseStatus,
    Day,
    Province,
)
from verify_api.services import Services

router = APIRouter(prefix="/inspectors/cases", tags=["cases"])
_AUTH = (ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN, ErrorCode.RATE_LIMITED)
_CLOSING_IDS = uuid.UUID("5d0c8a55-6f1e-4f0b-9a3e-2b7f3c1e8d42")
"""The UUIDv5 namespace of case closings' event ids: fixed forever, or resends change id."""


class CaseStore(Protocol):
    """The cases' reads the API makes; records.cases.CaseReader is the real one."""

    async def case(self, case_id: uuid.UUID) -> CaseRow | None: ...
    async def cases_on(
        self, province: str, day: date, limit: int = DAY_READ_LIMIT
    ) -> list[CaseRow]: ...
    async def cases_for_unit(self, unit_key: str, limit: int = 200) -> list[CaseRow]: ...


async def get_cases(request: Request) -> CaseStore:
    """The cases' reader, prepared on first use on the records' session (a store without
    one, as in unit tests, needs this dependency overridden)."""
    return await cases_of(request.app.state)


async def cases_of(state: State) -> CaseStore:
    """The cases' reader held in an app's state (the API's; the inspectors' workspace,
    backoffice/, reads its host's), prepared on first use on the records' session."""
    held: CaseStore | None = getattr(state, "cases", None)
    if held is None:
        session = getattr(state.services.store, "session", None)
        if session is None:
            raise RuntimeError("the records' store has no Cassandra session for the cases")
        held = state.cases = await asyncio.to_thread(CaseReader, session)  # prepares: blocks
    return held


CasesDep = Annotated[CaseStore, Depends(get_cases)]


def closing_event_id(case_id: uuid.UUID, inspector_id: str, body: CaseClosing) -> uuid.UUID:
    """The same for every resend of one inspector's closing of a case."""
    name: list[JSON] = [str(case_id), inspector_id, body.finding.value, body.note]
    return uuid.uuid5(_CLOSING_IDS, canonical_bytes(name).decode("utf-8"))


@router.get(
    "",
    operation_id="list_cases",
    summary="Consumers' cases in a province on a day, newest first",
    description="The cases filed from consumers' reports about products bought in `province` "
    "on `day` (in Vietnam; default today), newest first; `status` keeps only open or closed "
    "ones. A consumer's contact is not listed (`has_contact`): read the case itself.",
    response_model=CaseList,
    responses=error_responses(*_AUTH, ErrorCode.INVALID_REQUEST, ErrorCode.STORE_UNAVAILABLE),
)
async def list_cases(
    inspector: FieldInspector,
    cases: CasesDep,
    province: Annotated[Province, Query()],
    day: Annotated[Day | None, Query()] = None,
    status: Annotated[CaseStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CaseList:
    rows = await cases.cases_on(
        province_of(inspector, province) or province, day or vietnam_date(utc_now())
    )
    kept = [row for row in rows if status is None or row.status == status.value][:limit]
    return CaseList(count=len(kept), cases=[views.case_out(row) for row in kept])


@router.get(
    "/unit",
    operation_id="unit_cases",
    summary="Consumers' cases on one unit (or on a code that names no unit, by its hash)",
    response_model=CaseList,
    responses=error_responses(*_AUTH, ErrorCode.BAD_REQUEST, ErrorCode.STORE_UNAVAILABLE),
)
async def unit_cases(
    inspector: FieldInspector,
    cases: CasesDep,
    unit: UnitOrCodeQuery,
) -> CaseList:
    rows = await cases.cases_for_unit(filed_under(unit))
    return CaseList(count=len(rows), cases=[views.case_out(row) for row in rows])


@router.get(
    "/{case_id}",
    operation_id="read_case",
    summary="One case, with the consumer's contact if they gave one",
    response_model=CaseOut,
    responses=error_responses(*_AUTH, ErrorCode.UNKNOWN_CASE, ErrorCode.STORE_UNAVAILABLE),
)
async def read_case(case_id: uuid.UUID, inspector: FieldInspector, cases: CasesDep) -> CaseOut:
    case = await cases.case(case_id)
    if case is None:
        raise ApiError(ErrorCode.UNKNOWN_CASE, str(case_id))
    return views.case_out(case)


@router.post(
    "/{case_id}/close",
    operation_id="close_case",
    summary="Close a case with the inspector's finding",
    description="**202** once Kafka has the closing (the processors store it shortly), or "
    "when this very closing (same inspector, finding and note) is already stored. **503** "
    "`events_unavailable`: not sent; `finding_unconfirmed`: Kafka took it without "
    "acknowledging it in time, so it may or may not be recorded; after either, send it again "
    "unchanged: it is the same closing. **404** `unknown_case` (a report sent a moment ago "
    "may not be filed yet), **409** `case_closed`: already closed otherwise (the first "
    "closing stands).",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(
        *_AUTH,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.UNKNOWN_CASE,
        ErrorCode.CASE_CLOSED,
        ErrorCode.EVENTS_UNAVAILABLE,
        ErrorCode.FINDING_UNCONFIRMED,
        ErrorCode.STORE_UNAVAILABLE,
    ),
)
async def close_case(
    case_id: uuid.UUID,
    body: CaseClosing,
    inspector: FieldInspector,
    services: ServicesDep,
    cases: CasesDep,
) -> Accepted:
    return await send_case_closing(case_id, body, inspector, services, cases)


async def send_case_closing(
    case_id: uuid.UUID,
    body: CaseClosing,
    inspector: Inspector,
    services: Services,
    cases: CaseStore,
) -> Accepted:
    """An inspector's closing of a case, sent as `close_case` answers it (the route and the
    inspectors' workspace, backoffice/, both call it): 404 `unknown_case`, 409 `case_closed`
    (closed otherwise), 503 `finding_unconfirmed` or `events_unavailable` (send it again
    unchanged: the same closing); this very closing already stored is accepted again."""
    case = await cases.case(case_id)
    if case is None:
        raise ApiError(ErrorCode.UNKNOWN_CASE, str(case_id))
    event_id = closing_event_id(case_id, inspector.inspector_id, body)
    if case.closing_event_id is not None and case.closed_at is not None:
        if case.closing_event_id == event_id:  # this closing, sent again: stored already
            return Accepted(event_id=event_id, recorded_at=case.closed_at)
        raise ApiError(ErrorCode.CASE_CLOSED, f"by {case.closed_by}: {case.finding}")
    now = utc_now()
    closing = CaseClosed(
        event_id=event_id,
        occurred_at=now,
        case_id=case_id,
        unit_key=case.unit_key,
        inspector_id=inspector.inspector_id,
        finding=body.finding,
        note=body.note,
    )
    try:
        await services.events.deliver(closing)
    except DeliveryUnconfirmed as exc:  # the same closing when sent again
        raise ApiError(ErrorCode.FINDING_UNCONFIRMED, f"closing {event_id}: {exc}") from None
    except EventsUnavailable as exc:
        raise ApiError(ErrorCode.EVENTS_UNAVAILABLE, f"closing {event_id}: {exc}") from None
    return Accepted(event_id=event_id, recorded_at=now)
