"""The status list's service side: its tables, and building one from the records.

The format, its signature and its checks are keys.status (what offline verifiers import);
this module is what the log writer (auditlog.writer, which holds the log's key) and the batch
processors use: infra/migrations/0016_recalls.cql's `recalls` and `log_status_lists`.

What a status list is built from, with every read bounded:

- every product's stars and status: `registry_products` read once, page by page (its size
  is the number of registered products, some tens of thousands; one read every
  OCOP_LOG_STATUS_INTERVAL_S, not per request). The status is records.registry.status_at,
  the registry's own rule, at the list's issue time;
- recalled batches: the one `recalls` partition, written by the batch processors when a
  `batch_recalled` record is stored (stream_processors.ingest), so no product's batches are
  read;
- revoked keys: the newest trust list the writer holds (none held: none listed, and the
  list says which trust list version it used).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from cassandra.cluster import Session
from cassandra.query import PreparedStatement, SimpleStatement

from keys.status import (
    ProductStatus,
    RecalledBatch,
    RevokedKey,
    StatusListBody,
)
from keys.trustlist import TrustList
from records.registry import status_at
from records.rows import BatchState
from records.session import run

log = logging.getLogger(__name__)

RECALL_SCOPE = "all"
PRODUCTS_PAGE = 1_000


class RecallRows:
    """The `recalls` table: written by the batch processors, read by the status list."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._write: PreparedStatement | None = None
        self._read: PreparedStatement | None = None

    async def write_recall(self, state: BatchState) -> None:
        if self._write is None:
            self._write = self.session.prepare(
                "INSERT INTO recalls (scope, batch_id, product_key, recalled_at, reason)"
                " VALUES (?, ?, ?, ?, ?)"
            )
        await run(
            self.session,
            self._write,
            (RECALL_SCOPE, state.batch_id, state.product_key, state.recalled_at,
             state.recall_reason),
        )  # fmt: skip

    async def recalls(self) -> list[RecalledBatch]:
        if self._read is None:
            self._read = self.session.prepare(
                "SELECT batch_id, product_key, recalled_at, reason FROM recalls WHERE scope = ?"
            )
        rows = await run(self.session, self._read, (RECALL_SCOPE,))
        return [
            RecalledBatch(
                batch_id=row.batch_id,
                product_key=row.product_key,
                recalled_at=_utc(row.recalled_at),
                reason=row.reason,
            )
            for row in rows
        ]


def recall_rows_of(store: object) -> RecallRows | None:
    """The recall table over a records store's Cassandra session; None for a store without
    one (the unit tests' fakes)."""
    session = getattr(store, "session", None)
    return RecallRows(session) if isinstance(session, Session) else None


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


class StatusTables(RecallRows):
    """What the log writer reads to build a status list, and where it keeps the signed ones."""

    def __init__(self, session: Session, origin: str) -> None:
        super().__init__(session)
        self.origin = origin
        p = session.prepare
        self._store = p(
            "INSERT INTO log_status_lists (log, issued_at, expires_at, note) VALUES (?, ?, ?, ?)"
        )
        self._latest = p("SELECT issued_at, note FROM log_status_lists WHERE log = ? LIMIT 1")

    async def products(self, now: datetime) -> list[ProductStatus]:
        statement = SimpleStatement(
            "SELECT product_key, producer_id, stars, certificate_no, valid_from, valid_until,"
            " revoked_at FROM registry_products",
            fetch_size=PRODUCTS_PAGE,
        )
        rows: list[Any] = await run(self.session, statement)
        out = []
        for row in rows:
            valid_from, valid_until, revoked_at = (
                _utc(row.valid_from), _utc(row.valid_until), _utc(row.revoked_at)
            )  # fmt: skip
            if valid_from is None or valid_until is None or revoked_at is None:
                continue  # a row the registry processor has not finished writing
            stars = row.stars or 0
            status = status_at(stars, valid_from, valid_until, revoked_at, now)
            out.append(
                ProductStatus(
                    product_key=row.product_key,
                    producer_id=row.producer_id or "",
                    stars=stars,
                    status=status,
                    certificate_no=row.certificate_no,
                    valid_until=valid_until if stars else None,
                )
            )
        return sorted(out, key=lambda p: p.product_key)

    async def store_status_list(self, body: StatusListBody, note: str) -> None:
        await run(self.session, self._store, (self.origin, body.issued_at, body.expires_at, note))

    async def latest_status_list(self) -> str | None:
        rows = await run(self.session, self._latest, (self.origin,))
        return rows[0].note if rows else None


def revoked_keys(trust: TrustList | None) -> tuple[RevokedKey, ...]:
    if trust is None:
        return ()
    return tuple(
        RevokedKey(
            key_id=item.body.key_id,
            reason=str(item.body.reason),
            effective_at=item.body.effective_at,
        )
        for item in sorted(trust.body.key_revocations, key=lambda r: r.body.key_id)
    )


def status_body(
    *,
    origin: str,
    now: datetime,
    validity: timedelta,
    products: list[ProductStatus],
    recalls: list[RecalledBatch],
    trust: TrustList | None,
) -> StatusListBody:
    return StatusListBody(
        origin=origin,
        issued_at=now,
        expires_at=now + validity,
        trust_list_version=trust.version if trust else None,
        products=tuple(products),
        revoked_keys=revoked_keys(trust),
        recalled_batches=tuple(sorted(recalls, key=lambda r: r.batch_id)),
    )


async def build_status_list(
    tables: StatusTables, *, now: datetime, validity: timedelta, trust: TrustList | None
) -> StatusListBody:
    return status_body(
        origin=tables.origin,
        now=now,
        validity=validity,
        products=await tables.products(now),
        recalls=await tables.recalls(),
        trust=trust,
    )
