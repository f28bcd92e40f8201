"""Counterfeit analytics: scan events analysed per second, as a ratio of raw inserts of the
same scan rows measured in the same run, and the time from scan to alert.

Baseline, in each round on the same node: the round's scan rows written straight into
Cassandra with execute_concurrent_with_args (prepared, concurrency 128). Analytics: the same
scans through Kafka to a real `ocop-worker`, which stores each scan, reads the unit, its
batch and its rating (held a while: stream_processors.unit_facts), compares it with the
unit's recent scans (a Faust table) and raises alerts. Each round packs its own 900 units,
in date as nearly every product a consumer scans is (`--expired`: past their expiry date,
the load of the runs before 2026-12-03, whose every unit raised a past-expiry alert a round:
a fifth of the scans raised a new alert, each a read, three rows and a message).

- rate: consumer scans of packed units, analysed per s: a round's scans are sent while the
  worker is paused, and timed from letting it go to its last handled, by its own clock (a
  backlog drained, as the raw inserts' rows are ready in memory; `--live`: from the first
  sent, the worker running meanwhile); the median over the rounds, and the
  median of each round's ratio to its raw inserts. Scan n is of unit n % 900 in province
  n % 6 of six; 900 being a multiple of 6, each unit is always scanned in one province (no
  travel): no alert is raised, unless `--expired`
- delay: the same kind of load paced at 80 % of the median rate, with copied codes among it
  (a scan in Thái Bình, then one in Hồ Chí Minh): time from sending the telling scan to its
  alert on the alert topic (the worker publishes an alert once it is stored)

Needs the stack (started if not running; `--kafka-bootstrap` and `--cassandra-hosts` point
at another one, e.g. a cluster's contact points). A few minutes.

    .venv/bin/python bench/bench_analytics.py [--scans 4000] [--rounds 5] [--copies 60] [--live]
        [--workers 1] [--expired]
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cassandra.concurrent import execute_concurrent_with_args
from kafka import KafkaConsumer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.integration

from contract import identifiers
from contract.encoding import model_bytes
from contract.events import ScannerKind, ScanRecorded
from contract.verdict import Reason
from tests.integration.pipeline import Pipeline, batch_id, bench_pipeline, opened, packed
from tests.world import PRODUCT

PLACES = ("Thái Bình", "Nam Định", "Hà Nội", "Hồ Chí Minh", "Đà Nẵng", "Cần Thơ")
UNITS_PER_ROUND = 900
PACE_SHARE = 0.8


def scan(lot: str, serial: str, province: str, device: int) -> ScanRecorded:
    return ScanRecorded(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
        code=f"https://ocop.vn/01/x/10/{lot}/21/{serial}", batch_id=batch_id(lot),
        serial=serial, province=province, reason=Reason.GENUINE,
        scanner=ScannerKind.CONSUMER, device=f"{device:064x}", client=f"{device:064x}",
    )  # fmt: skip


def pack(pipeline: Pipeline, lot: str, count: int, expired: bool = False) -> list[str]:
    """A batch of `count` units; in date (its expiry a year from today), or, `expired`, past
    its expiry date as the test world's batches are (expiry 2026-03-09)."""
    units = packed(pipeline.world, count, lot)
    batch = opened(lot) if expired else opened(lot, expiry_date=date.today() + timedelta(365))
    for event in (batch, units):
        pipeline.send_signed("batch", pipeline.world.producer, event)
    pipeline.flush()
    pipeline.wait_for_head(batch_id(lot), 2, timeout_s=180)  # a cluster while workers join
    return list(units.serials)


def load(lot: str, serials: list[str], count: int, first_device: int) -> list[ScanRecorded]:
    return [
        scan(lot, serials[n % len(serials)], PLACES[n % len(PLACES)], first_device + n)
        for n in range(count)
    ]


def raw_rate(
    pipeline: Pipeline, scans: list[ScanRecorded]
) -> tuple[float, float, dict[str, float]]:
    """(rows/s, the bench's own CPU s per row: the client's work for a raw insert, against
    which the worker's CPU per scan is the steadier comparison on a noisy machine; the
    servers' CPU s per row)."""
    statement = pipeline.session.prepare(
        "INSERT INTO scans_by_unit (unit_key, scanned_at, event_id, reason, scanner, province, "
        "device) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    rows = [
        (s.unit_key(), s.occurred_at, s.event_id, s.reason.value, s.scanner.value,
         s.province, s.device)
        for s in scans
    ]  # fmt: skip
    # the bench's own objects (every round's scans, the pipeline) frozen out of the
    # collector, as the worker freezes what its start-up made: a full pass over them fell
    # into some rounds' inserts and slowed them by a third
    gc.collect()
    gc.freeze()
    servers = ServersCpu()
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        execute_concurrent_with_args(pipeline.session, statement, rows, concurrency=128)
    finally:
        gc.unfreeze()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return len(rows) / elapsed, cpu / len(rows), servers.per(len(rows))


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


SERVERS = {"Kafka": "kafka.Kafka", "Cassandra": "org.apache.cassandra.service.CassandraDaemon"}
"""Each server's name and the main class on its java command line."""


def server_pids() -> dict[str, list[int]]:
    """Kafka's and Cassandra's processes on this machine (a cluster's nodes: all of them), by
    server: their CPU a scan is told apart, since together they use more than the worker."""
    found: dict[str, list[int]] = {name: [] for name in SERVERS}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _command(entry, "comm") == "java":
            line = _command(entry, "cmdline").split("\0")
            for name, main_class in SERVERS.items():
                if main_class in line:
                    found[name].append(int(entry.name))
    return found


def _command(entry: Path, part: str) -> str:
    try:
        return Path(entry / part).read_text().strip()
    except OSError:
        return ""


class ServersCpu:
    """Kafka's and Cassandra's CPU seconds per item from `start` to `per`."""

    def __init__(self) -> None:
        self.servers = server_pids()
        self.start()

    def start(self) -> None:
        self._at = {name: cpu_seconds(pids) for name, pids in self.servers.items()}

    def per(self, items: int) -> dict[str, float]:
        return {
            name: (cpu_seconds(pids) - self._at[name]) / items
            for name, pids in self.servers.items()
        }


@dataclass(frozen=True)
class Timing:
    """Where a round's time went besides the worker's handling (printed with the round)."""

    sent_s: float
    """Sending the load (live: the worker cannot finish before it is all sent; backlog: the
    worker was paused meanwhile, not counted)."""
    seen_late_s: float
    """How much later than the worker's last handled scan the bench saw the round done: a
    metrics read is answered by the worker's event loop between micro-batches and asks Kafka
    for offsets. Not counted in the rate."""


def analysed_rate(
    pipeline: Pipeline, scans: list[ScanRecorded], live: bool
) -> tuple[float, float, dict[str, float], Timing]:
    """(scans/s, the workers' CPU s per scan, Kafka's and Cassandra's CPU s per scan, where
    the round's time went besides the workers). The round ends at the last scan handled by
    any worker, by its own clock (the `ocop_worker_last_processed_timestamp_seconds` gauge:
    same machine, same clock). It starts when the workers are let go on the round's scans,
    all in Kafka already (a backlog, like the raw inserts' rows ready in memory: the workers
    are paused with SIGSTOP while they are sent, well within their group session), or,
    `live`, at the first scan sent (the bench's sending then shares the cores with them)."""
    topic = pipeline.topics["scan"]
    ports, pids = worker_ports(pipeline), worker_pids(pipeline)
    servers = ServersCpu()
    before = processed(pipeline, ports, topic)
    if not live:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
    t0, cpu0 = time.time(), cpu_seconds(pids)
    try:
        for event in scans:
            pipeline.send("scan", event.topic_key(), model_bytes(event))
        pipeline.flush()
        sent = time.time() - t0
    finally:
        if not live:  # the round starts now
            t0, cpu0 = time.time(), cpu_seconds(pids)
            servers.start()
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
    while processed(pipeline, ports, topic) < before + len(scans):
        time.sleep(0.2)
    seen = time.time()
    worker_cpu = (cpu_seconds(pids) - cpu0) / len(scans)
    done = max(
        at
        for port in ports
        for labels, at in pipeline.series("ocop_worker_last_processed_timestamp_seconds", port)
        if labels["topic"] == topic
    )
    timing = Timing(sent, seen - done)
    rate = len(scans) / (done - t0)
    return rate, worker_cpu, servers.per(len(scans)), timing


def worker_ports(pipeline: Pipeline) -> list[int]:
    return [pipeline.web_port] + [worker.port for worker in pipeline.extra_workers]


def worker_pids(pipeline: Pipeline) -> list[int]:
    assert pipeline.worker is not None
    return [pipeline.worker.pid] + [worker.process.pid for worker in pipeline.extra_workers]


def processed(pipeline: Pipeline, ports: list[int], topic: str) -> int:
    """Messages of the topic the workers have handled, all of them together."""
    return sum(pipeline.metrics(port)["processed"].get(topic, 0) for port in ports)


class AlertWatch:
    """When each unit's first impossible-travel alert arrived on the alert topic."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.arrived: dict[str, float] = {}
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(
            pipeline.topics["alert"],
            bootstrap_servers=pipeline.settings.kafka_bootstrap,
            auto_offset_reset="latest",
            group_id=None,
            fetch_max_wait_ms=5,
        )
        self._consumer.poll(timeout_ms=1000)  # assigned, at the end of the topic
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self._consumer.poll(timeout_ms=100).values():
                now = time.perf_counter()
                for record in records:
                    if b'"impossible_travel"' in record.value and record.key is not None:
                        self.arrived.setdefault(record.key.decode("utf-8"), now)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._consumer.close()


def paced_delays(
    pipeline: Pipeline, background: list[ScanRecorded], copies: tuple[str, list[str]], rate: float
) -> tuple[list[float], float]:
    """(telling scan to alert delays, the pace kept) with `background` sent at `rate` per s
    and a copied code's two scans every so often among it."""
    lot, serials = copies
    every = max(2, len(background) // max(1, len(serials)))
    schedule: list[tuple[ScanRecorded, str | None]] = []
    for n, event in enumerate(background):
        schedule.append((event, None))
        k = n // every
        if n % every == 0 and k < len(serials):
            schedule.append((scan(lot, serials[k], "Thái Bình", 10_000_000 + k), None))
        if n % every == every // 2 and k < len(serials):
            telling = scan(lot, serials[k], "Hồ Chí Minh", 20_000_000 + k)
            schedule.append((telling, identifiers.unit_key(PRODUCT, serials[k])))
    watch = AlertWatch(pipeline)
    sent: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        for n, (event, unit) in enumerate(schedule):
            pause = t0 + n / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pipeline.send("scan", event.topic_key(), model_bytes(event))
            if unit is not None:
                sent[unit] = time.perf_counter()
        kept = len(schedule) / (time.perf_counter() - t0)
        pipeline.flush()
        deadline = time.monotonic() + 120
        while len(watch.arrived.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watch.close()
    missing = len(sent) - len(watch.arrived.keys() & sent.keys())
    if missing:
        print(f"warning: {missing} copied codes raised no alert within 120 s")
    return sorted(watch.arrived[u] - sent[u] for u in sent if u in watch.arrived), kept


def _servers(cpu: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds * 1000:.2f} ms" for name, seconds in cpu.items())


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=4000, help="scans per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--copies",
        type=int,
        default=60,
        help="copied codes among the paced load whose alerts are timed; 0: no paced load",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="time each round from its first scan sent, the worker running meanwhile (the "
        "bench's sending shares the cores), not from a backlog in Kafka",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="workers in the group; the scan topic gets one partition each",
    )
    parser.add_argument(
        "--expired",
        action="store_true",
        help="the rounds' units past their expiry date: each raises a past-expiry alert a "
        "round (the load of the runs before 2026-12-03)",
    )
    parser.add_argument("--kafka-bootstrap", help="host:port[,…] (OCOP_KAFKA_BOOTSTRAP)")
    parser.add_argument("--cassandra-hosts", help="contact points (OCOP_CASSANDRA_HOSTS)")
    args = parser.parse_args()
    if args.kafka_bootstrap:
        os.environ["OCOP_KAFKA_BOOTSTRAP"] = args.kafka_bootstrap
    if args.cassandra_hosts:
        os.environ["OCOP_CASSANDRA_HOSTS"] = args.cassandra_hosts
    raw, rates, ratios = [], [], []
    with bench_pipeline(partitions={"batch": 3, "scan": args.workers}) as pipeline:
        pipeline.more_workers(args.workers - 1, holding="scan")  # stopped with it
        for round_ in range(args.rounds):
            lot = f"BENCHSCAN{round_}"
            serials = pack(pipeline, lot, UNITS_PER_ROUND, args.expired)
            scans = load(lot, serials, args.scans, round_ << 24)
            raw_now, raw_cpu, raw_servers = raw_rate(pipeline, scans)
            raw.append(raw_now)
            rate, worker_cpu, servers_cpu, timing = analysed_rate(pipeline, scans, args.live)
            rates.append(rate)
            ratios.append(rates[-1] / raw[-1])
            print(
                f"round {round_ + 1}: raw {raw[-1]:6.0f} rows/s, analysed {rates[-1]:5.0f} "
                f"scans/s, {ratios[-1]:5.1%} of raw; CPU: worker(s) {worker_cpu * 1000:.2f} ms a "
                f"scan, {raw_cpu / worker_cpu:.0%} of it a raw insert's client "
                f"({raw_cpu * 1000:.2f} ms), {_servers(servers_cpu)} (a raw insert: "
                f"{_servers(raw_servers)}); "
                f"of the round's {len(scans) / rate:.2f} s: sending {timing.sent_s:.2f} s"
                f"{'' if args.live else ' (before, not counted)'}, "
                f"seen {timing.seen_late_s:.2f} s after the worker's last scan (not counted)",
                flush=True,
            )
        alerts_raised = sum(
            sum(pipeline.metrics(port)["alerts"].values()) for port in worker_ports(pipeline)
        )
        rate = statistics.median(rates)
        if args.copies:
            lot = "BENCHPACE"
            serials = pack(pipeline, lot, UNITS_PER_ROUND)
            background = load(lot, serials, args.scans, 99 << 24)
            copies = ("BENCHCOPY", pack(pipeline, "BENCHCOPY", args.copies))
            delays, kept = paced_delays(pipeline, background, copies, PACE_SHARE * rate)
            paced_raw, _, _ = raw_rate(pipeline, load(lot, serials, args.scans, 77 << 24))
    raw_median = statistics.median(raw)
    print(f"scans per round: {args.scans} over {UNITS_PER_ROUND} units, places "
          f"{', '.join(PLACES)}; medians of {args.rounds} rounds")  # fmt: skip
    print(f"raw inserts of the same scan rows:   {raw_median:8.0f} rows/s "
          f"(rounds: {', '.join(f'{r:.0f}' for r in raw)})")  # fmt: skip
    print(
        f"scans analysed through Kafka:        {rate:8.0f} scans/s   "
        f"{statistics.median(ratios):5.1%} of raw, median of the rounds' ratios "
        f"(rounds: {', '.join(f'{r:.1%}' for r in ratios)}; {alerts_raised} alerts raised; "
        "target >= 50%)"
    )
    if not args.copies:
        print("scan to alert: not measured (--copies 0)")
        return
    print(
        f"scan to alert at {kept:.0f} scans/s ({PACE_SHARE:.0%} of the median rate; raw inserts "
        f"just after: {paced_raw:.0f} rows/s), {len(delays)} copied codes: "
        f"p50 {percentile(delays, 0.5) * 1000:.0f} ms, p99 {percentile(delays, 0.99) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
