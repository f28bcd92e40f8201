"""A batch's provenance: its hash chain of sealed records, for a client to re-verify.

Each record carries the producer-signed event exactly as received, the previous record's
hash, its own hash and the processor's seal; `seal_keys` has the public keys of the
processors that sealed them. keys.chain.verify_chain repeats the server's `check`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from contract import identifiers
from contract.identifiers import KeyScheme
from keys.chain import verify_chain
from keys.ids import decode_public_key
from verify_api import views
from verify_api.deps import StoreDep
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.schemas import GTIN_14, LOT, PRODUCT_CODE, Provenance
from verify_api.story import story

router = APIRouter(prefix="/batches", tags=["batches"])

_RESPONSES = error_responses(
    ErrorCode.BAD_REQUEST,
    ErrorCode.UNKNOWN_BATCH,
    ErrorCode.RATE_LIMITED,
    ErrorCode.STORE_UNAVAILABLE,
)
_DESCRIPTION = (
    "The batch's chain of sealed records, oldest first, with the sealing keys and the "
    "server's own verification of the chain. **400** for a malformed product key or lot, "
    "**404** for a batch with no records."
)
Lot = Annotated[str, Path(description="lot (GS1 AI 10), percent-escaped", json_schema_extra=LOT)]


async def _provenance(store: StoreDep, scheme: KeyScheme, value: str, lot: str) -> Provenance:
    try:
        batch_id = identifiers.batch_id(identifiers.product_key(scheme, value), lot)
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc)) from None
    state = await store.batch(batch_id)
    if state is None:
        raise ApiError(ErrorCode.UNKNOWN_BATCH, batch_id)
    records = await store.chain(batch_id)
    seal_keys = await store.seal_keys()
    check = verify_chain(
        batch_id,
        records,
        {kid: decode_public_key(text) for kid, text in seal_keys.items()},
        head=(state.head_seq, state.head_hash),
    )
    return Provenance(
        batch_id=batch_id,
        head_seq=state.head_seq,
        head_hash=state.head_hash.hex(),
        records=[views.chain_record_out(record) for record in records],
        seal_keys=seal_keys,
        check=views.chain_check(check),
        batch=views.batch_out(state, story(records)),
    )


@router.get(
    "/01/{gtin}/10/{lot:path}",
    operation_id="batch_provenance_gtin",
    summary="Provenance chain of a batch of a product with a GTIN",
    description=_DESCRIPTION,
    response_model=Provenance,
    responses=_RESPONSES,
)
async def batch_provenance_gtin(
    gtin: Annotated[str, Path(description="GTIN-14", json_schema_extra=GTIN_14)],
    lot: Lot,
    store: StoreDep,
) -> Provenance:
    return await _provenance(store, KeyScheme.GTIN, gtin, lot)


@router.get(
    "/p/{code}/10/{lot:path}",
    operation_id="batch_provenance_code",
    summary="Provenance chain of a batch of a product without a GTIN",
    description=_DESCRIPTION,
    response_model=Provenance,
    responses=_RESPONSES,
)
async def batch_provenance_code(
    code: Annotated[str, Path(description="OCOP product code", json_schema_extra=PRODUCT_CODE)],
    lot: Lot,
    store: StoreDep,
) -> Provenance:
    return await _provenance(store, KeyScheme.PRODUCT_CODE, code, lot)
