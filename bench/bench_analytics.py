"""Counterfeit analytics: scan events analysed per second, and the time from scan to alert.

Baseline, in the same run on the same node: the same scan rows written straight into
Cassandra with execute_concurrent_with_args. Analytics: scan events through Kafka to a real
`ocop-worker`, which stores each scan, reads the unit, its batch and its rating, compares it
with the unit's recent scans (a Faust table) and raises alerts.

- rate: consumer scans of packed units (half of them copies seen far away), analysed per s
- delay: copied codes scanned at a steady pace, time from the telling scan to its alert

Needs the local stack (started if not running). About two minutes.

    .venv/bin/python bench/bench_analytics.py [--scans 4000] [--copies 60]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from cassandra.concurrent import execute_concurrent_with_args

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.integration

from contract import identifiers
from contract.encoding import model_bytes
from contract.events import ScannerKind, ScanRecorded
from contract.verdict import Reason
from tests.integration.pipeline import Pipeline, batch_id, bench_pipeline, opened, packed
from tests.world import PRODUCT

PLACES = ("Thái Bình", "Nam Định", "Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Cần Thơ")


def scan(lot: str, serial: str, province: str, device: int) -> ScanRecorded:
    return ScanRecorded(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
        code=f"https://ocop.vn/01/x/10/{lot}/21/{serial}", batch_id=batch_id(lot),
        serial=serial, province=province, reason=Reason.GENUINE,
        scanner=ScannerKind.CONSUMER, device=f"{device:064x}", client=f"{device:064x}",
    )  # fmt: skip


def raw_rate(pipeline: Pipeline, scans: list[ScanRecorded]) -> float:
    statement = pipeline.session.prepare(
        "INSERT INTO scans_by_unit (unit_key, scanned_at, event_id, reason, scanner, province, "
        "device) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    rows = [
        (s.unit_key(), s.occurred_at, s.event_id, s.reason.value, s.scanner.value, s.province,
         s.device)
        for s in scans
    ]  # fmt: skip
    t0 = time.perf_counter()
    execute_concurrent_with_args(pipeline.session, statement, rows, concurrency=128)
    return len(rows) / (time.perf_counter() - t0)


def analysed_rate(pipeline: Pipeline, scans: list[ScanRecorded]) -> float:
    topic = pipeline.topics["scan"]
    before = pipeline.metrics()["processed"].get(topic, 0)
    t0 = time.perf_counter()
    for event in scans:
        pipeline.send("scan", event.topic_key(), model_bytes(event))
    pipeline.flush()
    while pipeline.metrics()["processed"].get(topic, 0) < before + len(scans):
        time.sleep(0.05)
    return len(scans) / (time.perf_counter() - t0)


def alert_delays(pipeline: Pipeline, lot: str, serials: list[str], pace_s: float) -> list[float]:
    delays = []
    for n, serial in enumerate(serials):
        first = scan(lot, serial, "Thái Bình", 10_000 + n)
        pipeline.send("scan", first.topic_key(), model_bytes(first))
        telling = scan(lot, serial, "Hồ Chí Minh", 20_000 + n)
        pipeline.send("scan", telling.topic_key(), model_bytes(telling))
        pipeline.flush()
        sent = time.perf_counter()
        unit = identifiers.unit_key(PRODUCT, serial)
        while not pipeline.alerts(unit):
            time.sleep(0.005)
        delays.append(time.perf_counter() - sent)
        time.sleep(max(0.0, pace_s - delays[-1]))
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=4000)
    parser.add_argument("--copies", type=int, default=60)
    args = parser.parse_args()
    with bench_pipeline() as pipeline:
        lot = "BENCHSCAN1"
        units = packed(pipeline.world, 1000, lot)
        for event in (opened(lot), units):
            pipeline.send_signed("batch", pipeline.world.producer, event)
        pipeline.flush()
        pipeline.wait_for_head(batch_id(lot), 2)
        serials = list(units.serials)
        load = [scan(lot, serials[n % 900], PLACES[n % len(PLACES)], n) for n in range(args.scans)]
        raw = raw_rate(pipeline, load)
        rate = analysed_rate(pipeline, load)
        alerts_raised = sum(pipeline.metrics()["alerts"].values())
        delays = sorted(alert_delays(pipeline, lot, serials[900 : 900 + args.copies], 0.25))
    p50 = delays[len(delays) // 2] * 1000
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1000
    print(f"scans: {args.scans} over 900 units, places {', '.join(PLACES)}")
    print(f"raw inserts of the same scan rows:   {raw:8.0f} rows/s")
    print(
        f"scans analysed through Kafka:        {rate:8.0f} scans/s   {rate / raw:5.0%} of raw"
        f"   ({alerts_raised} alerts raised)"
    )
    print(f"scan to alert, {len(delays)} copied codes at 4/s: p50 {p50:.0f} ms, p99 {p99:.0f} ms")


if __name__ == "__main__":
    main()
