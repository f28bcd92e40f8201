"""``ocop-api``: serve the verify API with uvicorn (uvloop and httptools).

Settings come from OCOP_* variables and are checked before the server starts: a missing
root key or device salt is a one-line error and exit status 2, not a traceback from inside
a worker.
"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console

from verify_api.settings import ApiSettings

console = Console(stderr=True, highlight=False)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="processes (each with its own limits)")] = 1,
    proxy: Annotated[
        str | None,
        typer.Option(help="addresses of trusted proxies whose X-Forwarded-For/-Proto count"),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
) -> None:
    """Serve the verify API: QR resolution, consumer page, inspectors, trust list."""
    try:
        ApiSettings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            where = f"OCOP_{name}: " if name else ""
            console.print(f"[red]error:[/] {where}{error['msg']}")
        raise SystemExit(2) from None
    uvicorn.run(
        "verify_api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        proxy_headers=proxy is not None,
        forwarded_allow_ips=proxy,
        log_level=log_level,
        access_log=False,
    )


def main() -> None:
    typer.run(serve)
