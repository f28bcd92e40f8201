"""``ocop-stack``: start, check and stop the local Kafka and Cassandra, apply schema and topics."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from contract.bilingual import bilingual, error_message
from infra import cassandra, stack
from infra.process import StackError
from infra.schema import migrate as apply_migrations
from infra.settings import StackSettings
from infra.topics import apply_topics

app = typer.Typer(
    help="The local stack: a Kafka broker (KRaft) and a Cassandra node on 127.0.0.1, run from "
    "Maven Central jars with the machine's Java 17, or with OCOP_NODES=3 a cluster of three of "
    "each on 127.0.0.1-3 (OCOP_FIRST_ADDRESS; docs/cluster.md). State (jars, data, logs, pid "
    "files) lives in .state/ (OCOP_STATE_DIR). Ports and heaps are OCOP_* settings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)
errors = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line


def _settings() -> StackSettings:
    return StackSettings()


def _print_statuses(statuses: list[stack.ServerStatus]) -> None:
    table = Table("server", "pid", "state", "answer", "ready in", "resident memory")
    for s in statuses:
        state = "[green]healthy[/]" if s.healthy else "[red]down[/]"
        ready = f"{s.seconds_to_ready:.1f} s" if s.seconds_to_ready is not None else "-"
        rss = f"{s.rss_mib:.0f} MiB" if s.rss_mib else "-"
        table.add_row(s.name, str(s.pid or "-"), state, s.detail, ready, rss)
    console.print(table)


@app.command()
def up() -> None:
    """Start Kafka and Cassandra unless they run, and wait until both answer real requests."""
    statuses = stack.up(_settings(), report=lambda line: console.print(f"  {line}"))
    _print_statuses(statuses)


@app.command()
def status() -> None:
    """Show whether each server runs and answers; exit code 1 when one does not."""
    statuses = stack.status(_settings())
    _print_statuses(statuses)
    if not all(s.healthy for s in statuses):
        raise typer.Exit(1)


@app.command()
def down() -> None:
    """Stop both servers cleanly (SIGTERM; SIGKILL only after a timeout)."""
    stack.down(_settings(), report=lambda line: console.print(f"  {line}"))


@app.command()
def migrate() -> None:
    """Create the keyspace and apply the CQL migrations not applied yet (safe to repeat)."""
    for line in apply_migrations(_settings()):
        console.print(f"  {line}")


@app.command()
def topics() -> None:
    """Create missing Kafka topics and align their retention (safe to repeat)."""
    for line in apply_topics(_settings()):
        console.print(f"  {line}")


@app.command()
def env() -> None:
    """Print the settings services need to reach this stack, as shell exports (for `eval`)."""
    settings = _settings()
    console.print(f"export OCOP_KAFKA_BOOTSTRAP={settings.kafka_bootstrap}")
    console.print(f"export OCOP_CASSANDRA_HOSTS={settings.cassandra_hosts}")
    console.print(f"export OCOP_REPLICATION_FACTOR={settings.replication_factor}")


@app.command()
def repair(
    node: int = typer.Option(0, help="the node (1, 2, …) to repair; 0: every node in turn"),
) -> None:
    """Full repair of the keyspace (nodetool repair --full) after a node was down: hints
    cover an outage shorter than max_hint_window (3 h); a repair makes replicas agree for sure."""
    settings = _settings()
    if not 0 <= node <= settings.nodes:
        raise StackError(
            bilingual(
                f"--node phải từ 0 đến {settings.nodes}", f"--node must be 0 to {settings.nodes}"
            )
        )
    targets = [node - 1] if node else list(range(settings.nodes))
    for index in targets:
        one = settings.for_node(index)
        console.print(f"  cassandra node {index + 1} ({one.address}): repairing {one.keyspace}")
        output = cassandra.nodetool(one, "repair", "--full", one.keyspace)
        console.print(output.strip().splitlines()[-1] if output.strip() else "  done")


@app.command()
def init() -> None:
    """Start the stack if needed, then apply migrations and topics: everything data needs."""
    up()
    migrate()
    topics()


def main() -> None:
    try:
        app()
    except (StackError, ValidationError) as exc:
        errors.print(f"[red]error:[/] {error_message(exc)}")
        raise SystemExit(1) from None
