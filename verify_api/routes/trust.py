"""The published trust list, for offline verifiers (ocop-verify, inspectors' apps).

Served as the exact root-signed bytes: a verifier checks them with the root key it pinned,
so this URL needs no trust of its own. An ETag lets a verifier ask cheaply whether its copy
is still the newest.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from verify_api.deps import TrustDep
from verify_api.errors import ErrorCode, error_responses

router = APIRouter(tags=["trust"])
MAX_AGE_S = 60


@router.get(
    "/.well-known/ocop-trust-list",
    operation_id="trust_list",
    summary="The newest root-signed trust list (keys, certifications, revocations)",
    description="Canonical JSON, signed by the national root key (load it with "
    "keys.trustlist.TrustList.load and the pinned root key). `If-None-Match` with the ETag of "
    "a held copy gets **304**; **503** until a trust list has been published.",
    responses={
        200: {"content": {"application/json": {}}, "description": "the signed trust list"},
        304: {"description": "the held copy is the newest"},
        **error_responses(ErrorCode.RATE_LIMITED, ErrorCode.NO_TRUST_LIST),
    },
)
async def trust_list(request: Request, held: TrustDep) -> Response:
    headers = {
        "ETag": held.etag,
        "Cache-Control": f"public, max-age={MAX_AGE_S}",
        "X-OCOP-Trust-List-Version": str(held.trust.version),
    }
    if held.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(held.document, media_type="application/json", headers=headers)
