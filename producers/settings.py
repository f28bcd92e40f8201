"""The packing station's settings: environment variables with the prefix OCOP_.

The station shares Kafka's address with every service (infra.settings.ConnectionSettings)
and the state folder with the stack and ocop-keys (OCOP_STATE_DIR): its keystore is
<state>/keystore and its journal <state>/station/<station id>/journal.sqlite3 by default.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from contract import topics
from infra.settings import PROJECT_ROOT, ConnectionSettings


class StationSettings(ConnectionSettings):
    station_id: str = Field("station-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    state_dir: Path = PROJECT_ROOT / ".state"
    station_dir: Path | None = Field(
        None, description="the journal's folder; default <state_dir>/station/<station_id>"
    )
    keystore_dir: Path | None = Field(None, description="default <state_dir>/keystore")
    station_key: str | None = Field(
        None, description="key id of the producer key to sign with; default: the only one held"
    )
    trust_list: Path | None = Field(None, description="default <state_dir>/trust-list.json")
    root_key: str | None = Field(
        None, description="the pinned root public key, or a file holding it (as ocop-verify)"
    )
    resolver_host: str = Field("ocop.vn", description="host of the label URLs (the resolver)")
    batch_topic: str = topics.BATCH_EVENTS
    pack_event_units: int = Field(
        250, ge=1, le=10_000, description="packed units per UnitsPacked event"
    )
    spare_labels_percent: int = Field(
        10, ge=0, le=100, description="labels that may be printed beyond the planned quantity"
    )
    kafka_linger_ms: int = Field(5, ge=0)
    kafka_delivery_timeout_ms: int = Field(
        120_000, ge=15_000, description="how long the producer retries one send itself"
    )
    sender_window: int = Field(2_000, ge=1, description="outbox rows handed to Kafka at once")

    @property
    def journal_path(self) -> Path:
        folder = self.station_dir or self.state_dir / "station" / self.station_id
        return folder / "journal.sqlite3"

    @property
    def keystore_path(self) -> Path:
        return self.keystore_dir or self.state_dir / "keystore"

    @property
    def trust_list_path(self) -> Path:
        return self.trust_list or self.state_dir / "trust-list.json"

    @property
    def root_key_source(self) -> str:
        return self.root_key or str(self.state_dir / "trust" / "root.pub")
