"""`ocop-log`: the log writer. Reads the sequencer topic in order, appends each new leaf to the
tree stored in Cassandra, and signs a checkpoint every few seconds while the tree grows.

Why a crash loses and duplicates nothing (docs/auditlog.md has the long form):

1. The committed tree is one row, the head: (size, root, next sequencer offset). A step
   reads messages from `next_offset` on, appends the new leaves, writes every tile, entry
   bundle, leaf-id and subject row they touch, waits until all are acknowledged, and only
   then moves the head, conditionally on the size it started from (a second writer running
   by mistake is fenced: HeadFenced, and it stops).
2. A crash before the head moved leaves rows at indexes >= size: they do not count. The
   restarted writer resumes at the head's offset, so it reads the same messages in the same
   order and gives every leaf the same index: rows it rewrites are identical. Leaf-id rows at
   or past the committed size are a dead step's and are ignored when deduplicating.
3. A crash after the head moved and before the Kafka offset commit changes nothing: the
   writer resumes from the head's offset, not from Kafka's committed one, which is only
   committed after the head (and any checkpoint) are durable, for monitoring lag.
4. A leaf's id is the SHA-256 of its entry; an id already at an index below the size is a
   replay (a processor redelivered after a crash) and is skipped: every fact once, in the
   order it was first published.
5. Checkpoints sign only committed heads; a restarted writer checks that the root it rebuilds
   from the stored tiles is the head's before it signs anything, so it never signs two
   roots for one size.

With OCOP_ROOT_KEY set, the writer reads the newest stored trust list at start and refuses to
run with a key that the list does not certify for its origin (when the list names any key of
that origin); the same list's key revocations go into the signed status list the writer
issues every OCOP_LOG_STATUS_INTERVAL_S (keys.status, auditlog.status), re-read each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Protocol

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from rich.console import Console

from auditlog.checkpoint import Checkpoint, sign_checkpoint
from auditlog.edge import Edge, partial_tiles
from auditlog.leaves import MalformedLeaf, leaf_id, parse_entry
from auditlog.note import Ed25519Signer
from auditlog.settings import WriterSettings
from auditlog.status import StatusTables, build_status_list
from auditlog.tiles import TILE_WIDTH, encode_entry_bundle, parse_entry_bundle
from contract.bilingual import bilingual, error_message, unreachable
from infra.process import StackError
from infra.topics import admin_client
from keys.errors import KeysError, TrustListError
from keys.ids import decode_public_key
from keys.keystore import Keystore
from keys.status import sign_status_list
from keys.trustlist import TrustList
from records.auditlog import AuditLogStore, HeadFenced, LogHead, StoredCheckpoint
from records.session import StoreUnavailable, connect
from records.store import RecordReader

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 10.0


class CorruptLog(Exception):
    """The stored tiles do not give the committed root: nothing is signed until an operator
    has looked (never sign a second root for a size)."""


@dataclass(frozen=True)
class Message:
    """A sequencer message: its offset, its value (a leaf entry) and when it was published."""

    offset: int
    value: bytes
    timestamp_ms: int


@dataclass(frozen=True)
class StepResult:
    appended: int
    duplicates: int
    malformed: int
    head: LogHead


class LogStore(Protocol):
    """records.auditlog.AuditLogStore, as the writer uses it."""

    async def head(self) -> LogHead | None: ...
    async def tiles(self, ids: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]: ...
    async def bundle(self, index: int) -> tuple[int, bytes] | None: ...
    async def leaf_indexes(self, leaf_ids: Sequence[bytes]) -> dict[bytes, int]: ...
    async def latest_checkpoints(self, limit: int = 1) -> list[StoredCheckpoint]: ...
    async def write_step(
        self,
        tiles: dict[tuple[int, int], bytes],
        bundles: dict[int, tuple[int, bytes]],
        leaf_ids: dict[bytes, int],
        subjects: dict[str, int],
    ) -> None: ...
    async def move_head(self, expected_size: int | None, head: LogHead) -> None: ...
    async def store_checkpoint(
        self, size: int, note: str, signed_at: datetime, oldest_leaf_at: datetime | None
    ) -> None: ...


class LogWriter:
    """The writer's logic, without Kafka: `open`, then `append` steps and `checkpoint`s."""

    def __init__(
        self,
        store: LogStore,
        signer: Ed25519Signer,
        *,
        origin: str,
        checkpoint_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.signer = signer
        self.origin = origin
        self.interval_s = checkpoint_interval_s
        self.clock = clock
        self.edge = Edge()
        self.head: LogHead | None = None
        self.checkpointed: int | None = None
        """The size of the newest stored checkpoint (None: none yet)."""
        self._last_signed = float("-inf")
        self._oldest_pending: datetime | None = None

    async def open(self) -> int:
        """Loads the committed tree; returns the sequencer offset to read from."""
        head = await self.store.head()
        latest = await self.store.latest_checkpoints(1)
        self.checkpointed = latest[0].size if latest else None
        self._oldest_pending = None
        if head is None:
            self.edge, self.head = Edge(), None
            return 0
        wanted = partial_tiles(head.size)
        stored = await self.store.tiles([(t.level, t.index) for t in wanted])
        entries: list[bytes] = []
        if head.size % TILE_WIDTH:
            found = await self.store.bundle(head.size // TILE_WIDTH)
            if found is None:
                raise CorruptLog(
                    bilingual(
                        f"thiếu entry bundle {head.size // TILE_WIDTH}",
                        f"entry bundle {head.size // TILE_WIDTH} is missing",
                    )
                )
            entries = parse_entry_bundle(found[1], found[0])
        try:
            edge = Edge.load(
                head.size, {t: stored.get((t.level, t.index), b"") for t in wanted}, entries
            )
        except ValueError as exc:
            raise CorruptLog(
                bilingual("các tile đã lưu không dựng lại được cây", str(exc))
            ) from None
        if edge.root() != head.root:
            raise CorruptLog(
                bilingual(
                    f"các tile đã lưu không cho ra gốc của cây kích thước {head.size}",
                    f"the stored tiles do not give the root of size {head.size}",
                )
            )
        self.edge, self.head = edge, head
        return head.next_offset

    @property
    def size(self) -> int:
        return self.head.size if self.head else 0

    async def append(self, messages: Sequence[Message]) -> StepResult:
        """One step: the new leaves of `messages` (in offset order) appended and committed.
        After an exception the edge may hold uncommitted leaves: `open` again."""
        if not messages:
            raise ValueError("a step has at least one message")
        committed = self.size
        parsed: list[tuple[Message, str, bytes]] = []
        malformed = 0
        for message in messages:
            try:
                leaf = parse_entry(message.value)
            except MalformedLeaf as exc:  # only processors publish here; logged, never logged twice
                log.error("sequencer offset %d is not a leaf (%s); skipped", message.offset, exc)
                malformed += 1
                continue
            parsed.append((message, leaf.subject, leaf_id(message.value)))
        known = await self.store.leaf_indexes(list({lid for _, _, lid in parsed}))
        seen = {lid for lid, index in known.items() if index < committed}
        leaf_rows: dict[bytes, int] = {}
        subjects: dict[str, int] = {}
        duplicates = 0
        for message, subject, lid in parsed:
            if lid in seen:
                duplicates += 1
                continue
            seen.add(lid)
            index = self.edge.append(message.value)
            leaf_rows[lid] = index
            subjects[subject] = index
            if self._oldest_pending is None:
                self._oldest_pending = datetime.fromtimestamp(message.timestamp_ms / 1000, UTC)
        writes = self.edge.take_writes()
        bundles = {
            index: (len(entries), encode_entry_bundle(entries))
            for index, entries in writes.bundles.items()
        }
        await self.store.write_step(writes.tiles, bundles, leaf_rows, subjects)
        head = LogHead(self.edge.size, self.edge.root(), messages[-1].offset + 1)
        await self.store.move_head(self.head.size if self.head else None, head)
        self.head = head
        return StepResult(len(leaf_rows), duplicates, malformed, head)

    def checkpoint_due(self) -> bool:
        if self.checkpointed is None:
            return True  # the empty tree's, or the first after an upgrade: witnesses start there
        grown = self.size > self.checkpointed
        return grown and self.clock() - self._last_signed >= self.interval_s

    async def checkpoint(self) -> StoredCheckpoint:
        """Sign and store a checkpoint of the committed tree."""
        head = self.head or LogHead(0, self.edge.root(), 0)
        note = sign_checkpoint(Checkpoint(self.origin, head.size, head.root), self.signer)
        signed_at = datetime.now(UTC)
        oldest = self._oldest_pending
        await self.store.store_checkpoint(head.size, note, signed_at, oldest)
        self.checkpointed, self._last_signed, self._oldest_pending = head.size, self.clock(), None
        return StoredCheckpoint(head.size, note, signed_at, oldest)


# -- the Kafka loop --------------------------------------------------------------------------


class SetupError(Exception):
    """The writer cannot start: its key, topic or Cassandra is missing."""


def load_signer(settings: WriterSettings) -> Ed25519Signer:
    key = Keystore(settings.log_keystore).load_named_or_only(
        settings.log_key_id, settings.log_passphrase.get_secret_value(),
        setting="OCOP_LOG_KEY_ID", tool="ocop-log",
    )  # fmt: skip
    return Ed25519Signer(settings.log_origin, key.private_key)


def check_log_key(signer: Ed25519Signer, trust: TrustList, at: datetime) -> None:
    """Refuses (SetupError) a key the trust list does not certify for the signer's origin,
    when the list names any key of that origin; a list that names none says nothing yet."""
    named = [c for c in trust.log_keys() if c.origin == signer.name]
    if not named:
        log.warning("trust list version %d names no key of the log %s", trust.version,
                    signer.name)  # fmt: skip
        return
    if signer.verifier() not in trust.log_verifiers(at, origin=signer.name):
        ids = ", ".join(c.key_id for c in named)
        raise SetupError(
            bilingual(
                f"khóa nhật ký {signer.verifier().vkey} không phải khóa còn hiệu lực của "
                f"{signer.name} trong danh sách tin cậy phiên bản {trust.version} (danh sách "
                f"chứng nhận {ids}); từ chối ký điểm kiểm tra",
                f"the log key {signer.verifier().vkey} is not a usable key of {signer.name} in "
                f"trust list version {trust.version} (it certifies {ids}); refusing to sign "
                "checkpoints",
            )
        )


async def newest_trust_list(settings: WriterSettings, reader: RecordReader) -> TrustList | None:
    """The newest stored trust list, checked under OCOP_ROOT_KEY; None without a root key or
    a stored list."""
    if settings.root_key is None:
        return None
    document = await reader.latest_trust_list()
    if document is None:
        return None
    try:
        root = decode_public_key(settings.root_key)
    except ValueError as exc:
        raise SetupError(
            bilingual(
                "OCOP_ROOT_KEY không phải khóa công khai Ed25519",
                f"OCOP_ROOT_KEY: {exc}",
            )
        ) from None
    return TrustList.load(document, root_public_key=root)


async def issue_status_list(
    tables: StatusTables, signer: Ed25519Signer, trust: TrustList | None, settings: WriterSettings
) -> str:
    """Build, sign and store one status list; returns its note."""
    body = await build_status_list(
        tables,
        now=datetime.now(UTC),
        validity=timedelta(hours=settings.log_status_validity_h),
        trust=trust,
    )
    note = sign_status_list(body, signer)
    await tables.store_status_list(body, note)
    return note


async def status_lists(
    settings: WriterSettings,
    signer: Ed25519Signer,
    tables: StatusTables,
    reader: RecordReader,
    stop: asyncio.Event,
) -> None:
    """A new status list every OCOP_LOG_STATUS_INTERVAL_S, until stopped; a failed one is
    logged and tried again at the next interval (the last stored one stays valid meanwhile)."""
    while not stop.is_set():
        try:
            trust = await newest_trust_list(settings, reader)
            await issue_status_list(tables, signer, trust, settings)
            log.info("status list issued")
        except Exception:
            log.exception("the status list could not be issued")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), settings.log_status_interval_s)


def _partition_count(settings: WriterSettings) -> int:
    with admin_client(settings) as admin:
        described = admin.describe_topics([settings.log_topic])
    return len(described[0].get("partitions") or ()) if described else 0


async def run_writer(settings: WriterSettings, stop: asyncio.Event) -> None:
    signer = load_signer(settings)
    cluster, session = await asyncio.to_thread(connect, settings, keyspace=settings.keyspace)
    reader = await asyncio.to_thread(RecordReader, session)
    try:
        trust = await newest_trust_list(settings, reader)
    except TrustListError as exc:
        raise SetupError(
            bilingual(
                "danh sách tin cậy đã lưu không xác minh được",
                f"the stored trust list does not verify: {exc}",
            )
        ) from None
    if trust is not None:
        check_log_key(signer, trust, datetime.now(UTC))
    store = await asyncio.to_thread(AuditLogStore, session, settings.log_origin)
    tables = await asyncio.to_thread(StatusTables, session, settings.log_origin)
    issuing = asyncio.create_task(status_lists(settings, signer, tables, reader, stop))
    writer = LogWriter(
        store,
        signer,
        origin=settings.log_origin,
        checkpoint_interval_s=settings.log_checkpoint_interval_s,
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.log_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    try:
        await consumer.start()
    except KafkaError as exc:
        raise SetupError(unreachable("Kafka", settings.kafka_bootstrap, exc)) from exc
    try:
        count = await asyncio.to_thread(_partition_count, settings)
        if count != 1:
            raise SetupError(
                bilingual(
                    f"chủ đề Kafka {settings.log_topic} (bộ xếp thứ tự) có {count} phân vùng; "
                    "cần đúng một (chạy `ocop-stack topics`)",
                    f"the sequencer {settings.log_topic} has {count} partitions; it needs exactly "
                    "one (run `ocop-stack topics`)",
                )
            )
        partition = TopicPartition(settings.log_topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, await writer.open())
        log.info("log %s opened at size %d", settings.log_origin, writer.size)
        backoff = 0.5
        wait_ms = int(min(settings.log_checkpoint_interval_s, 1.0) * 1000)
        while not stop.is_set():
            batch = await consumer.getmany(
                partition, timeout_ms=wait_ms, max_records=settings.log_step_leaves
            )
            messages = [
                Message(r.offset, r.value or b"", r.timestamp) for r in batch.get(partition, [])
            ]
            try:
                if messages:
                    step = await writer.append(messages)
                    log.debug("appended %d, %d duplicates, size %d", step.appended,
                              step.duplicates, step.head.size)  # fmt: skip
                if writer.checkpoint_due():
                    signed = await writer.checkpoint()
                    log.info("checkpoint of size %d signed", signed.size)
                if messages and writer.head is not None:
                    await consumer.commit({partition: writer.head.next_offset})
                backoff = 0.5
            except (HeadFenced, CorruptLog):
                raise
            except Exception:  # Cassandra or Kafka passing trouble: back to the committed head
                log.exception("a step failed; reopening at the committed head in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                consumer.seek(partition, await writer.open())
    finally:
        issuing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await issuing
        await consumer.stop()
        await asyncio.to_thread(cluster.shutdown)


# -- the command line ------------------------------------------------------------------------


def main() -> None:
    console = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line
    app = typer.Typer(
        help="The audit log's writer: appends the leaves of the sequencer topic to the tree in "
        "Cassandra and signs checkpoints. Settings: OCOP_LOG_* (OCOP_LOG_PASSPHRASE required).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.command()
    def run(loglevel: Annotated[str, typer.Option(help="debug, info, warning")] = "info") -> None:
        """Run until stopped (Ctrl-C or SIGTERM)."""
        logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(message)s")
        settings = WriterSettings()

        async def serve() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await run_writer(settings, stop)

        asyncio.run(serve())

    @app.command("init-key")
    def init_key(
        keystore: Annotated[Path, typer.Option(envvar="OCOP_LOG_KEYSTORE")] = Path(
            ".state/log-keys"
        ),
    ) -> None:
        """Create the log's signing key, encrypted with OCOP_LOG_PASSPHRASE; print its id."""
        print(Keystore(keystore).generate_with("OCOP_LOG_PASSPHRASE").key_id)

    @app.command()
    def vkey() -> None:
        """Print the log's verifier key (what witnesses and verifiers pin)."""
        print(load_signer(WriterSettings()).verifier().vkey)

    try:
        app()
    except (
        ValidationError,
        SetupError,
        StackError,
        CorruptLog,
        HeadFenced,
        KeysError,
        StoreUnavailable,
    ) as exc:
        console.print(f"[red]error:[/] {error_message(exc)}")
        raise SystemExit(2) from None
