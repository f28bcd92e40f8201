"""The scheduler behind the scan and batch agents (stream_processors.keyed): different keys at
once, one key in order, a partition's messages released in offset order, a failure stops."""

from __future__ import annotations

import asyncio
import contextvars
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable

import pytest

from stream_processors.keyed import KeyedScheduler, KeyStalled

CURRENT: contextvars.ContextVar[int] = contextvars.ContextVar("current")


class Journal:
    """What ran when, what was released in which order, as a partition's offsets."""

    def __init__(self) -> None:
        self.started: dict[str, list[int]] = defaultdict(list)
        self.finished: dict[str, list[int]] = defaultdict(list)
        self.released: dict[int, list[int]] = defaultdict(list)
        self.running: dict[str, int] = defaultdict(int)
        self.at_once = 0
        self.most_at_once = 0
        self.overlap_in_a_key = False
        self.contexts: list[tuple[int, int]] = []

    def work(self, key: str, offset: int, pause: float) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            self.contexts.append((offset, CURRENT.get()))
            self.started[key].append(offset)
            self.running[key] += 1
            self.overlap_in_a_key |= self.running[key] > 1
            self.at_once += 1
            self.most_at_once = max(self.most_at_once, self.at_once)
            await asyncio.sleep(pause)
            self.at_once -= 1
            self.running[key] -= 1
            self.finished[key].append(offset)

        return run

    def release(self, partition: int, offset: int) -> Callable[[], None]:
        def done() -> None:
            self.released[partition].append(offset)

        return done


def test_each_key_in_order_different_keys_at_once_and_each_partition_released_in_order():
    journal = Journal()
    rng = random.Random(22)
    # 3 partitions, 40 units spread over them, 600 messages interleaved
    messages = []
    offsets: dict[int, int] = defaultdict(int)
    for _ in range(600):
        unit = rng.randrange(40)
        partition = unit % 3
        messages.append((f"unit-{unit}", partition, offsets[partition]))
        offsets[partition] += 1

    async def scenario() -> None:
        scheduler = KeyedScheduler(16)
        for key, partition, offset in messages:
            CURRENT.set(offset)
            pause = rng.choice((0, 0.0005, 0.002, 0.005))
            await scheduler.submit(
                key, partition, journal.work(key, offset, pause), journal.release(partition, offset)
            )
            assert scheduler.unreleased <= 16  # taken and not released: bounded
        await scheduler.drain()
        assert scheduler.unreleased == 0

    asyncio.run(scenario())
    by_key: dict[str, list[int]] = defaultdict(list)
    for key, _, offset in messages:
        by_key[key].append(offset)
    assert dict(journal.started) == by_key  # every key's messages started in their order
    assert dict(journal.finished) == by_key
    assert not journal.overlap_in_a_key  # and never two of one key at once
    assert 1 < journal.most_at_once <= 16  # different keys did run at once, within the bound
    for partition, count in offsets.items():  # each partition released in offset order, all
        assert journal.released[partition] == list(range(count))
    # each message ran in the context it was submitted in (Faust's current event)
    assert all(offset == seen for offset, seen in journal.contexts)


def test_a_message_is_released_only_once_every_earlier_one_of_its_partition_finished():
    order: list[str] = []
    gates = {name: asyncio.Event() for name in ("slow", "quick")}

    def work(name: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await gates[name].wait()
            order.append(f"finished {name}")

        return run

    async def scenario() -> None:
        scheduler = KeyedScheduler(8)
        await scheduler.submit("a", 0, work("slow"), lambda: order.append("released slow"))
        await scheduler.submit("b", 0, work("quick"), lambda: order.append("released quick"))
        gates["quick"].set()
        await asyncio.sleep(0.01)
        assert order == ["finished quick"]  # finished, but behind the slow one: not released
        assert scheduler.unreleased == 2
        gates["slow"].set()
        await scheduler.drain()

    asyncio.run(scenario())
    assert order == ["finished quick", "finished slow", "released slow", "released quick"]


def test_submit_waits_for_room():
    async def scenario() -> None:
        scheduler = KeyedScheduler(2)
        gate = asyncio.Event()

        async def held() -> None:
            await gate.wait()

        await scheduler.submit("a", 0, held, lambda: None)
        await scheduler.submit("b", 0, held, lambda: None)
        third = asyncio.create_task(scheduler.submit("c", 0, held, lambda: None))
        await asyncio.sleep(0.01)
        assert not third.done()  # two unfinished: no room for a third
        gate.set()
        await third
        await scheduler.drain()

    asyncio.run(scenario())


def test_finished_messages_behind_a_held_one_keep_their_room():
    async def scenario() -> None:
        scheduler = KeyedScheduler(2)
        gate = asyncio.Event()

        async def held() -> None:
            await gate.wait()

        async def quick() -> None:
            return None

        await scheduler.submit("a", 0, held, lambda: None)
        await scheduler.submit("b", 0, quick, lambda: None)
        third = asyncio.create_task(scheduler.submit("c", 0, quick, lambda: None))
        await asyncio.sleep(0.01)
        assert not third.done()  # b finished, but is not released: the window is full
        assert scheduler.unreleased == 2
        gate.set()
        await third
        await scheduler.drain()

    asyncio.run(scenario())


def test_a_failure_releases_nothing_after_it_stops_its_key_and_is_raised():
    released: list[int] = []
    ran: list[int] = []

    def work(offset: int, fail: bool = False, pause: float = 0) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            await asyncio.sleep(pause)
            if fail:
                raise RuntimeError("a bug")
            ran.append(offset)

        return run

    async def scenario() -> None:
        scheduler = KeyedScheduler(8)
        await scheduler.submit("a", 0, work(0, pause=0.01), lambda: released.append(0))
        await scheduler.submit("b", 0, work(1, fail=True), lambda: released.append(1))
        await scheduler.submit("b", 0, work(2), lambda: released.append(2))
        await scheduler.submit("c", 0, work(3), lambda: released.append(3))
        with pytest.raises(RuntimeError, match="a bug"):
            await scheduler.drain()
        with pytest.raises(RuntimeError, match="a bug"):
            await scheduler.submit("d", 0, work(4), lambda: released.append(4))

    asyncio.run(scenario())
    assert released == [0]  # 1 failed; 3 finished but is behind it: a crash replays 1 on
    assert 2 not in ran  # the failed message's key stopped
    assert sorted(ran) == [0, 3]


def test_a_key_after_a_failure_is_stalled_not_run():
    async def scenario() -> None:
        scheduler = KeyedScheduler(4)

        async def fail() -> None:
            raise RuntimeError("a bug")

        async def never() -> None:
            raise AssertionError("ran after its key's failure")

        await scheduler.submit("a", 0, fail, lambda: None)
        await scheduler.submit("a", 0, never, lambda: None)
        await asyncio.sleep(0.01)
        with pytest.raises(RuntimeError):
            await scheduler.drain()

    asyncio.run(scenario())
    assert issubclass(KeyStalled, Exception)


def test_close_cancels_and_releases_nothing_unfinished():
    released: list[str] = []

    async def scenario() -> None:
        scheduler = KeyedScheduler(4)

        async def quick() -> None:
            return None

        async def forever() -> None:
            await asyncio.Event().wait()

        await scheduler.submit("a", 0, quick, lambda: released.append("quick"))
        await asyncio.sleep(0.01)
        await scheduler.submit("b", 0, forever, lambda: released.append("forever"))
        await scheduler.submit("c", 0, quick, lambda: released.append("behind"))
        await scheduler.close()
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert released == ["quick"]


def test_room_for_one_message_at_least():
    with pytest.raises(ValueError, match="room for one message"):
        KeyedScheduler(0)
