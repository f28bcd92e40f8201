"""The packing station's library on a temporary journal: the whole life of a batch, the
events it leaves in the outbox, and every refusal writing nothing."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import date, timedelta
from typing import Any

import pytest

from contract.encoding import model_bytes
from contract.errors import ContractError
from contract.events import (
    BatchClosed,
    BatchOpened,
    BatchRecalled,
    BatchReceived,
    BatchShipped,
    RawMaterial,
    UnitsPacked,
    decode_signed_event,
)
from contract.label import LabelBatch
from contract.verdict import Reason
from keys import certs
from keys.signing import LabelSigner, SigningKey
from keys.verifier import verify_event
from producers.errors import (
    BatchStateError,
    IdentityError,
    InvalidInput,
    StationError,
    UnknownProduct,
)
from producers.identity import StationIdentity
from producers.inputs import parse_date, parse_raw_material
from producers.scanning import ScanProblem, ScanRejected
from producers.settings import StationSettings
from producers.station import BatchStatus, Station
from tests.world import HOST, LOT, NOW, OTHER_PRODUCT, PACKED_ON, PRODUCT

MATERIALS = (parse_raw_material("cua cáy|bãi triều xã Hồng Tiến, Kiến Xương|120 kg"),)


def ticking():
    """A clock that moves a millisecond per reading, from the world's NOW."""
    counter = itertools.count()
    return lambda: NOW + timedelta(milliseconds=next(counter))


def make_station(tmp_path, world, *, trust=None, key=None, **settings) -> Station:
    identity = StationIdentity.of(key or world.producer, trust or world.trust())
    config = StationSettings(state_dir=tmp_path, pack_event_units=100, **settings)
    return Station(config, identity, clock=ticking())


def open_batch(station: Station, *, lot: str = LOT, planned: int = 50, **changes):
    fields: dict[str, Any] = {
        "product_key": PRODUCT,
        "lot": lot,
        "production_date": date(2025, 3, 1),
        "expiry_date": date(2026, 3, 1),
        "raw_materials": MATERIALS,
        "planned_units": planned,
    } | changes
    return station.open_batch(**fields)


def outbox_events(station: Station):
    with sqlite3.connect(station._settings.journal_path) as db:
        rows = db.execute("SELECT value FROM outbox ORDER BY seq").fetchall()
    return [decode_signed_event(value) for (value,) in rows]


def journal_dump(station: Station) -> list[str]:
    with sqlite3.connect(station._settings.journal_path) as db:
        return list(db.iterdump())


@pytest.fixture
def station(tmp_path, world):
    with make_station(tmp_path, world) as station:
        yield station


def test_a_batch_from_opening_to_recall_leaves_signed_events_in_order(station, world):
    batch = open_batch(station, planned=120)
    assert batch.status is BatchStatus.OPEN
    assert batch.product_name == "Mắm cáy Hồng Tiến"
    run = station.print_labels(LOT, 120)
    assert run.content.stars == 4  # the certification in force
    assert {label.batch.packed_on for label in run.labels} == {PACKED_ON}
    for label in run.labels[:110]:
        station.scan(batch.batch_id, label.url)
    closed = station.close_batch(LOT)
    assert (closed.issued, closed.packed, closed.unreported) == (120, 110, 0)
    shipment = station.ship(LOT, to_party="Siêu thị OCOP Thái Bình", units=100)
    station.receive(shipment.shipment_id, receiver="Siêu thị OCOP Thái Bình", units=98)
    station.recall(LOT, reason="Kiểm tra chất lượng định kỳ")

    signed = outbox_events(station)
    events = [doc.body for doc in signed]
    assert [type(e) for e in events] == [
        BatchOpened,
        UnitsPacked,  # the 100th scan filled one
        UnitsPacked,  # the remaining 10, at close
        BatchClosed,
        BatchShipped,
        BatchReceived,
        BatchRecalled,
    ]
    packed = [s for e in events if isinstance(e, UnitsPacked) for s in e.serials]
    assert packed == [label.serial for label in run.labels[:110]]  # in scan order, once each
    digests = [d for e in events if isinstance(e, UnitsPacked) for d in e.label_digests]
    assert digests == [label.digest for label in run.labels[:110]]  # each the label's own
    assert events[0].planned_units == 120
    assert events[3].units_packed == 110
    assert all(e.batch_id == batch.batch_id for e in events)
    trust = world.trust()
    for doc in signed:
        verdict = verify_event(model_bytes(doc), trust=trust, now=NOW)
        assert verdict.reason is Reason.GENUINE, verdict.detail
    assert station.backlog().events == len(events)


def test_a_journal_from_before_label_digests_is_upgraded_and_its_labels_sent_without(
    tmp_path, world
):
    with make_station(tmp_path, world) as station:
        path = station._settings.journal_path
        batch = open_batch(station, planned=100)
        older = station.print_labels(LOT, 10).labels
    with sqlite3.connect(path) as db:  # as schema version 1 left it
        db.execute("ALTER TABLE units DROP COLUMN label_digest")
        db.execute("PRAGMA user_version = 1")
    with make_station(tmp_path, world) as station:
        newer = station.print_labels(LOT, 5).labels
        for label in (*older, *newer):
            station.scan(batch.batch_id, label.url)
        station.report_packed(LOT)
        with_digests, without = (
            e.body for e in outbox_events(station) if isinstance(e.body, UnitsPacked)
        )
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
    assert set(without.serials) == {label.serial for label in older}
    assert without.label_digests == ()
    assert dict(zip(with_digests.serials, with_digests.label_digests, strict=True)) == {
        label.serial: label.digest for label in newer
    }


def test_units_packed_events_follow_the_setting_and_the_end_of_a_session(tmp_path, world):
    with make_station(tmp_path, world) as station:
        batch = open_batch(station, planned=250)
        run = station.print_labels(LOT, 250)
        for label in run.labels[:230]:
            station.scan(batch.batch_id, label.url)
        assert station.batch(LOT).unreported == 30
        assert station.report_packed(LOT) == 1
        assert station.report_packed() == 0
        sizes = [
            len(e.body.serials) for e in outbox_events(station) if e.body.type == "units_packed"
        ]
    assert sizes == [100, 100, 30]


def test_stars_printed_are_the_certified_ones_in_force_or_none(tmp_path, world):
    revocation = certs.revoke_certification(
        world.provincial,
        world.certifications[0].body,
        decision_no="47/QĐ-UBND",
        reason="thu hồi theo quyết định",
        effective_at=NOW - timedelta(days=1),
        now=NOW - timedelta(days=1),
    )
    trust = world.trust(certification_revocations=[revocation])
    with make_station(tmp_path, world, trust=trust) as station:
        open_batch(station)
        run = station.print_labels(LOT, 3)
    assert run.content.stars == 0
    assert {label.batch.stars for label in run.labels} == {0}


def test_a_label_whose_claim_has_lapsed_is_refused_at_packing(tmp_path, world):
    revocation = certs.revoke_certification(
        world.provincial,
        world.certifications[0].body,
        decision_no="47/QĐ-UBND",
        reason="thu hồi",
        effective_at=NOW - timedelta(hours=1),
        now=NOW - timedelta(hours=1),
    )
    with make_station(tmp_path / "a", world) as printing:
        batch = open_batch(printing)
        label = printing.print_labels(LOT, 1).labels[0]
    # the same journal, but the trust list now carries the revocation
    revoked = world.trust(certification_revocations=[revocation])
    with (
        make_station(tmp_path / "a", world, trust=revoked) as station,
        pytest.raises(ScanRejected) as refusal,
    ):
        station.scan(batch.batch_id, label.url)
    assert refusal.value.problem is ScanProblem.CLAIM_NOT_VALID


# -- bad input: a clear error, nothing written ----------------------------------------------


def refuses(station: Station, error: type[Exception], action, *, match: str):
    before = journal_dump(station)
    with pytest.raises(error, match=match):
        action()
    assert journal_dump(station) == before


def test_unknown_product(station):
    refuses(
        station,
        UnknownProduct,
        lambda: open_batch(station, product_key=OTHER_PRODUCT),
        match="not a certified product of TB-HTX-HONGTIEN",
    )
    refuses(
        station,
        InvalidInput,
        lambda: open_batch(station, product_key="/01/08931234567890"),
        match="product key: GTIN 08931234567890 has check digit 0, expected 7",
    )


def test_bad_lot_dates_and_quantities(station):
    refuses(station, InvalidInput, lambda: open_batch(station, lot="LÔ 1"), match="lot: ")
    refuses(
        station,
        ContractError,
        lambda: open_batch(station, expiry_date=date(2025, 2, 1)),
        match="expiry_date must be after production_date",
    )
    refuses(
        station, InvalidInput, lambda: open_batch(station, planned=0), match="at least 1, got 0"
    )
    refuses(
        station, ContractError, lambda: open_batch(station, raw_materials=()), match="raw_materials"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025-13-01", "month must be in 1..12"),
        ("31/02/2025", "day is out of range for month"),
        ("2025/03/01", "write YYYY-MM-DD or DD/MM/YYYY"),
        ("mai", "write YYYY-MM-DD or DD/MM/YYYY"),
        ("", "write YYYY-MM-DD or DD/MM/YYYY"),
    ],
)
def test_malformed_dates_are_refused_with_the_field_named(text, message):
    with pytest.raises(
        InvalidInput, match=f"^--expires: .*không phải ngày.* / --expires: .*{message}"
    ):
        parse_date(text, "--expires")


def test_dates_in_iso_and_vietnamese_order():
    assert parse_date("2025-03-10", "d") == parse_date("10/03/2025", "d") == date(2025, 3, 10)
    assert parse_date(" 1/2/2025 ", "d") == date(2025, 2, 1)


def test_raw_material_lines():
    material = parse_raw_material("gạo nếp|ruộng thôn Nguyễn, Đông Hưng|1200.5 kg|8930000000019")
    assert material == RawMaterial(
        material="gạo nếp",
        origin="ruộng thôn Nguyễn, Đông Hưng",
        quantity="1200.5",
        unit="kg",
        origin_gln="8930000000019",
    )
    with pytest.raises(InvalidInput, match="write material"):
        parse_raw_material("gạo nếp|1200 kg")
    with pytest.raises(InvalidInput, match="unit"):
        parse_raw_material("gạo nếp|ruộng|1200 tonnes")
    with pytest.raises(InvalidInput, match="GLN"):
        parse_raw_material("gạo nếp|ruộng|1200 kg|123")


def test_an_existing_batch_is_not_opened_twice(station):
    open_batch(station)
    refuses(station, BatchStateError, lambda: open_batch(station), match="already exists")


def test_labels_only_for_an_open_batch_and_within_the_plan(station):
    batch = open_batch(station, planned=20)
    refuses(station, BatchStateError, lambda: station.print_labels(LOT, 23), match="2 spare")
    refuses(station, InvalidInput, lambda: station.print_labels(LOT, 0), match="at least 1")
    refuses(station, BatchStateError, lambda: station.print_labels("L-NONE", 1), match="no batch")
    station.print_labels(LOT, 22)
    station.close_batch(batch.batch_id)
    refuses(station, BatchStateError, lambda: station.print_labels(LOT, 1), match="is closed")


@pytest.fixture
def packing(station):
    batch = open_batch(station)
    run = station.print_labels(LOT, 10)
    station.scan(batch.batch_id, run.labels[0].url)
    return station, batch, run


def refused_scan(station, batch, text, problem: ScanProblem, match: str):
    before = journal_dump(station)
    with pytest.raises(ScanRejected, match=match) as refusal:
        station.scan(batch.batch_id, text)
    assert refusal.value.problem is problem
    assert journal_dump(station) == before
    return refusal.value


def test_a_duplicate_scan(packing):
    station, batch, run = packing
    refusal = refused_scan(
        station, batch, run.labels[0].url, ScanProblem.ALREADY_PACKED, "at 10:00:00 10/03/2025"
    )
    assert str(refusal).startswith("Tem đã được quét / Already scanned: serial ")


def test_a_tampered_label(packing):
    station, batch, run = packing
    url = run.labels[1].url
    flipped = url[:-5] + ("A" if url[-5] != "A" else "B") + url[-4:]
    refused_scan(station, batch, flipped, ScanProblem.NOT_AUTHENTIC, "signature does not verify")
    stars = url.replace("&s=4&", "&s=5&")
    refused_scan(station, batch, stars, ScanProblem.NOT_AUTHENTIC, "signature does not verify")


def test_garbage_and_truncated_scans(packing):
    station, batch, run = packing
    refused_scan(station, batch, "8931234567897", ScanProblem.NOT_A_LABEL, "not an https")
    refused_scan(station, batch, run.labels[1].url[:-1], ScanProblem.NOT_A_LABEL, "signature")


def test_a_foreign_label(packing, world):
    station, batch, _ = packing
    stranger = SigningKey.generate()  # no certificate anywhere
    label = LabelSigner(stranger, LabelBatch(HOST, PRODUCT, LOT, PACKED_ON, 4, stranger.key_id))
    refused_scan(station, batch, label.sign().url, ScanProblem.NOT_AUTHENTIC, "not in trust list")


def test_a_label_of_another_producer(tmp_path, world):
    other = SigningKey.generate()
    trust = world.trust(producer_keys=[world.producer_key(other, producer_id="TB-HTX-KHAC")])
    with make_station(tmp_path, world, trust=trust) as station:
        batch = open_batch(station)
        station.print_labels(LOT, 1)
        signer = LabelSigner(other, LabelBatch(HOST, PRODUCT, LOT, PACKED_ON, 0, other.key_id))
        refused_scan(station, batch, signer.sign().url, ScanProblem.OTHER_PRODUCER, "TB-HTX-KHAC")


def test_a_label_of_another_batch_or_never_issued(packing, world):
    station, batch, _ = packing
    other_lot = LabelSigner(
        world.producer, LabelBatch(HOST, PRODUCT, "L2503A0002", PACKED_ON, 4, world.producer.key_id)
    ).sign()
    refused_scan(station, batch, other_lot.url, ScanProblem.OTHER_BATCH, "L2503A0002")
    never_printed = world.label()  # same batch, same key, a serial this station never issued
    refused_scan(station, batch, never_printed.url, ScanProblem.NOT_ISSUED, never_printed.serial)


def test_a_scan_for_a_closed_batch(packing):
    station, batch, run = packing
    station.close_batch(batch.batch_id)
    refused_scan(station, batch, run.labels[2].url, ScanProblem.BATCH_NOT_OPEN, "is closed")


def test_shipping_and_receipt_rules(packing):
    station = packing[0]

    def ship(units: int, **extra):
        return station.ship(LOT, to_party="Cửa hàng OCOP Đông Hưng", units=units, **extra)

    def receive(units: int, shipment_id: str = "SH-1"):
        return station.receive(shipment_id, receiver="Cửa hàng OCOP Đông Hưng", units=units)

    refuses(station, BatchStateError, lambda: ship(1), match="close it first")
    station.close_batch(LOT)
    refuses(station, InvalidInput, lambda: ship(2), match="must be 1 to 1")
    refuses(station, ContractError, lambda: ship(1, to_gln="1"), match="GLN")
    ship(1, shipment_id="SH-1")
    refuses(station, InvalidInput, lambda: ship(1), match="must be 1 to 0")
    refuses(station, InvalidInput, lambda: receive(2), match="must be 1 to 1")
    refuses(station, BatchStateError, lambda: receive(1, "SH-2"), match="no shipment SH-2")
    receive(1)
    refuses(station, BatchStateError, lambda: receive(1), match="already received")


def test_recall_announces_packed_units_first_and_stops_everything(packing):
    station, batch, run = packing
    station.recall(LOT, reason="Nghi nhiễm khuẩn")
    kinds = [e.body.type for e in outbox_events(station)]
    assert kinds[-2:] == ["units_packed", "batch_recalled"]
    recall = lambda: station.recall(LOT, reason="x")  # noqa: E731
    refuses(station, BatchStateError, recall, match="already recalled")
    refused_scan(station, batch, run.labels[3].url, ScanProblem.BATCH_NOT_OPEN, "is recalled")
    ship = lambda: station.ship(LOT, to_party="X", units=1)  # noqa: E731
    refuses(station, BatchStateError, ship, match="must not ship")


def test_a_retired_station_key_prints_nothing(tmp_path, world):
    _, retirement = certs.rotate(
        world.provincial,
        world.producer_keys[0].body,
        SigningKey.generate().public_key,
        now=NOW - timedelta(days=3),
    )
    trust = world.trust(key_revocations=[retirement])
    with make_station(tmp_path, world, trust=trust) as station:
        with pytest.raises(IdentityError, match="is retired for events"):
            open_batch(station)
        assert station.batches() == []


def test_a_key_outside_the_trust_list_is_no_station_identity(world):
    with pytest.raises(IdentityError, match="not a producer key"):
        StationIdentity.of(world.provincial, world.trust())


def test_every_refusal_is_a_station_error_the_cli_can_print():
    for error in (UnknownProduct, BatchStateError, InvalidInput, IdentityError, ScanRejected):
        assert issubclass(error, StationError)


def test_an_issued_serial_signed_by_another_key_of_the_producer_is_not_ours(tmp_path, world):
    """Another station of the same cooperative, with its own key, signed one of our serials:
    authentic, but not the label this station printed."""
    second = SigningKey.generate()
    trust = world.trust(producer_keys=[world.producer_key(second)])
    with make_station(tmp_path, world, trust=trust) as station:
        batch = open_batch(station)
        ours = station.print_labels(LOT, 1).labels[0]
        twin = LabelSigner(second, LabelBatch(HOST, PRODUCT, LOT, PACKED_ON, 4, second.key_id))
        copy = twin.sign(ours.serial)
        refused_scan(station, batch, copy.url, ScanProblem.NOT_ISSUED, ours.serial)
        station.scan(batch.batch_id, ours.url)
