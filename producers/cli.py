"""`ocop-station`: the packing station's commands. A thin layer over producers.station; every
rule lives in the library, which the main job drives from Python as well.

Settings come from OCOP_* environment variables (producers.settings); the keystore
passphrase from OCOP_KEYSTORE_PASSPHRASE or a prompt, asked only by commands that sign.
Every command that records an event tries to deliver it at once and says so; when Kafka is
down the event waits in the outbox and `ocop-station send` (or the next command) delivers
it. Errors are one line and exit status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from contract.bilingual import error_message
from contract.errors import ContractError
from contract.verdict import Lang
from keys.certs import utc_now
from keys.cli import PASSPHRASE_VARIABLE
from keys.errors import KeysError
from producers.errors import StationError
from producers.identity import load_identity
from producers.inputs import RAW_MATERIAL_FORMAT, parse_date, parse_raw_material
from producers.labels import find_fonts
from producers.printing import Format, render_labels
from producers.scanning import ScanRejected
from producers.sender import Sender
from producers.settings import StationSettings
from producers.station import Batch, Station, StationView
from producers.watch import KeyWatch, WatchError, own_events, report_to_inspectors, watch_for

DELIVERY_WAIT_S = 5.0

console = Console(highlight=False, soft_wrap=True)
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="The OCOP packing station: batches, signed unit labels, scans at packing, shipping "
    "and recalls. Events wait in a local outbox until Kafka has them.",
)


@dataclass
class Desk:
    """What the commands share: the settings, whether to deliver events at once."""

    settings: StationSettings
    deliver: bool

    def station(self) -> Station:
        passphrase = os.environ.get(PASSPHRASE_VARIABLE) or typer.prompt(
            "Keystore passphrase", hide_input=True
        )
        identity = load_identity(self.settings, passphrase)
        warning = identity.trust.freshness(utc_now()).warning(Lang.EN)
        if warning:
            console.print(f"[yellow]warning: {warning}[/]")
        return Station(self.settings, identity)

    def send_now(self) -> None:
        """Delivers what the command recorded, or says that it waits in the outbox."""
        if not self.deliver:
            return
        sender = Sender(self.settings, report=lambda line: console.print(f"  {line}"))
        sender.start()
        try:
            delivered = sender.drain(DELIVERY_WAIT_S)
        finally:
            sender.stop()
        if not delivered:
            with StationView(self.settings) as view:
                waiting = view.backlog().events
            console.print(
                f"[yellow]{waiting} event(s) wait in the outbox; `ocop-station send` "
                "delivers them once Kafka is reachable[/]"
            )


@app.callback()
def _desk(
    context: typer.Context,
    deliver: Annotated[
        bool, typer.Option("--send/--no-send", help="Deliver events to Kafka at once.")
    ] = True,
) -> None:
    context.obj = Desk(StationSettings(), deliver)


@app.command("open-batch")
def open_batch(
    context: typer.Context,
    product: Annotated[str, typer.Option(help="Product key: /01/<GTIN-14> or /p/<code>")],
    lot: Annotated[str, typer.Option(help="Lot number printed on the labels (GS1 AI 10)")],
    produced: Annotated[str, typer.Option(help="Production date, YYYY-MM-DD or DD/MM/YYYY")],
    expires: Annotated[str, typer.Option(help="Expiry date (HSD), YYYY-MM-DD or DD/MM/YYYY")],
    planned: Annotated[int, typer.Option(help="Planned number of units")],
    raw_material: Annotated[list[str], typer.Option(help=f"Repeatable: '{RAW_MATERIAL_FORMAT}'")],
) -> None:
    """Open a production batch of a product certified for this producer."""
    desk: Desk = context.obj
    production_date = parse_date(produced, "--produced")
    expiry_date = parse_date(expires, "--expires")
    materials = [parse_raw_material(line) for line in raw_material]
    with desk.station() as station:
        batch = station.open_batch(
            product_key=product,
            lot=lot,
            production_date=production_date,
            expiry_date=expiry_date,
            raw_materials=materials,
            planned_units=planned,
        )
        stars = station.product(product).stars
    console.print(f"opened {batch.batch_id}: {batch.product_name}, {batch.planned_units} units")
    console.print(f"  labels will claim {stars}★" if stars else "  labels make no star claim")
    desk.send_now()


@app.command("print-labels")
def print_labels(
    context: typer.Context,
    batch: Annotated[str, typer.Argument(help="Batch id or lot")],
    count: Annotated[int, typer.Option(min=1, help="Labels to sign and print")],
    out: Annotated[
        Path | None, typer.Option(help="Folder; default <station dir>/labels/<lot>-run<n>")
    ] = None,
    formats: Annotated[
        list[Format] | None,
        typer.Option("--format", help="Repeatable; default pdf and svg"),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes; default all cores for large runs")
    ] = None,
) -> None:
    """Sign labels with fresh serials and render them: an A4 PDF sheet (Avery L7160, 3 × 7)
    and one SVG or PNG per label."""
    desk: Desk = context.obj
    find_fonts()  # before any serial is issued
    with desk.station() as station:
        run = station.print_labels(batch, count)
    lot = re.sub(r"[^A-Za-z0-9._-]", "_", run.batch.lot)  # lots may hold "/" and the like
    folder = out or desk.settings.journal_path.parent / "labels" / f"{lot}-run{run.run_id}"
    with Progress(
        TextColumn("rendering"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("labels", total=count)
        rendered = render_labels(
            run.labels,
            run.content,
            folder,
            formats=formats or (Format.PDF, Format.SVG),
            workers=workers,
            progress=lambda done: progress.advance(task, done),
        )
    console.print(
        f"{rendered.labels} labels of {run.batch.batch_id} ({run.content.stars}★ claimed), "
        f"QR version {rendered.qr_version}, in {rendered.seconds:.1f} s "
        f"({rendered.labels / rendered.seconds:.0f}/s) -> {folder}"
    )
    if rendered.pdf:
        console.print(f"  {rendered.pdf}: {rendered.pages} A4 sheet(s)")


@app.command()
def scan(
    context: typer.Context, batch: Annotated[str, typer.Argument(help="Batch id or lot")]
) -> None:
    """Pack units: read scanned codes from standard input, one per line, until end of input
    (a barcode scanner in keyboard mode types one line per code). Each bad scan is answered
    and skipped; events are delivered in the background while scanning."""
    desk: Desk = context.obj
    sender = Sender(desk.settings, report=lambda line: console.print(f"  {line}"))
    with desk.station() as station:
        current = station.batch(batch)
        console.print(f"packing {current.batch_id}: {current.packed}/{current.planned_units}")
        if desk.deliver:
            sender.start()
        accepted = rejected = 0
        try:
            for line in sys.stdin:
                code = line.strip()
                if not code:
                    continue
                try:
                    packed = station.scan(current.batch_id, code)
                except ScanRejected as refusal:
                    rejected += 1
                    console.print(f"[red]✗ {refusal}[/]")
                    continue
                accepted += 1
                console.print(f"✓ {packed.serial}  {packed.packed}/{packed.planned}")
                sender.wake()
        finally:
            station.report_packed(current.batch_id)
            current = station.batch(current.batch_id)
            sender.stop()
    console.print(f"{accepted} packed, {rejected} refused; {current.packed} packed in the batch")
    desk.send_now()


@app.command("close-batch")
def close_batch(
    context: typer.Context, batch: Annotated[str, typer.Argument(help="Batch id or lot")]
) -> None:
    """Close a batch: no more packing; announces the units packed."""
    desk: Desk = context.obj
    with desk.station() as station:
        closed = station.close_batch(batch)
    console.print(f"closed {closed.batch_id}: {closed.packed} units packed")
    desk.send_now()


@app.command()
def ship(
    context: typer.Context,
    batch: Annotated[str, typer.Argument(help="Batch id or lot")],
    to: Annotated[str, typer.Option(help="Distributor or shop")],
    units: Annotated[int, typer.Option()],
    to_gln: Annotated[str | None, typer.Option(help="Its GLN, if it has one")] = None,
    to_province: Annotated[str | None, typer.Option(help="The province it goes to")] = None,
    shipment_id: Annotated[str | None, typer.Option(help="Default: a new id")] = None,
) -> None:
    """Ship units of a closed batch ("one step forward")."""
    desk: Desk = context.obj
    with desk.station() as station:
        shipment = station.ship(
            batch, to_party=to, units=units, to_gln=to_gln, to_province=to_province,
            shipment_id=shipment_id,
        )  # fmt: skip
    console.print(f"shipment {shipment.shipment_id}: {shipment.units} units to {shipment.to_party}")
    desk.send_now()


@app.command()
def receive(
    context: typer.Context,
    shipment_id: Annotated[str, typer.Argument()],
    receiver: Annotated[str, typer.Option(help="Who received it")],
    units: Annotated[int, typer.Option(help="Units that arrived")],
    receiver_gln: Annotated[str | None, typer.Option()] = None,
    receiver_province: Annotated[
        str | None, typer.Option(help="Where it is sold: scans far from it raise an alert")
    ] = None,
) -> None:
    """Record that a shipment arrived."""
    desk: Desk = context.obj
    with desk.station() as station:
        shipment = station.receive(
            shipment_id, receiver=receiver, units=units, receiver_gln=receiver_gln,
            receiver_province=receiver_province,
        )  # fmt: skip
    console.print(f"shipment {shipment.shipment_id}: {shipment.received_units} units received")
    desk.send_now()


@app.command()
def recall(
    context: typer.Context,
    batch: Annotated[str, typer.Argument(help="Batch id or lot")],
    reason: Annotated[str, typer.Option()],
    by: Annotated[str | None, typer.Option(help="Who orders it; default the producer")] = None,
) -> None:
    """Recall a batch, in whatever state it is."""
    desk: Desk = context.obj
    with desk.station() as station:
        recalled = station.recall(batch, reason=reason, recalled_by=by)
    console.print(f"recalled {recalled.batch_id}")
    desk.send_now()


@app.command()
def status(context: typer.Context) -> None:
    """Batches and the outbox backlog (events Kafka has not acknowledged yet)."""
    desk: Desk = context.obj
    with StationView(desk.settings) as view:
        batches, backlog = view.batches(), view.backlog()
    table = Table()
    table.add_column("lot", no_wrap=True)
    table.add_column("product", min_width=12)  # the one column that wraps
    for heading in ("status", "planned", "issued", "packed", "shipped", "backlog"):
        table.add_column(heading, no_wrap=True)
    for batch in batches:
        table.add_row(*_row(batch))
    console.print(table)
    since = f", oldest recorded {backlog.oldest}" if backlog.oldest else ""
    console.print(f"outbox backlog: {backlog.events} event(s){since}")


def _row(batch: Batch) -> tuple[str, ...]:
    packed = f"{batch.packed}" + (f" ({batch.unreported} unannounced)" if batch.unreported else "")
    return (
        batch.lot,
        batch.product_name,
        batch.status,
        str(batch.planned_units),
        str(batch.issued),
        packed,
        str(batch.shipped),
        str(batch.backlog),
    )


@app.command()
def send(
    context: typer.Context,
    until_empty: Annotated[bool, typer.Option(help="Stop once the outbox is empty")] = False,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds")] = None,
) -> None:
    """Deliver the outbox to Kafka, retrying while it is unreachable (Ctrl-C stops)."""
    desk: Desk = context.obj
    sender = Sender(desk.settings, report=console.print)
    try:
        emptied = sender.run(until_empty=until_empty, timeout=timeout)
    except KeyboardInterrupt:
        emptied = False
    with StationView(desk.settings) as view:
        waiting = view.backlog().events
    console.print(f"outbox backlog: {waiting} event(s)")
    if until_empty and not emptied:
        raise typer.Exit(1)


@app.command()
def watch(
    context: typer.Context,
    api: Annotated[str, typer.Option(help="The verify API's base URL (its /log routes)")],
    once: Annotated[bool, typer.Option(help="One round, then exit")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between rounds")] = 5.0,
    report_province: Annotated[
        str | None, typer.Option(help="File each alert for this province's inspectors")
    ] = None,
) -> None:
    """Watch the public log for anything signed with this station's key that it did not
    issue (producers.watch). Exit status 1 once an alert was raised, 2 if the log could not
    be checked."""
    desk: Desk = context.obj
    key_watch, journal = watch_for(desk.settings, api)
    alerted = asyncio.run(
        run_watch(key_watch, journal, desk.settings, once, interval, report_province)
    )
    if alerted:
        raise typer.Exit(1)


async def run_watch(
    key_watch: KeyWatch,
    journal: sqlite3.Connection,
    settings: StationSettings,
    once: bool,
    interval: float,
    province: str | None,
) -> bool:
    alerted = False
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            try:
                findings = await key_watch.round(client, own_events(journal))
            except httpx.HTTPError as exc:
                console.print(f"the log could not be read: {exc}")
                findings = []
            except WatchError as exc:
                console.print(f"[red]LOG CHECK FAILED:[/] {exc}")
                raise typer.Exit(2) from None
            for finding in findings:
                alerted = True
                console.print(f"[red]{finding.sentence()}[/]")
                if province is not None:
                    status = await report_to_inspectors(
                        client, key_watch.base_url, finding,
                        host=settings.resolver_host, province=province,
                    )  # fmt: skip
                    console.print(f"  reported to the inspectors of {province}: HTTP {status}")
            if not findings:
                console.print(f"log size {key_watch.edge.size}: nothing signed with this key "
                              "that this station did not issue")  # fmt: skip
            if once:
                return alerted
            await asyncio.sleep(interval)


def main() -> None:
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # the sender reports outages itself
    try:
        app()
    except (StationError, ContractError, KeysError, ValidationError) as exc:
        typer.echo(f"error: {error_message(exc)}", err=True)
        raise SystemExit(1) from None
