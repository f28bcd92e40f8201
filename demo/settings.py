"""The main job's settings (OCOP_* variables), on top of the local stack's."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from contract import topics
from infra.settings import StackSettings


class DemoSettings(StackSettings):
    demo_dir: Path | None = Field(None, description="keys, labels, stations; <state>/demo")
    services_dir: Path | None = Field(
        None, description="pid files and logs of the services; default: the state folder"
    )
    api_port: int = 8000
    worker_port: int = 6066
    app_id: str = "ocop-processors"
    resolver_host: str = Field("ocop.vn", description="the host printed in the labels' QR")
    batch_topic: str = topics.BATCH_EVENTS
    authority_topic: str = topics.AUTHORITY_EVENTS
    trust_topic: str = topics.TRUST_LISTS
    scan_topic: str = topics.SCAN_EVENTS
    alert_topic: str = topics.ALERTS
    dead_letter_topic: str = topics.DEAD_LETTER
    log_topic: str = Field(topics.AUDIT_LEAVES, description="the audit log's sequencer")
    log_group: str = Field("ocop-log", description="the log writer's Kafka group")

    def topic_env(self) -> dict[str, str]:
        """The topic names as the services read them (OCOP_*_TOPIC)."""
        names = ("batch", "authority", "trust", "scan", "alert", "dead_letter", "log")
        return {f"OCOP_{n.upper()}_TOPIC": getattr(self, f"{n}_topic") for n in names}

    @property
    def folder(self) -> Path:
        return self.demo_dir or self.state_dir / "demo"

    @property
    def services_folder(self) -> Path:
        return self.services_dir or self.state_dir

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"
