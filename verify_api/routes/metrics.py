"""Prometheus metrics of this API process, in Prometheus' text exposition format."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from verify_api.metrics import ApiMetrics

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics of this process",
    description="Requests and their latency by route template and status class, verdicts by "
    "level and reason, and the scan events' fate (accepted, sent, dropped, failed, queued), "
    "since the process started, in Prometheus' text exposition format. Each API process "
    "counts its own requests: scrape every one.",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "The metrics, in Prometheus' text exposition format "
            f"(`{CONTENT_TYPE_LATEST}`).",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    held: ApiMetrics = request.app.state.metrics
    return Response(generate_latest(held.registry), media_type=CONTENT_TYPE_LATEST)
