"""A product's certification history: every certificate with its signed document, so a
client holding the trust list can check each one under the authority that issued it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from contract import identifiers
from contract.certification import CertificationStatus
from contract.identifiers import KeyScheme
from keys.certs import utc_now
from verify_api import ratings, views
from verify_api.deps import StoreDep
from verify_api.errors import ApiError, ErrorCode, error_responses
from verify_api.schemas import GTIN_14, PRODUCT_CODE, CertificationHistory

router = APIRouter(prefix="/products", tags=["products"])

_RESPONSES = error_responses(
    ErrorCode.BAD_REQUEST,
    ErrorCode.UNKNOWN_PRODUCT,
    ErrorCode.RATE_LIMITED,
    ErrorCode.STORE_UNAVAILABLE,
)
_DESCRIPTION = (
    "Every certification of the product (of its registered producer), each with its "
    "revocation, the rating in force now and the history of changes. `document` is the "
    "authority-signed certification exactly as stored (canonical JSON). **400** for a "
    "malformed GTIN or product code, **404** for a product that is neither registered nor "
    "certified."
)


async def _history(store: StoreDep, scheme: KeyScheme, value: str) -> CertificationHistory:
    try:
        product_key = identifiers.product_key(scheme, value)
    except ValueError as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, str(exc)) from None
    product = await store.product(product_key)
    stored = await store.certifications(product_key)
    if product is None and not stored:
        raise ApiError(ErrorCode.UNKNOWN_PRODUCT, product_key)
    if product is not None:
        stored = ratings.of_producer(stored, product.producer_id)
    now = utc_now()
    rating = ratings.rating_at(stored, now)
    state = rating.state
    in_force = state.status is CertificationStatus.IN_FORCE and state.certification
    return CertificationHistory(
        product_key=product_key,
        product=views.product_out(product) if product else None,
        current=state.status,
        current_certificate=in_force.certificate_no if in_force else None,
        history=rating.history,
        certifications=[views.certification_out(item) for item in stored],
        checked_at=now,
    )


@router.get(
    "/01/{gtin}/certifications",
    operation_id="product_certifications_gtin",
    summary="Certification history of a product with a GTIN",
    description=_DESCRIPTION,
    response_model=CertificationHistory,
    responses=_RESPONSES,
)
async def product_certifications_gtin(
    gtin: Annotated[str, Path(description="GTIN-14", json_schema_extra=GTIN_14)], store: StoreDep
) -> CertificationHistory:
    return await _history(store, KeyScheme.GTIN, gtin)


@router.get(
    "/p/{code}/certifications",
    operation_id="product_certifications_code",
    summary="Certification history of a product without a GTIN",
    description=_DESCRIPTION,
    response_model=CertificationHistory,
    responses=_RESPONSES,
)
async def product_certifications_code(
    code: Annotated[str, Path(description="OCOP product code", json_schema_extra=PRODUCT_CODE)],
    store: StoreDep,
) -> CertificationHistory:
    return await _history(store, KeyScheme.PRODUCT_CODE, code)
