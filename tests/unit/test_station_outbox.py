"""The outbox on a temporary journal: a fact and its event are written together or not at
all, rows come out in order, and only acknowledged rows leave the backlog."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from contract.events import decode_signed_event
from producers import journal
from producers.errors import StationError
from producers.identity import StationIdentity
from producers.inputs import parse_raw_material
from producers.outbox import Ack, Outbox
from producers.settings import StationSettings
from producers.station import BatchStatus, Station
from tests.world import LOT, NOW, PRODUCT


@pytest.fixture
def station(tmp_path, world):
    identity = StationIdentity.of(world.producer, world.trust())
    settings = StationSettings(state_dir=tmp_path, pack_event_units=1000)
    with Station(settings, identity, clock=lambda: NOW) as station:
        batch = station.open_batch(
            product_key=PRODUCT,
            lot=LOT,
            production_date=date(2025, 3, 1),
            expiry_date=date(2026, 3, 1),
            raw_materials=[parse_raw_material("cua cáy|xã Hồng Tiến|40 kg")],
            planned_units=10,
        )
        for label in station.print_labels(LOT, 10).labels[:4]:
            station.scan(batch.batch_id, label.url)
        yield station


def test_a_crash_while_writing_the_event_leaves_the_fact_unwritten(station, monkeypatch):
    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Outbox, "append", crash)
    with pytest.raises(OSError, match="disk full"):
        station.close_batch(LOT)
    batch = station.batch(LOT)
    assert batch.status is BatchStatus.OPEN
    assert (batch.packed, batch.unreported, batch.backlog) == (4, 4, 1)  # only "opened"


def test_rows_come_out_in_order_and_leave_the_backlog_only_when_acked(station):
    station.close_batch(LOT)
    outbox = Outbox(journal.connect(station._settings.journal_path))
    rows = outbox.pending(after=0, limit=10)
    kinds = [decode_signed_event(row.value).body.type for row in rows]
    assert kinds == ["batch_opened", "units_packed", "batch_closed"]
    assert [row.seq for row in rows] == sorted(row.seq for row in rows)
    assert {row.key for row in rows} == {station.batch(LOT).batch_id.encode()}
    assert outbox.pending(after=rows[0].seq, limit=1) == [rows[1]]

    outbox.mark_acked([Ack(rows[0].seq, 3, 41), Ack(rows[2].seq, 3, 43)], NOW)
    assert outbox.backlog().events == 1
    assert outbox.pending(after=0, limit=10) == [rows[1]]  # the gap is sent, nothing else
    assert station.batch(LOT).backlog == 1
    with sqlite3.connect(station._settings.journal_path) as db:
        acked = db.execute('SELECT partition, "offset" FROM outbox WHERE seq = ?', (rows[2].seq,))
        assert acked.fetchone() == (3, 43)


def test_event_ids_are_unique_in_the_outbox(station):
    with (
        sqlite3.connect(station._settings.journal_path) as db,
        pytest.raises(sqlite3.IntegrityError),
    ):
        db.execute("INSERT INTO outbox SELECT NULL, event_id, event_type, batch_id, topic,"
                   " key, value, created_at, NULL, NULL, NULL FROM outbox LIMIT 1")  # fmt: skip


def test_a_journal_of_another_schema_is_refused(tmp_path):
    path = tmp_path / "journal.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StationError, match=r"lược đồ sổ ghi 99.* / .*journal schema 99"):
        journal.connect(path)
