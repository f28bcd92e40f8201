"""Is the API able to answer: for load balancers and for operators."""

from __future__ import annotations

from fastapi import APIRouter

from keys.certs import utc_now
from verify_api import views
from verify_api.deps import ServicesDep
from verify_api.schemas import Health
from verify_api.trustcache import HeldTrustList, NoTrustList

router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    operation_id="health",
    summary="Liveness, the trust list held and the scan events' fate",
    description="`degraded` while no trust list is held (codes get 503). The scan counters "
    "(since the process started) show whether Kafka takes the scan events.",
    response_model=Health,
)
async def health(services: ServicesDep) -> Health:
    try:
        held: HeldTrustList | None = await services.trust.get()
    except NoTrustList:
        held = None
    counters = services.events.counters
    return Health(
        status="ok" if held else "degraded",
        trust_list=held and views.freshness_out(held.trust.freshness(utc_now())),
        scans_sent=counters.sent,
        scans_dropped=counters.dropped,
        scans_failed=counters.failed,
    )
