"""Connecting to Cassandra, and awaiting the driver's futures from asyncio code.

The driver runs its own I/O threads and reports through callbacks; `run` turns one
statement into an awaitable, and `run_many` keeps a bounded number in flight, which is how
the driver reaches its throughput (STACK.md: concurrency 64-256).

Many small writes or reads of different partitions cost the driver (and Cassandra) more per
request than per row: `replica_batches` puts partitions stored on the same nodes in one
unlogged batch, and `replica_chunks` groups partition keys for one read with IN
(docs/bench_analytics.md, session 10: a tenth of the requests, several times the rows per
second on the same cores).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import re
import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from cassandra import ConsistencyLevel
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    NoHostAvailable,
    ResponseFuture,
    Session,
)
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import BatchStatement, BatchType, BoundStatement, PreparedStatement, Statement
from cassandra.util import Date as CassandraDate

from infra.settings import ConnectionSettings

K = TypeVar("K")

Write = tuple[PreparedStatement, Sequence[Any]]
"""A prepared statement and its values."""

BATCH_PARTITIONS = 10
"""Partitions in one unlogged batch at most: Cassandra warns of more
(unlogged_batch_across_partitions_warn_threshold, 10 by default)."""
BATCH_BYTES = 4 * 1024
"""A batch's values in bytes at most, once it holds two partitions or more: under the 5 KiB
at which Cassandra warns of a large batch (batch_size_warn_threshold)."""
KEYS_AT_ONCE = 32
"""Partition keys one read asks for with IN at most (`replica_chunks`)."""


class StoreUnavailable(Exception):
    """Cassandra cannot be reached: the caller retries later or fails at start-up."""


def connect(
    settings: ConnectionSettings, *, keyspace: str | None = None, request_timeout: float = 20
) -> tuple[Cluster, Session]:
    """A session with token-aware routing (each write goes straight to a replica).
    `request_timeout`: when the driver gives up on a statement; the verify API sets its
    request deadline, so nothing waits on a statement its client has been answered for.

    Every node named in `cassandra_hosts` is a contact point, so the session starts while
    any one of them answers; the driver then learns the whole ring, routes each statement
    to a live replica of its partition and reconnects to a node that comes back. Reads and
    writes are at `cassandra_consistency` (LOCAL_QUORUM: with three replicas, two must
    answer, so losing one node loses neither a write nor a read of it)."""
    logging.getLogger("cassandra").setLevel(logging.ERROR)
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        request_timeout=request_timeout,
        row_factory=_utc_rows,
        consistency_level=getattr(ConsistencyLevel, settings.cassandra_consistency),
    )
    cluster = Cluster(
        settings.cassandra_host_list,
        port=settings.cassandra_port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        protocol_version=5,
    )
    try:
        session = cluster.connect(keyspace)
    except NoHostAvailable as exc:
        cluster.shutdown()
        raise StoreUnavailable(
            f"Cassandra at {settings.cassandra_hosts} does not answer: {exc}"
        ) from exc
    return cluster, session


def _utc_rows(columns: list[str], rows: list[tuple[Any, ...]]) -> list[Any]:
    """Named tuples of plain Python values: timestamps timezone-aware (Cassandra stores UTC
    instants, the driver hands them out naive, the contract refuses naive times) and dates
    as datetime.date (the driver has a Date type of its own)."""
    make = _row_type(tuple(columns))._make
    return [make(map(_plain, row)) for row in rows]


@functools.lru_cache(maxsize=512)
def _row_type(columns: tuple[str, ...]) -> Any:
    """One class per column list: the driver's own factory builds a new namedtuple class for
    every result, several per cent of the verify API's CPU under load. Names are cleaned as the
    driver cleans them ("[applied]" becomes "applied")."""
    names = [_NOT_NAME.sub("_", column).strip("_") or "_" for column in columns]
    return collections.namedtuple("Row", names, rename=True)


_NOT_NAME = re.compile(r"\W")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, CassandraDate):
        return value.date()
    return value


def run(
    session: Session, statement: Statement | str, params: Sequence[Any] = ()
) -> asyncio.Future[Any]:
    """Execute asynchronously; the returned future holds the rows (a list)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    response: ResponseFuture = session.execute_async(statement, params)
    collected: list[Any] = []

    def page(rows: Any) -> None:  # on the driver's thread; called again for each next page
        collected.extend(rows or ())
        if response.has_more_pages:
            response.start_fetching_next_page()
        else:
            loop.call_soon_threadsafe(_settle, done, collected, None)

    def fail(exc: BaseException) -> None:
        loop.call_soon_threadsafe(_settle, done, None, exc)

    response.add_callbacks(page, fail)
    return done


def _settle(done: asyncio.Future[Any], rows: Any, exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is not None:
        done.set_exception(exc)
    else:
        done.set_result(rows)


async def run_many(
    session: Session, statement: Statement, rows: Iterable[Sequence[Any]], *, concurrency: int = 128
) -> int:
    """Execute one prepared statement for many parameter rows, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(params: Sequence[Any]) -> None:
        async with gate:
            await run(session, statement, params)

    tasks = [asyncio.ensure_future(one(params)) for params in rows]
    if tasks:
        await asyncio.gather(*tasks)
    return len(tasks)


def run_each(
    session: Session, statement: Statement, rows: Iterable[Sequence[Any]], *, concurrency: int = 128
) -> asyncio.Future[int]:
    """Execute one prepared statement for many parameter rows, `concurrency` in flight, as
    `run_many` does but with none of its per-statement asyncio work (a task, a semaphore, a
    future and a wake-up of the loop for each row, which cost the batch agent more CPU than
    the driver's own work): the driver's callbacks count the answers and start the next
    statements on its I/O thread, and the loop is woken once. The future holds the count of
    rows written, or the first failure; it is settled only once no statement it started is
    in flight, so a caller that writes the same rows again after a failure is not raced by
    the first attempt's (the driver's client timestamps make the later write win anyway).
    For writes: the answers' rows are not kept."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    pending = iter(rows)
    lock = threading.Lock()
    in_flight = answered = 0
    failure: BaseException | None = None
    settled = False

    def take() -> Sequence[Any] | None:
        """The next row to start, counted in flight; None when there is none or one failed."""
        nonlocal in_flight
        with lock:
            if failure is None:
                params = next(pending, None)
                if params is not None:
                    in_flight += 1
                    return params
            return None

    def settle_if_idle() -> None:
        nonlocal settled
        with lock:
            if in_flight or settled:
                return
            settled = True
        loop.call_soon_threadsafe(_settle, done, answered, failure)

    def start() -> bool:
        """Starts the next row; False (and the future settled if nothing is in flight) when
        there is none left."""
        params = take()
        if params is None:
            settle_if_idle()
            return False
        try:
            response = session.execute_async(statement, params)
        except Exception as exc:  # reported through the future, like a failed answer
            finished(exc)
            return True
        response.add_callbacks(answer, finished)
        return True

    def answer(_rows: Any) -> None:  # on the driver's thread
        finished(None)

    def finished(exc: BaseException | None) -> None:
        nonlocal in_flight, answered, failure
        with lock:
            in_flight -= 1
            if exc is None:
                answered += 1
            elif failure is None:
                failure = exc
        start()  # the next row, or the future settled once none is in flight

    for _ in range(concurrency):
        if not start():
            break
    return done


def replicas_of(session: Session, statement: BoundStatement) -> tuple[str, ...]:
    """The nodes holding the bound statement's partition (none while the driver knows no
    ring): what decides which partitions may share a batch or a read."""
    hosts = session.cluster.metadata.get_replicas(statement.keyspace, statement.routing_key)
    return tuple(sorted(str(host.endpoint) for host in hosts))


@dataclass(frozen=True)
class Sized:
    """Something to pack (`pack_by_group`), with what decides where it goes."""

    group: Hashable
    size: int
    item: Any


def pack_by_group(sized: Iterable[Sized], most: int, most_bytes: int | None) -> list[list[Any]]:
    """Items in packs of one group each, in the order they come: at most `most` items a pack
    and, past the first, at most `most_bytes` in all; an item larger than that alone."""
    packs: list[list[Any]] = []
    filling: dict[Hashable, tuple[list[Any], int]] = {}
    for one in sized:
        pack, size = filling.get(one.group, (None, 0))
        full = pack is not None and (
            len(pack) >= most or (most_bytes is not None and size + one.size > most_bytes)
        )
        if pack is None or full:
            pack, size = [], 0
            packs.append(pack)
        pack.append(one.item)
        filling[one.group] = (pack, size + one.size)
    return packs


def replica_batches(session: Session, mutations: Iterable[Sequence[Write]]) -> list[BatchStatement]:
    """Mutations, each one partition's writes (applied together, all or nothing), in unlogged
    batches of partitions stored on the same nodes, BATCH_PARTITIONS and BATCH_BYTES at
    most: the coordinator, a replica of the batch's first partition (token-aware routing),
    is one of each. A mutation is never split (a larger one is a batch alone); what was one
    statement per partition becomes one per ten, which is most of the driver's and
    Cassandra's cost of a small write."""
    sized = []
    for writes in mutations:
        bound = [statement.bind(values) for statement, values in writes]
        if bound:
            size = sum(len(v) for b in bound for v in b.values if isinstance(v, bytes))
            sized.append(Sized(replicas_of(session, bound[0]), size, bound))
    batches = []
    for pack in pack_by_group(sized, BATCH_PARTITIONS, BATCH_BYTES):
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for bound in pack:
            for statement in bound:
                batch.add(statement)
        batches.append(batch)
    return batches


def replica_chunks(
    session: Session, single: PreparedStatement, keys: Iterable[K], most: int = KEYS_AT_ONCE
) -> list[list[K]]:
    """Partition keys (of one column) in chunks of `most` at most, each chunk's partitions
    stored on the same nodes, for one read each with `IN`: `single` is a statement whose one
    value is that partition key (it only tells where a key is stored)."""
    return pack_by_group(
        (Sized(replicas_of(session, single.bind((key,))), 0, key) for key in keys), most, None
    )
