"""Rate limits, caches and the trust list cache, on a clock the tests move."""

from __future__ import annotations

import asyncio

import pytest

from keys.trustlist import build_trust_list
from tests.world import NOW, World
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
