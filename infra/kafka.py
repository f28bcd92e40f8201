"""Kafka 3.9 in KRaft mode, each node broker and controller in one process: a single node,
or a cluster whose every node is a controller (a quorum of three for three nodes).

3.9 and not 4.x: Kafka 4.0 removed the old protocol versions that kafka-python still uses;
3.9.1 talks to kafka-python 3.0 and to aiokafka (faust-streaming's client) alike.

All nodes of a cluster are formatted with one cluster id, kept in the state folder.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
import warnings
from pathlib import Path

from contract.bilingual import bilingual, unreachable
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


def server_values(settings: StackSettings) -> dict[str, object]:
    """The values of this node's server.properties (infra/templates/kafka-server.properties)."""
    return {
        "node_id": settings.node_index + 1,
        "voters": ",".join(
            f"{k + 1}@{address}:{settings.kafka_controller_port}"
            for k, address in enumerate(settings.addresses)
        ),
        "address": settings.address,
        "port": settings.kafka_port,
        "controller_port": settings.kafka_controller_port,
        "data_dir": settings.data_dir / settings.node_name(NAME),
        "partitions": settings.topic_partitions,
        "replication": settings.replication_factor,
        "min_insync": settings.min_insync_replicas,
    }


def node(settings: StackSettings, **launch: list[str]) -> JavaServer:
    """This node's process: its name ("kafka", or "kafka-2" in a cluster), how to find it."""
    return JavaServer(
        name=settings.node_name(NAME),
        main_class=MAIN_CLASS,
        state_dir=settings.state_dir,
        kind=NAME if settings.nodes > 1 else None,
        **launch,
    )


def prepare(settings: StackSettings) -> JavaServer:
    """Jars, configuration, and KRaft storage formatted once (every node of a cluster with
    the same cluster id)."""
    lib = ensure_jars(NAME, settings.state_dir / "lib")
    name = settings.node_name(NAME)
    conf = settings.state_dir / "conf" / name
    values = server_values(settings)
    data = Path(str(values["data_dir"]))
    logs = settings.server_log_dir(NAME)
    logs.mkdir(parents=True, exist_ok=True)
    properties = render("kafka-server.properties", conf / "server.properties", **values)
    log4j = render("kafka-log4j.properties", conf / "log4j.properties", log_dir=logs)
    logging_flag = f"-Dlog4j.configuration=file:{log4j}"
    if not (data / "meta.properties").exists():
        if settings.nodes == 1:
            cluster_id = _storage_tool(lib, logging_flag, "random-uuid").strip().splitlines()[-1]
        else:
            cluster_id = shared_cluster_id(settings.data_dir / "kafka-cluster-id")
        _storage_tool(lib, logging_flag, "format", "-t", cluster_id, "-c", str(properties))
    return node(
        settings,
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


def shared_cluster_id(path: Path) -> str:
    """The cluster id all nodes are formatted with: made once (as Kafka's own random-uuid
    makes one: 16 random bytes in unpadded base64url, never starting with "-")."""
    if path.exists():
        return path.read_text().strip()
    while True:
        made = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not made.startswith("-"):
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(made + "\n")
    return made


def _storage_tool(lib: Path, logging_flag: str, *args: str) -> str:
    # stdout alone: log4j's warnings on stderr must not end up in the cluster id
    result = subprocess.run(
        [java_binary(), logging_flag, "-cp", f"{lib}/*", "kafka.tools.StorageTool", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        said = bilingual(
            f"StorageTool của Kafka ({args[0]}) thất bại", f"Kafka's StorageTool {args[0]} failed"
        )
        raise StackError(f"{said}:\n{result.stderr[-2000:]}")
    return result.stdout


def probe(settings: StackSettings) -> str:
    """One real metadata request to this node; raises when it does not answer, or (in a
    cluster) answers without itself among the brokers."""
    this_node = settings.model_copy(
        update={"kafka_bootstrap": f"{settings.address}:{settings.kafka_port}"}
    )
    try:
        with admin_client(this_node, timeout_ms=3000) as admin:
            cluster = admin.describe_cluster()
    except KafkaError as exc:  # admin_client's own StackError already says the node is down
        raise StackError(unreachable("Kafka", this_node.kafka_bootstrap, exc)) from exc
    brokers = cluster.get("brokers", [])
    if settings.nodes > 1 and settings.node_index + 1 not in {b.get("broker_id") for b in brokers}:
        node = settings.node_index + 1
        raise StackError(
            bilingual(
                f"nút {node} chưa có trong danh sách broker",
                f"node {node} is not among the brokers yet",
            )
        )
    return f"cluster {cluster.get('cluster_id')}, {len(brokers)} broker(s)"
