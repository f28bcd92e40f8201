"""The routes, one module per concern, each an APIRouter with its prefix and tags; a new
concern is a new module added to `ROUTERS`. The consumer's Digital Link routes come first:
they are the hot path, and routes are matched in order."""

from __future__ import annotations

from fastapi import APIRouter

from verify_api.routes import (
    alerts,
    batches,
    cases,
    epcis,
    health,
    inspectors,
    log,
    metrics,
    parties,
    products,
    registry,
    reports,
    resolve,
    resolver,
    status,
    trust,
    verify,
)

ROUTERS: tuple[APIRouter, ...] = (
    resolve.router,
    resolver.router,
    verify.router,
    reports.router,
    products.router,
    registry.router,
    batches.router,
    parties.router,
    epcis.router,
    trust.router,
    log.router,
    status.router,
    inspectors.router,
    alerts.router,
    cases.router,
    health.router,
    metrics.router,
)
