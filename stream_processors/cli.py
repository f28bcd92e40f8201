"""``ocop-worker``: run the stream processors, or make their sealing key."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated

import faust
import mode.loop
import typer
from pydantic import ValidationError
from rich.console import Console

from contract.bilingual import error_message
from infra.process import StackError
from keys.errors import KeysError
from keys.keystore import Keystore
from records.session import StoreUnavailable
from stream_processors.app import SetupError, create_processors
from stream_processors.settings import ProcessorSettings

console = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line
app = typer.Typer(
    help="The stream processors: the only writers of records. They verify each event, apply "
    "the rules of a batch's life, chain and seal records in Cassandra, and put refused "
    "events on the dead-letter topic with the reason. Settings come from OCOP_* variables; "
    "OCOP_ROOT_KEY and OCOP_SEAL_PASSPHRASE are required.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def run(
    loglevel: Annotated[str, typer.Option(help="debug, info, warning, error")] = "warning",
) -> None:
    """Start a worker; it consumes until stopped (Ctrl-C or SIGTERM)."""
    # uvloop, as the verify API runs on: its event loop does the same work as asyncio's in
    # less CPU, and a worker's loop turns once or more for each message and statement
    # (docs/bench_analytics.md, session 13)
    mode.loop.use("uvloop")
    processors = create_processors(ProcessorSettings())
    _tune_collector()
    console.print(
        f"ocop-worker: seal key {processors.seal_key.key_id}, "
        f"metrics at http://127.0.0.1:{processors.app.conf.web_port}/metrics"
    )
    try:
        faust.Worker(processors.app, loglevel=loglevel).execute_from_commandline()
    finally:
        processors.cluster.shutdown()


YOUNG_OBJECTS = 50_000
"""Container objects allocated (net) before the collector's youngest pass: Python's 700 is
passed many times in every micro-batch of scans, and each pass promotes what the batch still
holds, so the older passes kept walking the decoded histories and held facts."""


def _tune_collector() -> None:
    """What start-up made (modules, schemas, the driver's metadata) lives as long as the
    worker: frozen out of the collector's passes; and fewer, larger young passes. With
    Python's defaults the collector took a sixth of the worker's CPU on the scan analytics'
    backlog, and these two cut the worker's CPU a scan by about a third (docs/
    bench_analytics.md, session 13). Cyclic garbage is rare here (reference counting frees
    the rest at once), so the larger young generation costs little memory."""
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, 20, 100)


@app.command("init-key")
def init_key(
    keystore: Annotated[Path, typer.Option(envvar="OCOP_SEAL_KEYSTORE")] = Path(
        ".state/processor-keys"
    ),
) -> None:
    """Create a sealing key, encrypted with OCOP_SEAL_PASSPHRASE, and print its id."""
    key = Keystore(keystore).generate_with("OCOP_SEAL_PASSPHRASE")
    print(key.key_id)


def main() -> None:
    try:
        app()
    except (ValidationError, SetupError, StackError, KeysError, StoreUnavailable) as exc:
        console.print(f"[red]error:[/] {error_message(exc)}")
        raise SystemExit(2) from None
