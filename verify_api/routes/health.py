"""Is the API alive, and is it ready to answer: for load balancers, orchestrators, operators.

- `/health/live`: the process runs its event loop. Nothing else is checked, so a stalled
  Cassandra or Kafka never gets a healthy process restarted; exempt from the deadline and
  the rate limit.
- `/health/ready`: whether a scan would get a true answer now. Not ready (503) while
  Cassandra does not answer a trivial read within `PROBE_S`, while no trust list is held
  (codes cannot be judged), or while scan events waiting for Kafka fill more than
  `OCOP_READY_SCAN_BACKLOG` of the scan queue (Kafka is down or too slow, and scans will be
  dropped). The body names each check and what it found, so an operator sees why.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from keys.certs import utc_now
from verify_api import views
from verify_api.deps import ServicesDep
from verify_api.schemas import Check, Liveness, Readiness
from verify_api.services import Services
from verify_api.trustcache import NoTrustList

PROBE_S = 1.0
"""How long a readiness probe waits for Cassandra."""

router = APIRouter(prefix="/health", tags=["operations"])


@router.get(
    "/live",
    operation_id="health_live",
    summary="Liveness: the process answers",
    response_model=Liveness,
)
async def live() -> Liveness:
    return Liveness(status="live")


@router.get(
    "/ready",
    operation_id="health_ready",
    summary="Readiness: Cassandra answers, a trust list is held, scan events reach Kafka",
    description="**200** when ready, **503** when not; the body says which check failed.",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: see `checks`."}},
)
async def ready(services: ServicesDep) -> JSONResponse:
    store, trust, scans = await asyncio.gather(
        _store(services), _trust_list(services), _scan_events(services)
    )
    held = services.trust.held
    body = Readiness(
        ready=store.ok and trust.ok and scans.ok,
        checks={"store": store, "trust_list": trust, "scan_events": scans},
        trust_list=held and views.freshness_out(held.trust.freshness(utc_now())),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ready else 503)


async def _store(services: Services) -> Check:
    try:
        async with asyncio.timeout(PROBE_S):
            await services.store.ping()
    except TimeoutError:
        return Check(ok=False, detail=f"Cassandra did not answer within {PROBE_S:g} s")
    except Exception as exc:  # any driver error: not ready, and why
        return Check(ok=False, detail=f"Cassandra: {type(exc).__name__}: {exc}"[:300])
    return Check(ok=True, detail="Cassandra answers")


async def _trust_list(services: Services) -> Check:
    try:
        async with asyncio.timeout(PROBE_S):
            held = await services.trust.get()  # bounded by TrustCache's own wait if one is held
    except (NoTrustList, TimeoutError):
        return Check(ok=False, detail="no trust list is held: codes cannot be judged (503)")
    fresh = held.trust.freshness(utc_now())
    stale = " (stale: past its next update)" if fresh.stale else ""
    return Check(ok=True, detail=f"trust list version {fresh.version}{stale}")


async def _scan_events(services: Services) -> Check:
    events, limit = services.events, services.settings.ready_scan_backlog
    waiting, counters = events.counters.waiting, events.counters
    detail = (
        f"{waiting} waiting of {events.capacity}; sent {counters.sent}, "
        f"dropped {counters.dropped}, failed {counters.failed}"
    )
    return Check(ok=waiting <= limit * events.capacity, detail=detail)
