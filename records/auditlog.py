"""The audit log's tables (infra/migrations/0015_audit_log.cql): `AuditLogReader` answers the
API's reads (checkpoints, tiles, entry bundles, where a fact's leaf is), `AuditLogStore`
adds the log writer's writes and the one write the API makes: a witness's cosignature, once
the API verified it.

Rows are built by column name; bytes stay bytes. Every row belongs to one log (its origin).
Each read is one partition, as everywhere else in records/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cassandra.cluster import Session
from cassandra.query import UNSET_VALUE

from keys.chain import ChainRecord
from records.session import run


@dataclass(frozen=True)
class LogHead:
    """The committed tree: `size` leaves with `root`, built from the sequencer's messages
    before `next_offset`."""

    size: int
    root: bytes
    next_offset: int


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    note: str
    signed_at: datetime
    oldest_leaf_at: datetime | None


@dataclass(frozen=True)
class StoredCosignature:
    size: int
    witness: str
    key_id: bytes
    signature: bytes


class AuditLogReader:
    def __init__(self, session: Session, log: str) -> None:
        self.session = session
        self.log = log
        p = session.prepare
        self._head = p("SELECT size, root, next_offset FROM log_head WHERE log = ?")
        self._tile = p("SELECT hashes FROM log_tiles WHERE log = ? AND level = ? AND idx = ?")
        self._bundle = p("SELECT width, bundle FROM log_entry_bundles WHERE log = ? AND idx = ?")
        self._leaf_id = p("SELECT idx FROM log_leaf_ids WHERE log = ? AND leaf_id = ?")
        self._subject = p("SELECT idx FROM log_subjects WHERE log = ? AND subject = ?")
        self._latest = p(
            "SELECT size, note, signed_at, oldest_leaf_at FROM log_checkpoints "
            "WHERE log = ? LIMIT ?"
        )
        self._checkpoint = p(
            "SELECT size, note, signed_at, oldest_leaf_at FROM log_checkpoints "
            "WHERE log = ? AND size = ?"
        )
        self._cosignatures = p(
            "SELECT size, witness, key_id, signature FROM log_cosignatures "
            "WHERE log = ? AND size = ?"
        )
        self._cosigned = p(
            "SELECT size, witness, key_id, signature FROM log_cosignatures WHERE log = ? LIMIT ?"
        )
        self._record = p(
            "SELECT batch_id, seq, event_type, event, prev_hash, record_hash, seal, sealed_by "
            "FROM batch_records WHERE batch_id = ? AND seq = ?"
        )

    async def head(self) -> LogHead | None:
        rows = await run(self.session, self._head, (self.log,))
        if not rows or rows[0].size is None:
            return None
        row = rows[0]
        return LogHead(size=row.size, root=row.root, next_offset=row.next_offset)

    async def tile(self, level: int, index: int) -> bytes | None:
        """The tile's hashes as stored (a partial tile may hold more than a checkpoint's)."""
        rows = await run(self.session, self._tile, (self.log, level, index))
        return bytes(rows[0].hashes) if rows else None

    async def tiles(self, ids: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        wanted = list(ids)
        found = await asyncio.gather(*(self.tile(level, index) for level, index in wanted))
        return {key: data for key, data in zip(wanted, found, strict=True) if data is not None}

    async def bundle(self, index: int) -> tuple[int, bytes] | None:
        """(width, encoded entries) of entry bundle `index` as stored."""
        rows = await run(self.session, self._bundle, (self.log, index))
        return (rows[0].width, bytes(rows[0].bundle)) if rows else None

    async def leaf_index(self, leaf_id: bytes) -> int | None:
        rows = await run(self.session, self._leaf_id, (self.log, leaf_id))
        return rows[0].idx if rows else None

    async def leaf_indexes(self, leaf_ids: Iterable[bytes]) -> dict[bytes, int]:
        wanted = list(leaf_ids)
        found = await asyncio.gather(*(self.leaf_index(leaf) for leaf in wanted))
        return {leaf: idx for leaf, idx in zip(wanted, found, strict=True) if idx is not None}

    async def subject_index(self, subject: str) -> int | None:
        rows = await run(self.session, self._subject, (self.log, subject))
        return rows[0].idx if rows else None

    async def latest_checkpoints(self, limit: int = 1) -> list[StoredCheckpoint]:
        rows = await run(self.session, self._latest, (self.log, limit))
        return [_checkpoint(row) for row in rows]

    async def checkpoint(self, size: int) -> StoredCheckpoint | None:
        rows = await run(self.session, self._checkpoint, (self.log, size))
        return _checkpoint(rows[0]) if rows else None

    async def cosignatures(self, size: int) -> list[StoredCosignature]:
        rows = await run(self.session, self._cosignatures, (self.log, size))
        return [_cosignature(row) for row in rows]

    async def recent_cosignatures(self, limit: int = 100) -> list[StoredCosignature]:
        """The newest cosignatures, newest checkpoint size first."""
        rows = await run(self.session, self._cosigned, (self.log, limit))
        return [_cosignature(row) for row in rows]

    async def chain_record(self, batch_id: str, seq: int) -> tuple[ChainRecord, str] | None:
        """A batch's record `seq` and its event type (what its leaf is built from)."""
        rows = await run(self.session, self._record, (batch_id, seq))
        if not rows or rows[0].record_hash is None:
            return None
        r = rows[0]
        record = ChainRecord(
            r.batch_id, r.seq, r.event, r.prev_hash, r.record_hash, r.seal, r.sealed_by
        )
        return record, r.event_type


def _checkpoint(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(
        size=row.size, note=row.note, signed_at=row.signed_at, oldest_leaf_at=row.oldest_leaf_at
    )


def _cosignature(row: Any) -> StoredCosignature:
    return StoredCosignature(
        size=row.size, witness=row.witness, key_id=bytes(row.key_id), signature=bytes(row.signature)
    )


class HeadFenced(Exception):
    """The log's head is not at the size this writer read: another writer moved it."""


class AuditLogStore(AuditLogReader):
    """The log writer's writes (and the API's cosignatures). Deterministic keys: a step
    replayed after a crash rewrites the same rows with the same values."""

    def __init__(self, session: Session, log: str) -> None:
        super().__init__(session, log)
        p = session.prepare
        self._write_tile = p("INSERT INTO log_tiles (log, level, idx, hashes) VALUES (?, ?, ?, ?)")
        self._write_bundle = p(
            "INSERT INTO log_entry_bundles (log, idx, width, bundle) VALUES (?, ?, ?, ?)"
        )
        self._write_leaf_id = p("INSERT INTO log_leaf_ids (log, leaf_id, idx) VALUES (?, ?, ?)")
        self._write_subject = p("INSERT INTO log_subjects (log, subject, idx) VALUES (?, ?, ?)")
        self._first_head = p(
            "INSERT INTO log_head (log, size, root, next_offset, updated_at) "
            "VALUES (?, ?, ?, ?, ?) IF NOT EXISTS"
        )
        self._move_head = p(
            "UPDATE log_head SET size = ?, root = ?, next_offset = ?, updated_at = ? "
            "WHERE log = ? IF size = ?"
        )
        self._write_checkpoint = p(
            "INSERT INTO log_checkpoints (log, size, note, signed_at, oldest_leaf_at) "
            "VALUES (?, ?, ?, ?, ?)"
        )
        self._write_cosignature = p(
            "INSERT INTO log_cosignatures (log, size, witness, key_id, signature, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )

    async def write_step(
        self,
        tiles: Mapping[tuple[int, int], bytes],
        bundles: Mapping[int, tuple[int, bytes]],
        leaf_ids: Mapping[bytes, int],
        subjects: Mapping[str, int],
    ) -> None:
        """Everything a step appends, all at once; none of it counts until `move_head`."""
        log = self.log
        rows: list[tuple[Any, tuple[Any, ...]]] = [
            *((self._write_tile, (log, level, idx, data)) for (level, idx), data in tiles.items()),
            *(
                (self._write_bundle, (log, idx, width, data))
                for idx, (width, data) in bundles.items()
            ),
            *((self._write_leaf_id, (log, leaf, idx)) for leaf, idx in leaf_ids.items()),
            *((self._write_subject, (log, subject, idx)) for subject, idx in subjects.items()),
        ]
        gate = asyncio.Semaphore(128)

        async def one(statement: Any, params: tuple[Any, ...]) -> None:
            async with gate:
                await run(self.session, statement, params)

        await asyncio.gather(*(one(statement, params) for statement, params in rows))

    async def move_head(self, expected_size: int | None, head: LogHead) -> None:
        """Commit the tree at `head`, if the stored size is still `expected_size` (None: no
        head yet); raises HeadFenced otherwise."""
        now = datetime.now(UTC)
        if expected_size is None:
            params: tuple[object, ...] = (
                self.log, head.size, head.root, head.next_offset, now,
            )  # fmt: skip
            [result] = await run(self.session, self._first_head, params)
        else:
            params = (head.size, head.root, head.next_offset, now, self.log, expected_size)
            [result] = await run(self.session, self._move_head, params)
        if not result.applied:
            found = getattr(result, "size", None)
            raise HeadFenced(
                f"log {self.log}: the head was expected at size {expected_size}, found {found}"
            )

    async def store_checkpoint(
        self, size: int, note: str, signed_at: datetime, oldest_leaf_at: datetime | None
    ) -> None:
        oldest = UNSET_VALUE if oldest_leaf_at is None else oldest_leaf_at
        params = (self.log, size, note, signed_at, oldest)
        await run(self.session, self._write_checkpoint, params)

    async def store_cosignature(self, cosignature: StoredCosignature) -> None:
        c = cosignature
        params = (self.log, c.size, c.witness, c.key_id, c.signature, datetime.now(UTC))
        await run(self.session, self._write_cosignature, params)
