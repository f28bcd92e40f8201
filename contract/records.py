"""What the processors store and publish about events: chain records and dead letters.

A batch's accepted events form a hash chain. Record n carries the hash of record n-1, and
its own hash covers the batch, its position, that previous hash and the exact bytes of the
producer-signed event, so no record can be changed, dropped, reordered or inserted without
breaking every hash after it. A processor seals each record hash with its Ed25519 key.
Anyone holding the records and the sealing key can re-verify a chain (keys.chain).

A dead letter is an event a processor refused, with the reason, so nothing is ever dropped
silently; an operator can read, fix and replay it.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.encoding import canonical_bytes, sha256_hex
from contract.fields import UtcDateTime

RECORD_TAG = "OCOP-RECORD-v1"
SEAL_TAG = "OCOP-SEAL-v1"
GENESIS_HASH = bytes(32)
"""The "previous hash" of a batch's first record."""


def record_hash(batch_id: str, seq: int, prev_hash: bytes, event: bytes) -> bytes:
    """The hash of record `seq` of a batch; `event` is the signed event's canonical bytes."""
    if seq < 1:
        raise ValueError("records are numbered from 1")
    if len(prev_hash) != 32:
        raise ValueError("a previous hash is 32 bytes")
    return hashlib.sha256(
        canonical_bytes([RECORD_TAG, batch_id, seq, prev_hash.hex(), sha256_hex(event)])
    ).digest()


def seal_bytes(record_hash: bytes) -> bytes:
    """What a processor signs to seal a record: tagged so a seal is no other signature."""
    return canonical_bytes([SEAL_TAG, record_hash.hex()])


class DeadLetter(BaseModel):
    """A refused message, kept whole: its bytes, where it came from and why it was refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["dead_letter"] = "dead_letter"
    reason: Annotated[str, Field(min_length=1, max_length=64)]
    """A machine-readable code: a contract.verdict.Reason value or a processor rule."""
    detail: Annotated[str, Field(max_length=2000)]
    topic: str
    partition: int
    offset: int
    key: str | None
    """The original key as text (keys are UTF-8 identifiers), None if there was none."""
    value: str
    """The original value, base64url without padding: it may not even be text."""
    refused_at: UtcDateTime
    processor: str
