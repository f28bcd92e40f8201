"""The routes, one module per concern, each an APIRouter with its prefix and tags.

A new concern is a new module added to `ROUTERS` (counterfeit alerts for inspectors will be
`alerts.py`: prefix /inspectors/alerts, behind `deps.CurrentSupervisor`).
"""

from __future__ import annotations

from fastapi import APIRouter

from verify_api.routes import batches, health, inspectors, products, resolve, trust, verify

ROUTERS: tuple[APIRouter, ...] = (
    resolve.router,
    verify.router,
    products.router,
    batches.router,
    trust.router,
    inspectors.router,
    health.router,
)
