"""Many units' scans interleaved on one partition, handled concurrently by one worker that is
killed mid-stream and restarted: each unit's scans are still taken in order and once each.

A unit's scan totals are counted in its history in the Faust table, in offset order: a scan
taken after a later one of its unit would look like a replay (its offset below the counted
one) and not count, and two scans of a unit taken at once would lose one's update. So every
unit ending with exactly its number of scans, first and last right, and its impossible-travel
alert (which needs the earlier scans in its window) shows order and consistency per unit,
across the restart (stream_processors.keyed, and the table restored from its changelog).
"""

from __future__ import annotations

import signal
import uuid
from datetime import timedelta

import pytest

from contract import identifiers
from contract.alerts import AlertKind
from contract.encoding import model_bytes
from contract.events import ScannerKind, ScanRecorded
from contract.verdict import Reason
from tests.integration.pipeline import Pipeline, batch_id, opened, packed, wait_for
from tests.world import NOW, PRODUCT, World

LOT = "L2607KEYD1"
UNITS = 80
ROUNDS = 8
"""Scans of each unit from Thái Bình, 90 minutes apart, each from its own client; then one
from Hồ Chí Minh five minutes after the last: impossible travel."""
BEFORE_KILL = 5


@pytest.fixture
def pipeline(stack_settings, tmp_path):
    running = Pipeline(stack_settings, tmp_path, World())
    try:
        running.start_worker()
        running.publish_authority_setup()
        yield running
    finally:
        running.close()


def _scan(serial: str, n: int, unit: int, minutes: float, province: str) -> ScanRecorded:
    return ScanRecorded(
        event_id=uuid.uuid4(), occurred_at=NOW + timedelta(minutes=minutes),
        code=f"https://ocop.vn/01/x/10/{LOT}/21/{serial}", batch_id=batch_id(LOT), serial=serial,
        province=province, reason=Reason.GENUINE, scanner=ScannerKind.CONSUMER,
        device=f"{unit:032x}{n:032x}", client=f"{unit:032x}{n:032x}",
    )  # fmt: skip


def _send_round(pipeline: Pipeline, serials: list[str], n: int) -> None:
    for unit, serial in enumerate(serials):
        if n < ROUNDS:
            event = _scan(serial, n, unit, n * 90, "Thái Bình")
        else:
            event = _scan(serial, n, unit, (ROUNDS - 1) * 90 + 5, "Hồ Chí Minh")
        pipeline.send("scan", event.topic_key(), model_bytes(event))


def test_interleaved_units_keep_their_order_and_count_once_across_a_kill(pipeline: Pipeline):
    units = packed(pipeline.world, UNITS, LOT)
    for event in (opened(LOT), units):
        pipeline.send_signed("batch", pipeline.world.producer, event)
    pipeline.flush()
    pipeline.wait_for_head(batch_id(LOT), 2)
    serials = list(units.serials)
    scan_topic = pipeline.topics["scan"]

    for n in range(BEFORE_KILL):  # every unit's scans interleaved with every other unit's
        _send_round(pipeline, serials, n)
    pipeline.flush()
    wait_for(
        "the worker to be part-way through the scans",
        lambda: pipeline.metrics()["processed"].get(scan_topic, 0) >= UNITS,
        explain=pipeline.diagnosis,
    )
    pipeline.stop_worker(signal.SIGKILL)
    pipeline.start_worker()
    for n in range(BEFORE_KILL, ROUNDS + 1):
        _send_round(pipeline, serials, n)
    pipeline.flush()

    keys = [identifiers.unit_key(PRODUCT, serial) for serial in serials]

    def all_counted() -> bool:
        return all(pipeline.scan_summary(key).count >= ROUNDS + 1 for key in keys)

    wait_for("every unit's scans counted", all_counted, timeout_s=120, explain=pipeline.diagnosis)
    for key in keys:
        totals = pipeline.scan_summary(key)
        assert (totals.count, totals.first, totals.last) == (
            ROUNDS + 1, NOW, NOW + timedelta(minutes=(ROUNDS - 1) * 90 + 5),
        ), key  # fmt: skip

    def all_alerted() -> bool:
        return all(
            AlertKind.IMPOSSIBLE_TRAVEL in {a.kind for a in pipeline.alerts(key)} for key in keys
        )

    wait_for("every unit's impossible-travel alert", all_alerted, explain=pipeline.diagnosis)
    recorded = pipeline.session.prepare("SELECT count(*) FROM scans_by_unit WHERE unit_key = ?")
    assert {pipeline.session.execute(recorded, (key,)).one()[0] for key in keys} == {ROUNDS + 1}
    assert pipeline.metrics()["refused"] == {}
