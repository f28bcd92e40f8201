"""``ocop-demo``: the main job. Brings the whole system up on this machine and plays the OCOP
story through it, then says what to open and how to stop everything."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from contract.bilingual import bilingual, settings_problem
from demo import public_log
from demo.settings import DemoSettings
from demo.story import Advance, Outcome, Story
from infra.process import StackError
from keys.errors import KeysError
from producers.errors import StationError

console = Console(highlight=False, soft_wrap=True)  # URLs stay whole for copying
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def run() -> None:
    """Run the OCOP story on the local stack: keys, certifications, packing, labels, consumer
    scans, a revoked rating, a copied code, the office's desk and the public log. A second
    run reuses the keys and the running services and packs new batches. Stop everything
    with `./run stop`."""
    settings = DemoSettings()
    console.rule("[bold]OCOP trace: the main job")
    with _progress() as progress:
        outcome = Story(settings, say=console.print, progress=progress).run()
    _summary(settings, outcome)


@contextmanager
def _progress() -> Iterator[Callable[[int], Advance]]:
    bars = Progress(
        TextColumn("    units packed"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )

    def start(total: int) -> Advance:
        bars.start()
        task = bars.add_task("packing", total=total)

        def advance(done: int) -> None:
            bars.advance(task, done)
            if bars.finished:
                bars.stop()

        return advance

    try:
        yield start
    finally:
        bars.stop()


def _summary(settings: DemoSettings, outcome: Outcome) -> None:
    api = settings.api_url
    console.rule(f"[green]done in {outcome.seconds:.0f} s")
    console.print("[bold]Open these (the consumer page; add ?lang=en for English):")
    console.print(f"  genuine unit        {outcome.genuine_page}")
    console.print(f"  revoked rating      {outcome.revoked_page}")
    console.print(f"  copied code         {outcome.copied_page}")
    console.print("[bold]Label sheets (A4, Avery L7160):")
    for batch in outcome.batches:
        console.print(f"  {batch.product.name:38} {batch.pdf}")
    console.print("[bold]Alerts for inspectors:")
    for alert in outcome.alerts:
        console.print(f"  {alert.kind:26} {alert.unit_key}  {alert.detail}")
    if outcome.dossier is not None:
        console.print("[bold]The OCOP office (sign in at /inspect/ with the office token):")
        console.print(f"  evaluation desk     {api}/inspect/office/dossiers")
        console.print(
            f"  the dossier         {api}/inspect/office/dossiers/{outcome.dossier.dossier_id}"
        )
        console.print(
            f"  dashboard           {api}/inspect/office/dashboard?province=Thái Bình&at=2023-11-30"
        )
        console.print(f"  office token        {settings.folder / 'office-token'}")
    console.print("[bold]More:")
    console.print(f"  API and its OpenAPI docs    {api}/docs")
    trust = f"trust list (version {outcome.trust_version})"
    console.print(f"  {trust:27} {api}/.well-known/ocop-trust-list")
    console.print(f"  public log's checkpoint     {api}/log/checkpoint")
    console.print(f"  cosigned by the witnesses   {api}/log/checkpoint/cosigned")
    if outcome.logged_label:
        proof = public_log.unit_proof_url(api, outcome.logged_label)
        console.print(f"  the genuine unit's proof    {proof}")
    metrics = f"http://127.0.0.1:{settings.worker_port}/metrics"
    console.print(f"  processors' metrics         {metrics}")
    console.print(f"  inspector token             {settings.folder / 'inspector-token'}")
    console.print(f"  logs                        {settings.services_folder / 'logs'}")
    console.print("[bold]Stop everything:[/] ./run stop")


def main() -> None:
    try:
        app()
    except ValidationError as exc:
        console.print(f"[red]error:[/] {settings_problem(exc)}")
        raise SystemExit(2) from None
    except (StackError, KeysError, StationError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None
    except Exception as exc:  # the last resort: a sentence, and where to look, not a trace
        if os.environ.get("OCOP_DEBUG"):
            raise
        unexpected = bilingual("lỗi ngoài dự kiến", "unexpected error")
        hint = bilingual(
            "OCOP_DEBUG=1 hiện traceback; log của các dịch vụ ở .state/logs",
            "OCOP_DEBUG=1 shows the traceback; service logs are in .state/logs",
        )
        console.print(f"[red]{unexpected}:[/] {type(exc).__name__}: {exc}\n  ({hint})")
        raise SystemExit(1) from None
