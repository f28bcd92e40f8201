"""The public registry kept by the authority processor (stream_processors.authority): after it
stores a registration, certification or revocation, it calls one of these, which rewrite the
product's registry row from the records (records.registry.RegistryWriter).

Kafka keys a product's registration and certifications by product key (one partition, in
order), but its producer's registration by producer id (another partition, no order between
the two). So each side writes first and reads the other after: the product's row is written
with its producer id before the producer is read; the producer is stored before its products
are looked up by that id. Whichever comes second sees the first, and the producer's columns
carry its registration time as their write time, so the newest wins in any order. (On a
cluster with more than one replica, these writes and reads want QUORUM for the same
guarantee; the local node has one.)

Every update is recomputed from the stored records, so a replayed event rewrites the same
row: nothing here needs a duplicate check.

`python -m stream_processors.registry rebuild` fills the registry from the records already
stored (a deployment that had products before migration 0008); it reads the products table
whole, page by page, as a maintenance job, never on a request's path.
"""

from __future__ import annotations

import asyncio
import sys

from contract.events import ProducerRegistered
from infra.settings import ConnectionSettings
from records.registry import RegistryWriter, rating_columns
from records.session import connect, run
from records.store import RecordReader


class RegistryUpdates:
    def __init__(self, store: RecordReader) -> None:
        self.store = store
        self.writer = RegistryWriter(store.session)

    async def product_changed(self, product_key: str) -> None:
        """After a product's registration: its row, its rating, and its producer's facts if
        the producer is stored already (else the producer's registration brings them)."""
        product = await self.store.product(product_key)
        if product is None:
            return
        stored = await self.store.certifications(product_key)
        await self.writer.write_product(product, rating_columns(stored, product.producer_id))
        producer = await self.store.producer(product.producer_id)
        if producer is not None:
            await self.writer.write_producer(producer, [(product_key, product.registered_at)])

    async def producer_changed(self, event: ProducerRegistered) -> None:
        """After a producer's registration: its facts on every product of its in the registry."""
        producer = await self.store.producer(event.producer_id)
        if producer is None:
            return
        await self.writer.write_producer(producer, await self.writer.products_of(event.producer_id))

    async def rating_changed(self, product_key: str) -> None:
        """After a certification or revocation: the rating that decides, from all of them."""
        product = await self.store.product(product_key)
        if product is None:  # a certification is refused before its product's registration
            return
        stored = await self.store.certifications(product_key)
        await self.writer.write_rating(product_key, rating_columns(stored, product.producer_id))


async def rebuild(settings: ConnectionSettings) -> int:
    """Every stored product's registry row, recomputed; the count of products."""
    cluster, session = await asyncio.to_thread(connect, settings, keyspace=settings.keyspace)
    try:
        updates = RegistryUpdates(RecordReader(session))
        keys = [row.product_key for row in await run(session, "SELECT product_key FROM products")]
        gate = asyncio.Semaphore(16)

        async def one(product_key: str) -> None:
            async with gate:
                await updates.product_changed(product_key)

        await asyncio.gather(*(one(key) for key in keys))
        return len(keys)
    finally:
        cluster.shutdown()


def main(argv: list[str]) -> int:
    if argv != ["rebuild"]:
        print("usage: python -m stream_processors.registry rebuild", file=sys.stderr)
        return 2
    count = asyncio.run(rebuild(ConnectionSettings()))
    print(f"registry: {count} products rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
