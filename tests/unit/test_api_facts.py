"""The one memory the verify API holds (verify_api.facts): its budget, its generations, and
the weights it charges, against a fresh measurement of the objects it holds."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from contract.events import UnitsPacked
from tests.unit.test_api_resolution import Shelf
from tests.world import NOW, PACKED_ON, PRODUCER, PRODUCT, World
from verify_api import views
from verify_api.facts import Facts, Memory, Weights
from verify_api.story import read_chain


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_its_ttl_and_the_oldest_goes_first_when_the_budget_is_full():
    clock = Clock()
    memory = Memory(20, clock=clock)
    loads: list[str] = []

    async def get(key: str) -> int:
        async def load() -> int:
            loads.append(key)
            return len(loads)

        held = await memory.get(key, load, ttl_s=5.0, weigh=lambda _: 10)
        value: int = held.value
        return value

    async def scenario() -> None:
        assert await get("a") == 1
        assert await get("a") == 1
        clock.now += 5
        assert await get("a") == 2  # expired
        await get("b")
        await get("c")  # 30 > 20 bytes: "a" goes
        assert await get("a") == 5

    asyncio.run(scenario())
    assert loads == ["a", "a", "b", "c", "a"]


def test_every_kind_shares_one_budget_and_nothing_heavier_than_it_is_kept():
    memory = Memory(10)
    memory.put(("product", "a"), "x", weight=4, ttl_s=60)
    memory.put(("frame", "b"), "y", weight=4, ttl_s=float("inf"))
    memory.put(("batch", "c"), "z", weight=4, ttl_s=60)  # 12 > 10: the product goes
    assert (memory.peek(("product", "a")), len(memory), memory.weight) == (None, 2, 8)
    memory.put("huge", "w", weight=11, ttl_s=60)  # heavier than the whole budget: not kept
    assert (memory.peek("huge"), len(memory), memory.weight) == (None, 2, 8)
    memory.put("nothing", "v", weight=1, ttl_s=0)  # a ttl of 0 holds nothing
    assert memory.peek("nothing") is None


def test_a_reload_is_a_new_generation_and_generations_are_never_reused():
    clock = Clock()
    memory = Memory(1_000, clock=clock)

    async def load() -> str:
        return "same value"

    async def scenario() -> list[int]:
        seen = []
        for _ in range(3):
            seen.append((await memory.get("k", load, ttl_s=1, weigh=len)).generation)
            seen.append((await memory.get("k", load, ttl_s=1, weigh=len)).generation)
            clock.now += 1
        return seen

    first, again, second, _, third, _ = asyncio.run(scenario())
    assert first == again  # held: the same entry
    assert len({first, second, third}) == 3  # an equal value loaded anew is a new generation


def test_concurrent_misses_share_one_load_and_a_failure_is_not_kept():
    memory = Memory(1_000)
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return 7

    async def failing() -> int:
        raise RuntimeError("store down")

    def one(load: Callable[[], Any]) -> Any:
        return memory.get("a" if load is not failing else "b", load, ttl_s=60, weigh=lambda _: 1)

    async def scenario() -> None:
        held = await asyncio.gather(*(one(load) for _ in range(50)))
        assert [h.value for h in held] == [7] * 50
        assert loads == 1
        for _ in range(2):  # each caller sees the failure; nothing is held
            results = await asyncio.gather(
                *(one(failing) for _ in range(3)), return_exceptions=True
            )
            assert all(isinstance(r, RuntimeError) for r in results)
        assert memory.peek("b") is None

    asyncio.run(scenario())


def test_an_entry_past_its_time_answers_while_its_reload_does_not_and_the_reload_goes_on():
    clock = Clock()
    memory = Memory(1_000, clock=clock)
    release = asyncio.Event()
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        if loads > 1:
            await release.wait()  # Cassandra stalls on the reload
        return loads

    def get() -> Any:
        return memory.get("k", load, ttl_s=5, weigh=lambda _: 1, stale_s=60, wait_s=0.01)

    async def scenario() -> None:
        first = await get()
        clock.now += 6  # past its time, within 60 s of it
        during = await asyncio.gather(get(), get(), get())
        assert [h.generation for h in during] == [first.generation] * 3  # the held one answers
        assert not any(memory.fresh(h) for h in during)  # and the caller can tell
        assert loads == 2  # one reload for all of them, still going
        release.set()
        await asyncio.sleep(0.01)
        reloaded = memory.peek("k")  # the reload was not cancelled with the scans
        assert reloaded is not None
        assert reloaded.value == 2
        clock.now += 5 + 61  # past its time by more than 60 s: a scan waits for the reload
        assert (await get()).value == 3

    asyncio.run(scenario())


def test_a_reload_in_time_answers_and_a_failed_one_leaves_the_held_entry_answering():
    clock = Clock()
    memory = Memory(1_000, clock=clock)
    outcomes: list[int | Exception] = [1, 2, RuntimeError("store down"), 4]

    async def load() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def get() -> Any:
        return memory.get("k", load, ttl_s=5, weigh=lambda _: 1, stale_s=60, wait_s=1)

    async def scenario() -> list[tuple[int, bool]]:
        seen = []
        for _ in range(4):
            held = await get()
            seen.append((held.value, memory.fresh(held)))
            clock.now += 6
        return seen

    # loaded; reloaded in time; the reload failed (the held 2 answers); reloaded again
    assert asyncio.run(scenario()) == [(1, True), (2, True), (2, False), (4, True)]


# -- the weights charged, against what the objects really take ---------------------------------


def measured(build: Callable[[], Any]) -> int:
    """Bytes still allocated by what `build` returns (kept alive while measuring), once a
    first build has filled the caches every later one shares."""
    build()
    gc.collect()
    tracemalloc.start()
    try:
        kept = build()
        gc.collect()
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del kept
    return size


def within(charged: int, actual: int) -> bool:
    """Never less than the objects take, and not more than twice."""
    return actual <= charged <= 2 * actual


def test_a_packed_serial_is_charged_what_its_index_entry_takes(world: World):
    shelf = Shelf(world)
    labels = [shelf.signer.sign() for _ in range(4_000)]
    packs = [
        UnitsPacked(
            event_id=uuid.uuid4(),
            occurred_at=NOW + timedelta(minutes=n),
            batch_id=shelf.batch_id,
            producer_id=PRODUCER,
            serials=tuple(label.serial for label in chunk),
            stars=4,
            key_id=world.producer.key_id,
            packed_on=PACKED_ON,
            label_digests=tuple(label.digest for label in chunk),
        )
        for n, chunk in enumerate(labels[i : i + 1_000] for i in range(0, len(labels), 1_000))
    ]
    records = shelf.chain(packs)
    size = measured(lambda: read_chain(records, index_up_to=10**9))
    assert within(Weights.PACKED_SERIAL * len(labels) + Weights.BATCH, size)


def test_a_product_a_producer_and_a_batch_are_charged_what_they_take(world: World):
    shelf = Shelf(world)
    facts = Facts(shelf.store, Memory(10**9), cache_s=60)

    def product() -> Any:
        held = asyncio.run(facts._product(PRODUCT))
        held.rating(PRODUCER, NOW).stars(4)  # with its rating and view, as scans leave it
        return held

    certifications = len(shelf.store.awards[PRODUCT])
    charged = Weights.PRODUCT + Weights.CERTIFICATION * certifications
    assert within(charged, measured(product))
    assert within(Weights.PRODUCER, measured(lambda: asyncio.run(facts._producer(PRODUCER))))
    records, state = shelf.store.chains[shelf.batch_id], shelf.store.batches[shelf.batch_id]

    def batch() -> Any:
        chain = read_chain(records, index_up_to=0)
        return chain, views.batch_out(state, chain.steps)

    steps = len(read_chain(records, index_up_to=0).steps)
    assert within(Weights.BATCH + Weights.STORY_STEP * steps, measured(batch))


def test_one_batch_is_indexed_only_within_a_quarter_of_the_budget(world: World):
    shelf = Shelf(world)
    budget = 4 * Weights.PACKED_SERIAL * 2  # room for an index of two serials
    facts = Facts(shelf.store, Memory(budget), cache_s=60)
    held = asyncio.run(facts.shared(PRODUCT, PRODUCER, shelf.batch_id))
    batch = held.batch.value
    assert batch is not None
    assert batch.packed == {}  # three packed serials: too many for a quarter of the budget
    roomy = Facts(shelf.store, Memory(64 * 1024 * 1024), cache_s=60)
    batch = asyncio.run(roomy.shared(PRODUCT, PRODUCER, shelf.batch_id)).batch.value
    assert batch is not None
    assert len(batch.packed) == 3
