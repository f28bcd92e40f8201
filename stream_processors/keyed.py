"""Messages of different keys handled concurrently, each key's strictly in order, and each
partition's messages released (acknowledged) strictly in offset order.

An agent that awaits each message before taking the next keeps everything in order, and is
as slow as the sum of its messages' round trips to Cassandra and Kafka: one worker analysed
about 96 scans/s that way, mostly waiting. What has to stay in order is narrower: one unit's
scans (its history in the Faust table is read, changed and written back by each), one
batch's events (its chain). The Kafka key names that unit or batch, so `KeyedScheduler`
runs messages of different keys side by side, and a key's next message only once its
previous one has finished. At most `limit` messages are taken and not yet released: that
bounds the memory held, the work a crash replays, and how far the others run ahead of one
message that is held up (a retry with backoff holds its key and its partition's commits).

The commit argument. Faust commits, for each partition, one past the highest offset in the
first unbroken run of acknowledged offsets (faust.transport.consumer, `_new_offset`); it
assumes acknowledgements come in order, and with a hole at the front it can commit past the
hole. So a message is acknowledged (`release`) only once it AND every message submitted
before it on its partition (`lane`) have finished: acknowledgements leave in offset order,
the committed offset never passes a message that is still running or waiting, and a crash
replays from the lowest unfinished message on. Messages after it that had finished are
replayed too: the handlers are idempotent, as they were for the one message in flight
before. A message whose handler fails (the agent's handlers retry passing failures
themselves, so this is a bug or a cancellation) is never acknowledged, its key's later
messages do not run, and the next `submit` raises its error: the agent stops where it was.

Faust's tables tie each write to the event being processed through a context variable (the
changelog goes to that event's partition). Every message runs in its own task, created in
`submit`, which copies the context as it is then, with the agent's current event set; the
task holds its work, and so the event, until it finishes.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class KeyStalled(Exception):
    """A message did not run: an earlier message of its key failed or was cancelled."""


@dataclass
class _Submitted:
    release: Callable[[], object]
    finished: bool = False


class KeyedScheduler:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a scheduler needs room for one message at least, not {limit}")
        self.limit = limit
        self._room = asyncio.Semaphore(limit)
        self._tails: dict[Hashable, asyncio.Task[None]] = {}
        """Each key's last submitted message, while it is unfinished."""
        self._lanes: dict[Hashable, deque[_Submitted]] = {}
        """Each partition's submitted messages not yet released, in submission order."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    @property
    def unreleased(self) -> int:
        """Messages submitted and not yet released (running, waiting, or finished behind an
        unfinished one of their partition)."""
        return sum(len(lane) for lane in self._lanes.values())

    async def submit(
        self,
        key: Hashable,
        lane: Hashable,
        work: Callable[[], Awaitable[None]],
        release: Callable[[], object],
    ) -> None:
        """Start `work` once the key's previous work has finished; call `release` once it and
        every work submitted before it on `lane` have finished. Waits while `limit` works are
        unreleased; raises the first failure of any submitted work."""
        self._raise_failure()
        await self._room.acquire()
        if self._failure is not None:
            self._room.release()
            self._raise_failure()
        submitted = _Submitted(release)
        self._lanes.setdefault(lane, deque()).append(submitted)
        task = asyncio.create_task(self._run(self._tails.get(key), work))
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._finished, key, lane, submitted))

    async def drain(self) -> None:
        """Wait until every submitted work has finished; raises the first failure."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        await asyncio.sleep(0)  # the done callbacks (releases) run on the next turn
        self._raise_failure()

    async def close(self) -> None:
        """Cancel what is running or waiting (its messages are not released: replayed)."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    @staticmethod
    async def _run(
        previous: asyncio.Task[None] | None, work: Callable[[], Awaitable[None]]
    ) -> None:
        if previous is not None:
            await asyncio.wait({previous})
            if previous.cancelled() or previous.exception() is not None:
                raise KeyStalled("an earlier message of this key did not finish")
        await work()

    def _finished(
        self, key: Hashable, lane: Hashable, submitted: _Submitted, task: asyncio.Task[None]
    ) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled() and self._failure is None:
                self._failure = task.exception()
            self._room.release()  # wakes a submit waiting for room, which raises the failure
            return
        submitted.finished = True
        waiting = self._lanes[lane]
        while waiting and waiting[0].finished:
            waiting.popleft().release()
            self._room.release()
        if not waiting:
            del self._lanes[lane]

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


class MicroBatches(Generic[T]):
    """Messages handled a batch at a time: whatever has arrived while the previous batch was
    being handled, up to `most`, taken at once. The scan agent's way (stream_processors.
    scans: a unit's history read and written once per batch, the rows written together):
    under load the batches grow, so the work per message shrinks; a message arriving alone
    is handled alone, at once (no timer).

    Two batches may be handled at once (`at_once`): a batch spends much of its time waiting
    for Cassandra and Kafka (its reads, its writes, its messages' acknowledgements), and the
    next one's decoding and analysis can use that time. So that the first batch's writes are
    not raced, a message is never taken while a batch holding a message of its `key` is
    being handled, nor before an earlier message of its key that waits: each key's
    messages are handled one batch after another, in order (the scan topic's key is the
    unit, whose history a batch takes and puts back). A second batch is started only under
    load (`beside_from` messages waiting, `most` unless told), so a quiet topic's messages
    are not split into many small batches.

    The commit argument is the KeyedScheduler's: each message is released (acknowledged)
    only once its batch was handled AND every message submitted before it on its `lane`
    (the agent's partition) was released: so commits never pass a message not handled, and
    a crash replays from the first message not handled. While batches are handled, up to
    `most` more are taken in (the consumer keeps reading); `submit` waits while that many
    wait. If `handle` fails (the agent's handlers retry passing failures themselves: a bug
    or a cancellation), the batch is not released, its keys stay held, no batch is started
    any more, and the next `submit` raises the failure."""

    def __init__(
        self,
        most: int,
        handle: Callable[[list[T]], Awaitable[None]],
        release: Callable[[T], object],
        *,
        key: Callable[[T], Hashable] = lambda _: None,
        lane: Callable[[T], Hashable] = lambda _: None,
        at_once: int = 1,
        beside_from: int | None = None,
    ) -> None:
        if most < 1 or at_once < 1:
            raise ValueError(f"a batch needs room for one message at least, not {most}, and "
                             f"one batch at once at least, not {at_once}")  # fmt: skip
        self.most = most
        self.at_once = at_once
        self.beside_from = most if beside_from is None else beside_from
        """Messages waiting that start a batch beside a running one (load)."""
        self._handle = handle
        self._release = release
        self._key = key
        self._lane = lane
        self._waiting: list[tuple[T, _Submitted]] = []
        self._held: set[Hashable] = set()
        """The keys of the messages of the batches being handled."""
        self._lanes: dict[Hashable, deque[_Submitted]] = {}
        """Each lane's messages submitted and not yet released, in submission order."""
        self._running: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self.batches = 0
        """Batches handled (tests, the benchmark's diary)."""

    async def submit(self, item: T) -> None:
        self._raise_failure()
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        while len(self._waiting) >= self.most:
            self._room.clear()
            await self._room.wait()
            self._raise_failure()
        entry = _Submitted(functools.partial(self._release, item))
        self._lanes.setdefault(self._lane(item), deque()).append(entry)
        self._waiting.append((item, entry))
        self._changed.set()

    async def drain(self) -> None:
        """Wait until everything submitted has been handled and released; raises a failure."""
        while self._lanes:
            self._raise_failure()
            await asyncio.sleep(0.001)
        self._raise_failure()

    async def close(self) -> None:
        """Stop: what is being handled or waits is not released (replayed)."""
        tasks = {t for t in (self._task, *self._running) if t is not None}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _run(self) -> None:
        while self._failure is None:
            await self._changed.wait()
            self._changed.clear()
            while self._failure is None and self._may_start():
                batch = self._take()
                if not batch:
                    break
                self._running.add(asyncio.create_task(self._handled(batch)))

    def _may_start(self) -> bool:
        """Room for a batch: none is handled, or enough wait beside the running ones."""
        if not self._running:
            return bool(self._waiting)
        return len(self._running) < self.at_once and len(self._waiting) >= self.beside_from

    def _take(self) -> list[tuple[T, _Submitted]]:
        """Up to `most` waiting messages in submission order, leaving those whose key is
        held or has an earlier message left waiting; their keys then held."""
        batch: list[tuple[T, _Submitted]] = []
        left: list[tuple[T, _Submitted]] = []
        passed: set[Hashable] = set()
        for item, entry in self._waiting:
            key = self._key(item)
            if len(batch) >= self.most or key in self._held or key in passed:
                passed.add(key)
                left.append((item, entry))
            else:
                batch.append((item, entry))
        self._waiting = left
        self._held.update(self._key(item) for item, _ in batch)
        self._room.set()
        return batch

    async def _handled(self, batch: list[tuple[T, _Submitted]]) -> None:
        task = asyncio.current_task()
        try:
            await self._handle([item for item, _ in batch])
        except BaseException as exc:  # raised by the next submit or drain
            if self._failure is None:
                self._failure = exc
            self._room.set()  # a submit waiting for room raises it
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        finally:
            if task is not None:
                self._running.discard(task)
        for _, entry in batch:
            entry.finished = True
        for lane in {self._lane(item) for item, _ in batch}:
            waiting = self._lanes[lane]
            while waiting and waiting[0].finished:
                waiting.popleft().release()
            if not waiting:
                del self._lanes[lane]
        self._held.difference_update(self._key(item) for item, _ in batch)
        self.batches += 1
        self._changed.set()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure
