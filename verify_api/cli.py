"""``ocop-api``: serve the verify API with uvicorn (uvloop and httptools).

Settings come from OCOP_* variables and are checked before the server starts: a missing
root key or device salt is a one-line error in Vietnamese and English (contract.bilingual)
and exit status 2, not a traceback from inside a worker.

What uvicorn does below the app comes from the same settings, so the two cannot disagree:
`OCOP_TRUSTED_PROXIES` is both whose X-Forwarded-For the app believes (client networks, the
rate limit) and whose X-Forwarded-For and X-Forwarded-Proto uvicorn applies (`proxy_headers`
only when there are any); the request head's limits and deadline (`OCOP_MAX_HEADER_BYTES`,
`OCOP_MAX_HEADERS`, `OCOP_HEADER_TIMEOUT_S`) are enforced by verify_api.guards'
HeadLimitedProtocol, httptools with what it lacks; `OCOP_KEEP_ALIVE_S` is uvicorn's
keep-alive timeout.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Annotated, cast

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from contract.bilingual import settings_problem
from verify_api.guards import HeadLimitedProtocol, HeadLimits
from verify_api.settings import ApiSettings

console = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="processes (each with its own limits)")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Serve the verify API: QR resolution, consumer page, inspectors, trust list.

    Trusted proxies: OCOP_TRUSTED_PROXIES (see README, Verify API)."""
    try:
        settings = ApiSettings()
    except ValidationError as exc:
        console.print(f"[red]error:[/] {settings_problem(exc)}")
        raise SystemExit(2) from None
    trusted = [str(network) for network in settings.trusted_proxies]
    limits = HeadLimits(settings.max_header_bytes, settings.max_headers, settings.header_timeout_s)
    # uvicorn calls `http` with its config and state; a partial carries the limits (and
    # pickles, for --workers)
    protocol = functools.partial(HeadLimitedProtocol, limits=limits)
    uvicorn.run(
        "verify_api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=cast("type[asyncio.Protocol]", protocol),
        ws="none",  # no route is a WebSocket: an upgrade is never handed to another protocol
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        timeout_keep_alive=settings.keep_alive_s,
        server_header=False,
        log_level=log_level,
        access_log=False,
    )


def main() -> None:
    typer.run(serve)
