"""The log writer's logic without Kafka or Cassandra: leaves, the tree's edge, steps that
commit or crash half-way, duplicates, checkpoints; and the witness's judgement."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from auditlog.cosignature import CosignatureSigner, WitnessPolicy, verify_cosignatures
from auditlog.edge import Edge, partial_tiles
from auditlog.leaves import (
    Leaf,
    MalformedLeaf,
    certification_leaf,
    entry_bytes,
    leaf_id,
    parse_entry,
    record_leaf,
    revocation_leaf,
    trust_list_leaf,
)
from auditlog.merkle import MemoryHashes, consistency_proof, leaf_hash, root_hash
from auditlog.note import Ed25519Signer, encode_base64, parse_note
from auditlog.tiles import build_tiles, parse_entry_bundle
from auditlog.witness import Seen, Witness
from auditlog.writer import LogWriter, Message
from contract.records import GENESIS_HASH
from keys.chain import ChainRecord
from records.auditlog import HeadFenced, LogHead, StoredCheckpoint

ORIGIN = "ocop.example/log"
LOG_KEY = Ed25519Signer.generate(ORIGIN)


def record(seq: int, batch: str = "/p/TB-GAO-01/10/L1") -> ChainRecord:
    return ChainRecord(batch, seq, f"event {seq}".encode(), GENESIS_HASH, bytes([seq % 256]) * 32,
                       b"seal", "kid")  # fmt: skip


def entries(n: int, start: int = 1) -> list[bytes]:
    return [
        entry_bytes(record_leaf(record(seq), "units_packed")) for seq in range(start, start + n)
    ]


# -- leaves ----------------------------------------------------------------------------------


def test_every_leaf_kind_round_trips_and_names_its_subject():
    leaves: list[Leaf] = [
        record_leaf(record(3), "batch_recalled"),
        trust_list_leaf(7, b"{}"),
        certification_leaf("/p/X", "C-1", b"doc"),
        revocation_leaf("/p/X", "C-1", b"doc"),
    ]
    for leaf in leaves:
        entry = entry_bytes(leaf)
        assert parse_entry(entry) == leaf
        assert leaf_id(entry) == leaf_id(entry_bytes(leaf))  # the same fact, the same id
    assert len({leaf.subject for leaf in leaves}) == 4
    assert b'"kind":"chain_record"' in entry_bytes(leaves[0])
    assert b'"event_sha256":"' in entry_bytes(leaves[0])


@pytest.mark.parametrize(
    "entry",
    [
        b"not json",
        b'{"kind":"chain_record","leaf":"other/v1"}',
        b'{"kind":"nonsense","leaf":"ocop-log-leaf/v1"}',
        b'{"document_sha256":"ab","kind":"trust_list","leaf":"ocop-log-leaf/v1","version":"1"}',
        b'{"document_sha256":"ab","kind":"trust_list","leaf":"ocop-log-leaf/v1"}',
        b'{"kind": "trust_list"}',
    ],
)
def test_what_is_not_a_leaf_is_refused(entry):
    with pytest.raises(MalformedLeaf):
        parse_entry(entry)


# -- the edge --------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 700), min_size=1, max_size=5))
def test_the_edge_gives_the_tiles_and_roots_of_the_whole_tree(steps):
    edge, stored, bundles = Edge(), {}, {}
    all_entries: list[bytes] = []
    for count in steps:
        for entry in entries(count, len(all_entries) + 1):
            edge.append(entry)
            all_entries.append(entry)
        writes = edge.take_writes()
        stored.update(writes.tiles)
        bundles.update(writes.bundles)
        hashes = [leaf_hash(e) for e in all_entries]
        assert edge.root() == root_hash(hashes)
        # every published tile is the prefix of what is stored for it
        for tile, data in build_tiles(hashes).items():
            assert stored[tile.level, tile.index][: len(data)] == data
        # and the edge reloads from what was stored
        size = len(all_entries)
        tiles = {t: stored[t.level, t.index] for t in partial_tiles(size)}
        again = Edge.load(size, tiles, bundles.get(size // 256, []))
        assert again.root() == edge.root()
    for index, bundle in bundles.items():
        assert bundle == all_entries[index * 256 : index * 256 + len(bundle)]


# -- the writer ------------------------------------------------------------------------------


class Crash(Exception):
    pass


class MemoryStore:
    """records.auditlog.AuditLogStore in memory; `crash_before_head` fails a step after its
    rows are written and before the head moves (a writer killed there)."""

    def __init__(self) -> None:
        self.head_row: LogHead | None = None
        self.tile_rows: dict[tuple[int, int], bytes] = {}
        self.bundle_rows: dict[int, tuple[int, bytes]] = {}
        self.leaf_rows: dict[bytes, int] = {}
        self.subject_rows: dict[str, int] = {}
        self.checkpoints: list[StoredCheckpoint] = []
        self.crash_before_head = False

    async def head(self):
        return self.head_row

    def committed(self) -> LogHead:
        assert self.head_row is not None
        return self.head_row

    async def tiles(self, ids):
        return {key: self.tile_rows[key] for key in ids if key in self.tile_rows}

    async def bundle(self, index):
        return self.bundle_rows.get(index)

    async def leaf_indexes(self, leaf_ids):
        return {leaf: self.leaf_rows[leaf] for leaf in leaf_ids if leaf in self.leaf_rows}

    async def latest_checkpoints(self, limit=1):
        return sorted(self.checkpoints, key=lambda c: -c.size)[:limit]

    async def write_step(self, tiles, bundles, leaf_ids, subjects):
        self.tile_rows.update(tiles)
        self.bundle_rows.update(bundles)
        self.leaf_rows.update(leaf_ids)
        self.subject_rows.update(subjects)
        if self.crash_before_head:
            raise Crash("killed before the head moved")

    async def move_head(self, expected_size, head):
        found = self.head_row.size if self.head_row else None
        if found != expected_size:
            raise HeadFenced(f"expected {expected_size}, found {found}")
        self.head_row = head

    async def store_checkpoint(self, size, note, signed_at, oldest_leaf_at):
        self.checkpoints.append(StoredCheckpoint(size, note, signed_at, oldest_leaf_at))

    def entries(self) -> list[bytes]:
        size = self.head_row.size if self.head_row else 0
        found: list[bytes] = []
        for index in range(0, size, 256):
            width, data = self.bundle_rows[index // 256]
            found += parse_entry_bundle(data, width)
        return found[:size]


def writer(store: MemoryStore, clock=lambda: 0.0) -> LogWriter:
    return LogWriter(store, LOG_KEY, origin=ORIGIN, checkpoint_interval_s=2.0, clock=clock)


def messages(values: list[bytes], first_offset: int = 0) -> list[Message]:
    return [Message(first_offset + i, v, 1_767_225_600_000 + i) for i, v in enumerate(values)]


def run(coro):
    return asyncio.run(coro)


def test_steps_append_in_order_and_skip_replayed_leaves():
    store = MemoryStore()
    w = writer(store)
    assert run(w.open()) == 0
    first = entries(300)
    step = run(w.append(messages(first)))
    assert (step.appended, step.duplicates, step.head.size, step.head.next_offset) == (
        300, 0, 300, 300,
    )  # fmt: skip
    # a processor replayed after a crash: 100 leaves again, then 50 new, one of them twice
    again = [*first[200:], *entries(50, 301), entries(1, 305)[0]]
    step = run(w.append(messages(again, 300)))
    assert (step.appended, step.duplicates, step.head.size) == (50, 101, 350)
    assert store.entries() == [*first, *entries(50, 301)]
    assert store.committed().root == root_hash([leaf_hash(e) for e in store.entries()])
    assert store.subject_rows[parse_entry(first[7]).subject] == 7


def test_a_malformed_message_is_skipped_not_appended():
    store = MemoryStore()
    w = writer(store)
    run(w.open())
    step = run(w.append(messages([b"junk", *entries(2)])))
    assert (step.appended, step.malformed, step.head.size, step.head.next_offset) == (2, 1, 2, 3)


@pytest.mark.parametrize("kill_at_step", [0, 1, 3])
def test_a_writer_killed_between_its_rows_and_its_head_resumes_with_no_gap_and_no_duplicate(
    kill_at_step,
):
    stream = entries(1200)
    stream = [*stream[:500], *stream[100:150], *stream[500:]]  # replays inside the stream
    steps = [stream[i : i + 230] for i in range(0, len(stream), 230)]

    # the run that was never killed
    clean = MemoryStore()
    w = writer(clean)
    run(w.open())
    offset = 0
    for chunk in steps:
        run(w.append(messages(chunk, offset)))
        offset += len(chunk)

    # the run killed once, restarted from what it had stored
    store = MemoryStore()
    w = writer(store)
    offset = run(w.open())
    done = 0
    while offset < len(stream):
        chunk = stream[offset : offset + 230 + done % 3]  # other step sizes than before
        store.crash_before_head = done == kill_at_step
        try:
            run(w.append(messages(chunk, offset)))
        except Crash:
            store.crash_before_head = False
            w = writer(store)  # a new process
            offset = run(w.open())
            done += 1
            continue
        offset += len(chunk)
        done += 1
    assert store.entries() == clean.entries() == list(dict.fromkeys(stream))
    assert store.committed().root == clean.committed().root
    assert store.leaf_rows == clean.leaf_rows


def test_a_second_writer_is_fenced():
    store = MemoryStore()
    a, b = writer(store), writer(store)
    run(a.open())
    run(b.open())
    run(a.append(messages(entries(3))))
    with pytest.raises(HeadFenced):
        run(b.append(messages(entries(3))))


def test_checkpoints_sign_committed_heads_every_interval_while_the_tree_grows():
    now = [0.0]
    store = MemoryStore()
    w = writer(store, clock=lambda: now[0])
    run(w.open())
    assert w.checkpoint_due()  # the empty tree's first
    empty = run(w.checkpoint())
    assert empty.size == 0
    run(w.append(messages(entries(10))))
    assert not w.checkpoint_due()  # too soon
    now[0] = 2.5
    assert w.checkpoint_due()
    signed = run(w.checkpoint())
    checkpoint = open_checkpoint(signed.note, origin=ORIGIN, log=LOG_KEY.verifier()).checkpoint
    assert (checkpoint.size, checkpoint.root_hash) == (10, store.committed().root)
    assert isinstance(signed.oldest_leaf_at, datetime)
    now[0] = 10.0
    assert not w.checkpoint_due()  # nothing new: no checkpoint
    # a restarted writer knows the last checkpoint and checks the stored root
    again = writer(store, clock=lambda: now[0])
    assert run(again.open()) == 10
    assert not again.checkpoint_due()


# -- the witness -----------------------------------------------------------------------------


class FakeLog:
    """A log serving checkpoints of a list of entries, optionally lying."""

    def __init__(self) -> None:
        self.leaves: list[bytes] = []
        self.served: str | None = None
        self.cosigned: list[str] = []

    def grow(self, n: int) -> None:
        self.leaves += [leaf_hash(uuid.uuid4().bytes) for _ in range(n)]
        self.served = sign_checkpoint(
            Checkpoint(ORIGIN, len(self.leaves), root_hash(self.leaves)), LOG_KEY
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/log/checkpoint":
            return httpx.Response(200, text=self.served)
        if path.startswith("/log/proof/consistency/"):
            old, new = map(int, path.rsplit("/", 2)[1:])
            proof = consistency_proof(MemoryHashes(self.leaves), old, new)
            return httpx.Response(200, text="".join(encode_base64(h) + "\n" for h in proof))
        if path == "/log/cosignatures":
            self.cosigned.append(request.content.decode())
            return httpx.Response(204)
        return httpx.Response(404)


def witness_round(witness: Witness, fake: FakeLog):
    async def go():
        transport = httpx.MockTransport(fake.handler)
        async with httpx.AsyncClient(transport=transport) as client:
            return await witness.round(client)

    return run(go())


def test_the_witness_cosigns_growth_and_refuses_a_split_view_and_a_shrinking_tree(tmp_path):
    signer = CosignatureSigner.generate("w1.example")
    state = tmp_path / "state"
    witness = Witness(signer, origin=ORIGIN, log_key=LOG_KEY.verifier(),
                      log_url="http://log.test/log", state_path=state)  # fmt: skip
    fake = FakeLog()
    fake.grow(5)
    assert witness_round(witness, fake).seen is Seen.COSIGNED
    fake.grow(300)
    assert witness_round(witness, fake).seen is Seen.COSIGNED
    assert witness_round(witness, fake).seen is Seen.UNCHANGED
    policy = WitnessPolicy((signer.verifier(),), 1)
    assert verify_cosignatures(parse_note(fake.cosigned[-1]), policy).ok
    cosigned_state = state.read_text()

    # the same size with another root, signed by the log's key: a split view
    honest = fake.leaves
    fake.leaves = [*honest[:-1], leaf_hash(b"rewritten")]
    fake.served = sign_checkpoint(Checkpoint(ORIGIN, 305, root_hash(fake.leaves)), LOG_KEY)
    seen = witness_round(witness, fake)
    assert seen.seen is Seen.SPLIT_VIEW
    assert seen.seen.refused
    assert state.read_text() == cosigned_state  # nothing forgotten, nothing cosigned
    assert len(fake.cosigned) == 2
    assert any(".split_view." in p.name for p in tmp_path.iterdir())

    # a shrinking tree
    fake.leaves = honest[:100]
    fake.served = sign_checkpoint(Checkpoint(ORIGIN, 100, root_hash(fake.leaves)), LOG_KEY)
    assert witness_round(witness, fake).seen is Seen.SHRANK

    # a larger tree that does not extend the cosigned one
    fake.leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(400)]
    fake.served = sign_checkpoint(Checkpoint(ORIGIN, 400, root_hash(fake.leaves)), LOG_KEY)
    assert witness_round(witness, fake).seen is Seen.INCONSISTENT

    # someone else's key
    fake.served = sign_checkpoint(Checkpoint(ORIGIN, 400, root_hash(fake.leaves)),
                                  Ed25519Signer.generate(ORIGIN))  # fmt: skip
    assert witness_round(witness, fake).seen is Seen.BAD_CHECKPOINT
    assert len(fake.cosigned) == 2
