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

    The commit argument is simpler than the scheduler's: one batch is handled at a time, and
    its messages are released (acknowledged) in the order they were submitted, which is each
    partition's offset order, only once the whole batch was handled. So commits never pass a
    message not handled, and a crash replays from the first message of the unfinished batch.
    While a batch is handled, up to `most` more are taken in (the consumer keeps reading);
    `submit` waits while that many wait. If `handle` fails (the agent's handlers retry
    passing failures themselves: a bug or a cancellation), the batch is not released,
    nothing more is handled, and the next `submit` raises the failure."""

    def __init__(
        self,
        most: int,
        handle: Callable[[list[T]], Awaitable[None]],
        release: Callable[[T], object],
    ) -> None:
        if most < 1:
            raise ValueError(f"a batch needs room for one message at least, not {most}")
        self.most = most
        self._handle = handle
        self._release = release
        self._waiting: list[T] = []
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._idle = True
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
        self._waiting.append(item)
        self._arrived.set()

    async def drain(self) -> None:
        """Wait until everything submitted has been handled and released; raises a failure."""
        while self._waiting or (self._task is not None and not self._idle):
            self._raise_failure()
            await asyncio.sleep(0.001)
        self._raise_failure()

    async def close(self) -> None:
        """Stop: what is being handled or waits is not released (replayed)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})

    async def _run(self) -> None:
        try:
            while True:
                await self._arrived.wait()
                batch, self._waiting = self._waiting[: self.most], self._waiting[self.most :]
                if not self._waiting:
                    self._arrived.clear()
                self._room.set()
                self._idle = False
                await self._handle(batch)
                for item in batch:
                    self._release(item)
                self.batches += 1
                self._idle = True
        except BaseException as exc:
            self._failure = exc
            self._room.set()  # a submit waiting for room raises it
            raise

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure
