"""Producer to queryable row: the processors' sustained rate and delay, against raw inserts.

Baseline, in the same run on the same node: the same unit rows inserted straight into
Cassandra with cassandra-driver's execute_concurrent_with_args (prepared, concurrency 128).
Pipeline: signed events through Kafka to a real `ocop-worker` process, which verifies each
event, applies the rules, chains and seals a record and writes the unit rows.

- burst: all events (signed beforehand) sent at once; rate = units / (last record and its
  unit rows queryable - first send), the heads read every 100 ms; each round's ratio to
  the raw inserts of the same round, and the median of those ratios; each round's CPU per
  100 units of this process, the worker(s) and the java servers (Kafka, Cassandra: all of
  this machine's, a cluster's nodes too if one runs)
- paced: events sent at about half the burst rate; the send-to-queryable delay per event

`--workers 2` starts a second worker in the same group: the batch topic's three partitions
are then shared between two processes (on one 2-core machine they share its cores too).

Needs the stack (started if not running; `--kafka-bootstrap` and `--cassandra-hosts` point
at another one, e.g. a cluster's contact points). About two minutes.

    .venv/bin/python bench/bench_pipeline.py [--units 20000] [--rounds 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cassandra.concurrent import execute_concurrent_with_args

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.integration

from bench.bench_analytics import cpu_seconds, java_pids, worker_pids
from contract import identifiers
from contract.encoding import model_bytes
from contract.events import UnitsPacked
from tests.integration.pipeline import (
    Pipeline,
    batch_id,
    bench_pipeline,
    opened,
    packed,
    wait_for,
)
from tests.world import PRODUCER, PRODUCT

UNITS_PER_EVENT = 100


@dataclass
class Cpu:
    """CPU seconds used during a phase, per 100 units: this process (the raw inserts' client,
    or the events' producer and poller), the worker(s), Kafka and Cassandra (java)."""

    bench: float = 0.0
    worker: float = 0.0
    java: float = 0.0

    def __str__(self) -> str:
        return (
            f"CPU per 100 units: bench {self.bench * 1000:.1f} ms, worker "
            f"{self.worker * 1000:.1f} ms, Kafka and Cassandra {self.java * 1000:.1f} ms"
        )


def cpu_of(workers: list[int]) -> tuple[float, float, float]:
    return cpu_seconds([os.getpid()]), cpu_seconds(workers), cpu_seconds(java_pids())


def cpu_per_100(before: tuple[float, float, float], workers: list[int], units: int) -> Cpu:
    after = cpu_of(workers)
    bench, worker, java = ((a - b) * 100 / units for a, b in zip(after, before, strict=True))
    return Cpu(bench, worker, java)


def raw_inserts(pipeline: Pipeline, units: int) -> float:
    """Rows per second for the unit rows written straight into Cassandra."""
    statement = pipeline.session.prepare(
        "INSERT INTO units (unit_key, batch_id, product_key, producer_id, serial, "
        "printed_stars, key_id, packed_on, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    rows = []
    for _ in range(units):
        serial = identifiers.new_serial()
        rows.append(
            (
                identifiers.unit_key(PRODUCT, serial),
                batch_id("RAWBASE"),
                PRODUCT,
                PRODUCER,
                serial,
                4,
                pipeline.world.producer.key_id,
                date(2025, 3, 10),
                1,
            )
        )
    t0 = time.perf_counter()
    execute_concurrent_with_args(pipeline.session, statement, rows, concurrency=128)
    return units / (time.perf_counter() - t0)


def pipeline_round(
    pipeline: Pipeline, units: int, tag: str, pace_per_s: float | None
) -> tuple[float, list[float]]:
    """(units per second, send-to-queryable delays in seconds) for one stream of events."""
    world = pipeline.world
    lots = [f"B{tag}{n:03d}" for n in range(max(1, units // 2000))]
    for lot in lots:
        pipeline.send_signed("batch", world.producer, opened(lot))
    pipeline.flush()
    for lot in lots:
        pipeline.wait_for_head(batch_id(lot), 1)

    events = [
        (lot, packed(world, UNITS_PER_EVENT, lot))
        for _ in range(units // UNITS_PER_EVENT // len(lots))
        for lot in lots
    ]
    # signed before the clock starts, as the raw inserts' rows are built before theirs: the
    # station's signing is not the pipeline's work
    signed = [model_bytes(world.producer.sign_document(event)) for _, event in events]
    sent: dict[tuple[str, int], float] = {}
    next_seq = dict.fromkeys(lots, 2)
    seen: dict[tuple[str, int], float] = {}
    interval = UNITS_PER_EVENT / pace_per_s if pace_per_s else 0.0
    t0 = time.perf_counter()
    for n, ((lot, event), data) in enumerate(zip(events, signed, strict=True)):
        if interval:
            delay = t0 + n * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
                _poll(pipeline, lots, seen)
        pipeline.send("batch", event.topic_key(), data)
        sent[(lot, next_seq[lot])] = time.perf_counter()
        next_seq[lot] += 1
        if interval:
            pipeline.flush()
    pipeline.flush()
    # paced: every event's delay, read every 20 ms; burst: only the end counts, read every
    # 100 ms from the batches not finished yet (the reads share the cores with the pipeline)
    while len(seen) < len(sent):
        unfinished = [lot for lot in lots if (lot, next_seq[lot] - 1) not in seen]
        _poll(pipeline, unfinished, seen)
        time.sleep(0.02 if interval else 0.1)
    # a record's units are written beside it and may land a moment after its head: the
    # round ends once the last packing of each batch has every unit row queryable too
    last = {lot: event for lot, event in events}
    units_at = wait_for("the last packings' units", lambda: _units_stored(pipeline, last), 60)
    elapsed = max(*seen.values(), units_at) - t0
    delays = [seen[key] - sent[key] for key in sent]
    return len(events) * UNITS_PER_EVENT / elapsed, delays


def _units_stored(pipeline: Pipeline, packings: dict[str, UnitsPacked]) -> float | None:
    """When every unit of these packings was found stored (one read per packing, so the
    check adds a few tens of milliseconds to the round, against the pipeline), or None."""
    statement = pipeline.session.prepare("SELECT unit_key FROM units WHERE unit_key IN ?")
    for event in packings.values():
        keys = [identifiers.unit_key(PRODUCT, serial) for serial in event.serials]
        if len(pipeline.session.execute(statement, (keys,)).all()) < len(keys):
            return None
    return time.perf_counter()


def _poll(pipeline: Pipeline, lots: list[str], seen: dict[tuple[str, int], float]) -> None:
    now = time.perf_counter()
    for lot in lots:
        head = pipeline.head(batch_id(lot))
        for seq in range(2, (head.head_seq if head else 0) + 1):
            seen.setdefault((lot, seq), now)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="workers in the group")
    parser.add_argument("--kafka-bootstrap", help="host:port[,…] (OCOP_KAFKA_BOOTSTRAP)")
    parser.add_argument("--cassandra-hosts", help="contact points (OCOP_CASSANDRA_HOSTS)")
    args = parser.parse_args()
    if args.kafka_bootstrap:
        os.environ["OCOP_KAFKA_BOOTSTRAP"] = args.kafka_bootstrap
    if args.cassandra_hosts:
        os.environ["OCOP_CASSANDRA_HOSTS"] = args.cassandra_hosts
    with bench_pipeline() as pipeline:
        pipeline.more_workers(args.workers - 1, holding="batch")  # stopped with it
        raw, burst, ratios = [], [], []
        workers = worker_pids(pipeline)
        for round_ in range(args.rounds):
            before = cpu_of(workers)
            raw.append(raw_inserts(pipeline, args.units))
            raw_cpu = cpu_per_100(before, workers, args.units)
            before = cpu_of(workers)
            rate, _ = pipeline_round(pipeline, args.units, f"R{round_}", None)
            pipeline_cpu = cpu_per_100(before, workers, args.units)
            burst.append(rate)
            ratios.append(rate / raw[-1])
            print(
                f"round {round_ + 1}: raw {raw[-1]:6.0f} rows/s, pipeline {rate:6.0f} "
                f"units/s, {ratios[-1]:5.1%} of raw\n  raw inserts: {raw_cpu}\n"
                f"  pipeline:    {pipeline_cpu}",
                flush=True,
            )
        pace = statistics.median(burst) / 2
        _, delays = pipeline_round(pipeline, args.units // 2, "P", pace)

    raw_rate, burst_rate = statistics.median(raw), statistics.median(burst)
    print(
        f"units per round: {args.units}, {UNITS_PER_EVENT} per event; {args.workers} "
        f"worker(s); medians of {args.rounds}"
    )
    print(
        f"raw inserts (execute_concurrent_with_args):   {raw_rate:8.0f} rows/s "
        f"(rounds: {', '.join(f'{r:.0f}' for r in raw)})"
    )
    print(
        f"pipeline, producer to queryable row (burst):  {burst_rate:8.0f} units/s"
        f"   {statistics.median(ratios):5.1%} of raw, median of the rounds' ratios "
        f"(rounds: {', '.join(f'{r:.1%}' for r in ratios)}; target >= 85%)"
    )
    print(
        f"paced at {pace:.0f} units/s: send-to-queryable delay per event "
        f"p50 {percentile(delays, 0.5) * 1000:.0f} ms, p99 {percentile(delays, 0.99) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
