"""Rate limits, caches and the trust list cache, on a clock the tests move."""

from __future__ import annotations

import asyncio

import pytest

from keys.trustlist import build_trust_list
from tests.world import NOW, World
from verify_api.cache import TtlCache
from verify_api.guards import TokenBuckets
from verify_api.trustcache import NoTrustList, TrustCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_its_rate():
    clock = Clock()
    buckets = TokenBuckets(2.0, 3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert buckets.take("b") == 0  # each client has its own bucket
    clock.now += 0.5
    assert buckets.take("a") == 0
    assert buckets.take("a") > 0
    clock.now += 100
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]  # refilled to the burst, no more
    assert buckets.take("a") > 0


def test_buckets_forget_idle_clients_when_full_but_not_a_busy_one():
    clock = Clock()
    buckets = TokenBuckets(1.0, 2, max_clients=10, clock=clock)
    for _ in range(2):
        buckets.take("busy")
    clock.now += 0.1
    for n in range(20):
        buckets.take(f"client-{n}")
        clock.now += 10  # each of them idle long enough to refill
    assert len(buckets._buckets) <= 10
    assert "busy" not in buckets._buckets  # it had refilled: forgetting it changed nothing
    for _ in range(2):
        buckets.take("hot")
    assert buckets.take("hot") > 0  # a client over its limit is still limited


def test_a_cache_entry_lives_its_ttl_and_the_oldest_goes_first():
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(5.0, max_entries=2, clock=clock)
    loads: list[str] = []

    async def get(key: str) -> int:
        async def load() -> int:
            loads.append(key)
            return len(loads)

        return await cache.get(key, load)

    async def scenario() -> None:
        assert await get("a") == 1
        assert await get("a") == 1
        clock.now += 5
        assert await get("a") == 2  # expired
        await get("b")
        await get("c")  # evicts "a"
        assert await get("a") == 5

    asyncio.run(scenario())
    assert loads == ["a", "a", "b", "c", "a"]


def test_heavy_entries_push_out_the_oldest_to_stay_within_the_weight():
    cache: TtlCache[str, list[int]] = TtlCache(float("inf"), weigh=len, max_weight=10)

    async def put(key: str, size: int) -> None:
        async def load() -> list[int]:
            return [0] * size

        await cache.get(key, load)

    async def scenario() -> None:
        await put("a", 4)
        await put("b", 4)
        await put("c", 4)  # 12 > 10: "a" goes
        assert list(cache._entries) == ["b", "c"]
        assert cache.weight == 8
        await put("huge", 11)  # heavier than the whole cache: nothing else stays, nor it
        assert (list(cache._entries), cache.weight) == ([], 0)

    asyncio.run(scenario())


def test_concurrent_misses_share_one_load_and_a_failure_is_not_kept():
    cache: TtlCache[str, int] = TtlCache(60.0)
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return 7

    async def failing() -> int:
        raise RuntimeError("store down")

    async def scenario() -> None:
        assert await asyncio.gather(*(cache.get("a", load) for _ in range(50))) == [7] * 50
        assert loads == 1
        for _ in range(2):  # each caller sees the failure; nothing is cached
            results = await asyncio.gather(
                *(cache.get("b", failing) for _ in range(3)), return_exceptions=True
            )
            assert all(isinstance(r, RuntimeError) for r in results)
        assert await cache.get("b", load) == 7

    asyncio.run(scenario())


class Source:
    def __init__(self, document: bytes | None) -> None:
        self.document = document
        self.reads = 0

    async def latest_trust_list(self) -> bytes | None:
        self.reads += 1
        return self.document


def version(world: World, number: int) -> bytes:
    return build_trust_list(
        world.root, version=number, authorities=world.authorities,
        producer_keys=world.producer_keys, certifications=world.certifications, now=NOW,
    )  # fmt: skip


def test_the_trust_list_is_reread_after_its_ttl_and_never_rolled_back(world: World):
    clock, source = Clock(), Source(version(world, 2))
    cache = TrustCache(source, world.root.public_key, ttl_s=5, clock=clock)

    async def scenario() -> None:
        assert (await cache.get()).trust.version == 2
        assert (await cache.get()).trust.version == 2
        assert source.reads == 1
        source.document = version(world, 1)  # an older list: refused
        clock.now += 5
        assert (await cache.get()).trust.version == 2
        source.document = world.trust_list_bytes()[:-5] + b"xxxxx"  # broken: refused
        clock.now += 5
        assert (await cache.get()).trust.version == 2
        source.document = version(world, 3)
        clock.now += 5
        assert (await cache.get()).trust.version == 3
        assert source.reads == 4

    asyncio.run(scenario())


def test_a_list_signed_by_another_root_is_never_held(world: World):
    other = World()
    cache = TrustCache(Source(other.trust_list_bytes()), world.root.public_key, ttl_s=5)
    with pytest.raises(NoTrustList):
        asyncio.run(cache.get())


def test_looking_for_a_newer_list_is_limited_to_once_a_second(world: World):
    clock, source = Clock(), Source(version(world, 1))
    cache = TrustCache(source, world.root.public_key, ttl_s=600, clock=clock)

    async def scenario() -> None:
        await cache.get()
        source.document = version(world, 2)
        assert (await cache.newer()) is not None
        assert (await cache.newer()) is None  # too soon: no read at all
        assert source.reads == 2
        clock.now += 1
        assert (await cache.newer()) is None  # looked: nothing newer
        assert source.reads == 3

    asyncio.run(scenario())
