"""The scan processor's micro-batches (stream_processors.keyed.MicroBatches), the decoded
histories it keeps beside the table (stream_processors.history.Histories) and the unit facts
it holds (stream_processors.unit_facts)."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from contract.certification import CertificationStatus
from keys import certs
from records.rows import BatchState, StoredCertification, Unit
from stream_processors.detect import UnitFacts
from stream_processors.history import Histories, MemoryHistories, encode
from stream_processors.keyed import MicroBatches
from stream_processors.unit_facts import FactsCache
from tests.world import NOW, World


def test_batches_take_what_arrived_meanwhile_and_release_in_order_once_done():
    handled: list[list[int]] = []
    released: list[int] = []

    async def handle(batch: list[int]) -> None:
        assert not set(batch) & set(released)  # nothing released before its batch is done
        handled.append(batch)
        await asyncio.sleep(0.01)

    async def scenario() -> None:
        batches = MicroBatches(4, handle, released.append)
        await batches.submit(0)
        await asyncio.sleep(0.001)  # taken alone while nothing else waits
        for n in range(1, 10):
            await batches.submit(n)
        await batches.drain()
        await batches.close()

    asyncio.run(scenario())
    assert [n for batch in handled for n in batch] == list(range(10))
    assert released == list(range(10))
    assert handled[0] == [0]  # alone: handled at once
    assert max(len(batch) for batch in handled) == 4  # the rest waited, in batches


def test_a_failed_batch_is_never_released_and_stops_the_batches():
    released: list[int] = []

    async def handle(batch: list[int]) -> None:
        if 3 in batch:
            raise RuntimeError("a bug")

    async def scenario() -> None:
        batches = MicroBatches(2, handle, released.append)
        with pytest.raises(RuntimeError):
            await feed(batches)
        await batches.close()

    async def feed(batches: MicroBatches[int]) -> None:
        for n in range(50):
            await batches.submit(n)
            await asyncio.sleep(0)

    asyncio.run(scenario())
    assert 3 not in released
    assert released == sorted(released)


def test_a_decoded_history_is_used_only_while_the_store_holds_what_was_put():
    store = MemoryHistories()
    histories = Histories(store)
    history = histories.take(b"u1")
    history.count("e1", NOW, offset=1)
    asyncio.run(histories.put(b"u1", history, partition=0))
    again = histories.take(b"u1")
    assert again is history  # no decoding
    asyncio.run(histories.put(b"u1", again, partition=0))
    # the table restored (a new object, e.g. another worker's newer history): decoded again
    newer = histories.take(b"u1")
    newer.count("e2", NOW, offset=2)
    store.data[b"u1"] = encode(newer)
    restored = histories.take(b"u1")
    assert restored is not newer
    assert restored.scans == 2


def test_a_history_taken_and_not_put_back_is_decoded_again():
    """A batch that failed half-way: its retry starts from what the store holds."""
    histories = Histories(MemoryHistories())
    history = histories.take(b"u1")
    history.count("e1", NOW, offset=1)
    asyncio.run(histories.put(b"u1", history, partition=0))
    changed = histories.take(b"u1")
    changed.count("e2", NOW, offset=2)  # ... and the batch fails
    assert histories.take(b"u1").scans == 1


BATCH = "/01/08930000000019/10/L1"
UNIT = Unit("u1", BATCH, "/01/08930000000019", "p1", "S1", 4, "k1", date(2026, 1, 1), 2)


class Records:
    def __init__(self) -> None:
        self.reads: list[str] = []
        self.recalled = False
        self.gate: asyncio.Event | None = None

        self.units_asked: list[list[str]] = []
        self.unit_failure: Exception | None = None
        self.certified: list[StoredCertification] = []

    async def units(self, unit_keys: list[str]) -> dict[str, Unit]:
        self.reads.append("unit")
        self.units_asked.append(unit_keys)
        if self.unit_failure is not None:
            raise self.unit_failure
        return {key: UNIT for key in unit_keys if key == "u1"}

    async def batch(self, batch_id: str) -> BatchState | None:
        self.reads.append("batch")
        status = "recalled" if self.recalled else "open"
        if self.gate is not None:
            await self.gate.wait()
        product = "/01/08930000000019"
        return BatchState(batch_id, product, "p1", "L1", date(2026, 1, 1), date(2027, 1, 1),
                          "[]", None, 0, status, None, None, None, 1, b"h")  # fmt: skip

    async def certifications(self, product_key: str) -> list[StoredCertification]:
        self.reads.append("certifications")
        return list(self.certified)


async def _one(facts: FactsCache, unit_key: str) -> UnitFacts:
    """The facts of one scan of the unit (a batch of one)."""
    [found] = await facts.facts_of([(unit_key, BATCH, NOW)])
    return found


def test_facts_are_read_once_and_held_until_they_expire():
    records = Records()
    clock = [0.0]
    facts = FactsCache(records, ttl=5.0, clock=lambda: clock[0])  # type: ignore[arg-type]

    async def scenario() -> None:
        for _ in range(3):
            assert (await _one(facts, "u1")).packed
        assert sorted(records.reads) == ["batch", "certifications", "unit"]
        clock[0] = 6.0
        await _one(facts, "u1")  # the batch and ratings again; the unit never
        assert sorted(records.reads) == ["batch", "batch", "certifications", "certifications",
                                         "unit"]  # fmt: skip
        assert not (await _one(facts, "u2")).packed
        assert not (await _one(facts, "u2")).packed
        assert records.reads.count("unit") == 3  # a unit not packed is not held

    asyncio.run(scenario())


def test_a_change_by_this_worker_is_seen_at_once_and_a_read_begun_before_it_is_not_held():
    records = Records()
    facts = FactsCache(records)  # type: ignore[arg-type]

    async def scenario() -> None:
        assert (await _one(facts, "u1")).batch.status == "open"  # type: ignore[union-attr]
        records.gate = asyncio.Event()
        clock_free = FactsCache(records)  # type: ignore[arg-type]
        # a read under way when the recall is handled
        early = asyncio.ensure_future(_one(clock_free, "u1"))
        await asyncio.sleep(0)
        with clock_free.changing_batch(BATCH), facts.changing_batch(BATCH):
            records.recalled = True
            records.gate.set()
            during = await _one(facts, "u1")
            assert during.batch is not None
            assert during.batch.status == "recalled"
        await early
        after = await _one(clock_free, "u1")
        assert after.batch is not None
        assert after.batch.status == "recalled"
        assert (await _one(facts, "u1")).batch.status == "recalled"  # type: ignore[union-attr]

    asyncio.run(scenario())


def test_the_standing_is_worked_out_from_the_certifications_held_and_again_once_changed(
    world: World,
):
    """The standing over time is kept per product and producer while its certifications are
    held; a revocation this worker handles is judged at once, and a later read stands."""
    award = world.certifications[0].body.model_copy(update={"producer_id": "p1"})
    revocation = certs.revoke_certification(
        world.provincial, award, decision_no="9/QĐ", reason="sai phạm", now=NOW
    )
    records = Records()
    records.certified = [StoredCertification(award, b"", None, None)]
    facts = FactsCache(records)  # type: ignore[arg-type]

    async def status() -> CertificationStatus:
        found = await _one(facts, "u1")
        assert found.standing is not None
        return found.standing.state.status

    async def scenario() -> None:
        assert await status() is CertificationStatus.IN_FORCE
        assert await status() is CertificationStatus.IN_FORCE
        with facts.changing_certifications():
            records.certified = [StoredCertification(award, b"", revocation.body, b"")]
            assert await status() is CertificationStatus.REVOKED
        assert await status() is CertificationStatus.REVOKED
        assert records.reads.count("certifications") == 3

    asyncio.run(scenario())


def test_a_batchs_units_not_held_are_read_in_one_call_and_a_failed_read_holds_nothing():
    records = Records()
    facts = FactsCache(records)  # type: ignore[arg-type]

    async def scenario() -> None:
        found = await facts.facts_of([("u1", BATCH, NOW), ("u2", BATCH, NOW), ("u1", BATCH, NOW)])
        assert [f.packed for f in found] == [True, False, True]
        assert sorted(records.units_asked[0]) == ["u1", "u2"]  # one read, each unit once
        assert len(records.units_asked) == 1
        assert records.reads.count("batch") == records.reads.count("certifications") == 1
        assert (await _one(facts, "u1")).packed  # packed: held, not read again
        assert len(records.units_asked) == 1
        records.unit_failure = RuntimeError("Cassandra busy")
        with pytest.raises(RuntimeError, match="Cassandra busy"):
            await facts.facts_of([("u2", BATCH, NOW), ("u3", BATCH, NOW)])
        records.unit_failure = None
        assert not (await _one(facts, "u2")).packed  # asked again: read again
        assert records.units_asked[-1] == ["u2"]

    asyncio.run(scenario())
