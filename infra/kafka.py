"""A single-node Kafka 3.9 broker in KRaft mode (broker and controller in one process).

3.9 and not 4.x: Kafka 4.0 removed the old protocol versions that kafka-python still uses;
3.9.1 talks to kafka-python 3.0 and to aiokafka (faust-streaming's client) alike.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

from infra.maven import ensure_jars
from infra.process import JavaServer, StackError, java_binary
from infra.settings import StackSettings
from infra.templates import render
from infra.topics import admin_client

with warnings.catch_warnings():  # kafka-python warns on import
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.errors import KafkaError

NAME = "kafka"
MAIN_CLASS = "kafka.Kafka"


def ports(settings: StackSettings) -> list[int]:
    return [settings.kafka_port, settings.kafka_controller_port]


def prepare(settings: StackSettings) -> JavaServer:
    """Jars, configuration, and KRaft storage formatted once with a fresh cluster id."""
    lib = ensure_jars(NAME, settings.state_dir / "lib")
    conf = settings.state_dir / "conf" / NAME
    data = settings.data_dir / NAME
    logs = settings.log_dir
    logs.mkdir(parents=True, exist_ok=True)
    properties = render(
        "kafka-server.properties",
        conf / "server.properties",
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        data_dir=data,
        partitions=settings.topic_partitions,
        replication=settings.replication_factor,
    )
    log4j = render("kafka-log4j.properties", conf / "log4j.properties", log_dir=logs)
    logging_flag = f"-Dlog4j.configuration=file:{log4j}"
    if not (data / "meta.properties").exists():
        cluster_id = _storage_tool(lib, logging_flag, "random-uuid").strip().splitlines()[-1]
        _storage_tool(lib, logging_flag, "format", "-t", cluster_id, "-c", str(properties))
    return JavaServer(
        name=NAME,
        main_class=MAIN_CLASS,
        state_dir=settings.state_dir,
        jvm_args=[
            "-Xms256m",
            f"-Xmx{settings.kafka_heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            logging_flag,
            f"-Dkafka.logs.dir={logs}",
        ],
        args=[str(properties)],
    )


def _storage_tool(lib: Path, logging_flag: str, *args: str) -> str:
    # stdout alone: log4j's warnings on stderr must not end up in the cluster id
    result = subprocess.run(
        [java_binary(), logging_flag, "-cp", f"{lib}/*", "kafka.tools.StorageTool", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"Kafka's StorageTool {args[0]} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def probe(settings: StackSettings) -> str:
    """One real metadata request; raises when the broker does not answer it."""
    try:
        with admin_client(settings, timeout_ms=3000) as admin:
            cluster = admin.describe_cluster()
    except KafkaError as exc:
        raise StackError(f"Kafka metadata request failed: {exc}") from exc
    brokers = cluster.get("brokers", [])
    return f"cluster {cluster.get('cluster_id')}, {len(brokers)} broker(s)"
