"""A whole processing pipeline for integration tests, on the real Kafka and Cassandra.

Each pipeline has its own topics, keyspace and consumer group, so tests never see each
other's data, and runs the real worker (`ocop-worker run`) as a separate process, so a
test can kill it the way a machine dies.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import httpx
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import TypeAdapter

from contract import identifiers
from contract.certification import ProductGroup
from contract.encoding import decode_model, model_bytes
from contract.events import (
    BatchClosed,
    BatchOpened,
    CertificationIssued,
    ProducerKind,
    ProducerRegistered,
    ProductRegistered,
    RawMaterial,
    Unit,
    UnitsPacked,
)
from contract.records import DeadLetter
from infra import cassandra, kafka, stack
from infra.process import JavaServer, running_pid
from infra.schema import migrate
from infra.settings import StackSettings
from infra.topics import admin_client
from keys.chain import ChainRecord
from keys.keystore import Keystore
from keys.publish import AuthorityPublisher
from keys.signing import SigningKey
from records.session import connect
from records.store import RecordReader
from tests.world import LOT, NOW, PRODUCER, PRODUCT, World

VENV_BIN = Path(sys.executable).parent
PASSPHRASE = "integration-test-passphrase"  # guards a key made in a tmp folder, for a test
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout_s: float = 60.0,
    explain: Callable[[], str] | None = None,
) -> T:
    """`explain` adds what was going on to the failure (a worker's state and log)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    context = f"\n{explain()}" if explain else ""
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{context}")


@contextmanager
def kafka_paused(settings: StackSettings) -> Iterator[int]:
    """The shared broker frozen (SIGSTOP of its pid, as the stack recorded it): its sockets
    still take a client's bytes, and nothing answers. Always resumed (SIGCONT) on the way
    out, so the stack is never left stopped. Keep it to seconds: other tests use the broker,
    and past its controller's broker session timeout (9 s by default) it may be fenced."""
    with _paused(JavaServer(kafka.NAME, kafka.MAIN_CLASS, settings.state_dir)) as pid:
        yield pid


@contextmanager
def cassandra_paused(settings: StackSettings) -> Iterator[int]:
    """The shared Cassandra node frozen, as `kafka_paused` freezes the broker (a long
    garbage collection looks like this to its clients). Keep it to seconds."""
    server = JavaServer(cassandra.NAME, cassandra.MAIN_CLASS, settings.state_dir)
    with _paused(server) as pid:
        yield pid


@contextmanager
def _paused(server: JavaServer) -> Iterator[int]:
    pid = running_pid(server)
    if pid is None:
        raise AssertionError(f"no {server.name} of {server.state_dir} runs")
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


WRITTEN_ONLY = ("dead", "alert", "log")
"""The pipeline's topics the worker writes and does not consume."""


@dataclass
class Worker:
    """A worker process started beside the pipeline's first (`Pipeline.more_workers`)."""

    process: subprocess.Popen[bytes]
    port: int

    def assigned(self) -> dict[str, int]:
        """Partitions of each source topic this worker holds (its metrics)."""
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return {}
        found: dict[str, int] = {}
        for line in text.splitlines():
            if line.startswith("ocop_worker_assigned_partitions{"):
                topic = line.split('topic="', 1)[1].split('"', 1)[0]
                found[topic] = int(float(line.rsplit(" ", 1)[1]))
        return found

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout_s: float = 30
) -> None:
    """A process started in a session of its own, stopped with `sig` (its whole group), and
    killed if it is still there after `timeout_s`."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Pipeline:
    def __init__(
        self,
        stack: StackSettings,
        folder: Path,
        world: World,
        *,
        prefix: str = "it",
        partitions: Mapping[str, int] = MappingProxyType({"batch": 3}),
    ) -> None:
        """A pipeline of its own on `stack`: topics, keyspace and consumer group named
        `prefix` and a random suffix, each topic with one partition unless `partitions`
        (by the topic's short name) says otherwise."""
        suffix = uuid.uuid4().hex[:10]
        self.world = world
        self.folder = folder
        self.topics = {
            name: f"{prefix}.{name}.{suffix}"
            for name in ("batch", "authority", "trust", "scan", "dead", "alert", "log")
        }
        self.settings = stack.model_copy(update={"keyspace": f"{prefix}_{suffix}"})
        self.log_file = folder / "worker.log"
        self.web_port = free_port()
        self.worker: subprocess.Popen[bytes] | None = None
        self.extra_workers: list[Worker] = []

        with admin_client(stack) as admin:
            admin.create_topics(
                [
                    NewTopic(
                        topic,
                        num_partitions=partitions.get(name, 1),
                        # one node: 1; a cluster (a benchmark's --kafka-bootstrap): its own
                        replication_factor=stack.replication_factor,
                        topic_configs={"min.insync.replicas": str(stack.min_insync_replicas)},
                    )
                    for name, topic in self.topics.items()
                ]
            )
        migrate(self.settings)
        self.seal_key = Keystore(folder / "seal").generate(PASSPHRASE)
        self.env = os.environ | {
            "OCOP_APP_ID": f"{prefix}-processors-{suffix}",
            "OCOP_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
            "OCOP_CASSANDRA_HOSTS": stack.cassandra_hosts,
            "OCOP_REPLICATION_FACTOR": str(stack.replication_factor),
            "OCOP_KEYSPACE": self.settings.keyspace,
            "OCOP_ROOT_KEY": world.root.public_key_text,
            "OCOP_SEAL_KEYSTORE": str(folder / "seal"),
            "OCOP_SEAL_PASSPHRASE": PASSPHRASE,
            "OCOP_WEB_PORT": str(self.web_port),
            "OCOP_DATA_DIR": str(folder / "faust"),
            "OCOP_BATCH_TOPIC": self.topics["batch"],
            "OCOP_AUTHORITY_TOPIC": self.topics["authority"],
            "OCOP_TRUST_TOPIC": self.topics["trust"],
            "OCOP_SCAN_TOPIC": self.topics["scan"],
            "OCOP_DEAD_LETTER_TOPIC": self.topics["dead"],
            "OCOP_ALERT_TOPIC": self.topics["alert"],
            "OCOP_LOG_TOPIC": self.topics["log"],  # one partition: the audit log's sequencer
        }
        self.producer = self.new_producer()
        self.cluster, self.session = connect(self.settings, keyspace=self.settings.keyspace)
        self.reader = RecordReader(self.session)

    def new_producer(self) -> KafkaProducer:
        """The producer the pipeline's events are sent with."""
        return KafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap, acks="all", linger_ms=5
        )

    # -- the worker ---------------------------------------------------------------------

    def start_worker(self) -> None:
        with self.log_file.open("ab") as log:
            self.worker = subprocess.Popen(
                [str(VENV_BIN / "ocop-worker"), "run", "--loglevel", "info"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for("the worker to take its partitions", self._assigned, timeout_s=90)

    def _assigned(self) -> bool:
        if self.worker is not None and self.worker.poll() is not None:
            raise AssertionError(f"the worker exited:\n{self.log_file.read_text()[-3000:]}")
        try:
            assigned = self.series("ocop_worker_assigned_partitions")
        except (httpx.HTTPError, ValueError):
            return False
        consumed = {t for name, t in self.topics.items() if name not in WRITTEN_ONLY}
        return {labels["topic"] for labels, _ in assigned} >= consumed

    def diagnosis(self) -> str:
        """The worker's metrics (what it consumed, per partition) and the end of its log."""
        try:
            metrics = json.dumps(self.metrics(), indent=1, default=str)
        except (httpx.HTTPError, ValueError) as exc:
            metrics = f"(no metrics: {exc!r})"
        log = self.log_file.read_text(errors="replace").splitlines()[-60:]
        return f"worker metrics: {metrics}\nworker log, last lines:\n" + "\n".join(log)

    def more_workers(self, count: int, holding: str | None = "batch") -> list[Worker]:
        """`count` more workers in the pipeline's group, each with its own port and Faust
        folder, started one after another, each once it holds a partition of the topic
        `holding` (its short name; None: at once); stopped with the pipeline."""

        def holds_a_partition(worker: Worker, topic: str) -> bool:
            return worker.assigned().get(topic, 0) > 0

        started = []
        for n in range(len(self.extra_workers) + 2, len(self.extra_workers) + count + 2):
            port = free_port()
            env = self.env | {
                "OCOP_WEB_PORT": str(port),
                "OCOP_DATA_DIR": str(self.folder / f"faust-{n}"),
            }
            with (self.folder / f"worker-{n}.log").open("ab") as log:
                process = subprocess.Popen(
                    [str(VENV_BIN / "ocop-worker"), "run", "--loglevel", "info"],
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            worker = Worker(process, port)
            self.extra_workers.append(worker)
            started.append(worker)
            if holding is not None:
                topic = self.topics[holding]
                wait_for(
                    f"worker {n} to take a partition of {topic}",
                    functools.partial(holds_a_partition, worker, topic),
                    timeout_s=120,
                )
        return started

    def samples(self, port: int | None = None) -> list[Sample]:
        """Every sample of a worker's Prometheus metrics (GET /metrics): the first worker's,
        or the one at `port`."""
        port = self.web_port if port is None else port
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        response.raise_for_status()
        families = text_string_to_metric_families(response.text)
        return [sample for family in families for sample in family.samples]

    def series(self, name: str, port: int | None = None) -> list[tuple[dict[str, str], float]]:
        """The samples of one name (`ocop_worker_processed_total`): labels and value."""
        return [(s.labels, s.value) for s in self.samples(port) if s.name == name]

    def metrics(self, port: int | None = None) -> dict[str, Any]:
        """A worker's counts by topic, reason or kind, and its lag by "topic/partition",
        read from its Prometheus metrics (the first worker's, or the one at `port`)."""
        samples = self.samples(port)

        def by(name: str, label: str) -> dict[str, int]:
            return {s.labels[label]: int(s.value) for s in samples if s.name == name}

        lag = {
            f"{s.labels['topic']}/{s.labels['partition']}": int(s.value)
            for s in samples
            if s.name == "ocop_worker_consumer_lag"
        }
        return {
            "processed": by("ocop_worker_processed_total", "topic"),
            "duplicates": by("ocop_worker_duplicates_total", "topic"),
            "refused": by("ocop_worker_refused_total", "reason"),
            "dead_letters": by("ocop_worker_dead_letters_total", "topic"),
            "alerts": by("ocop_worker_alerts_raised_total", "kind"),
            "corroborated": by("ocop_worker_alerts_corroborated_total", "kind"),
            "lag": lag,
        }

    def stop_worker(self, sig: int = signal.SIGTERM) -> None:
        if self.worker is not None:
            stop_process(self.worker, sig)
        self.worker = None

    def close(self) -> None:
        for worker in self.extra_workers:
            worker.stop()
        self.stop_worker()
        self.producer.close()
        self.session.execute(f"DROP KEYSPACE IF EXISTS {self.settings.keyspace}")
        self.cluster.shutdown()
        with admin_client(self.settings) as admin:
            admin.delete_topics(list(self.topics.values()))

    # -- sending ------------------------------------------------------------------------

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.producer.send(self.topics[topic], key=key, value=value)

    def flush(self) -> None:
        self.producer.flush(timeout=30)

    def send_signed(self, topic: str, signer: SigningKey, event: Any) -> bytes:
        data = model_bytes(signer.sign_document(event))
        self.send(topic, event.topic_key(), data)
        return data

    def publish_authority_setup(self, *, list_after: float | None = None) -> None:
        """The trust list, the producer, its product and the product's 4★ certification.
        The list goes first, unless `list_after` seconds after the events."""
        w = self.world
        office = AuthorityPublisher(
            self.settings.kafka_bootstrap,
            authority_topic=self.topics["authority"],
            trust_topic=self.topics["trust"],
        )
        try:
            if list_after is None:
                office.trust_list(w.trust_list_bytes())
                office.flush()  # the list first: the events below are checked against it
            office.event(w.provincial, producer_registration())
            office.event(w.provincial, product_registration())
            office.event(
                w.provincial,
                CertificationIssued(
                    event_id=uuid.uuid4(), occurred_at=NOW, certification=w.certifications[0]
                ),
            )
            assert office.flush() == 3
            if list_after is not None:
                time.sleep(list_after)
                office.trust_list(w.trust_list_bytes())
                office.flush()
        finally:
            office.close()
        wait_for(
            "the certification to be stored",
            lambda: self.session.execute(
                "SELECT certificate_no FROM certifications WHERE product_key = %s", (PRODUCT,)
            ).one(),
        )

    # -- reading ------------------------------------------------------------------------

    def chain(self, batch_id: str) -> list[ChainRecord]:
        return asyncio.run(self.reader.chain(batch_id))

    def scan_summary(self, unit_key: str) -> Any:
        return asyncio.run(self.reader.unit_activity(unit_key)).scans

    def open_alerts(self, unit_key: str) -> frozenset[str]:
        return asyncio.run(self.reader.unit_activity(unit_key)).open_alerts

    def copy_evidence(self, unit_key: str) -> frozenset[str]:
        return asyncio.run(self.reader.unit_activity(unit_key)).copy_evidence

    def inspector(self, token_sha256: str) -> Any:
        return asyncio.run(self.reader.inspector(token_sha256))

    def inspections(self, unit_key: str) -> Any:
        return asyncio.run(self.reader.inspections(unit_key))

    def alerts(self, unit_key: str) -> Any:
        return asyncio.run(self.reader.alerts_for_unit(unit_key))

    def head(self, batch_id: str) -> Any:
        return self.session.execute(
            "SELECT head_seq, head_hash, status, units_packed FROM batch_records "
            "WHERE batch_id = %s LIMIT 1",
            (batch_id,),
        ).one()

    def wait_for_head(self, batch_id: str, seq: int, timeout_s: float = 60.0) -> Any:
        def reached() -> Any:
            row = self.head(batch_id)
            return row if row is not None and row.head_seq == seq else None

        return wait_for(f"batch {batch_id} to reach record {seq}", reached, timeout_s)

    def dead_letters(self, count: int, timeout_s: float = 60.0) -> list[DeadLetter]:
        consumer = KafkaConsumer(
            self.topics["dead"],
            bootstrap_servers=self.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=int(timeout_s * 1000),
            group_id=None,
        )
        letters: list[DeadLetter] = []
        try:
            for message in consumer:
                letters.append(decode_model(_DEAD_LETTER, message.value))
                if len(letters) >= count:
                    break
        finally:
            consumer.close()
        return letters


_DEAD_LETTER = TypeAdapter(DeadLetter)


def original(letter: DeadLetter) -> bytes:
    return base64.urlsafe_b64decode(letter.value + "=" * (-len(letter.value) % 4))


# -- events of the test world ---------------------------------------------------------------


def producer_registration() -> ProducerRegistered:
    return ProducerRegistered(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        authority_id="VN-34",
        producer_id=PRODUCER,
        name="HTX Hồng Tiến",
        kind=ProducerKind.COOPERATIVE,
        address="Thôn Hồng Tiến",
        commune="Xã Hồng Tiến",
        district="Huyện Kiến Xương",
        province="Thái Bình",
    )


def product_registration() -> ProductRegistered:
    return ProductRegistered(
        event_id=uuid.uuid4(),
        occurred_at=NOW,
        authority_id="VN-34",
        product_key=PRODUCT,
        producer_id=PRODUCER,
        name="Mắm cáy Hồng Tiến",
        name_en="Hong Tien crab paste",
        product_group=ProductGroup.FOOD,
    )


def batch_id(lot: str = LOT) -> str:
    return identifiers.batch_id(PRODUCT, lot)


def opened(lot: str = LOT, product: str = PRODUCT, **changes: Any) -> BatchOpened:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "occurred_at": NOW,
        "batch_id": identifiers.batch_id(product, lot),
        "producer_id": PRODUCER,
        "product_key": product,
        "lot": lot,
        "production_date": date(2025, 3, 9),
        "expiry_date": date(2026, 3, 9),
        "raw_materials": (
            RawMaterial(
                material="cáy (crab)",
                origin="Xã Nam Hưng, Tiền Hải",
                quantity="250",
                unit=Unit.KILOGRAM,
            ),
        ),
        "planned_units": 2000,
    }
    return BatchOpened(**(fields | changes))


def packed(
    world: World, count: int, lot: str = LOT, *, stars: int = 4, **changes: Any
) -> UnitsPacked:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "occurred_at": NOW + timedelta(minutes=5),
        "batch_id": batch_id(lot),
        "producer_id": PRODUCER,
        "serials": tuple(identifiers.new_serial() for _ in range(count)),
        "stars": stars,
        "key_id": world.producer.key_id,
        "packed_on": date(2025, 3, 10),
    }
    return UnitsPacked(**(fields | changes))


def closed(units: int, lot: str = LOT) -> BatchClosed:
    return BatchClosed(
        event_id=uuid.uuid4(),
        occurred_at=NOW + timedelta(hours=2),
        batch_id=batch_id(lot),
        producer_id=PRODUCER,
        units_packed=units,
    )


@contextmanager
def bench_pipeline(
    partitions: Mapping[str, int] = MappingProxyType({"batch": 3}),
) -> Iterator[Pipeline]:
    """For the benchmarks: the local stack up, a running worker, the authority's documents
    published; everything of the pipeline removed afterwards. `partitions`: as Pipeline's.
    A run that fails keeps its workers' logs (in the state folder's bench-logs/, named on
    stderr): what went wrong is in them, and the folder they were in goes."""
    settings = StackSettings()
    stack.up(settings)
    with tempfile.TemporaryDirectory(prefix="ocop-bench-") as folder:
        pipeline = Pipeline(settings, Path(folder), World(), partitions=partitions)
        try:
            pipeline.start_worker()
            pipeline.publish_authority_setup()
            yield pipeline
        except BaseException:
            kept = settings.state_dir / "bench-logs" / time.strftime("%Y%m%dT%H%M%S")
            kept.mkdir(parents=True, exist_ok=True)
            for log in Path(folder).glob("*.log"):
                shutil.copy(log, kept)
            print(f"the workers' logs of the failed run: {kept}", file=sys.stderr)
            raise
        finally:
            pipeline.close()
