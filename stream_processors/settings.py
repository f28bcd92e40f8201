"""The processors' settings (environment, prefix OCOP_). There is no default trust root and
no default seal passphrase: a worker without them refuses to start instead of accepting
events it cannot check."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, SecretStr

from contract import topics
from infra.settings import PROJECT_ROOT, ConnectionSettings


class ProcessorSettings(ConnectionSettings):
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
    session_timeout_s: float = Field(
        10.0,
        ge=6.0,
        description="how soon the group gives a dead worker's partitions to another "
        "(Faust's default is 60 s; shorter means faster failover, longer tolerates pauses)",
    )
    web_port: int = Field(6066, description="the worker's HTTP port: /ocop/metrics")
    data_dir: Path = PROJECT_ROOT / ".state" / "faust"
    processor_name: str = Field(default_factory=socket.gethostname)
