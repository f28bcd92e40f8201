"""The stream processors on the real Kafka and Cassandra: records, chains, dead letters."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import timedelta

import pytest
from cassandra.query import ValueSequence

from contract import identifiers
from contract.encoding import model_bytes
from contract.events import (
    BatchShipped,
    InspectionRecorded,
    InspectionVerdict,
    InspectorRegistered,
    InspectorRole,
    ScannerKind,
    ScanRecorded,
)
from contract.verdict import Reason
from keys.chain import ChainDefect, verify_chain
from keys.signing import SigningKey
from tests.integration.pipeline import (
    Pipeline,
    batch_id,
    closed,
    opened,
    original,
    packed,
    wait_for,
)
from tests.world import NOW, PRODUCER, PRODUCT, World


@pytest.fixture(scope="module")
def pipeline(stack_settings, tmp_path_factory):
    world = World()
    running = Pipeline(stack_settings, tmp_path_factory.mktemp("pipeline"), world)
    try:
        running.start_worker()
        running.publish_authority_setup()
        yield running
    finally:
        running.close()


def test_events_that_arrive_before_the_first_trust_list_wait_for_it(
    stack_settings, tmp_path_factory
):
    early = Pipeline(stack_settings, tmp_path_factory.mktemp("early"), World())
    try:
        early.start_worker()
        early.publish_authority_setup(list_after=3.0)  # waits until the certification is stored
        assert early.metrics()["refused"] == {}
        assert "waits for the first trust list" in early.log_file.read_text()
    finally:
        early.close()


def test_a_batch_becomes_a_sealed_chain_with_one_row_per_unit(pipeline: Pipeline):
    w, lot = pipeline.world, "L2503OK001"
    first, second = packed(w, 30, lot), packed(w, 20, lot)
    shipped = BatchShipped(
        event_id=uuid.uuid4(),
        occurred_at=NOW + timedelta(hours=3),
        batch_id=batch_id(lot),
        producer_id=PRODUCER,
        shipment_id="SHIP-001",
        to_party="Siêu thị BigC Thái Bình",
        units=50,
    )
    sent = [
        pipeline.send_signed("batch", w.producer, event)
        for event in (opened(lot), first, second, closed(50, lot), shipped)
    ]
    pipeline.flush()
    head = pipeline.wait_for_head(batch_id(lot), 5)

    assert (head.status, head.units_packed) == ("shipped", 50)
    records = pipeline.chain(batch_id(lot))
    assert [r.event for r in records] == sent  # the producer's signed bytes, in order
    verdict = verify_chain(
        batch_id(lot),
        records,
        {pipeline.seal_key.key_id: pipeline.seal_key.public_key},
        head=(head.head_seq, head.head_hash),
    )
    assert verdict.ok, verdict.detail

    serial = second.serials[7]
    unit = pipeline.session.execute(
        "SELECT batch_id, printed_stars, key_id, seq FROM units WHERE unit_key = %s",
        (identifiers.unit_key(PRODUCT, serial),),
    ).one()
    assert (unit.batch_id, unit.printed_stars, unit.key_id, unit.seq) == (
        batch_id(lot),
        4,
        w.producer.key_id,
        3,
    )
    count = pipeline.session.execute(
        "SELECT COUNT(*) FROM units WHERE unit_key IN %s",
        (ValueSequence(identifiers.unit_key(PRODUCT, s) for s in first.serials + second.serials),),
    ).one()
    assert count[0] == 50


def test_a_chain_with_a_changed_record_fails_verification(pipeline: Pipeline):
    w, lot = pipeline.world, "L2503TAMP1"
    for event in (opened(lot), packed(w, 5, lot)):
        pipeline.send_signed("batch", w.producer, event)
    pipeline.flush()
    pipeline.wait_for_head(batch_id(lot), 2)
    records = pipeline.chain(batch_id(lot))
    keys = {pipeline.seal_key.key_id: pipeline.seal_key.public_key}
    forged = dataclasses.replace(
        records[1], event=records[1].event.replace(b'"stars":4', b'"stars":5')
    )
    assert verify_chain(batch_id(lot), [records[0], forged], keys).defect is ChainDefect.BAD_HASH
    assert verify_chain(batch_id(lot), records[1:], keys).defect is ChainDefect.GAP
    other_key = {pipeline.seal_key.key_id: SigningKey.generate().public_key}
    assert verify_chain(batch_id(lot), records, other_key).defect is ChainDefect.BAD_SEAL


def test_the_same_event_twice_is_stored_once(pipeline: Pipeline):
    w, lot = pipeline.world, "L2503DUP01"
    opening, packing = opened(lot), packed(w, 10, lot)
    for event in (opening, packing, packing, opening):
        pipeline.send_signed("batch", w.producer, event)
    # a re-send under a new event id is the same fact: the content hash catches it too
    pipeline.send_signed("batch", w.producer, packing.model_copy(update={"event_id": uuid.uuid4()}))
    pipeline.send_signed("batch", w.producer, closed(10, lot))
    pipeline.flush()
    head = pipeline.wait_for_head(batch_id(lot), 3)
    assert (head.units_packed, head.status) == (10, "closed")
    assert len(pipeline.chain(batch_id(lot))) == 3
    assert sum(pipeline.metrics()["duplicates"].values()) >= 3


def test_every_bad_event_lands_in_the_dead_letter_topic_with_its_reason(pipeline: Pipeline):
    w = pipeline.world
    lot, other, still_open = "L2503BAD01", "L2503BAD02", "L2503BAD03"
    pipeline.send_signed("batch", w.producer, opened(lot))
    pipeline.send_signed("batch", w.producer, closed(0, lot))
    pipeline.send_signed("batch", w.producer, opened(still_open))
    pipeline.flush()
    pipeline.wait_for_head(batch_id(lot), 2)
    pipeline.wait_for_head(batch_id(still_open), 1)

    tampered = pipeline.send_signed("batch", w.producer, packed(w, 3, other))
    cases = {
        "malformed": b"not an event at all",
        Reason.BAD_SIGNATURE.value: tampered.replace(b'"stars":4', b'"stars":5'),
        Reason.UNKNOWN_KEY.value: model_bytes(SigningKey.generate().sign_document(opened(other))),
        "unknown_product": model_bytes(
            w.producer.sign_document(opened(other, product="/p/NOT-REGISTERED"))
        ),
        "batch_not_open": model_bytes(w.producer.sign_document(packed(w, 3, lot))),
        "stars_exceed_certification": model_bytes(
            w.producer.sign_document(packed(w, 3, still_open, stars=5))
        ),
        "unknown_batch": model_bytes(w.producer.sign_document(closed(0, "L2503NONE1"))),
    }
    for value in cases.values():
        pipeline.send("batch", b"some-key", value)
    pipeline.flush()

    letters = pipeline.dead_letters(count=len(cases) + 1)  # + the packing of a never-opened lot
    by_value = {original(letter): letter for letter in letters}
    for reason, value in cases.items():
        letter = by_value[value]
        assert letter.reason == reason, (reason, letter.detail)
        assert letter.topic == pipeline.topics["batch"]
        assert letter.detail
    assert by_value[tampered].reason == "unknown_batch"
    # nothing refused was stored: the closed batch still has its two records
    assert pipeline.head(batch_id(lot)).head_seq == 2
    assert pipeline.head(batch_id(still_open)).head_seq == 1
    assert pipeline.head(batch_id(other)) is None
    # and the stream kept going after all of them
    pipeline.send_signed("batch", w.producer, opened(other))
    pipeline.flush()
    pipeline.wait_for_head(batch_id(other), 1)
    assert pipeline.metrics()["refused"]["malformed"] >= 1


def test_inspectors_scans_and_findings_are_stored(pipeline: Pipeline):
    w, lot = pipeline.world, "L2503SCAN1"
    pack = packed(w, 2, lot)
    for event in (opened(lot), pack):
        pipeline.send_signed("batch", w.producer, event)
    token_hash = hashlib.sha256(b"an inspector's token").hexdigest()
    registered = InspectorRegistered(
        event_id=uuid.uuid4(), occurred_at=NOW, authority_id="VN-34", inspector_id="QLTT-TB-07",
        name="Nguyễn Văn An", role=InspectorRole.INSPECTOR, token_sha256=token_hash,
    )  # fmt: skip
    pipeline.send_signed("authority", w.provincial, registered)
    unit = {"code": f"https://ocop.vn/01/x/21/{pack.serials[0]}", "batch_id": batch_id(lot),
            "serial": pack.serials[0], "province": "Thái Bình"}  # fmt: skip
    for n in range(3):
        scan = ScanRecorded(
            event_id=uuid.uuid4(), occurred_at=NOW + timedelta(days=1, minutes=n),
            reason=Reason.GENUINE, scanner=ScannerKind.CONSUMER, device="ab" * 32,
            client=f"{n:064x}", **unit,  # three independent clients: each scan counts
        )  # fmt: skip
        pipeline.send("scan", scan.topic_key(), model_bytes(scan))
    finding = InspectionRecorded(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(days=2), inspector_id="QLTT-TB-07",
        stars_seen=5, verdict=InspectionVerdict.COUNTERFEIT,
        reason=Reason.STARS_EXCEED_CERTIFICATION, place="Chợ Bo, TP Thái Bình", **unit,
    )  # fmt: skip
    pipeline.send("scan", finding.topic_key(), model_bytes(finding))
    pipeline.flush()

    unit_key = identifiers.unit_key(PRODUCT, pack.serials[0])
    summary = wait_for("three scans", lambda: _at_least(pipeline.scan_summary(unit_key), 3))
    assert (summary.first, summary.last) == (
        NOW + timedelta(days=1),
        NOW + timedelta(days=1, minutes=2),
    )
    inspector = wait_for("the inspector", lambda: pipeline.inspector(token_hash))
    assert (inspector.inspector_id, inspector.active) == ("QLTT-TB-07", True)
    findings = wait_for("the finding", lambda: pipeline.inspections(unit_key))
    assert (findings[0].verdict, findings[0].stars_seen) == ("counterfeit", 5)
    assert pipeline.copy_evidence(unit_key) == {f"inspection:{finding.event_id}"}

    # a later look finds it genuine: consumers are no longer warned; an earlier counterfeit
    # finding that arrives late (a phone that was offline) does not bring the warning back
    later = finding.model_copy(update={
        "event_id": uuid.uuid4(), "occurred_at": NOW + timedelta(days=3),
        "verdict": InspectionVerdict.GENUINE, "reason": Reason.GENUINE, "stars_seen": 4,
    })  # fmt: skip
    late = finding.model_copy(
        update={"event_id": uuid.uuid4(), "occurred_at": NOW + timedelta(days=2, hours=1)}
    )
    marker = ScanRecorded(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(days=4), reason=Reason.GENUINE,
        scanner=ScannerKind.CONSUMER, client="ff" * 32, **unit,
    )  # fmt: skip
    for sent in (later, late, marker):  # one partition, in order: the marker comes last
        pipeline.send("scan", sent.topic_key(), model_bytes(sent))
    pipeline.flush()
    wait_for("the scan after the findings", lambda: _at_least(pipeline.scan_summary(unit_key), 4))
    assert len(pipeline.inspections(unit_key)) == 3
    assert pipeline.copy_evidence(unit_key) == frozenset()


def _at_least(summary, count):
    return summary if summary.count >= count else None
