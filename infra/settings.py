"""Where the servers are and how the local stack is sized.

Every value can be set through the environment (prefix ``OCOP_``), so the same code runs
against the local single-node stack, the compose deployment and a real cluster.

One set of settings serves one node and a cluster: ``OCOP_NODES=3`` makes the local stack
three Kafka nodes and three Cassandra nodes, node k on its own loopback address
(``first_address`` + k - 1: 127.0.0.1, .2, .3 by default, same ports), and derives what
follows from it unless it is set: the bootstrap list and contact points name every node,
and the replication factor is 3 (min.insync.replicas 2). docs/cluster.md has the figures.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Consistency = Literal["ONE", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "ALL"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConnectionSettings(BaseSettings):
    """How services reach Kafka and Cassandra: the only settings every service shares."""

    model_config = SettingsConfigDict(env_prefix="OCOP_", frozen=True)

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="host:port[,host:port…]")
    cassandra_hosts: str = Field("127.0.0.1", description="comma-separated contact points")
    cassandra_port: int = 9042
    keyspace: str = Field("ocop", pattern=r"^[a-z][a-z0-9_]{0,47}$")
    cassandra_consistency: Consistency = Field(
        "LOCAL_QUORUM",
        description="reads and writes: a majority of the replicas (with one replica, that one; "
        "with three, any two, so one node may be down)",
    )

    @property
    def cassandra_host_list(self) -> list[str]:
        return [h.strip() for h in self.cassandra_hosts.split(",") if h.strip()]


class DataSettings(ConnectionSettings):
    """How data is laid out on any deployment: replication, partitions, retention."""

    replication_factor: int = Field(1, ge=1, description="Cassandra keyspace and Kafka topics")
    topic_partitions: int = Field(6, ge=1, description="partitions of the keyed event topics")
    event_retention_ms: int = Field(-1, ge=-1, description="batch, authority events; -1: forever")
    scan_retention_ms: int = Field(30 * 86_400_000, ge=-1)
    alert_retention_ms: int = Field(365 * 86_400_000, ge=-1)
    dead_letter_retention_ms: int = Field(90 * 86_400_000, ge=-1)
    log_retention_ms: int = Field(
        -1, ge=-1, description="the audit log's sequencer; the log writer must have read it"
    )

    @property
    def min_insync_replicas(self) -> int:
        """Replicas that must have a message before acks=all answers: 2 of 3 lets one broker
        be down and still never acknowledges a message only one broker holds."""
        return 2 if self.replication_factor >= 3 else 1


class StackSettings(DataSettings):
    """The local stack that infra/ starts: nodes, ports, heaps, state folder.

    ``for_node(i)`` gives the settings of one node (its address, names and JMX port); the
    stack's own settings describe node 0.
    """

    state_dir: Path = PROJECT_ROOT / ".state"
    nodes: int = Field(
        1, ge=1, le=9, description="Kafka nodes and Cassandra nodes, as many of each"
    )
    first_address: str = Field(
        "127.0.0.1", description="node k listens on this address + k - 1 (127/8 is all loopback)"
    )
    node_index: int = Field(0, ge=0, description="which node these settings describe (0-based)")
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    cassandra_storage_port: int = 7000
    cassandra_jmx_port: int = Field(
        7199, description="node k's JMX port is this + k - 1 (JMX listens on 127.0.0.1 only)"
    )
    cassandra_heap: str = "512m"
    start_timeout_s: float = 120.0
    stop_timeout_s: float = 45.0

    @model_validator(mode="before")
    @classmethod
    def _derive_from_nodes(cls, data: Any) -> Any:
        """What the node count implies, unless it is set: every node in the client lists,
        and three replicas (or as many as there are nodes)."""
        if not isinstance(data, dict):
            return data
        try:
            nodes = int(data.get("nodes", 1))
            addresses = node_addresses(str(data.get("first_address", "127.0.0.1")), nodes)
            port = int(data.get("kafka_port", 9092))
        except ValueError:
            return data  # the fields' own validation names what is wrong
        data.setdefault("kafka_bootstrap", ",".join(f"{a}:{port}" for a in addresses))
        data.setdefault("cassandra_hosts", ",".join(addresses))
        data.setdefault("replication_factor", min(nodes, 3))
        return data

    @property
    def addresses(self) -> list[str]:
        return node_addresses(self.first_address, self.nodes)

    @property
    def address(self) -> str:
        """This node's address."""
        return self.addresses[self.node_index]

    @property
    def jmx_port(self) -> int:
        """This Cassandra node's JMX port (nodetool's)."""
        return self.cassandra_jmx_port + self.node_index

    def for_node(self, index: int) -> StackSettings:
        if not 0 <= index < self.nodes:
            raise ValueError(f"node {index} of a stack of {self.nodes}")
        return self.model_copy(update={"node_index": index})

    def node_name(self, kind: str) -> str:
        """The kind on a single node (its files keep their names), "kafka-2" in a cluster."""
        return kind if self.nodes == 1 else f"{kind}-{self.node_index + 1}"

    def server_log_dir(self, kind: str) -> Path:
        return self.log_dir if self.nodes == 1 else self.log_dir / self.node_name(kind)

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"


def node_addresses(first: str, nodes: int) -> list[str]:
    """127.0.0.1, 127.0.0.2, … : consecutive IPv4 addresses from the first."""
    start = ipaddress.IPv4Address(first)
    return [str(start + k) for k in range(nodes)]
