"""Market inspectors: who am I, record a finding on a label in a shop, read findings.

Findings are sent as InspectionRecorded events on the scan topic (the processors store
them; the API never writes records). A finding is answered 202 only once Kafka has
acknowledged it, and 503 otherwise, so an inspector's app knows to send it again.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from contract import identifiers
from contract.events import InspectionRecorded, InspectorRole
from keys.certs import utc_now
from verify_api.deps import (
    CurrentInspector,
    CurrentSupervisor,
    FieldInspector,
    ServicesDep,
    StoreDep,
)
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.events import EventsUnavailable
from verify_api.schemas import (
    InspectionAccepted,
    InspectionIn,
    InspectionList,
    InspectionOut,
    InspectorOut,
)

router = APIRouter(prefix="/inspectors", tags=["inspectors"])
_AUTH = (ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN, ErrorCode.RATE_LIMITED)


@router.get(
    "/me",
    operation_id="inspector_me",
    summary="The inspector a token belongs to",
    response_model=InspectorOut,
    responses=error_responses(*_AUTH, ErrorCode.STORE_UNAVAILABLE),
)
async def inspector_me(inspector: CurrentInspector) -> InspectorOut:
    return InspectorOut(
        inspector_id=inspector.inspector_id,
        name=inspector.name,
        role=InspectorRole(inspector.role),
        authority_id=inspector.authority_id,
    )


@router.post(
    "/inspections",
    operation_id="record_inspection",
    summary="Record a finding on a label seen in a shop",
    description="The code is verified as a scan would be, and the finding is recorded with "
    "that answer (`reason`). **202** once Kafka has acknowledged it; **503** if it could not "
    "be recorded (send it again); **401** without a valid token, **403** for a role that "
    "may not record findings.",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=InspectionAccepted,
    responses=error_responses(
        *_AUTH,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.BODY_TOO_LARGE,
        ErrorCode.NO_TRUST_LIST,
        ErrorCode.EVENTS_UNAVAILABLE,
        ErrorCode.STORE_UNAVAILABLE,
    ),
)
async def record_inspection(
    body: InspectionIn, inspector: FieldInspector, services: ServicesDep
) -> InspectionAccepted:
    now = utc_now()
    resolved = await services.resolve(body.code, now)
    batch_id, serial = resolved.unit or (None, None)
    finding = InspectionRecorded(
        event_id=uuid.uuid4(),
        occurred_at=now,
        code=body.code,
        batch_id=batch_id,
        serial=serial,
        province=body.province,
        location=body.location,
        inspector_id=inspector.inspector_id,
        stars_seen=body.stars_seen,
        verdict=body.verdict,
        reason=resolved.scan_reason,
        place=body.place,
        note=body.note,
    )
    try:
        await services.events.deliver(finding)
    except EventsUnavailable as exc:
        raise ApiError(ErrorCode.EVENTS_UNAVAILABLE, str(exc)) from None
    resolution = resolved.resolution
    return InspectionAccepted(
        event_id=finding.event_id,
        recorded_at=now,
        reason=resolution.reason,
        level=resolution.level,
    )


@router.get(
    "/inspections",
    operation_id="list_inspections",
    summary="Findings recorded on one unit, newest first (supervisors)",
    response_model=InspectionList,
    responses=error_responses(*_AUTH, ErrorCode.BAD_REQUEST, ErrorCode.STORE_UNAVAILABLE),
)
async def list_inspections(
    unit: Annotated[
        str,
        Query(max_length=120, description="unit key: /01/<GTIN-14>/21/<serial> or /p/<code>/21/…"),
    ],
    supervisor: CurrentSupervisor,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> InspectionList:
    product_key, _, serial = unit.rpartition("/21/")
    try:
        unit_key = identifiers.unit_key(product_key, serial)
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc)) from None
    found = await store.inspections(unit_key, limit)
    return InspectionList(
        unit_key=unit_key,
        count=len(found),
        inspections=[
            InspectionOut(
                inspected_at=item.inspected_at,
                inspector_id=item.inspector_id,
                code=item.code,
                stars_seen=item.stars_seen,
                verdict=item.verdict,
                reason=item.reason,
                place=item.place,
                province=item.province,
                note=item.note,
            )
            for item in found
        ],
    )
