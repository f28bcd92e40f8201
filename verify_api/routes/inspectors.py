"""Market inspectors: who am I, record a finding on a label in a shop, read findings.

Findings are sent as InspectionRecorded events on the scan topic (the processors store
them; the API never writes records).

A finding is idempotent. Its event id is a UUIDv5 of the inspector and an idempotency key:
the request's `Idempotency-Key` (the IETF httpapi draft's header, an sf-string such as
`"8e03978e-40d5-43e8-bc93-6894a57f9324"`; the bare token is accepted too) or, without one,
the SHA-256 of the finding's content (the body's fields in canonical JSON, the inspector and
the day in Vietnam), so the same finding sent again that day is the same finding and two
different findings are not. The records keep findings by (unit, time, event id), so a resend
must carry the same time as well: the API process remembers when it first received each of
its last REMEMBERED_FINDINGS findings and gives a resend that time, and refuses (422, as the
draft asks) a key it saw with a different finding; a resend while the first attempt still
waits is not refused with the draft's 409, as it is harmless here (same id, same time). A
resend that reaches another API process (several workers, a restart) gets another time, and
the processor stores it under the time its first copy claimed (records.store
`first_inspection_time`): one finding is one row, wherever it was sent.

**202** once Kafka has acknowledged the finding. **503** otherwise, saying what is known
(verify_api.events): `events_unavailable` if it was not sent; `finding_unconfirmed` if Kafka
took it without acknowledging it in time, so that it may or may not be recorded (a paused
broker writes it when it resumes). Either way the app sends it again, unchanged, and it is
recorded once.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, status

from contract import identifiers
from contract.encoding import JSON, canonical_bytes, sha256_hex
from contract.events import InspectionRecorded
from contract.label import vietnam_date
from keys.certs import utc_now
from records.rows import Inspector
from verify_api import views
from verify_api.deps import (
    CurrentInspector,
    CurrentSupervisor,
    FieldInspector,
    ServicesDep,
    StoreDep,
)
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.events import DeliveryUnconfirmed, EventsUnavailable
from verify_api.schemas import (
    UNIT_KEY,
    InspectionAccepted,
    InspectionIn,
    InspectionList,
    InspectorOut,
)
from verify_api.services import Services

IDEMPOTENCY_KEY = "Idempotency-Key"
_KEY = re.compile(r"[A-Za-z0-9._~+/=-]{8,128}")
"""A client's key: what a UUID, a ULID or base64 random bytes are written with."""
IDEMPOTENCY_KEY_PATTERN = f'^(?:{_KEY.pattern}|"{_KEY.pattern}")$'
"""The header as `client_key` takes it: the key bare, or quoted as an sf-string."""
_FINDING_IDS = uuid.UUID("f4707477-d396-423e-96e0-2139b0a38a46")
"""The UUIDv5 namespace of findings' event ids: fixed forever, or resends would change id."""
REMEMBERED_FINDINGS = 10_000
"""Findings whose first time and content an API process keeps, for resends (about 4 MB)."""

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
    return views.inspector_out(inspector)


def finding_event_id(inspector_id: str, key: str) -> uuid.UUID:
    """The event id of an inspector's finding: the same for every resend under one key.

    A client's key cannot collide with a derived one (those start "content:", and a client's
    key has no colon), nor one inspector's key with another's."""
    return uuid.uuid5(_FINDING_IDS, canonical_bytes([inspector_id, key]).decode("utf-8"))


def client_key(value: str | None, sent: list[str]) -> str | None:
    """The request's Idempotency-Key, if it has one; a malformed one is refused (400)."""
    if value is None:
        return None
    if len(sent) > 1:
        raise ApiError(
            ErrorCode.INVALID_IDEMPOTENCY_KEY, f"{IDEMPOTENCY_KEY} sent {len(sent)} times"
        )
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':  # the draft's sf-string form
        key = key[1:-1]
    if not _KEY.fullmatch(key):
        raise ApiError(
            ErrorCode.INVALID_IDEMPOTENCY_KEY,
            f"{IDEMPOTENCY_KEY} of {len(key)} characters, not 8-128 of A-Z a-z 0-9 . _ ~ + / = -",
        )
    return key


def finding_content(body: InspectionIn) -> dict[str, Any]:
    """The finding as sent, in the one spelling canonical JSON accepts (text in NFC)."""
    content = body.model_dump(mode="json")
    for field in ("code", "note"):
        if content[field] is not None:
            content[field] = unicodedata.normalize("NFC", content[field])
    return content


def derived_key(inspector_id: str, content: dict[str, Any], now: datetime) -> str:
    """Without an Idempotency-Key, a finding is its content, its inspector and its day."""
    day = vietnam_date(now).isoformat()
    fields: JSON = {"day": day, "finding": content, "inspector_id": inspector_id}
    return "content:" + sha256_hex(canonical_bytes(fields))


class RecentFindings:
    """When an API process first received each of its recent findings, and what they were."""

    def __init__(self, size: int = REMEMBERED_FINDINGS) -> None:
        self._size = size
        self._seen: OrderedDict[uuid.UUID, tuple[datetime, str]] = OrderedDict()

    def first_time(self, event_id: uuid.UUID, content: str, now: datetime) -> datetime:
        """The time to give this finding: `now` if new here, else its first one. Refuses
        (422) an id seen with other content: the same key used for two findings."""
        seen = self._seen.get(event_id)
        if seen is None:
            self._seen[event_id] = (now, content)
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return now
        if seen[1] != content:
            raise ApiError(ErrorCode.IDEMPOTENCY_KEY_REUSED, f"finding {event_id}")
        return seen[0]


def recent_findings(request: Request) -> RecentFindings:
    """This app's memory of recent findings (made on first use)."""
    state = request.app.state
    recent: RecentFindings | None = getattr(state, "recent_findings", None)
    if recent is None:
        recent = state.recent_findings = RecentFindings()
    return recent


@router.post(
    "/inspections",
    operation_id="record_inspection",
    summary="Record a finding on a label seen in a shop",
    description="The code is verified as a scan would be, and the finding is recorded with "
    "that answer (`reason`). **Idempotent**: the finding's `event_id` comes from the inspector "
    "and the `Idempotency-Key` header or, without one, from the finding's content and the day "
    "in Vietnam; a resend is recorded once, with the time this API process first gave it (a "
    "resend that reaches another API process gets a new time, and may then be listed twice). "
    "**202** once Kafka has acknowledged it. **503** `events_unavailable`: not sent; "
    "`finding_unconfirmed`: Kafka took it but did not acknowledge it in time, so it may or may "
    "not be recorded. After either, send it again unchanged, with the same key. **400** for a "
    "malformed key, **422** for an invalid body or a key already used for another finding, "
    "**401** without a valid token, **403** for a role that may not record findings.",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=InspectionAccepted,
    responses=error_responses(
        *_AUTH,
        ErrorCode.INVALID_IDEMPOTENCY_KEY,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        ErrorCode.BODY_TOO_LARGE,
        ErrorCode.NO_TRUST_LIST,
        ErrorCode.EVENTS_UNAVAILABLE,
        ErrorCode.FINDING_UNCONFIRMED,
        ErrorCode.STORE_UNAVAILABLE,
    ),
)
async def record_inspection(
    body: InspectionIn,
    inspector: FieldInspector,
    services: ServicesDep,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_KEY,
            description="One value per finding, kept for its resends: 8-128 characters of "
            "A-Z a-z 0-9 . _ ~ + / = - (a UUID, say), bare or as a quoted sf-string.",
            json_schema_extra={"pattern": IDEMPOTENCY_KEY_PATTERN},
        ),
    ] = None,
) -> InspectionAccepted:
    key = client_key(idempotency_key, request.headers.getlist(IDEMPOTENCY_KEY))
    return await send_finding(body, inspector, services, recent_findings(request), key)


async def send_finding(
    body: InspectionIn,
    inspector: Inspector,
    services: Services,
    recent: RecentFindings,
    key: str | None,
) -> InspectionAccepted:
    """An inspector's finding verified and sent, as `record_inspection` answers it (the route
    and the inspectors' workspace, backoffice/, both call it): its event id from the
    inspector and `key` (a client's Idempotency-Key; None: the finding's content and the day),
    its time from `recent`, the code verified as a scan would be. Raises ApiError 503
    `finding_unconfirmed` or `events_unavailable`, after which it is sent again unchanged."""
    now = utc_now()
    content = finding_content(body)
    event_id = finding_event_id(
        inspector.inspector_id, key or derived_key(inspector.inspector_id, content, now)
    )
    occurred_at = recent.first_time(event_id, sha256_hex(canonical_bytes(content)), now)
    resolved = await services.resolve(body.code, now)
    batch_id, serial = resolved.unit or (None, None)
    finding = InspectionRecorded(
        event_id=event_id,
        occurred_at=occurred_at,
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
        note=content["note"],
    )
    try:
        await services.events.deliver(finding)
    except DeliveryUnconfirmed as exc:
        raise ApiError(ErrorCode.FINDING_UNCONFIRMED, f"finding {event_id}: {exc}") from None
    except EventsUnavailable as exc:
        raise ApiError(ErrorCode.EVENTS_UNAVAILABLE, f"finding {event_id}: {exc}") from None
    resolution = resolved.resolution
    return InspectionAccepted(
        event_id=event_id,
        recorded_at=occurred_at,
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
        Query(max_length=64, description="a unit key", json_schema_extra=UNIT_KEY),
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
        inspections=[views.inspection_out(item) for item in found],
    )
