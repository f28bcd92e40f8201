"""``ocop-demo``: the main job. For now it brings the stack up, applies schema and topics and
reports it healthy; the pipeline issues extend it to the whole OCOP story."""

from __future__ import annotations

import time

import typer
from rich.console import Console

from infra import stack
from infra.process import StackError
from infra.schema import migrate
from infra.settings import StackSettings
from infra.topics import apply_topics

console = Console(highlight=False)
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def run() -> None:
    """Start Kafka and Cassandra, apply the schema and topics, and say where to look."""
    settings = StackSettings()
    t0 = time.monotonic()
    console.rule("[bold]OCOP trace: the local stack")
    console.print("[bold]1/3[/] Kafka and Cassandra")
    for status in stack.up(settings, report=lambda line: console.print(f"    {line}")):
        rss = f", {status.rss_mib:.0f} MiB resident" if status.rss_mib else ""
        console.print(f"    [green]✓[/] {status.name}: {status.detail}{rss}")
    console.print("[bold]2/3[/] Cassandra schema")
    for line in migrate(settings):
        console.print(f"    {line}")
    console.print("[bold]3/3[/] Kafka topics")
    for line in apply_topics(settings):
        console.print(f"    {line}")
    console.rule(f"[green]ready in {time.monotonic() - t0:.1f} s")
    console.print(f"Kafka      {settings.kafka_bootstrap}")
    console.print(
        f"Cassandra  {settings.cassandra_hosts}:{settings.cassandra_port}, "
        f"keyspace {settings.keyspace}"
    )
    console.print(f"Logs       {settings.log_dir}")
    console.print("Status     ./run ocop-stack status")
    console.print("Stop       ./run stop")


def main() -> None:
    try:
        app()
    except StackError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise SystemExit(1) from None
