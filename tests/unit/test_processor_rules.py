"""The rules of a batch's life, without servers: every transition and every refusal."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from contract import identifiers
from contract.certification import CertificationState, CertificationStatus, Standing
from contract.events import (
    BatchClosed,
    BatchOpened,
    BatchRecalled,
    BatchReceived,
    BatchShipped,
    RawMaterial,
    Unit,
    UnitsPacked,
)
from records.rows import Product
from stream_processors.rules import BatchStatus, Facts, Refusal, apply
from tests.world import LOT, NOW, PRODUCER, PRODUCT

BATCH = identifiers.batch_id(PRODUCT, LOT)
PRODUCT_ROW = Product(PRODUCT, PRODUCER, "Mắm cáy", None, "food", None, None, "VN-34", NOW)


def common(**changes):
    return {
        "event_id": uuid.uuid4(),
        "occurred_at": NOW,
        "batch_id": BATCH,
        "producer_id": PRODUCER,
    } | changes


def opened_event():
    return BatchOpened(
        **common(),
        product_key=PRODUCT,
        lot=LOT,
        production_date=date(2025, 3, 9),
        expiry_date=date(2026, 3, 9),
        planned_units=10,
        raw_materials=(
            RawMaterial(material="cáy", origin="Tiền Hải", quantity=Decimal(5), unit=Unit.KILOGRAM),
        ),
    )


def packed_event(world, serials=3, stars=4, **changes):
    return UnitsPacked(
        **common(**changes),
        serials=tuple(identifiers.new_serial() for _ in range(serials)),
        stars=stars,
        key_id=world.producer.key_id,
        packed_on=date(2025, 3, 10),
    )


def in_force(world, stars=4):
    award = world.certifications[0].body.model_copy(update={"stars": stars})
    return Standing(CertificationState(CertificationStatus.IN_FORCE, award), stars)


@pytest.fixture
def open_batch():
    return apply(None, opened_event(), Facts(product=PRODUCT_ROW), 1).state


def test_opening_needs_a_registered_product_of_this_producer():
    with pytest.raises(Refusal) as refused:
        apply(None, opened_event(), Facts(product=None), 1)
    assert refused.value.code == "unknown_product"
    foreign = dataclasses.replace(PRODUCT_ROW, producer_id="SOMEONE-ELSE")
    with pytest.raises(Refusal) as refused:
        apply(None, opened_event(), Facts(product=foreign), 1)
    assert refused.value.code == "product_of_another_producer"


def test_a_batch_opens_once(open_batch):
    assert (open_batch.status, open_batch.units_packed, open_batch.planned_units) == ("open", 0, 10)
    with pytest.raises(Refusal) as refused:
        apply(open_batch, opened_event(), Facts(product=PRODUCT_ROW), 2)
    assert refused.value.code == "batch_exists"


def test_packing_yields_one_unit_row_per_serial(world, open_batch):
    event = packed_event(world, serials=3)
    outcome = apply(
        open_batch, event, Facts(standing=in_force(world), label_key_producer=PRODUCER), 2
    )
    assert outcome.state.units_packed == 3
    assert [u.unit_key for u in outcome.units] == [
        identifiers.unit_key(PRODUCT, s) for s in event.serials
    ]
    assert {(u.seq, u.printed_stars, u.batch_id) for u in outcome.units} == {(2, 4, BATCH)}


@pytest.mark.parametrize(
    ("stars", "rating", "code"),
    [
        (5, "in_force_4", "stars_exceed_certification"),
        (4, "downgraded_to_3", "rating_downgraded"),
        (3, "expired", "certification_expired"),
        (3, None, "no_certification"),
    ],
)
def test_labels_may_not_claim_more_than_the_certification(world, open_batch, stars, rating, code):
    state = {
        "in_force_4": in_force(world, 4),
        "downgraded_to_3": Standing(in_force(world, 3).state, 4),
        "expired": Standing(
            CertificationState(CertificationStatus.EXPIRED, world.certifications[0].body), 4
        ),
        None: None,
    }[rating]
    with pytest.raises(Refusal) as refused:
        apply(
            open_batch,
            packed_event(world, stars=stars),
            Facts(standing=state, label_key_producer=PRODUCER),
            2,
        )
    assert refused.value.code == code


def test_labels_without_a_star_claim_need_no_certification(world, open_batch):
    outcome = apply(open_batch, packed_event(world, stars=0), Facts(label_key_producer=PRODUCER), 2)
    assert outcome.state.units_packed == 3


def test_labels_must_be_signed_by_a_key_of_the_batchs_producer(world, open_batch):
    with pytest.raises(Refusal) as refused:
        apply(
            open_batch,
            packed_event(world),
            Facts(standing=in_force(world), label_key_producer="OTHER"),
            2,
        )
    assert refused.value.code == "label_key_not_producers"


def test_the_whole_life_then_nothing_after_a_recall(world, open_batch):
    facts = Facts(standing=in_force(world), label_key_producer=PRODUCER)
    state = apply(open_batch, packed_event(world, serials=2), facts, 2).state
    with pytest.raises(Refusal) as refused:
        apply(state, BatchClosed(**common(), units_packed=5), Facts(), 3)
    assert refused.value.code == "unit_count_mismatch"
    state = apply(state, BatchClosed(**common(), units_packed=2), Facts(), 3).state
    with pytest.raises(Refusal) as refused:
        apply(state, packed_event(world), facts, 4)
    assert refused.value.code == "batch_not_open"
    with pytest.raises(Refusal) as refused:
        apply(
            state, BatchReceived(**common(), shipment_id="S1", receiver="Shop", units=2), Facts(), 4
        )
    assert refused.value.code == "batch_not_shipped"
    state = apply(
        state, BatchShipped(**common(), shipment_id="S1", to_party="Shop", units=2), Facts(), 4
    ).state
    state = apply(
        state, BatchReceived(**common(), shipment_id="S1", receiver="Shop", units=2), Facts(), 5
    ).state
    assert state.status == BatchStatus.RECEIVED
    when = datetime(2025, 4, 1, tzinfo=UTC)
    state = apply(
        state,
        BatchRecalled(**common(occurred_at=when), recalled_by="VN-34", reason="nhiễm khuẩn"),
        Facts(),
        6,
    ).state
    assert (state.status, state.recalled_at, state.recall_reason) == (
        "recalled",
        when,
        "nhiễm khuẩn",
    )
    with pytest.raises(Refusal) as refused:
        apply(
            state,
            BatchShipped(
                **common(occurred_at=when + timedelta(days=1)),
                shipment_id="S2",
                to_party="Shop",
                units=1,
            ),
            Facts(),
            7,
        )
    assert refused.value.code == "batch_recalled"


def test_events_need_an_opened_batch_of_the_same_producer(world, open_batch):
    with pytest.raises(Refusal) as refused:
        apply(None, BatchClosed(**common(), units_packed=0), Facts(), 1)
    assert refused.value.code == "unknown_batch"
    with pytest.raises(Refusal) as refused:
        apply(
            open_batch, BatchClosed(**common(producer_id="OTHER-HTX"), units_packed=0), Facts(), 2
        )
    assert refused.value.code == "batch_of_another_producer"
