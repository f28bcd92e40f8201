"""One step back, one step forward (Circular 02/2024/TT-BKHCN, Art. 6(1)) for any registered
party, by its GLN: from whom it received each batch, and to whom it shipped it.

Anonymous and public, like the registry: a party's registration is public (the authority
signed it) and what moved between parties is in the batches' public chains. JSON for an app,
HTML for a browser (Vietnamese, English with ?lang=en), by Accept, as the resolver answers
(verify_api.negotiation). The rows are the processors' (records.parties, written after each
batch record by stream_processors.trace); this module only reads them: one partition for the
party and one per direction.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import HTMLResponse, Response

from contract import gs1
from contract.verdict import Lang
from keys.certs import utc_now
from records.parties import Direction, Party, PartyReader, TraceRow
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.i18n import STRINGS
from verify_api.negotiation import language, wants_json
from verify_api.rendering import _ENV
from verify_api.schemas import PartyOut, PartyTraceOut, TraceStepOut
from verify_api.services import Services

router = APIRouter(prefix="/parties", tags=["parties"])

CACHE = {"Cache-Control": "public, max-age=60", "Vary": "Accept, Accept-Language"}
GLN = {"pattern": "^[0-9]{13}$", "format": "gs1-gln", "examples": ["8932000100010"]}

_PAGE = _ENV.get_template("party_trace.html")

WORDS: dict[Lang, dict[str, str]] = {
    Lang.VI: {
        "trace_title": "Một bước trước, một bước sau",
        "trace_intro": "Theo Thông tư 02/2024/TT-BKHCN: đơn vị này đã nhận từng lô hàng từ ai, "
        "và đã xuất cho ai.",
        "gln": "Mã địa điểm (GLN)",
        "role": "Loại",
        "role_producer_site": "Cơ sở sản xuất",
        "role_packing_station": "Trạm đóng gói",
        "role_distributor": "Nhà phân phối",
        "role_shop": "Cửa hàng",
        "received_heading": "Một bước trước: đã nhận",
        "shipped_heading": "Một bước sau: đã xuất",
        "none": "Chưa có.",
        "from": "từ",
        "to": "đến",
        "units": "sản phẩm",
        "batch": "lô",
        "address": "Địa chỉ",
    },
    Lang.EN: {
        "trace_title": "One step back, one step forward",
        "trace_intro": "As Circular 02/2024/TT-BKHCN asks: from whom this party received each "
        "batch, and to whom it shipped it.",
        "gln": "Location code (GLN)",
        "role": "Kind",
        "role_producer_site": "Production site",
        "role_packing_station": "Packing station",
        "role_distributor": "Distributor",
        "role_shop": "Shop",
        "received_heading": "One step back: received",
        "shipped_heading": "One step forward: shipped",
        "none": "None yet.",
        "from": "from",
        "to": "to",
        "units": "units",
        "batch": "batch",
        "address": "Address",
    },
}


async def parties_of(request: Request) -> PartyReader:
    """The app's party reader, prepared on first use from the records' session (off the event
    loop: preparing blocks on a round trip)."""
    held: PartyReader | None = getattr(request.app.state, "party_reader", None)
    if held is None:
        services: Services = request.app.state.services
        session = getattr(services.store, "session", None)
        if session is None:
            raise ApiError(ErrorCode.STORE_UNAVAILABLE, "no Cassandra session")
        held = await asyncio.to_thread(PartyReader, session)
        request.app.state.party_reader = held
    return held


def party_out(party: Party) -> PartyOut:
    return PartyOut(
        gln=party.gln,
        name=party.name,
        role=party.role,
        address=party.address,
        commune=party.commune,
        province=party.province,
        producer_id=party.producer_id,
    )


def trace_step_out(row: TraceRow) -> TraceStepOut:
    return TraceStepOut(
        at=row.at,
        batch_id=row.batch_id,
        product_key=row.product_key,
        lot=row.lot,
        shipment_id=row.shipment_id,
        units=row.units,
        what=row.what,
        party_gln=row.other_gln,
        party_name=row.other_name,
        party_link=f"/parties/{row.other_gln}/trace" if row.other_gln else None,
        provenance=f"/batches{row.batch_id}",
    )


def check_gln(gln: str) -> str:
    """The GLN, or 400 saying what is wrong with it (digits, length, check digit)."""
    try:
        return gs1.validate_gln(gln)
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc)) from None


@router.get(
    "/{gln}/trace",
    operation_id="party_trace",
    summary="One step back, one step forward for a party (Circular 02/2024)",
    description=(
        "The party registered under this GLN, what it received (one step back: each batch and "
        "from whom) and what it shipped (one step forward: each batch and to whom), newest "
        "first. **400** for a GLN that is not 13 digits with a good GS1 check digit, **404** "
        "for a GLN no authority registered."
    ),
    response_model=PartyTraceOut,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **error_responses(
            ErrorCode.BAD_REQUEST,
            ErrorCode.NOT_FOUND,
            ErrorCode.RATE_LIMITED,
            ErrorCode.STORE_UNAVAILABLE,
        ),
    },
)
async def party_trace(
    request: Request,
    gln: Annotated[str, Path(description="the party's GLN (13 digits)", json_schema_extra=GLN)],
) -> Response:
    now = utc_now()
    gln = check_gln(gln)
    reader = await parties_of(request)
    party, received, shipped = await asyncio.gather(
        reader.party(gln),
        reader.trace(gln, Direction.RECEIVED),
        reader.trace(gln, Direction.SHIPPED),
    )
    if party is None:
        raise ApiError(ErrorCode.NOT_FOUND, f"no party is registered under GLN {gln}")
    body = PartyTraceOut(
        party=party_out(party),
        received=[trace_step_out(row) for row in received],
        shipped=[trace_step_out(row) for row in shipped],
        checked_at=now,
    )
    if wants_json(request.headers.get("accept")):
        return Response(body.model_dump_json(), media_type="application/json", headers=CACHE)
    lang = language(request.query_params.get("lang"), request.headers.get("accept-language"))
    other = "en" if lang is Lang.VI else "vi"
    html = _PAGE.render(
        p=body,
        t=STRINGS[lang] | WORDS[lang],
        lang=lang,
        switch_href=f"{request.url.path}?lang={other}",
        now=now,
    )
    return HTMLResponse(html, headers=CACHE)
