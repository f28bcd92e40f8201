"""The signed status list (keys.status): every product's current stars and status, revoked
keys and recalled batches, signed by the audit log's key, which the root certifies.

Served as the log writer signed it (the newest in `log_status_lists`, migration 0016): a
verifier checks it with the log key of the trust list it holds, so this URL needs no trust
of its own. An ETag (of the note's bytes) lets a verifier ask cheaply whether its copy is
still the newest: `If-None-Match` gets **304**. **404** until the writer has issued one.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from auditlog.settings import LogSettings
from auditlog.status import StatusTables
from verify_api.errors import ApiError, ErrorCode, error_responses

router = APIRouter(tags=["status list"])
MAX_AGE_S = 60
TEXT = "text/plain; charset=utf-8"


async def get_status_tables(request: Request) -> StatusTables:
    held: StatusTables | None = getattr(request.app.state, "status_tables", None)
    if held is None:
        session = request.app.state.services.store.session
        origin = LogSettings().log_origin
        held = await asyncio.to_thread(StatusTables, session, origin)
        request.app.state.status_tables = held
    return held


StatusDep = Annotated[StatusTables, Depends(get_status_tables)]


def etag_of(note: str) -> str:
    return f'"{hashlib.sha256(note.encode()).hexdigest()[:32]}"'


@router.get(
    "/.well-known/ocop-status-list",
    operation_id="status_list",
    summary="The newest signed status list (stars, revoked keys, recalled batches)",
    description="A C2SP signed note, `ocop-status-list/v1` then one line of canonical JSON, "
    "signed by the audit log's key (load it with keys.status.open_status_list and the trust "
    "list's log keys). Short-lived: past its `expires_at` a verifier shows it as stale. "
    "`If-None-Match` with the ETag of a held copy gets **304**; **404** until one is issued.",
    response_class=Response,
    responses={
        200: {"content": {TEXT: {}}, "description": "the signed status list"},
        304: {"description": "the held copy is the newest"},
        **error_responses(ErrorCode.NOT_FOUND, ErrorCode.STORE_UNAVAILABLE),
    },
)
async def status_list(request: Request, tables: StatusDep) -> Response:
    note = await tables.latest_status_list()
    if note is None:
        raise ApiError(ErrorCode.NOT_FOUND, "no status list has been issued yet")
    etag = etag_of(note)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={MAX_AGE_S}"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(note, media_type=TEXT, headers=headers)
