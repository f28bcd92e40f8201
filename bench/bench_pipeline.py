"""Producer to queryable row: the processors' sustained rate and delay, against raw inserts.

Baseline, in the same run on the same node: the same unit rows inserted straight into
Cassandra with cassandra-driver's execute_concurrent_with_args (prepared, concurrency 128).
Pipeline: signed events through Kafka to a real `ocop-worker` process, which verifies each
event, applies the rules, chains and seals a record and writes the unit rows.

- burst: all events sent at once; rate = units / (last row queryable - first send)
- paced: events sent at about half the burst rate; the send-to-queryable delay per event

Needs the local stack (started if not running). About two minutes.

    .venv/bin/python bench/bench_pipeline.py [--units 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from cassandra.concurrent import execute_concurrent_with_args

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.integration

from contract import identifiers
from tests.integration.pipeline import Pipeline, batch_id, bench_pipeline, opened, packed
from tests.world import PRODUCER, PRODUCT

UNITS_PER_EVENT = 100


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
    sent: dict[tuple[str, int], float] = {}
    next_seq = dict.fromkeys(lots, 2)
    seen: dict[tuple[str, int], float] = {}
    interval = UNITS_PER_EVENT / pace_per_s if pace_per_s else 0.0
    t0 = time.perf_counter()
    for n, (lot, event) in enumerate(events):
        if interval:
            delay = t0 + n * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
                _poll(pipeline, lots, seen)
        pipeline.send_signed("batch", world.producer, event)
        sent[(lot, next_seq[lot])] = time.perf_counter()
        next_seq[lot] += 1
        if interval:
            pipeline.flush()
    pipeline.flush()
    while len(seen) < len(sent):
        _poll(pipeline, lots, seen)
        time.sleep(0.02)
    elapsed = max(seen.values()) - t0
    delays = [seen[key] - sent[key] for key in sent]
    return len(events) * UNITS_PER_EVENT / elapsed, delays


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
    args = parser.parse_args()
    with bench_pipeline() as pipeline:
        raw, burst = [], []
        for round_ in range(args.rounds):
            raw.append(raw_inserts(pipeline, args.units))
            rate, _ = pipeline_round(pipeline, args.units, f"R{round_}", None)
            burst.append(rate)
        pace = statistics.median(burst) / 2
        _, delays = pipeline_round(pipeline, args.units // 2, "P", pace)

    raw_rate, burst_rate = statistics.median(raw), statistics.median(burst)
    print(f"units per round: {args.units}, {UNITS_PER_EVENT} per event; medians of {args.rounds}")
    print(f"raw inserts (execute_concurrent_with_args):   {raw_rate:8.0f} rows/s")
    print(
        f"pipeline, producer to queryable row (burst):  {burst_rate:8.0f} units/s"
        f"   {burst_rate / raw_rate:5.0%} of raw (target >= 50%)"
    )
    print(
        f"paced at {pace:.0f} units/s: send-to-queryable delay per event "
        f"p50 {percentile(delays, 0.5) * 1000:.0f} ms, p99 {percentile(delays, 0.99) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
