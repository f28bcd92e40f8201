"""Re-verifying a batch's hash chain, as stored by the processors and served by the API.

The steps are numbered as they run. Each failure names the first record that is wrong and
why; a chain is accepted only when every record links, hashes and is sealed correctly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract.records import GENESIS_HASH, record_hash, seal_bytes
from keys.errors import SignatureInvalid
from keys.signing import SigningKey, verify_bytes


@dataclass(frozen=True)
class ChainRecord:
    """One stored record, as the processors write it and the API serves it."""

    batch_id: str
    seq: int
    event: bytes
    prev_hash: bytes
    record_hash: bytes
    seal: bytes
    sealed_by: str


def seal(key: SigningKey, hash_of_record: bytes) -> bytes:
    """A processor's seal over a record hash (contract.records.seal_bytes)."""
    return key.private_key.sign(seal_bytes(hash_of_record))


class ChainDefect(StrEnum):
    EMPTY = "empty"
    WRONG_BATCH = "wrong_batch"
    GAP = "gap"
    BROKEN_LINK = "broken_link"
    BAD_HASH = "bad_hash"
    UNKNOWN_SEAL_KEY = "unknown_seal_key"
    BAD_SEAL = "bad_seal"
    NOT_AT_HEAD = "not_at_head"


@dataclass(frozen=True)
class ChainVerification:
    defect: ChainDefect | None
    detail: str
    verified: int
    """How many records from the first one verified before the defect (all, if none)."""

    @property
    def ok(self) -> bool:
        return self.defect is None


def verify_chain(
    batch_id: str,
    records: Sequence[ChainRecord],
    seal_keys: Mapping[str, Ed25519PublicKey],
    *,
    head: tuple[int, bytes] | None = None,
) -> ChainVerification:
    """Checks records 1..n of one batch, in order; `head` is the (seq, hash) the store claims."""
    if not records:
        return ChainVerification(ChainDefect.EMPTY, f"batch {batch_id} has no records", 0)
    prev = GENESIS_HASH
    for count, record in enumerate(records):
        expected_seq = count + 1
        # 1. The record belongs to this batch and comes next.
        if record.batch_id != batch_id:
            detail = f"record {record.seq} belongs to batch {record.batch_id}"
            return ChainVerification(ChainDefect.WRONG_BATCH, detail, count)
        if record.seq != expected_seq:
            detail = f"expected record {expected_seq}, found {record.seq}"
            return ChainVerification(ChainDefect.GAP, detail, count)
        # 2. It names the previous record's hash.
        if record.prev_hash != prev:
            detail = f"record {record.seq} does not link to record {record.seq - 1}"
            return ChainVerification(ChainDefect.BROKEN_LINK, detail, count)
        # 3. Its hash covers exactly its batch, position, link and event bytes.
        if record.record_hash != record_hash(batch_id, record.seq, prev, record.event):
            detail = f"record {record.seq}: hash does not match its contents"
            return ChainVerification(ChainDefect.BAD_HASH, detail, count)
        # 4. A known processor key sealed that hash.
        key = seal_keys.get(record.sealed_by)
        if key is None:
            detail = f"record {record.seq} is sealed by unknown key {record.sealed_by}"
            return ChainVerification(ChainDefect.UNKNOWN_SEAL_KEY, detail, count)
        try:
            verify_bytes(key, record.seal, seal_bytes(record.record_hash))
        except SignatureInvalid:
            detail = f"record {record.seq}: the seal does not verify"
            return ChainVerification(ChainDefect.BAD_SEAL, detail, count)
        prev = record.record_hash
    # 5. The last record is the head the store claims (nothing was cut off the end).
    last = records[-1]
    if head is not None and head != (last.seq, last.record_hash):
        detail = f"the chain ends at record {last.seq} but the head is record {head[0]}"
        return ChainVerification(ChainDefect.NOT_AT_HEAD, detail, len(records))
    return ChainVerification(None, f"{len(records)} records verify", len(records))
