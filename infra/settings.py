"""Where the servers are and how the local stack is sized.

Every value can be set through the environment (prefix ``OCOP_``), so the same code runs
against the local single-node stack, the compose deployment and a real cluster.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConnectionSettings(BaseSettings):
    """How services reach Kafka and Cassandra: the only settings every service shares."""

    model_config = SettingsConfigDict(env_prefix="OCOP_", frozen=True)

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="host:port[,host:port…]")
    cassandra_hosts: str = Field("127.0.0.1", description="comma-separated contact points")
    cassandra_port: int = 9042
    keyspace: str = Field("ocop", pattern=r"^[a-z][a-z0-9_]{0,47}$")

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


class StackSettings(DataSettings):
    """The local stack that infra/ starts: ports, heaps, state folder."""

    state_dir: Path = PROJECT_ROOT / ".state"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    cassandra_storage_port: int = 7000
    cassandra_jmx_port: int = 7199
    cassandra_heap: str = "512m"
    start_timeout_s: float = 120.0
    stop_timeout_s: float = 45.0

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"
