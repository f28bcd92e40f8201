"""The audit log on the real stack: the real worker publishes leaves to a real single-partition
sequencer topic, `ocop-log` (its own process, SIGKILLed in one test) builds the tree in
Cassandra, and the log's routes (verify_api.routes.log, in process over ASGI) serve
checkpoints, tiles and proofs, and take a witness's cosignatures.

A leaf here is one stored fact: each chain record of a batch (opened, units packed, closed),
the trust list and the certification.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from auditlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from auditlog.cosignature import CosignatureSigner, WitnessPolicy
from auditlog.leaves import RecordLeaf, entry_bytes, leaf_id, parse_entry, record_leaf
from auditlog.merkle import (
    inclusion_proof,
    leaf_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from auditlog.note import Ed25519Verifier, decode_base64
from auditlog.proof import BundleCheck, TlogProof, verify_proof
from auditlog.settings import LogSettings, WriterSettings
from auditlog.tiles import TileHashReader, TileId, parse_entry_bundle
from auditlog.witness import Seen, Witness
from auditlog.writer import load_signer
from contract.events import UnitsPacked, decode_signed_event
from keys.keystore import Keystore
from records.auditlog import AuditLogStore
from records.store import RecordReader
from tests.integration.pipeline import (
    PASSPHRASE,
    VENV_BIN,
    Pipeline,
    batch_id,
    closed,
    opened,
    packed,
    wait_for,
)
from tests.world import World
from verify_api.errors import install_handlers
from verify_api.rendering import error_response
from verify_api.routes import log as log_routes

BASE = "http://log.test/log"


@dataclass
class Log:
    pipeline: Pipeline
    origin: str
    topic: str
    env: dict[str, str]
    log_file: Path
    witness_signer: CosignatureSigner
    writer: subprocess.Popen[bytes] | None = None

    # -- the writer process -------------------------------------------------------------------

    def start_writer(self) -> None:
        with self.log_file.open("ab") as out:
            self.writer = subprocess.Popen(
                [str(VENV_BIN / "ocop-log"), "run"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill_writer(self, sig: int = signal.SIGKILL) -> None:
        if self.writer is not None and self.writer.poll() is None:
            os.killpg(self.writer.pid, sig)
            self.writer.wait(timeout=30)
        self.writer = None

    def size(self) -> int:
        if self.writer is not None and self.writer.poll() is not None:
            raise AssertionError(f"ocop-log exited:\n{self.log_file.read_text()[-3000:]}")
        row = self.pipeline.session.execute(
            "SELECT size FROM log_head WHERE log = %s", (self.origin,)
        ).one()
        return row.size if row else 0

    def checkpointed(self) -> int:
        row = self.pipeline.session.execute(
            "SELECT size FROM log_checkpoints WHERE log = %s LIMIT 1", (self.origin,)
        ).one()
        return row.size if row else -1

    def wait_for_size(self, size: int, timeout_s: float = 120.0) -> None:
        wait_for(
            f"the log to hold {size} leaves in a checkpoint",
            lambda: self.size() >= size and self.checkpointed() >= size,
            timeout_s,
            explain=lambda: (
                f"size {self.size()}, checkpointed {self.checkpointed()}\n"
                + self.log_file.read_text(errors="replace")[-2000:]
            ),
        )

    # -- the API's routes, in process --------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI()
        app.include_router(log_routes.router)
        install_handlers(app, error_response)
        settings = LogSettings(
            log_origin=self.origin, log_witnesses=[self.witness_signer.verifier().vkey]
        )
        store = AuditLogStore(self.pipeline.session, self.origin)
        app.state.audit_log = log_routes.AuditLog(
            store, settings, RecordReader(self.pipeline.session)
        )
        return app

    def witness(self, folder: Path) -> Witness:
        return Witness(
            self.witness_signer,
            origin=self.origin,
            log_key=self.verifier(),
            log_url=BASE,
            state_path=folder / "witness-state",
        )

    def verifier(self) -> Ed25519Verifier:  # the log's key, as `ocop-log vkey` prints it
        out = subprocess.run(
            [str(VENV_BIN / "ocop-log"), "vkey"], env=self.env, capture_output=True, check=True
        )
        return Ed25519Verifier.from_vkey(out.stdout.decode().strip())


def call(app: FastAPI, work):
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://log.test") as client:
            return await work(client)

    return asyncio.run(go())


@contextmanager
def audit_log(stack_settings, folder: Path) -> Iterator[Log]:
    pipeline = Pipeline(stack_settings, folder, World())
    suffix = uuid.uuid4().hex[:8]
    topic = pipeline.topics["log"]
    Keystore(folder / "log-keys").generate(PASSPHRASE)
    origin = f"it.ocop.example/log-{suffix}"
    env = pipeline.env | {
        "OCOP_LOG_ORIGIN": origin,
        "OCOP_LOG_KEYSTORE": str(folder / "log-keys"),
        "OCOP_LOG_PASSPHRASE": PASSPHRASE,
        "OCOP_LOG_GROUP": f"it-log-{suffix}",
        "OCOP_LOG_CHECKPOINT_INTERVAL_S": "0.5",
    }
    log = Log(pipeline, origin, topic, env, folder / "ocop-log.log",
              CosignatureSigner.generate("w1.it.example"))  # fmt: skip
    try:
        yield log
    finally:
        log.kill_writer(signal.SIGTERM)
        pipeline.close()


def expected_leaves(log: Log, lots: list[str]) -> dict[bytes, bytes]:
    """Every chain record's entry, by leaf id, as rebuilt from the records the worker stored."""
    found = {}
    for lot in lots:
        for record in log.pipeline.chain(batch_id(lot)):
            entry = entry_bytes(record_leaf(record, decode_signed_event(record.event).body.type))
            found[leaf_id(entry)] = entry
    return found


def stored_entries(log: Log) -> list[bytes]:
    session = log.pipeline.session
    size = log.size()
    entries: list[bytes] = []
    for index in range((size + 255) // 256):
        row = session.execute(
            "SELECT width, bundle FROM log_entry_bundles WHERE log = %s AND idx = %s",
            (log.origin, index),
        ).one()
        entries += parse_entry_bundle(row.bundle, row.width)
    return entries[:size]


def test_leaves_of_packed_batches_are_in_the_log_and_every_proof_verifies(stack_settings, tmp_path):
    with audit_log(stack_settings, tmp_path) as log:
        p = log.pipeline
        log.start_writer()
        p.start_worker()
        p.publish_authority_setup()
        lots = ["L2503A0001", "L2503A0002"]
        units: list[str] = []
        for lot in lots:
            p.send_signed("batch", p.world.producer, opened(lot))
            for _ in range(3):
                event = packed(p.world, 10, lot)
                units += [f"{event.batch_id.rpartition('/10/')[0]}/21/{s}" for s in event.serials]
                p.send_signed("batch", p.world.producer, event)
            p.send_signed("batch", p.world.producer, closed(30, lot))
        p.flush()
        for lot in lots:
            p.wait_for_head(batch_id(lot), 5)
        # 10 chain records, the trust list and the certification
        log.wait_for_size(12)
        entries = stored_entries(log)
        kinds = sorted(parse_entry(e).kind for e in entries)
        assert kinds == ["certification", *["chain_record"] * 10, "trust_list"]
        assert set(expected_leaves(log, lots).values()) <= set(entries)

        app = log.app()
        witness = log.witness(tmp_path)
        assert call(app, witness.round).seen is Seen.COSIGNED
        policy = WitnessPolicy((log.witness_signer.verifier(),), quorum=1)
        log_key = log.verifier()

        async def proofs(client: httpx.AsyncClient):
            served = []
            for unit in units:
                response = await client.get(f"/log/proof/unit{unit}")
                assert response.status_code == 200, response.text
                served.append(TlogProof.parse(response.text))
            batch = await client.get(f"/log/proof/batch{batch_id(lots[0])}")
            assert batch.status_code == 200, batch.text
            served.append(TlogProof.parse(batch.text))
            cosigned = await client.get("/log/checkpoint/cosigned")
            assert cosigned.status_code == 200
            return served, cosigned.text

        served, cosigned = call(app, proofs)
        records = {(r.batch_id, r.seq): r for lot in lots for r in p.chain(batch_id(lot))}
        for unit, proof in zip(units, served, strict=False):
            verdict = verify_proof(proof, proof.extra, origin=log.origin, log=log_key,
                                   witnesses=policy)  # fmt: skip
            assert verdict.ok, verdict.detail
            assert [c.witness for c in verdict.cosigned] == ["w1.it.example"]
            # the entry is the record that packed the unit: rebuilt from the record itself
            assert proof.extra is not None
            leaf = parse_entry(proof.extra)
            assert isinstance(leaf, RecordLeaf)
            record = records[leaf.batch_id, leaf.seq]
            packing = decode_signed_event(record.event).body
            assert isinstance(packing, UnitsPacked)
            assert unit.rpartition("/21/")[2] in packing.serials
            assert entry_bytes(record_leaf(record, packing.type)) == proof.extra
        assert served[-1].extra is not None
        head_leaf = parse_entry(served[-1].extra)
        assert isinstance(head_leaf, RecordLeaf)
        assert (head_leaf.batch_id, head_leaf.seq) == (batch_id(lots[0]), 5)

        # the tiles give the checkpoint's root, and a consistency proof links two sizes
        checkpoint = open_checkpoint(cosigned, origin=log.origin, log=log_key).checkpoint

        async def from_tiles(client: httpx.AsyncClient):
            tiles = {}
            for tile in [TileId(0, 0, checkpoint.size)]:
                tiles[tile] = (await client.get(f"/log/{tile.path}")).content
            reader = TileHashReader(tiles.__getitem__, checkpoint.size)
            consistency = await client.get(f"/log/proof/consistency/3/{checkpoint.size}")
            bundle = await client.get(f"/log/tile/entries/000.p/{checkpoint.size}")
            return reader, consistency, bundle

        reader, consistency, bundle = call(app, from_tiles)
        assert tree_root(reader, checkpoint.size) == checkpoint.root_hash
        assert bundle.headers["cache-control"] == "public, max-age=60"
        served_entries = parse_entry_bundle(bundle.content, checkpoint.size)
        assert served_entries == entries[: checkpoint.size]
        old_root = tree_root(reader, 3)
        path = [decode_base64(line) for line in consistency.text.splitlines()]
        assert verify_consistency(3, checkpoint.size, old_root, checkpoint.root_hash, path).ok


def test_a_record_changed_in_cassandra_is_caught_by_its_proof(stack_settings, tmp_path):
    with audit_log(stack_settings, tmp_path) as log:
        p = log.pipeline
        log.start_writer()
        p.start_worker()
        p.publish_authority_setup()
        p.send_signed("batch", p.world.producer, opened("L2503B0001"))
        p.send_signed("batch", p.world.producer, packed(p.world, 5, "L2503B0001"))
        p.flush()
        p.wait_for_head(batch_id("L2503B0001"), 2)
        log.wait_for_size(4)
        app = log.app()
        assert call(app, log.witness(tmp_path).round).seen is Seen.COSIGNED
        policy = WitnessPolicy((log.witness_signer.verifier(),), quorum=1)
        log_key = log.verifier()

        # someone with the database's password rewrites the packing record's event (a unit
        # dropped from it), around the processors
        [_, record] = p.chain(batch_id("L2503B0001"))
        forged = record.event.replace(b'"serials":["', b'"serials":["X', 1)
        assert forged != record.event
        p.session.execute(
            "UPDATE batch_records SET event = %s WHERE batch_id = %s AND seq = %s",
            (forged, record.batch_id, record.seq),
        )
        [_, changed] = p.chain(batch_id("L2503B0001"))
        assert changed.event == forged

        async def proof(client: httpx.AsyncClient):
            response = await client.get(f"/log/proof/batch{batch_id('L2503B0001')}")
            assert response.status_code == 200, response.text
            return TlogProof.parse(response.text)

        bundle = call(app, proof)
        # the verifier rebuilds the entry from the record the store now serves: not in the log
        rebuilt = entry_bytes(record_leaf(changed, "units_packed"))
        verdict = verify_proof(bundle, rebuilt, origin=log.origin, log=log_key, witnesses=policy)
        assert verdict.reason is BundleCheck.NOT_INCLUDED
        # the original is
        original = entry_bytes(record_leaf(record, "units_packed"))
        assert verify_proof(bundle, original, origin=log.origin, log=log_key, witnesses=policy).ok

        # and a leaf hash changed in a stored tile no longer gives the signed root
        row = p.session.execute(
            "SELECT hashes FROM log_tiles WHERE log = %s AND level = 0 AND idx = 0", (log.origin,)
        ).one()
        tampered = bytes(32) + row.hashes[32:]
        p.session.execute(
            "UPDATE log_tiles SET hashes = %s WHERE log = %s AND level = 0 AND idx = 0",
            (tampered, log.origin),
        )

        async def again(client: httpx.AsyncClient):
            return await client.get(f"/log/proof/batch{batch_id('L2503B0001')}?seq=1")

        response = call(app, again)
        assert response.status_code == 404, response.text
        assert "no valid proof" in response.text


def test_the_witness_refuses_a_split_view_served_by_the_log(stack_settings, tmp_path):
    with audit_log(stack_settings, tmp_path) as log:
        p = log.pipeline
        log.start_writer()
        p.start_worker()
        p.publish_authority_setup()
        log.wait_for_size(2)
        app = log.app()
        witness = log.witness(tmp_path)
        assert call(app, witness.round).seen is Seen.COSIGNED
        log.kill_writer(signal.SIGTERM)

        # the log's key signs a second root for the same size (a compromised operator),
        # and the API serves it
        signer = load_signer(
            WriterSettings(
                log_origin=log.origin,
                log_keystore=tmp_path / "log-keys",
                log_passphrase=SecretStr(PASSPHRASE),
            )
        )
        size = log.checkpointed()
        forged = sign_checkpoint(Checkpoint(log.origin, size, leaf_hash(b"another")), signer)
        p.session.execute(
            "UPDATE log_checkpoints SET note = %s WHERE log = %s AND size = %s",
            (forged, log.origin, size),
        )
        seen = call(app, witness.round)
        assert seen.seen is Seen.SPLIT_VIEW
        assert any(".split_view." in f.name for f in tmp_path.iterdir())
        cosignatures = list(p.session.execute(
            "SELECT size FROM log_cosignatures WHERE log = %s", (log.origin,)))  # fmt: skip
        assert len(cosignatures) == 1  # only the honest one

        # a larger tree that does not extend what was cosigned: no consistency proof
        larger = sign_checkpoint(Checkpoint(log.origin, size + 5, leaf_hash(b"x")), signer)
        p.session.execute(
            "INSERT INTO log_checkpoints (log, size, note) VALUES (%s, %s, %s)",
            (log.origin, size + 5, larger),
        )
        assert call(app, witness.round).seen is Seen.INCONSISTENT


BATCHES, UNITS_PER_BATCH, UNITS_PER_EVENT = 10, 2000, 10
EVENTS_PER_BATCH = 2 + UNITS_PER_BATCH // UNITS_PER_EVENT


def test_the_writer_sigkilled_mid_stream_resumes_every_leaf_once_in_order(stack_settings, tmp_path):
    """20,000 units in 2,020 chain records (10 units a packing event): 2,022 leaves."""
    with audit_log(stack_settings, tmp_path) as log:
        p = log.pipeline
        log.start_writer()
        p.start_worker()
        p.publish_authority_setup()
        lots = [f"L2503C{n:04d}" for n in range(BATCHES)]
        for lot in lots:
            p.send_signed("batch", p.world.producer, opened(lot))
            for _ in range(UNITS_PER_BATCH // UNITS_PER_EVENT):
                p.send_signed("batch", p.world.producer, packed(p.world, UNITS_PER_EVENT, lot))
            p.send_signed("batch", p.world.producer, closed(UNITS_PER_BATCH, lot))
        p.flush()
        total = BATCHES * EVENTS_PER_BATCH + 2
        wait_for("the log to be part-way", lambda: log.size() >= 300, timeout_s=180)
        log.kill_writer(signal.SIGKILL)
        at_kill = log.size()
        assert at_kill < total, "the kill came too late to test"
        log.start_writer()
        for lot in lots:
            p.wait_for_head(batch_id(lot), EVENTS_PER_BATCH, timeout_s=300)
        log.wait_for_size(total, timeout_s=300)
        assert log.size() == total

        entries = stored_entries(log)
        expected = expected_leaves(log, lots)
        ids = [leaf_id(e) for e in entries]
        assert len(set(ids)) == len(ids) == total  # every leaf once
        assert set(expected) <= set(ids)  # every chain record in
        # in order: each batch's records appear by seq
        last_seq: dict[str, int] = {}
        for entry in entries:
            leaf = parse_entry(entry)
            if isinstance(leaf, RecordLeaf):
                assert leaf.seq == last_seq.get(leaf.batch_id, 0) + 1
                last_seq[leaf.batch_id] = leaf.seq
        assert set(last_seq.values()) == {EVENTS_PER_BATCH}
        units = p.session.execute("SELECT COUNT(*) FROM units").one()[0]
        assert units == BATCHES * UNITS_PER_BATCH

        # every inclusion proof verifies, against the signed checkpoint, from served tiles
        app = log.app()
        log_key = log.verifier()

        async def checkpoint_and_tiles(client: httpx.AsyncClient):
            note = (await client.get("/log/checkpoint")).text
            cp = open_checkpoint(note, origin=log.origin, log=log_key).checkpoint
            fetched: dict[TileId, bytes] = {}
            for level, count in [(0, cp.size // 256 + 1), (1, 1)]:
                for index in range(count):
                    tile = (
                        TileId(level, index)
                        if (index + 1) * 256 ** (level + 1) <= cp.size
                        else TileId(level, index, (cp.size >> (8 * level)) % 256)
                    )
                    fetched[tile] = (await client.get(f"/log/{tile.path}")).content
            return cp, fetched

        cp, fetched = call(app, checkpoint_and_tiles)
        assert cp.size == total
        reader = TileHashReader(fetched.__getitem__, cp.size)
        for index, entry in enumerate(entries):
            path = inclusion_proof(reader, index, cp.size)
            assert verify_inclusion(leaf_hash(entry), index, cp.size, path, cp.root_hash).ok
        assert p.metrics()["refused"] == {}
        print(f"\nlog: {total} leaves, killed at {at_kill}, resumed to {cp.size}")
