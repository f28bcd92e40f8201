from __future__ import annotations

import json
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contract.encoding import _decode_strictly, sha256_hex
from contract.errors import ContractError
from contract.events import (
    EVENT_ADAPTER,
    BatchClosed,
    BatchOpened,
    BatchRecalled,
    BatchReceived,
    BatchShipped,
    CertificationIssued,
    CertificationRevoked,
    Location,
    LocationSource,
    RawMaterial,
    ScannerKind,
    ScanRecorded,
    Unit,
    UnitsPacked,
    decode_event,
    encode_event,
    parse_event,
)
from contract.identifiers import batch_id
from contract.verdict import Reason
from keys import certs
from tests.world import LOT, NOW, PRODUCER, PRODUCT

BATCH = batch_id(PRODUCT, LOT)
EVENT_ID = UUID("5b1f7c0e-8d1c-4a57-9d1e-2f6d1c9a0b11")


def opened(**changes):
    fields = {
        "event_id": EVENT_ID,
        "occurred_at": NOW,
        "batch_id": BATCH,
        "producer_id": PRODUCER,
        "product_key": PRODUCT,
        "lot": LOT,
        "production_date": date(2025, 3, 10),
        "expiry_date": date(2026, 3, 10),
        "raw_materials": (
            RawMaterial(
                material="Cáy (cua đồng)",
                origin="xã Hồng Tiến, Kiến Xương, Thái Bình",
                quantity=Decimal("120.5"),
                unit=Unit.KILOGRAM,
            ),
        ),
    }
    return BatchOpened(**(fields | changes))


def every_event(world):
    common = {"event_id": uuid4(), "occurred_at": NOW}
    batch = {**common, "batch_id": BATCH, "producer_id": PRODUCER}
    award = world.certifications[0]
    return [
        opened(event_id=uuid4()),
        UnitsPacked(
            **batch,
            serials=("7K3M9QXD2RTA", "0000000000ZZ"),
            stars=4,
            key_id=world.producer.key_id,
            packed_on=date(2025, 3, 10),
        ),
        BatchClosed(**batch, units_packed=2),
        BatchShipped(
            **batch,
            shipment_id="SHIP-0001",
            to_party="Siêu thị Thái Bình",
            to_gln="8930000000019",
            units=2,
        ),
        BatchReceived(**batch, shipment_id="SHIP-0001", receiver="Siêu thị Thái Bình", units=2),
        BatchRecalled(**batch, recalled_by="VN-34", reason="Nhãn sai hạn dùng"),
        CertificationIssued(**common, certification=award),
        CertificationRevoked(
            **common,
            revocation=certs.revoke_certification(
                world.provincial, award.body, decision_no="99/QĐ", reason="Vi phạm", now=NOW
            ),
        ),
        ScanRecorded(
            **common,
            code="https://ocop.vn/x",
            batch_id=BATCH,
            serial="7K3M9QXD2RTA",
            reason=Reason.BAD_SIGNATURE,
            scanner=ScannerKind.CONSUMER,
            location=Location(
                latitude_e6=20_446_000,
                longitude_e6=106_336_000,
                accuracy_m=5000,
                source=LocationSource.IP,
            ),
        ),
    ]


def test_every_event_round_trips_through_its_canonical_bytes(world):
    events = every_event(world)
    assert len({event.type for event in events}) == 9
    for event in events:
        data = encode_event(event)
        assert decode_event(data) == event
        assert json.loads(data)["type"] == event.type


def test_label_digests_are_one_per_serial_and_absent_from_the_bytes_of_events_without(world):
    without = every_event(world)[1]
    assert isinstance(without, UnitsPacked)
    assert b"label_digests" not in encode_event(without)  # as signed before digests existed
    digests = ("A" * 22, "A" * 21 + "Q")
    packed = without.model_copy(update={"label_digests": digests})
    assert decode_event(encode_event(packed)).label_digests == digests  # type: ignore[union-attr]
    fields = without.model_dump() | {"label_digests": digests[:1]}
    with pytest.raises(ValidationError, match="1 label digests for 2 serials"):
        UnitsPacked(**fields)
    with pytest.raises(ValidationError, match="22 characters of base64url"):
        UnitsPacked(**(fields | {"label_digests": ("A" * 22, "A" * 23)}))


def test_topic_keys(world):
    keys = {event.type: event.topic_key() for event in every_event(world)}
    assert keys["batch_opened"] == keys["batch_recalled"] == BATCH.encode()
    assert keys["certification_issued"] == keys["certification_revoked"] == PRODUCT.encode()
    assert keys["scan_recorded"] == f"{PRODUCT}/21/7K3M9QXD2RTA".encode()
    unparsed = ScanRecorded(
        event_id=uuid4(),
        occurred_at=NOW,
        code="hello",
        reason=Reason.MALFORMED,
        scanner=ScannerKind.INSPECTOR,
    )
    assert unparsed.topic_key() == sha256_hex(b"hello").encode()


def test_content_hash_names_the_fact_not_the_message():
    first, resent = opened(), opened(event_id=uuid4())
    assert first.content_hash() == resent.content_hash()
    assert len(first.content_hash()) == 64
    assert (
        opened(lot="L2503A0002", batch_id=batch_id(PRODUCT, "L2503A0002")).content_hash()
        != first.content_hash()
    )


def test_times_are_kept_in_utc_and_spelled_one_way():
    local = opened(occurred_at=datetime(2025, 3, 10, 10, 0, tzinfo=timezone(timedelta(hours=7))))
    assert local == opened()
    assert b'"occurred_at":"2025-03-10T03:00:00.000000Z"' in encode_event(local)


def test_naive_time_is_refused_with_its_field_named():
    data = json.loads(encode_event(opened())) | {"occurred_at": "2025-03-10T10:00:00"}
    with pytest.raises(ContractError) as caught:
        parse_event(json.dumps(data))
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("batch_opened.occurred_at", "Input should have timezone info")
    ]


def test_parse_lists_every_bad_field():
    bad = {
        "type": "batch_opened",
        "event_id": "not-a-uuid",
        "occurred_at": "2025-03-10T10:00:00",
        "batch_id": BATCH,
        "producer_id": "!",
        "product_key": "/01/08931234567890",
        "lot": "",
        "production_date": "2025-03-10",
        "expiry_date": "2025-03-11",
        "raw_materials": [{"material": "", "origin": "x", "quantity": "-1", "unit": "ton"}],
    }
    with pytest.raises(ContractError) as caught:
        parse_event(bad)
    messages = {problem.field: problem.message for problem in caught.value.problems}
    assert set(messages) == {
        "batch_opened.event_id",
        "batch_opened.occurred_at",
        "batch_opened.producer_id",
        "batch_opened.product_key",
        "batch_opened.lot",
        "batch_opened.raw_materials.0.material",
        "batch_opened.raw_materials.0.quantity",
        "batch_opened.raw_materials.0.unit",
    }
    assert messages["batch_opened.occurred_at"] == "Input should have timezone info"
    assert (
        messages["batch_opened.product_key"] == "GTIN 08931234567890 has check digit 0, expected 7"
    )
    assert messages["batch_opened.lot"] == "lot must be 1 to 20 characters, got 0"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_id": batch_id(PRODUCT, "OTHER")}, "batch_id must be"),
        ({"expiry_date": date(2025, 3, 1)}, "expiry_date must be after production_date"),
    ],
)
def test_cross_field_rules(changes, message):
    data = json.loads(encode_event(opened())) | {k: str(v) for k, v in changes.items()}
    with pytest.raises(ContractError, match=message):
        parse_event(data)


def test_unknown_type_and_repeated_serials_are_refused():
    with pytest.raises(ContractError, match="does not match any of the expected tags"):
        parse_event({"type": "batch_teleported"})
    with pytest.raises(ContractError, match="serials must not repeat"):
        parse_event(
            {
                "type": "units_packed",
                "event_id": str(uuid4()),
                "occurred_at": "2025-03-10T03:00:00Z",
                "batch_id": BATCH,
                "producer_id": PRODUCER,
                "serials": ["7K3M9QXD2RTA"] * 2,
                "stars": 4,
                "key_id": "abcdefghijklm",
                "packed_on": "2025-03-10",
            }
        )


def _spellings(data: bytes) -> list[bytes]:
    """Other spellings of an event's canonical bytes, each one the strict decoding refuses."""
    text = data.decode("utf-8")
    uuid_at = text.index('"event_id":"') + len('"event_id":"')
    return [
        data.replace(b'"event_id"', b'"event_id":"x","event_id"', 1),  # a duplicate key
        data.replace(b",", b", ", 1),
        b" " + data,
        data.replace("ồ".encode(), b"\\u1ed3"),  # non-ASCII escaped
        (text[:uuid_at] + text[uuid_at : uuid_at + 36].upper() + text[uuid_at + 36 :]).encode(),
        data.replace(b'Z"', b'+00:00"', 1),
        data.replace(b'"stars":4', b'"stars":4.0'),
        data.replace(b'"stars":4', b'"stars":9007199254740993'),
        data.replace(b'"occurred_at"', b'"occurred_at\\xff"'),
        data[:-1] + b',"extra":1}',
        data + b"\xff",
        data[:-1],
    ]


def test_decoding_accepts_and_refuses_what_the_strict_decoding_does(world):
    """decode_event reads with pydantic's parser first; it must never accept a spelling the
    strict path refuses, and must say the same about one it refuses."""
    for event in every_event(world):
        data = encode_event(event)
        assert decode_event(data) == _decode_strictly(EVENT_ADAPTER, data) == event
        for spelling in _spellings(data):
            if spelling == data:
                continue
            with pytest.raises(ContractError) as strict:
                _decode_strictly(EVENT_ADAPTER, spelling)
            with pytest.raises(ContractError) as fast:
                decode_event(spelling)
            assert fast.value.problems == strict.value.problems


def test_decoding_names_the_field_spelled_non_canonically():
    data = encode_event(opened()).replace(b'"120.5"', b'"120.50"')
    with pytest.raises(ContractError) as caught:
        decode_event(data)
    (problem,) = caught.value.problems
    assert problem.field == "raw_materials.0.quantity"
    assert "'120.5'" in problem.message


nfc = st.text(min_size=1, max_size=30).map(lambda s: unicodedata.normalize("NFC", s.strip()))
texts = nfc.filter(
    lambda s: s and s.isprintable() and not any(0xD800 <= ord(c) <= 0xDFFF for c in s)
)


@settings(max_examples=80)
@given(
    occurred_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
    ),
    material=texts,
    origin=texts,
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**6), places=3),
    unit=st.sampled_from(Unit),
)
def test_batch_opened_round_trips(occurred_at, material, origin, quantity, unit):
    event = opened(
        occurred_at=occurred_at,
        raw_materials=(
            RawMaterial(material=material, origin=origin, quantity=quantity, unit=unit),
        ),
    )
    assert decode_event(encode_event(event)) == event
