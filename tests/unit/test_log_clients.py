"""The audit log's clients (issue 21): the signed status list, the offline verifier's log
proofs and status list, the writer's trust-list check of its key, and the station's key watch."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from auditlog.checkpoint import Checkpoint, sign_checkpoint
from auditlog.cosignature import CosignatureSigner, cosign
from auditlog.leaves import entry_bytes, record_leaf
from auditlog.merkle import MemoryHashes, leaf_hash, root_hash
from auditlog.note import Ed25519Signer
from auditlog.proof import build_proof
from auditlog.status import status_body
from auditlog.tiles import encode_entry_bundle
from auditlog.writer import SetupError, check_log_key
from contract import identifiers
from contract.certification import CertificationStatus
from contract.encoding import model_bytes, sha256_hex
from contract.events import UnitsPacked
from contract.records import record_hash
from contract.verdict import Reason
from keys import certs
from keys.chain import ChainRecord
from keys.status import (
    ProductStatus,
    RecalledBatch,
    StatusListError,
    open_status_list,
    sign_status_list,
)
from keys.trustlist import TrustList, build_trust_list
from keys.verifier import LogStatus, apply_status_list, check_log_proof, verify_label
from producers.journal import connect
from producers.watch import KeyWatch, own_events
from tests.world import LOT, NOW, PACKED_ON, PRODUCER, PRODUCT, World

ORIGIN = "ocop.vn/log"
LONG_AGO = NOW - timedelta(days=400)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def log_key() -> Ed25519Signer:
    return Ed25519Signer.generate(ORIGIN)


@pytest.fixture(scope="module")
def witness() -> CosignatureSigner:
    return CosignatureSigner.generate("w1.example")


@pytest.fixture(scope="module")
def trust(world: World, log_key: Ed25519Signer, witness: CosignatureSigner) -> TrustList:
    data = build_trust_list(
        world.root,
        version=1,
        now=NOW,
        authorities=world.authorities,
        producer_keys=world.producer_keys,
        certifications=world.certifications,
        log_keys=[certs.certify_log_key(world.root, log_key.verifier(), now=LONG_AGO)],
        witnesses=[
            certs.certify_witness(world.root, witness.verifier(), operator="So KHCN", now=LONG_AGO)
        ],
        witness_quorum=1,
    )
    return TrustList.load(data, root_public_key=world.root.public_key)


# -- the status list ---------------------------------------------------------------------------


def a_status_list(**extra: Any):
    return status_body(
        origin=ORIGIN,
        now=NOW,
        validity=timedelta(hours=24),
        products=[
            ProductStatus(
                product_key=PRODUCT,
                producer_id=PRODUCER,
                stars=4,
                status=CertificationStatus.IN_FORCE,
            )
        ],
        recalls=extra.get("recalls", []),
        trust=None,
    )


def test_a_status_list_signed_by_the_log_key_opens_and_says_its_age(log_key, trust):
    note = sign_status_list(a_status_list(), log_key)
    held = open_status_list(note, trust.log_verifiers(NOW))
    status = held.product(PRODUCT)
    assert status is not None
    assert status.stars == 4
    fresh = held.freshness(NOW + timedelta(hours=2))
    assert fresh.age == timedelta(hours=2)
    assert not fresh.stale
    assert held.freshness(NOW + timedelta(hours=25)).stale


def test_a_status_list_by_another_key_or_tampered_is_refused(log_key, trust):
    other = Ed25519Signer.generate(ORIGIN)
    with pytest.raises(StatusListError, match="no_known_signature"):
        open_status_list(sign_status_list(a_status_list(), other), trust.log_verifiers(NOW))
    note = sign_status_list(a_status_list(), log_key).replace('"stars":4', '"stars":5')
    with pytest.raises(StatusListError, match="bad_signature"):
        open_status_list(note, trust.log_verifiers(NOW))


def test_a_checkpoint_is_not_a_status_list(log_key, trust):
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, bytes(32)), log_key)
    with pytest.raises(StatusListError, match="not an ocop-status-list"):
        open_status_list(note, trust.log_verifiers(NOW))


def test_a_fresh_recall_turns_a_genuine_verdict_a_stale_one_does_not(world, log_key, trust):
    batch = identifiers.batch_id(PRODUCT, LOT)
    body = a_status_list(recalls=[RecalledBatch(batch_id=batch, product_key=PRODUCT,
                                                 reason="contaminated")])  # fmt: skip
    held = open_status_list(sign_status_list(body, log_key), trust.log_verifiers(NOW))
    verdict = verify_label(world.label().url, trust=trust, now=NOW)
    assert verdict.reason is Reason.GENUINE
    judged, said = apply_status_list(verdict, held, now=NOW + timedelta(hours=1))
    assert judged.reason is Reason.RECALLED
    assert said.relied_on
    judged, said = apply_status_list(verdict, held, now=NOW + timedelta(hours=30))
    assert judged.reason is Reason.GENUINE
    assert said.stale
    assert not said.relied_on
    assert said.statement.startswith("STALE")


# -- the offline verifier's log proof --------------------------------------------------------


def packing_record(world: World, label_text: str) -> tuple[ChainRecord, bytes]:
    batch = identifiers.batch_id(PRODUCT, LOT)
    event = b'{"type":"units_packed"}'
    hashed = record_hash(batch, 2, bytes(32), event)
    record = ChainRecord(batch, 2, event, bytes(32), hashed, b"s" * 64, "seal-key")
    return record, entry_bytes(record_leaf(record, "units_packed"))


def a_proof(world, log_key, witness, *, cosigned_at: int, size: int = 5) -> tuple[str, int]:
    _, entry = packing_record(world, "")
    entries = [f"other {i}".encode() for i in range(size)]
    entries[3] = entry
    reader = MemoryHashes([leaf_hash(e) for e in entries])
    root = root_hash([leaf_hash(e) for e in entries])
    note = sign_checkpoint(Checkpoint(ORIGIN, size, root), log_key)
    note = cosign(note, witness, timestamp=cosigned_at)
    return build_proof(reader, 3, note, extra=entry).render(), root[0]


def test_a_proof_says_recorded_at_position_i_of_n_witnessed_by(world, log_key, witness, trust):
    proof, _ = a_proof(world, log_key, witness, cosigned_at=int(NOW.timestamp()) - 60)
    check = check_log_proof(proof, trust=trust, label=world.label(), now=NOW)
    assert check.status is LogStatus.RECORDED, check.detail
    assert check.sentence() == (
        "recorded in the public log at position 3 of 5, witnessed by w1.example "
        "(1 of 1 witnesses required)"
    )
    assert check.warnings == ()


def test_an_old_checkpoint_is_warned_of(world, log_key, witness, trust):
    proof, _ = a_proof(world, log_key, witness, cosigned_at=int(NOW.timestamp()) - 3 * 86400)
    check = check_log_proof(proof, trust=trust, label=world.label(), now=NOW)
    assert check.status is LogStatus.RECORDED
    assert "older than 24 h" in check.warnings[0]


def test_a_proof_that_does_not_verify_fails_with_its_reason(world, log_key, witness, trust):
    proof, _ = a_proof(world, log_key, witness, cosigned_at=int(NOW.timestamp()))
    lines = proof.split("\n")
    lines[3] = "A" * 43 + "="  # a sibling hash changed
    check = check_log_proof("\n".join(lines), trust=trust, label=world.label(), now=NOW)
    assert check.status is LogStatus.FAILED
    assert check.reason == "not_included"
    assert "does NOT verify" in check.sentence()
    unwitnessed = sign_checkpoint(Checkpoint(ORIGIN, 1, bytes(32)), log_key)
    assert check_log_proof(unwitnessed, trust=trust, now=NOW).reason == "malformed"
    stranger = CosignatureSigner.generate("w9.example")
    other, _ = a_proof(world, log_key, stranger, cosigned_at=int(NOW.timestamp()))
    assert check_log_proof(other, trust=trust, now=NOW).reason == "too_few_witnesses"


def test_a_proof_of_another_batch_is_not_this_labels(world, log_key, witness, trust):
    proof, _ = a_proof(world, log_key, witness, cosigned_at=int(NOW.timestamp()))
    label = world.label(product="/p/TB-BANHCAY-01")
    assert check_log_proof(proof, trust=trust, label=label, now=NOW).reason == "wrong_record"


def test_a_cached_checkpoint_with_another_root_for_the_size_is_a_split_view(
    world, log_key, witness, trust
):
    proof, _ = a_proof(world, log_key, witness, cosigned_at=int(NOW.timestamp()))
    forked = cosign(sign_checkpoint(Checkpoint(ORIGIN, 5, b"\x07" * 32), log_key), witness,
                    timestamp=int(NOW.timestamp()))  # fmt: skip
    check = check_log_proof(proof, trust=trust, checkpoint=forked, now=NOW)
    assert check.status is LogStatus.FAILED
    assert check.reason == "split_view"


# -- the writer's key against the trust list ---------------------------------------------------


def test_the_writer_refuses_a_key_the_trust_list_does_not_certify(log_key, trust):
    check_log_key(log_key, trust, NOW)
    with pytest.raises(SetupError, match=r"không phải khóa còn hiệu lực.* / .*not a usable key"):
        check_log_key(Ed25519Signer.generate(ORIGIN), trust, NOW)
    check_log_key(Ed25519Signer.generate("other.example/log"), trust, NOW)  # names none of it


# -- the key watch ---------------------------------------------------------------------------


def fake_log(log_key, entries: list[bytes], events: dict[tuple[str, int], bytes]):
    root = root_hash([leaf_hash(e) for e in entries])
    note = sign_checkpoint(Checkpoint(ORIGIN, len(entries), root), log_key)

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/log/checkpoint":
            return httpx.Response(200, text=note)
        if path.startswith("/log/tile/entries/"):
            return httpx.Response(200, content=encode_entry_bundle(entries)[: 10**9])
        if path.startswith("/batches/"):
            batch = path.removeprefix("/batches")
            records = [{"seq": seq, "event": e.decode()} for (b, seq), e in events.items()
                       if b == batch]  # fmt: skip
            return httpx.Response(200, json={"records": records})
        return httpx.Response(404)

    return httpx.MockTransport(answer)


def signed_pack(world: World, key, serial: str) -> bytes:
    label = world.label(key=key, serial=serial)
    event = UnitsPacked(
        event_id=uuid.uuid4(),
        batch_id=identifiers.batch_id(PRODUCT, LOT),
        producer_id=PRODUCER,
        occurred_at=NOW,
        serials=(label.serial,),
        stars=4,
        key_id=key.key_id,
        packed_on=PACKED_ON,
    )
    return model_bytes(key.sign_document(event))


def test_the_watch_alerts_on_a_record_signed_with_its_key_that_it_did_not_send(world, log_key):
    batch = identifiers.batch_id(PRODUCT, LOT)
    ours = signed_pack(world, world.producer, "0000000000AA")
    stolen = signed_pack(world, world.producer, "0000000000TT")
    records = {}
    entries = []
    for seq, event in ((1, ours), (2, stolen)):
        hashed = record_hash(batch, seq, bytes(32), event)
        record = ChainRecord(batch, seq, event, bytes(32), hashed, b"s" * 64, "seal")
        entries.append(entry_bytes(record_leaf(record, "units_packed")))
        records[batch, seq] = event
    watch = KeyWatch(world.producer.key_id, {PRODUCT}, (log_key.verifier(),), "http://api")

    async def go(own: set[str]):
        transport = fake_log(log_key, entries, records)
        async with httpx.AsyncClient(transport=transport) as client:
            return await watch.round(client, own)

    findings = asyncio.run(go({sha256_hex(ours)}))
    assert [(f.seq, f.serials) for f in findings] == [(2, ("0000000000TT",))]
    watch.edge = type(watch.edge)()
    assert asyncio.run(go({sha256_hex(ours), sha256_hex(stolen)})) == []


def test_own_events_are_the_outbox_rows(tmp_path):
    db: sqlite3.Connection = connect(tmp_path / "j.sqlite3")
    db.execute(
        "INSERT INTO outbox (event_id, event_type, batch_id, topic, key, value, created_at)"
        " VALUES ('e', 'units_packed', 'b', 't', x'00', x'7b7d', 'now')"
    )
    assert own_events(db) == {sha256_hex(b"{}")}
