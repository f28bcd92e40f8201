"""Counterfeit alerts for inspectors: what scan analytics raised, by province and day or by
unit, and closing one with a finding.

The processors raise and store alerts; the API reads them and sends an inspector's closing
as an AlertClosed event (202 once Kafka has it; 503 `events_unavailable` if it was not sent,
`finding_unconfirmed` if Kafka took it without acknowledging it in time; either way the app
sends it again, and closing a closed alert changes nothing).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from contract.events import AlertClosed
from contract.label import vietnam_date
from keys.certs import utc_now
from records.rows import Inspector
from verify_api import views
from verify_api.deps import (
    FieldInspector,
    ServicesDep,
    StoreDep,
    UnitOrCodeQuery,
    filed_under,
    province_of,
)
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.events import DeliveryUnconfirmed, EventsUnavailable
from verify_api.schemas import Accepted, AlertClosing, AlertList, Day, Province
from verify_api.services import Services

router = APIRouter(prefix="/inspectors/alerts", tags=["alerts"])
_AUTH = (ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN, ErrorCode.RATE_LIMITED)


@router.get(
    "",
    operation_id="list_alerts",
    summary="Alerts raised in a province on a day, newest first",
    description="`province` omitted: the alerts whose place was unknown. `day` defaults to "
    "today in Vietnam.",
    response_model=AlertList,
    responses=error_responses(*_AUTH, ErrorCode.INVALID_REQUEST, ErrorCode.STORE_UNAVAILABLE),
)
async def list_alerts(
    inspector: FieldInspector,
    store: StoreDep,
    province: Annotated[Province | None, Query()] = None,
    day: Annotated[Day | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertList:
    province = province_of(inspector, province)
    rows = await store.alerts_on(province, day or vietnam_date(utc_now()), limit)
    return AlertList(count=len(rows), alerts=[views.alert_out(row) for row in rows])


@router.get(
    "/unit",
    operation_id="unit_alerts",
    summary="Alerts on one unit (or on a code that names no unit, by its hash)",
    response_model=AlertList,
    responses=error_responses(*_AUTH, ErrorCode.BAD_REQUEST, ErrorCode.STORE_UNAVAILABLE),
)
async def unit_alerts(
    inspector: FieldInspector,
    store: StoreDep,
    unit: UnitOrCodeQuery,
) -> AlertList:
    rows = await store.alerts_for_unit(filed_under(unit))
    return AlertList(count=len(rows), alerts=[views.alert_out(row) for row in rows])


@router.post(
    "/{alert_id}/close",
    operation_id="close_alert",
    summary="Close an alert with the inspector's finding",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(
        *_AUTH,
        ErrorCode.BAD_REQUEST,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.EVENTS_UNAVAILABLE,
        ErrorCode.FINDING_UNCONFIRMED,
        ErrorCode.STORE_UNAVAILABLE,
    ),
)
async def close_alert(
    alert_id: uuid.UUID, body: AlertClosing, inspector: FieldInspector, services: ServicesDep
) -> Accepted:
    return await send_closing(alert_id, body, inspector, services)


async def send_closing(
    alert_id: uuid.UUID, body: AlertClosing, inspector: Inspector, services: Services
) -> Accepted:
    """An inspector's closing of an alert, sent as `close_alert` answers it (the route and the
    inspectors' workspace, backoffice/, both call it): 400 for a unit key that is neither a
    unit nor a code's hash, 503 `finding_unconfirmed` or `events_unavailable` (closing twice
    is harmless: it is sent again)."""
    now = utc_now()
    closing = AlertClosed(
        event_id=uuid.uuid4(),
        occurred_at=now,
        alert_id=alert_id,
        unit_key=filed_under(body.unit_key),
        inspector_id=inspector.inspector_id,
        finding=body.finding,
        note=body.note,
    )
    try:
        await services.events.deliver(closing)
    except DeliveryUnconfirmed as exc:  # closing twice is harmless: the app sends it again
        raise ApiError(ErrorCode.FINDING_UNCONFIRMED, str(exc)) from None
    except EventsUnavailable as exc:
        raise ApiError(ErrorCode.EVENTS_UNAVAILABLE, str(exc)) from None
    return Accepted(event_id=closing.event_id, recorded_at=now)
