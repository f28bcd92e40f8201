"""``ocop-worker``: run the stream processors, or make their sealing key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import faust
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
    processors = create_processors(ProcessorSettings())
    console.print(
        f"ocop-worker: seal key {processors.seal_key.key_id}, "
        f"metrics at http://127.0.0.1:{processors.app.conf.web_port}/metrics"
    )
    try:
        faust.Worker(processors.app, loglevel=loglevel).execute_from_commandline()
    finally:
        processors.cluster.shutdown()


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
