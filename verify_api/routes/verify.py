"""Raw QR text, as an inspector's scanner or a third-party app read it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from contract.events import ScannerKind
from keys.certs import utc_now
from verify_api.deps import CallerDep, ServicesDep
from verify_api.errors import ErrorCode, error_responses
from verify_api.metrics import RESOLUTION
from verify_api.rendering import NO_STORE
from verify_api.schemas import Resolution, VerifyRequest

router = APIRouter(prefix="/verify", tags=["verify"])


@router.post(
    "",
    operation_id="verify_code",
    summary="Verify the raw text of a QR code",
    description="The same verdict and facts as the Digital Link path, for any text a scanner "
    "read. A text that is not a label of ours is an answer, not an error: **200** with "
    "`reason: malformed` (`category: not_ours`). An inspector's token (optional) marks the "
    "scan as an inspector's, so clone analytics keep it apart from consumers' scans; a bad "
    "token is refused (401), never taken as anonymous.",
    response_model=Resolution,
    responses=error_responses(
        ErrorCode.BAD_REQUEST,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.BODY_TOO_LARGE,
        ErrorCode.RATE_LIMITED,
        ErrorCode.UNAUTHENTICATED,
        ErrorCode.NO_TRUST_LIST,
        ErrorCode.STORE_UNAVAILABLE,
    ),
)
async def verify_code(
    body: VerifyRequest,
    services: ServicesDep,
    caller: CallerDep,
    request: Request,
) -> Response:
    now = utc_now()
    resolved = await services.resolve(body.text, now)
    services.record_scan(
        resolved,
        body.text,
        now,
        scanner=ScannerKind.INSPECTOR if caller.inspector else ScannerKind.CONSUMER,
        province=body.province,
        location=body.location,
        device_id=caller.device_id,
        network=caller.network,
    )
    resolution = request.scope[RESOLUTION] = resolved.resolution
    return Response(resolution.model_dump_json(), media_type="application/json", headers=NO_STORE)
