"""Connecting to Cassandra, and awaiting the driver's futures from asyncio code.

The driver runs its own I/O threads and reports through callbacks; `run` turns one
statement into an awaitable, and `run_many` keeps a bounded number in flight, which is how
the driver reaches its throughput (STACK.md: concurrency 64-256).

Many small reads of different partitions cost the driver (and Cassandra) more per request
than per row: `replica_chunks` groups partition keys stored on the same nodes for one read
with IN (docs/bench_analytics.md, session 10).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import re
import struct
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
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
from cassandra.cqltypes import DateType
from cassandra.policies import (
    ConstantSpeculativeExecutionPolicy,
    DCAwareRoundRobinPolicy,
    TokenAwarePolicy,
)
from cassandra.query import UNSET_VALUE, BoundStatement, PreparedStatement, Statement
from cassandra.util import Date as CassandraDate

from contract.bilingual import unreachable
from infra.settings import ConnectionSettings

K = TypeVar("K")

KEYS_AT_ONCE = 32
"""Partition keys one read asks for with IN at most (`replica_chunks`)."""


class StoreUnavailable(Exception):
    """Cassandra cannot be reached: the caller retries later or fails at start-up."""


def connect(
    settings: ConnectionSettings,
    *,
    keyspace: str | None = None,
    request_timeout: float = 20,
    speculate_after_s: float | None = None,
) -> tuple[Cluster, Session]:
    """A session with token-aware routing (each write goes straight to a replica).
    `request_timeout`: when the driver gives up on a statement; the verify API sets its
    request deadline, so nothing waits on a statement its client has been answered for.
    `speculate_after_s`: an idempotent statement (the readers' reads: records.store) not
    answered by then is sent to the next node of its plan as well, once, and the first
    answer wins; a coordinator that stalls alone then costs that delay, not the deadline
    (not every stall is one coordinator's: docs/cluster.md, session 11). The verify API sets
    it; writers do not.

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
        speculative_execution_policy=(
            ConstantSpeculativeExecutionPolicy(speculate_after_s, max_attempts=1)
            if speculate_after_s is not None
            else None
        ),
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
        raise StoreUnavailable(unreachable("Cassandra", settings.cassandra_hosts, exc)) from exc
    return cluster, session


def prepare_read(session: Session, query: str) -> PreparedStatement:
    """A prepared read, marked idempotent: the driver may then ask a second node for it
    (`connect`'s speculate_after_s); asking twice changes nothing."""
    statement = session.prepare(query)
    statement.is_idempotent = True
    return statement


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


def bound(statement: PreparedStatement, values: Sequence[Any]) -> BoundStatement:
    """`statement.bind(values)` for the scan processor's many rows a micro-batch. The
    driver's own bind (3.30) makes a named tuple describing the column of every value, to ask
    a column encryption policy, which `connect` never sets: that was a third of a bind's
    time. Here each column's type serializes its value, as the driver does without a policy
    (timestamps by `_timestamp_bytes`): None stays null, UNSET_VALUE unset, and missing
    trailing values are unset."""
    serializers = _serializers.get(statement.query_id)
    if serializers is None:
        serializers = _serializers[statement.query_id] = [
            _timestamp_bytes if issubclass(c.type, DateType) else c.type.serialize
            for c in statement.column_metadata
        ]
    if len(values) > len(serializers):
        raise ValueError(f"{len(values)} values for {len(serializers)} columns")
    version = statement.protocol_version
    statement_bound = BoundStatement(statement)
    statement_bound.raw_values = values
    statement_bound.values = [
        value if value is None or value is UNSET_VALUE else serialize(value, version)
        for value, serialize in zip(values, serializers, strict=False)
    ] + [UNSET_VALUE] * (len(serializers) - len(values))  # checked not to outnumber them
    return statement_bound


_serializers: dict[bytes, list[Callable[[Any, int], bytes]]] = {}
"""Each prepared statement's bind markers' serializers, by its id (`bound`)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_INT64 = struct.Struct(">q")


def _timestamp_bytes(value: Any, protocol_version: int) -> bytes:
    """A timestamp column's bytes, as the driver's DateType.serialize makes them: for an
    aware datetime since 1970 (every time this system writes) the milliseconds by integer
    arithmetic, a sixth of the driver's time (it goes through a time tuple and floats: 1.7
    against 0.3 us here, and a scan writes several); anything else by the driver."""
    if type(value) is datetime and value.tzinfo is not None and value >= _EPOCH:
        return _INT64.pack((value - _EPOCH) // _MILLISECOND)
    return bytes(DateType.serialize(value, protocol_version))


def replicas_of(session: Session, statement: BoundStatement) -> tuple[str, ...]:
    """The nodes holding the bound statement's partition (none while the driver knows no
    ring): what decides which partitions may share a read."""
    hosts = session.cluster.metadata.get_replicas(statement.keyspace, statement.routing_key)
    return tuple(sorted(str(host.endpoint) for host in hosts))


def chunks_by_group(
    items: Iterable[tuple[Hashable, K]],
    most: int,
    *,
    size: Callable[[K], int] | None = None,
    most_size: int = 0,
) -> list[list[K]]:
    """Items (each with its group) in chunks of one group each, in the order they come, at
    most `most` a chunk and, with `size`, at most `most_size` of it (an item larger alone
    is a chunk alone)."""
    chunks: list[list[K]] = []
    filling: dict[Hashable, tuple[list[K], int]] = {}
    for group, item in items:
        weight = size(item) if size is not None else 0
        chunk, weighed = filling.get(group, (None, 0))
        if chunk is None or len(chunk) >= most or (chunk and weighed + weight > most_size):
            chunk, weighed = [], 0
            chunks.append(chunk)
        chunk.append(item)
        filling[group] = (chunk, weighed + weight)
    return chunks


def replica_chunks(
    session: Session, single: PreparedStatement, keys: Iterable[K], most: int = KEYS_AT_ONCE
) -> list[list[K]]:
    """Partition keys (of one column) in chunks of `most` at most, each chunk's partitions
    stored on the same nodes, for one read each with `IN`: `single` is a statement whose one
    value is that partition key (it only tells where a key is stored). An IN read carries no
    routing key (the driver computes none for a list), so its coordinator is any node: on a
    cluster larger than the replication factor, one hop more than a read of one key."""
    return chunks_by_group(((replicas_of(session, single.bind((key,))), key) for key in keys), most)
