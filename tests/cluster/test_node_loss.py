"""Three Kafka nodes and three Cassandra nodes lose a broker, a worker and a Cassandra node
while 20,000 units stream in and 2,000 scans are resolved; nothing is lost or stored twice.

The timeline, on one clock from the start of the load (seconds, at the full size):

    0   units stream in (a packing station's pace) and two APIs resolve scans
    15  SIGKILL of Kafka node 2, the controller quorum and the partitions' leaders move
    35  Kafka node 2 started again; it catches up from the other replicas
    45  SIGKILL of worker A; worker B takes every partition after the session timeout
    60  SIGKILL of Cassandra node 3 (or once Kafka node 2 is back, if later); reads and
        writes go on at LOCAL_QUORUM (2 of 3)
    +25 Cassandra node 3 started again; hints replay, then `nodetool repair` (timed)

Then every batch is closed with all its units, every chain verifies, the units table holds
each unit once, every scan an API took is stored, and the APIs' answers during each failure
are reported (error rate, p99; a failure during which no resolution was asked fails the
test: the timeline slipped past the load, and that failure was not tested). The figures
are printed and written to .state/cluster/last-run.json; docs/cluster.md keeps those of the
last full run.

OCOP_CLUSTER_UNITS and OCOP_CLUSTER_SCANS make a smaller run (the defaults are the full size).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaProducer
from kafka.errors import KafkaError

from contract import identifiers
from contract.encoding import model_bytes
from infra import cassandra as cassandra_server
from infra import kafka as kafka_server
from infra import stack
from infra.process import running_pid
from infra.settings import StackSettings
from keys.chain import verify_chain
from tests.integration.pipeline import (
    Pipeline,
    Worker,
    batch_id,
    closed,
    opened,
    packed,
    wait_for,
)
from tests.integration.test_api_stack import JSON, ApiProcess, Storefront, path_of
from tests.world import PRODUCT, World

UNITS = int(os.environ.get("OCOP_CLUSTER_UNITS", "20000"))
SCANS = int(os.environ.get("OCOP_CLUSTER_SCANS", "2000"))
UNITS_PER_BATCH, UNITS_PER_EVENT = 2000, 100
STREAM_S = 110.0  # a smaller run streams at a lower rate over the same timeline
KAFKA_KILL, KAFKA_BACK = 15.0, 35.0
WORKER_KILL = 45.0
CASSANDRA_KILL, CASSANDRA_DOWN_S = 60.0, 25.0
SCANNED_UNITS = 500
PARTITIONS = 6


class ClusterPipeline(Pipeline):
    """Pipeline's topics, keyspace and environment, replicated on every node, with two
    workers of one consumer group instead of one."""

    def __init__(self, cluster: StackSettings, folder: Path, world: World) -> None:
        super().__init__(
            cluster,
            folder,
            world,
            prefix="cl",
            partitions={"batch": PARTITIONS, "scan": PARTITIONS},
        )

    def new_producer(self) -> KafkaProducer:
        """A packing station's producer: every in-sync replica, retries without duplicates."""
        return station_producer(self.settings.kafka_bootstrap)

    def send_confirmed(self, key: bytes, value: bytes) -> None:
        """A batch event sent as the station's sender does (producers/sender.py): each one
        acknowledged before the next, and sent again through a new producer when a send
        fails (a resent event that was written after all is a duplicate the processors
        drop by its event id). A fire-and-forget send loses what fails while a broker dies."""
        for _ in range(10):
            try:
                self.producer.send(self.topics["batch"], key=key, value=value).get(timeout=60)
                return
            except KafkaError:
                self.producer.close(timeout=0)
                self.producer = self.new_producer()
                time.sleep(1)
        raise AssertionError("a batch event was not acknowledged in ten tries")


def station_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        delivery_timeout_ms=120_000,
        request_timeout_ms=10_000,
    )


@dataclass
class Answers:
    """Each resolution: when (s since the start), its status (0: no answer), latency, and
    the notices it carried (their English sentences' beginnings: verify_api.views.
    FROM_HELD_FACTS, an answer without the unit's own read; FROM_EARLIER_FACTS, one from
    shared facts past their time)."""

    rows: list[tuple[float, int, float, tuple[str, ...]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, at: float, status: int, seconds: float, notices: tuple[str, ...]) -> None:
        with self.lock:
            self.rows.append((at, status, seconds, notices))

    def summary(self, start: float = 0.0, end: float = float("inf")) -> dict[str, Any]:
        rows = [r for r in self.rows if start <= r[0] < end]
        if not rows:
            return {"requests": 0}
        latencies = sorted(r[2] for r in rows)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        errors = sum(1 for r in rows if r[1] != 200)
        return {
            "requests": len(rows),
            "errors": errors,
            "error_rate": round(errors / len(rows), 4),
            "errors_at_s": [round(r[0], 1) for r in rows if r[1] != 200][:20],
            "notices": dict(Counter(notice for r in rows for notice in r[3])),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(p99 * 1000, 1),
        }


def kill(process_of: Any, cluster: StackSettings, node: int) -> int:
    java = process_of(cluster.for_node(node))
    pid = running_pid(java)
    assert pid is not None, f"{java.name} does not run"
    os.kill(pid, signal.SIGKILL)
    return pid


def api_counters(api: ApiProcess) -> dict[str, float]:
    text = httpx.get(f"{api.base}/metrics", timeout=10).text
    return {
        line.split(" ")[0].removeprefix("ocop_api_scan_events_"): float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("ocop_api_scan_events_") and "{" not in line.split(" ")[0]
    }


def test_the_cluster_loses_a_broker_a_worker_and_a_cassandra_node_under_load(cluster, tmp_path):
    pipeline = ClusterPipeline(cluster, tmp_path, World())
    apis: list[ApiProcess] = []
    figures: dict[str, Any] = {"units": UNITS, "scans": SCANS, "nodes": cluster.nodes}
    try:
        pipeline.start_worker()  # worker A: waits until it holds the partitions
        (worker_b,) = pipeline.more_workers(1, holding=None)  # worker B, joining meanwhile
        storefront = Storefront(pipeline)
        labels = storefront.pack(PRODUCT, "L2503CLSCAN", SCANNED_UNITS)
        for name in ("api-1", "api-2"):
            (tmp_path / name).mkdir()
            apis.append(ApiProcess(pipeline, tmp_path / name))
        wait_for(
            "worker B to hold partitions too", lambda: sum(worker_b.assigned().values()) > 0, 90
        )
        worker_a = Worker(pipeline.worker, pipeline.web_port)  # type: ignore[arg-type]

        lots = [f"L2503CL{n:04d}" for n in range(max(1, UNITS // UNITS_PER_BATCH))]
        events = [(lot, e) for lot in lots for e in batch_events(pipeline, lot)]
        answers = Answers()
        start = time.monotonic()

        def stream() -> None:
            for n, (_, data) in enumerate(events):
                wait_until(start + STREAM_S * n / len(events))
                pipeline.send_confirmed(data[0], data[1])

        def resolve(share: int, api: ApiProcess) -> None:
            with api.client() as http:
                for n in range(share, SCANS, 4):
                    wait_until(start + (STREAM_S + 10) * n / SCANS)
                    label = labels[n % len(labels)]
                    t0 = time.monotonic()
                    try:
                        # with a province: a consumer's scan without one stops the scan
                        # processor (records.store.count_scan writes an empty partition key)
                        response = http.get(
                            path_of(label) + "&province=Thái Bình",
                            headers=JSON | {"X-Device-Id": f"cluster-phone-{n:05d}"},
                        )
                        status = response.status_code
                        body = response.json() if status == 200 else {"notices": []}
                        notices = tuple(n["en"][:48] for n in body["notices"])
                    except httpx.HTTPError:
                        status, notices = 0, ()
                    answers.add(t0 - start, status, time.monotonic() - t0, notices)

        threads = [threading.Thread(target=stream)] + [
            threading.Thread(target=resolve, args=(k, apis[k % 2])) for k in range(4)
        ]
        for thread in threads:
            thread.start()
        timeline: dict[str, float] = {}

        wait_until(start + KAFKA_KILL)
        kill(kafka_server.node, cluster, 1)
        timeline["kafka_killed"] = time.monotonic() - start
        wait_until(start + KAFKA_BACK)
        timeline["kafka_restarted"] = time.monotonic() - start
        restart = threading.Thread(target=stack.up, args=(cluster,))  # what does not run
        restart.start()  # the timeline goes on while Kafka node 2 starts

        wait_until(start + WORKER_KILL)
        partitions_of_b = worker_b.assigned()
        os.killpg(worker_a.process.pid, signal.SIGKILL)
        worker_a.process.wait()
        pipeline.worker = None
        timeline["worker_killed"] = time.monotonic() - start
        consumed = {pipeline.topics[n] for n in ("batch", "authority", "trust", "scan")}
        every = {pipeline.topics["batch"]: PARTITIONS, pipeline.topics["scan"]: PARTITIONS}
        wait_for(
            "worker B to take every partition",
            lambda: all(worker_b.assigned().get(t, 0) == every.get(t, 1) for t in consumed),
            timeout_s=90,
        )
        timeline["worker_b_took_over"] = time.monotonic() - start
        figures["worker_b_before"], figures["worker_b_after"] = partitions_of_b, worker_b.assigned()

        restart.join()
        timeline["kafka_back"] = time.monotonic() - start
        wait_until(start + CASSANDRA_KILL)
        kill(cassandra_server.node, cluster, 2)
        killed = time.monotonic()
        timeline["cassandra_killed"] = killed - start
        wait_until(killed + CASSANDRA_DOWN_S)  # down as long as planned, however late
        timeline["cassandra_restarted"] = time.monotonic() - start
        stack.up(cluster)  # Cassandra node 3 again
        timeline["cassandra_back"] = time.monotonic() - start

        for thread in threads:
            thread.join()
        timeline["load_done"] = time.monotonic() - start

        # every batch closed with all its units, each chain verifying
        keys = {pipeline.seal_key.key_id: pipeline.seal_key.public_key}
        for lot in lots:
            head = pipeline.wait_for_head(
                batch_id(lot), 2 + UNITS_PER_BATCH // UNITS_PER_EVENT, 600
            )
            assert (head.status, head.units_packed) == ("closed", UNITS_PER_BATCH)
            records = pipeline.chain(batch_id(lot))
            verdict = verify_chain(
                batch_id(lot), records, keys, head=(head.head_seq, head.head_hash)
            )
            assert verdict.ok, verdict.detail
        timeline["all_stored"] = time.monotonic() - start
        units = pipeline.session.execute("SELECT COUNT(*) FROM units", timeout=120).one()[0]
        assert units == len(lots) * UNITS_PER_BATCH + SCANNED_UNITS  # each once

        # no scan lost: every scan the APIs took was sent, and stored
        counters = [api_counters(api) for api in apis]
        accepted = sum(c.get("accepted_total", 0) for c in counters)
        wait_for(
            "the APIs' scans to be acknowledged",
            lambda: sum(api_counters(a).get("sent_total", 0) for a in apis) >= accepted,
            timeout_s=60,
        )
        counters = [api_counters(api) for api in apis]
        assert sum(c.get("dropped_total", 0) + c.get("failed_total", 0) for c in counters) == 0
        answered = sum(1 for row in answers.rows if row[1] == 200)
        units_scanned = {identifiers.unit_key(PRODUCT, label.serial) for label in labels}

        def stored() -> int:
            return sum(
                pipeline.session.execute(
                    "SELECT COUNT(*) FROM scans_by_unit WHERE unit_key = %s", (unit,)
                ).one()[0]
                for unit in units_scanned
            )

        wait_for("every scan to be stored", lambda: stored() >= accepted, timeout_s=300)
        figures["scans_answered"], figures["scans_taken"] = answered, accepted
        figures["scans_stored"] = stored()
        assert figures["scans_stored"] == accepted >= answered

        t0 = time.monotonic()
        cassandra_server.nodetool(
            cluster.for_node(2), "repair", "--full", pipeline.settings.keyspace
        )
        figures["repair_s"] = round(time.monotonic() - t0, 1)

        figures["timeline_s"] = {k: round(v, 1) for k, v in timeline.items()}
        figures["resolutions"] = {
            "all": answers.summary(),
            "kafka_node_down": answers.summary(
                timeline["kafka_killed"], timeline["kafka_restarted"]
            ),
            "worker_failover": answers.summary(
                timeline["worker_killed"], timeline["worker_b_took_over"]
            ),
            "cassandra_node_down": answers.summary(
                timeline["cassandra_killed"], timeline["cassandra_restarted"]
            ),
        }
        figures["rss_mib"] = {s.name: round(s.rss_mib or 0) for s in stack.status(cluster)}
        report = json.dumps(figures, indent=1)
        print(report)
        (cluster.state_dir / "last-run.json").write_text(report + "\n")
        assert figures["resolutions"]["all"]["error_rate"] <= 0.01, report
        for failure in ("kafka_node_down", "worker_failover", "cassandra_node_down"):
            assert figures["resolutions"][failure]["requests"] > 0, f"{failure} untested: {report}"
        pipeline.web_port = worker_b.port  # the metrics of the worker that did it all
        assert pipeline.metrics()["refused"] == {}
    finally:
        for api in apis:
            api.stop()
        pipeline.close()


def batch_events(pipeline: ClusterPipeline, lot: str) -> list[tuple[bytes, bytes]]:
    """A batch's events, signed and encoded: opened, 20 × 100 units, closed."""
    signer = pipeline.world.producer
    events: list[Any] = [opened(lot)]
    events += [
        packed(pipeline.world, UNITS_PER_EVENT, lot)
        for _ in range(UNITS_PER_BATCH // UNITS_PER_EVENT)
    ]
    events.append(closed(UNITS_PER_BATCH, lot))
    return [(e.topic_key(), model_bytes(signer.sign_document(e))) for e in events]


def wait_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)
