"""What every event has (contract.events, contract.evaluation): a unique `event_id` the
sender chooses once and keeps on retries, `occurred_at` in UTC, a content hash without the
event id (the same fact captured twice has one hash) and a Kafka key. A module of its own so
that the evaluation cycle's events (contract.evaluation) and the others (contract.events)
share it while contract.events names them all in one union."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict

from contract.encoding import canonical_bytes, sha256_hex
from contract.fields import UtcDateTime


class EventBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    occurred_at: UtcDateTime

    def content_hash(self) -> str:
        fields = self.model_dump(mode="json", exclude={"event_id"})
        return sha256_hex(canonical_bytes(fields))

    def topic_key(self) -> bytes:
        raise NotImplementedError
