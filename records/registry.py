"""The public registry's table (infra/migrations/0008_registry.cql): `RegistryReader` answers
the verify API's searches and product pages, `RegistryWriter` adds the processors' writes.

One row per product: its registration, its producer's name and address (copied), and the
recognition that decides its status, with its words and places folded by contract.search.
How every query is bounded (none reads the table whole; none uses ALLOW FILTERING):

- `product`: one partition, by product key.
- `search`: at least one restriction on an indexed column, always: the product key (a
  GTIN), or a Storage-Attached Index (SAI): a word of the name, of the producer, a
  certificate number, a commune, a province, stars, a group, or a status (ranges on three
  indexed timestamps). Cassandra intersects the indexes and reads only matching rows, at
  most `limit + 1` of them (LIMIT), from where the previous page ended (keyset paging on
  the partition token, the order SAI returns rows in). A query with no term is refused
  before it is built (contract.search.RegistryQuery.empty).
- `products_of`: the rows of one producer, by the SAI index on producer_id (the processors,
  when a producer's registration changes: as many rows as it has products).
- `batches`: one partition of `registry_batches` (migration 0010), a product's newest
  batches first, `BATCHES_SHOWN` at most; the batch processors write a batch's row after
  each of its records (`write_batch`).

The statuses are computed from the stored columns at the time of the question (expiry
needs no event): `status_at` for a row, `STATUS_CONDITIONS` for a search, side by side so
they cannot disagree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cassandra.cluster import Session
from cassandra.query import PreparedStatement

from contract import identifiers, search
from contract.certification import CertificationStatus, certification_state
from contract.identifiers import KeyScheme
from contract.search import EXPIRING_WITHIN, RegistryQuery, RegistryStatus
from records.rows import BatchState, Producer, Product, StoredCertification
from records.session import run, run_many

FAR = datetime(9999, 12, 31, tzinfo=UTC)
"""A time that does not apply (never certified, never revoked): an index finds no null."""
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class RegistryRow:
    """A product as the registry shows it (`stars` 0: never certified to its producer)."""

    product_key: str
    gtin: str | None
    name: str
    name_en: str | None
    product_group: str
    description: str | None
    producer_id: str
    authority_id: str
    registered_at: datetime
    producer_name: str | None
    producer_kind: str | None
    address: str | None
    commune: str | None
    district: str | None
    province: str | None
    stars: int
    certificate_no: str | None
    level: str | None
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime

    def status_at(self, now: datetime) -> CertificationStatus:
        return status_at(self.stars, self.valid_from, self.valid_until, self.revoked_at, now)

    def expiring_at(self, now: datetime) -> bool:
        return (
            self.status_at(now) is CertificationStatus.IN_FORCE
            and self.valid_until <= now + EXPIRING_WITHIN
        )

    def product(self) -> Product:
        """The product's registration, as records.rows has it."""
        return Product(
            product_key=self.product_key,
            producer_id=self.producer_id,
            name=self.name,
            name_en=self.name_en,
            product_group=self.product_group,
            description=self.description,
            image_url=None,
            authority_id=self.authority_id,
            registered_at=self.registered_at,
        )

    def producer(self) -> Producer | None:
        """The producer's registration as copied here; None until it has been. (Its authority
        and time are the product's: the registry does not copy the producer's.)"""
        if self.producer_name is None:
            return None
        return Producer(
            producer_id=self.producer_id,
            name=self.producer_name,
            kind=self.producer_kind or "",
            address=self.address or "",
            commune=self.commune or "",
            district=self.district or "",
            province=self.province or "",
            gln=None,
            authority_id=self.authority_id,
            registered_at=self.registered_at,
        )


_COLUMNS = tuple(field.name for field in fields(RegistryRow))
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM registry_products"  # noqa: S608 (constants)


def _row(row: Any) -> RegistryRow:
    """By column name, never by position; a row the processors have not finished (no rating
    yet) reads as never certified."""
    values = {name: getattr(row, name) for name in _COLUMNS}
    values["stars"] = values["stars"] or 0
    for name in ("valid_from", "valid_until", "revoked_at"):
        values[name] = values[name] or FAR
    return RegistryRow(**values)


# -- the recognition that decides, and the status it gives at a moment ---------------------------


@dataclass(frozen=True)
class RatingColumns:
    stars: int
    certificate_no: str | None
    level: str | None
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime
    certificates: frozenset[str]


def rating_columns(stored: Sequence[StoredCertification], producer_id: str) -> RatingColumns:
    """What the row stores of a product's certifications (its producer's only, as the
    labels' rating, verify_api.ratings.of_producer): the latest to start decides, as in
    contract.certification.certification_state, so a renewal, up- or downgrade supersedes
    the one before it, and revoking a downgrade does not bring back the stars it replaced.

    Its window starts where a gapless run of certifications into it starts: a renewal issued
    ahead of its start leaves the product in force under the one before it meanwhile. (Until
    the renewal starts, the row shows the renewal's stars: the one fact the list gets wrong
    in that stretch; the product page computes everything from the certifications.)"""
    awards = [s for s in stored if s.certification.producer_id == producer_id]
    keys = frozenset(search.certificate_key(s.certification.certificate_no) for s in awards)
    if not awards:
        return RatingColumns(0, None, None, FAR, FAR, FAR, keys)
    revocations = {
        s.certification.certificate_no: s.revocation for s in awards if s.revocation is not None
    }
    certifications = [s.certification for s in awards]
    latest = max(certifications, key=lambda award: (award.valid_from, award.issued_at))
    start = latest.valid_from
    before = certification_state(certifications, revocations, start - _INSTANT)
    if before.status is CertificationStatus.IN_FORCE and before.certification is not None:
        start = before.certification.valid_from
    revocation = revocations.get(latest.certificate_no)
    return RatingColumns(
        stars=latest.stars,
        certificate_no=latest.certificate_no,
        level=latest.evaluation_level.value,
        valid_from=start,
        valid_until=latest.valid_until,
        revoked_at=revocation.effective_at if revocation is not None else FAR,
        certificates=keys,
    )


def status_at(
    stars: int, valid_from: datetime, valid_until: datetime, revoked_at: datetime, now: datetime
) -> CertificationStatus:
    """A row's status at `now`; `STATUS_CONDITIONS` is the same, as CQL."""
    if not stars:
        return CertificationStatus.NONE
    if revoked_at <= now:
        return CertificationStatus.REVOKED
    if valid_from > now:
        return CertificationStatus.NOT_YET_VALID
    if valid_until <= now:
        return CertificationStatus.EXPIRED
    return CertificationStatus.IN_FORCE


_NOW, _SOON = "now", "soon"
STATUS_CONDITIONS: dict[RegistryStatus, tuple[tuple[str, str | None], ...]] = {
    RegistryStatus.NONE: (("stars = 0", None),),
    RegistryStatus.REVOKED: (("revoked_at <= ?", _NOW),),
    RegistryStatus.IN_FORCE: (
        ("revoked_at > ?", _NOW), ("valid_from <= ?", _NOW), ("valid_until > ?", _NOW),
    ),
    RegistryStatus.EXPIRING: (
        ("revoked_at > ?", _NOW), ("valid_from <= ?", _NOW), ("valid_until > ?", _NOW),
        ("valid_until <= ?", _SOON),
    ),
    RegistryStatus.EXPIRED: (
        ("revoked_at > ?", _NOW), ("valid_from <= ?", _NOW), ("valid_until <= ?", _NOW),
    ),
}  # fmt: skip
"""Each status as conditions on indexed columns, with the moment each is bound to (`now`,
or `soon`: now + 90 days). A never-certified row holds FAR in every window and stars 0, so
only NONE finds it."""


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryBatch:
    """A batch as a product's registry page shows it: its facts and status (records.rows'
    BatchState without the chain), from its latest record."""

    batch_id: str
    lot: str
    production_date: date
    expiry_date: date
    units_packed: int
    status: str
    recalled_at: datetime | None
    recall_reason: str | None

    def in_circulation_on(self, day: date) -> bool:
        """Packed, not recalled, and not past its expiry date: what may be on a shelf."""
        return self.units_packed > 0 and self.recalled_at is None and day <= self.expiry_date


BATCHES_SHOWN = 100
"""A product's newest batches read for its page (one partition, newest production first)."""

_BATCH_COLUMNS = tuple(field.name for field in fields(RegistryBatch))


@dataclass(frozen=True)
class RegistryPage:
    rows: list[RegistryRow]
    after: str | None
    """The product key to continue after (contract.search.encode_page); None: last page."""


_SHAPES_HELD = 512
"""Prepared search statements kept (one per combination of terms and count of words)."""


class RegistryReader:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._product = session.prepare(f"{_SELECT} WHERE product_key = ?")
        self._batches = session.prepare(
            f"SELECT {', '.join(_BATCH_COLUMNS)} FROM registry_batches "  # noqa: S608 (constants)
            "WHERE product_key = ? LIMIT ?"
        )
        self._shapes: dict[str, PreparedStatement] = {}

    async def product(self, product_key: str) -> RegistryRow | None:
        """One partition."""
        rows = await run(self.session, self._product, (product_key,))
        return _row(rows[0]) if rows and rows[0].name is not None else None

    async def batches(self, product_key: str) -> list[RegistryBatch]:
        """The product's newest batches, `BATCHES_SHOWN` at most (one partition)."""
        rows = await run(self.session, self._batches, (product_key, BATCHES_SHOWN))
        return [
            RegistryBatch(**{name: getattr(row, name) for name in _BATCH_COLUMNS}) for row in rows
        ]

    async def search(self, query: RegistryQuery, now: datetime) -> RegistryPage:
        """The rows matching every term of `query` (see the module's docstring for how it
        is bounded), `query.limit` at most, after `query.after`."""
        if query.empty:
            raise ValueError("a registry search needs at least one term")
        if query.nothing:  # a term no product can match
            return RegistryPage([], None)
        cql, params = search_statement(query, now)
        statement = self._shapes.get(cql)
        if statement is None:
            # preparing blocks on a round trip: off the event loop, once per shape
            statement = await asyncio.to_thread(self.session.prepare, cql)
            if len(self._shapes) >= _SHAPES_HELD:
                self._shapes.pop(next(iter(self._shapes)))
            self._shapes[cql] = statement
        found = [_row(row) for row in await run(self.session, statement, params)]
        found = [row for row in found if row.name is not None]
        more = len(found) > query.limit
        rows = found[: query.limit]
        return RegistryPage(rows, rows[-1].product_key if more else None)


def search_statement(query: RegistryQuery, now: datetime) -> tuple[str, list[Any]]:
    """The CQL of a search and its values: every term a condition on the partition key or
    an indexed column (never on anything else: Cassandra would refuse it without ALLOW
    FILTERING, which is never added)."""
    conditions: list[str] = []
    params: list[Any] = []

    def where(condition: str, value: Any) -> None:
        conditions.append(condition)
        params.append(value)

    if query.gtin is not None:
        where("product_key = ?", identifiers.product_key(KeyScheme.GTIN, query.gtin))
    for word in query.name_words:
        where("name_words CONTAINS ?", word)
    for word in query.producer_words:
        where("producer_words CONTAINS ?", word)
    if query.certificate is not None:
        where("certificates CONTAINS ?", query.certificate)
    if query.commune is not None:
        where("commune_key = ?", query.commune)
    if query.province is not None:
        where("province_keys CONTAINS ?", query.province)
    if query.stars is not None:
        where("stars = ?", query.stars)
    if query.group is not None:
        where("product_group = ?", query.group.value)
    if query.status is not None:
        moments = {_NOW: now, _SOON: now + EXPIRING_WITHIN}
        for condition, moment in STATUS_CONDITIONS[query.status]:
            if moment is None:
                conditions.append(condition)
            else:
                where(condition, moments[moment])
    if query.after is not None and query.gtin is None:
        where("token(product_key) > token(?)", query.after)
    params.append(query.limit + 1)
    return f"{_SELECT} WHERE {' AND '.join(conditions)} LIMIT ?", params


# -- writing (processors only) --------------------------------------------------------------------


class RegistryWriter(RegistryReader):
    """The processors' writes (stream_processors.registry). Each is an UPDATE of named columns
    of one row, so the product's, the producer's and the rating's writes never undo each
    other, whatever order they land in."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        p = session.prepare
        self._write_product = p(
            "UPDATE registry_products SET gtin = ?, name = ?, name_en = ?, product_group = ?, "
            "description = ?, producer_id = ?, authority_id = ?, registered_at = ?, "
            "name_words = ?, updated_at = ? WHERE product_key = ?"
        )
        self._write_rating = p(
            "UPDATE registry_products SET stars = ?, certificate_no = ?, level = ?, "
            "valid_from = ?, valid_until = ?, revoked_at = ?, certificates = ?, updated_at = ? "
            "WHERE product_key = ?"
        )
        self._write_producer = p(
            "UPDATE registry_products USING TIMESTAMP ? SET producer_name = ?, "
            "producer_kind = ?, address = ?, commune = ?, district = ?, province = ?, "
            "producer_words = ?, commune_key = ?, province_keys = ? WHERE product_key = ?"
        )
        self._products_of = p(
            "SELECT product_key, registered_at FROM registry_products WHERE producer_id = ?"
        )
        self._write_batch = p(
            "UPDATE registry_batches USING TIMESTAMP ? SET lot = ?, expiry_date = ?, "
            "units_packed = ?, status = ?, recalled_at = ?, recall_reason = ? "
            "WHERE product_key = ? AND production_date = ? AND batch_id = ?"
        )

    async def write_product(self, product: Product, rating: RatingColumns) -> None:
        """The product's own facts, then its rating (both from the records)."""
        scheme, value = identifiers.split_product_key(product.product_key)
        await run(
            self.session,
            self._write_product,
            (
                value if scheme is KeyScheme.GTIN else None,
                product.name,
                product.name_en,
                product.product_group,
                product.description,
                product.producer_id,
                product.authority_id,
                product.registered_at,
                set(search.words(product.name, product.name_en)),
                datetime.now(UTC),
                product.product_key,
            ),
        )
        await self.write_rating(product.product_key, rating)

    async def write_rating(self, product_key: str, rating: RatingColumns) -> None:
        await run(
            self.session,
            self._write_rating,
            (
                rating.stars,
                rating.certificate_no,
                rating.level,
                rating.valid_from,
                rating.valid_until,
                rating.revoked_at,
                set(rating.certificates),
                datetime.now(UTC),
                product_key,
            ),
        )

    async def write_producer(
        self, producer: Producer, products: Sequence[tuple[str, datetime | None]]
    ) -> int:
        """The producer's facts on each of its products' rows. The write time is the
        producer's registration time, or the product's if that is later: the newest
        registration wins whichever processor writes last (the product's, which copies the
        producer it read, or the producer's, which fans out to the products it found)."""

        def values(product_key: str, product_registered: datetime | None) -> list[Any]:
            written = max(producer.registered_at, product_registered or producer.registered_at)
            return [
                _micros(written),
                producer.name,
                producer.kind,
                producer.address,
                producer.commune,
                producer.district,
                producer.province,
                set(search.words(producer.name, producer.producer_id)),
                search.place_key(producer.commune),
                search.province_keys(producer.province),
                product_key,
            ]

        return await run_many(
            self.session,
            self._write_producer,
            (values(key, registered) for key, registered in products),
            concurrency=32,
        )

    async def write_batch(self, state: BatchState) -> None:
        """The batch's row from its head after a record: written at the record's seq as its
        write time, so a later record's row wins over an earlier one's in any order."""
        await run(
            self.session,
            self._write_batch,
            (
                state.head_seq,
                state.lot,
                state.expiry_date,
                state.units_packed,
                state.status,
                state.recalled_at,
                state.recall_reason,
                state.product_key,
                state.production_date,
                state.batch_id,
            ),
        )

    async def products_of(self, producer_id: str) -> list[tuple[str, datetime | None]]:
        """The producer's products in the registry (by the producer_id index), with their
        registration times."""
        rows = await run(self.session, self._products_of, (producer_id,))
        return [(row.product_key, row.registered_at) for row in rows]


def _micros(moment: datetime) -> int:
    """A write time (Cassandra's are microseconds since 1970)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
