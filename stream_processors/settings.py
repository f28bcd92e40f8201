"""The processors' settings (environment, prefix OCOP_). There is no default trust root and
no default seal passphrase: a worker without them refuses to start instead of accepting
events it cannot check."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr

from contract import topics
from infra.settings import PROJECT_ROOT, ConnectionSettings
from stream_processors.detect import Thresholds


class ProcessorSettings(ConnectionSettings):
    """Thresholds of counterfeit analytics are here too; their reasons are in detect.py."""

    app_id: str = Field("ocop-processors", description="Kafka consumer group and Faust app id")
    root_key: str = Field(description="the national office's root public key (base64url)")
    seal_keystore: Path = PROJECT_ROOT / ".state" / "processor-keys"
    seal_key_id: str | None = Field(None, description="default: the keystore's only key")
    seal_passphrase: SecretStr
    batch_topic: str = topics.BATCH_EVENTS
    authority_topic: str = topics.AUTHORITY_EVENTS
    trust_topic: str = topics.TRUST_LISTS
    scan_topic: str = topics.SCAN_EVENTS
    dead_letter_topic: str = topics.DEAD_LETTER
    alert_topic: str = topics.ALERTS
    log_topic: str = Field(topics.AUDIT_LEAVES, description="the audit log's sequencer")
    max_speed_kmh: float = Field(250.0, gt=0, description="faster than this between scans: copy")
    travel_window_h: float = Field(72.0, gt=0, description="scans compared for travel")
    max_devices: int = Field(
        5, ge=1, description="more independent clients (source networks) than this: copy"
    )
    device_window_days: float = Field(30.0, gt=0)
    delivery_km: float = Field(150.0, ge=0, description="scan this far from delivery: alert")
    min_clients: int = Field(
        3,
        ge=2,
        description="independent clients a copy finding must rest on, besides surviving the "
        "loss of any one of them, before consumers are warned: one client is one word, two "
        "are one word against another, three is the fewest no single liar can make",
    )
    count_window_h: float = Field(
        1.0,
        ge=0,
        description="a client's consumer scans of a unit count once per this window in the "
        "totals shown to everyone, so reloads cannot inflate them (0: every scan counts)",
    )
    session_timeout_s: float = Field(
        10.0,
        ge=6.0,
        description="how soon the group gives a dead worker's partitions to another "
        "(Faust's default is 60 s; shorter means faster failover, longer tolerates pauses)",
    )
    replication_factor: int = Field(
        1,
        ge=1,
        description="of the topics Faust creates (its tables' changelogs); the same setting "
        "(OCOP_REPLICATION_FACTOR) as the stack's topics, 3 on a cluster: a changelog with one "
        "replica is lost with its broker, and refused writes where min.insync.replicas is 2",
    )
    web_port: int = Field(6066, description="the worker's HTTP port: /metrics")
    data_dir: Path = PROJECT_ROOT / ".state" / "faust"
    processor_name: str = Field(default_factory=socket.gethostname)

    def thresholds(self) -> Thresholds:
        return Thresholds(
            max_speed_kmh=self.max_speed_kmh,
            travel_window=timedelta(hours=self.travel_window_h),
            max_devices=self.max_devices,
            device_window=timedelta(days=self.device_window_days),
            delivery_km=self.delivery_km,
            min_clients=self.min_clients,
            count_window=timedelta(hours=self.count_window_h),
        )
