"""The audit log against ingest, in the same run: does the log keep up?

Live: signed events through Kafka to a real `ocop-worker`, which stores each record and
publishes its leaf to the sequencer; a real `ocop-log` appends them to the tree in Cassandra
and signs a checkpoint every OCOP_LOG_CHECKPOINT_INTERVAL_S (1 s here). Figures:

- ingest: records (= leaves) stored per second, first send to last head written;
- log: leaves appended per second over the same span, and the lag when ingest finished
  (leaves, and seconds until a checkpoint covered everything);
- checkpoint delay: per checkpoint, signed_at minus the publication time of the oldest
  leaf it newly covers (p50, p99, max).

Catch-up: a second `ocop-log` (another origin, another group, steps of 100 leaves) started
after ingest reads the whole sequencer from its start: the writer's own rate, with nothing
else running, measured from its first committed step to its last.

Needs the local stack (started if not running). About two minutes.

    .venv/bin/python bench/bench_auditlog.py [--units 20000] [--per-event 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kafka.admin import NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.integration

from infra import stack
from infra.settings import StackSettings
from infra.topics import admin_client
from keys.keystore import Keystore
from tests.integration.pipeline import (
    PASSPHRASE,
    VENV_BIN,
    Pipeline,
    batch_id,
    closed,
    opened,
    packed,
)
from tests.world import World

BATCH_UNITS = 2000
CATCH_UP_STEP = 100
"""Small steps, so the catch-up rate is measured over many of them (live steps are smaller
still: what arrived since the last poll)."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Writer:
    def __init__(
        self, pipeline: Pipeline, folder: Path, topic: str, name: str, step: int = 2000
    ) -> None:
        self.pipeline = pipeline
        self.origin = f"bench.ocop.example/{name}-{uuid.uuid4().hex[:6]}"
        self.env = pipeline.env | {
            "OCOP_LOG_TOPIC": topic,
            "OCOP_LOG_ORIGIN": self.origin,
            "OCOP_LOG_KEYSTORE": str(folder / "log-keys"),
            "OCOP_LOG_PASSPHRASE": PASSPHRASE,
            "OCOP_LOG_GROUP": f"bench-{name}-{uuid.uuid4().hex[:6]}",
            "OCOP_LOG_CHECKPOINT_INTERVAL_S": "1.0",
            "OCOP_LOG_STEP_LEAVES": str(step),
        }
        self.out = (folder / f"{name}.log").open("ab")
        self.process = subprocess.Popen(
            [str(VENV_BIN / "ocop-log"), "run"], env=self.env, stdout=self.out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def size(self) -> int:
        row = self.pipeline.session.execute(
            "SELECT size FROM log_head WHERE log = %s", (self.origin,)
        ).one()
        return row.size if row else 0

    def checkpointed(self) -> int:
        row = self.pipeline.session.execute(
            "SELECT size FROM log_checkpoints WHERE log = %s LIMIT 1", (self.origin,)
        ).one()
        return row.size if row else -1

    def delays(self) -> list[float]:
        rows = self.pipeline.session.execute(
            "SELECT signed_at, oldest_leaf_at FROM log_checkpoints WHERE log = %s", (self.origin,)
        )
        return [
            (r.signed_at - r.oldest_leaf_at).total_seconds()
            for r in rows
            if r.oldest_leaf_at is not None
        ]

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        self.out.close()


def wait(what: str, probe, timeout_s: float = 600.0, step: float = 0.05) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if probe():
            return time.perf_counter()
        time.sleep(step)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--per-event", type=int, default=10)
    args = parser.parse_args()
    settings = StackSettings()
    stack.up(settings)
    with tempfile.TemporaryDirectory(prefix="ocop-bench-log-") as tmp:
        folder = Path(tmp)
        pipeline = Pipeline(settings, folder, World())
        topic = f"bench.log.{uuid.uuid4().hex[:8]}"
        with admin_client(settings) as admin:
            admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        pipeline.env["OCOP_LOG_TOPIC"] = topic
        Keystore(folder / "log-keys").generate(PASSPHRASE)
        writers: list[Writer] = []
        try:
            pipeline.start_worker()
            live = Writer(pipeline, folder, topic, "live")
            writers.append(live)
            pipeline.publish_authority_setup()
            wait("the authority's two leaves", lambda: live.checkpointed() >= 2)
            lots = [f"BL{n:05d}" for n in range(max(1, args.units // BATCH_UNITS))]
            per_batch = BATCH_UNITS // args.per_event
            records = len(lots) * (per_batch + 2)
            total = records + 2

            t0 = time.perf_counter()
            for lot in lots:
                pipeline.send_signed("batch", pipeline.world.producer, opened(lot))
                for _ in range(per_batch):
                    event = packed(pipeline.world, args.per_event, lot)
                    pipeline.send_signed("batch", pipeline.world.producer, event)
                pipeline.send_signed("batch", pipeline.world.producer, closed(BATCH_UNITS, lot))
            pipeline.flush()

            def heads_done() -> bool:
                return all(
                    (h := pipeline.head(batch_id(lot))) is not None and h.head_seq == per_batch + 2
                    for lot in lots
                )

            t_ingest = wait("ingest", heads_done, step=0.2)
            lag_leaves = total - live.size()
            t_log = wait("the log", lambda: live.size() >= total)
            t_cp = wait("a checkpoint of everything", lambda: live.checkpointed() >= total)
            delays = live.delays()

            catch_up = Writer(pipeline, folder, topic, "catchup", step=CATCH_UP_STEP)
            writers.append(catch_up)
            c0 = time.perf_counter()
            wait("the catch-up writer to start", lambda: catch_up.size() > 0, step=0.01)
            c1, first = time.perf_counter(), catch_up.size()
            wait("the catch-up writer", lambda: catch_up.size() >= total, step=0.01)
            c2 = time.perf_counter()

            ingest_s = t_ingest - t0
            units = len(lots) * BATCH_UNITS
            print(f"units {units}, {args.per_event} per event: "
                  f"{records} records, {total} leaves")  # fmt: skip
            print(f"ingest: {records / ingest_s:,.0f} records/s "
                  f"({units / ingest_s:,.0f} units/s), {ingest_s:.1f} s")  # fmt: skip
            print(f"log, live: {total / (t_log - t0):,.0f} leaves/s; lag at the end of ingest "
                  f"{lag_leaves} leaves, all appended {t_log - t_ingest:+.2f} s and in a "
                  f"checkpoint {t_cp - t_ingest:+.2f} s after it")  # fmt: skip
            print(f"checkpoint delay ({len(delays)} checkpoints): "
                  f"p50 {statistics.median(delays):.2f} s, p99 {percentile(delays, 0.99):.2f} s, "
                  f"max {max(delays):.2f} s")  # fmt: skip
            rate = (total - first) / (c2 - c1)
            print(f"log, catch-up alone, steps of {CATCH_UP_STEP}: {rate:,.0f} leaves/s "
                  f"(start-up {c1 - c0:.1f} s)")  # fmt: skip
        finally:
            for writer in writers:
                writer.stop()
            pipeline.close()
            with admin_client(settings) as admin:
                admin.delete_topics([topic])


if __name__ == "__main__":
    main()
