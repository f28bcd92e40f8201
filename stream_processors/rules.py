"""The rules of a batch's life, as a pure function: state and event in, new state out.

No I/O here: the ingest agent reads what the rules need (the batch's state, the product,
its rating) and writes what they return. A refused event raises `Refusal` with a stable
code, which goes to the dead-letter topic with the event.

The life of a batch: opened → units packed (any number of times) → closed → shipped (one or
more shipments) → received; a recall can come at any point and ends it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum

from contract import identifiers
from contract.certification import NEVER_CERTIFIED, Standing
from contract.claims import judge_claim
from contract.events import (
    BatchClosed,
    BatchEvent,
    BatchOpened,
    BatchRecalled,
    BatchReceived,
    BatchShipped,
    UnitsPacked,
)
from contract.records import GENESIS_HASH
from records.rows import BatchState, Product, Unit


class BatchStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    SHIPPED = "shipped"
    RECEIVED = "received"
    RECALLED = "recalled"


class Refusal(Exception):
    """An event the rules do not accept; `code` is what the dead letter carries."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Facts:
    """What the rules may need besides the batch itself, read by the caller beforehand."""

    product: Product | None = None
    """The registered product of a BatchOpened."""
    standing: Standing | None = None
    """The producer's certifications of the product at the time of a UnitsPacked."""
    label_key_producer: str | None = None
    """Whose key (by the trust list) signed the labels of a UnitsPacked."""


@dataclass(frozen=True)
class Outcome:
    state: BatchState
    """The batch after the event; its head is the caller's to advance."""
    units: tuple[Unit, ...] = ()
    """Units to store, each pointing at the record `seq` that packed them."""


def apply(state: BatchState | None, event: BatchEvent, facts: Facts, seq: int) -> Outcome:
    """The batch after `event`, which will be record `seq` of its chain."""
    if isinstance(event, BatchOpened):
        return Outcome(_open(state, event, facts))
    if state is None:
        raise Refusal("unknown_batch", f"batch {event.batch_id} was never opened")
    if event.producer_id != state.producer_id:
        raise Refusal(
            "batch_of_another_producer",
            f"batch {event.batch_id} belongs to {state.producer_id}, not {event.producer_id}",
        )
    if state.status == BatchStatus.RECALLED:
        raise Refusal("batch_recalled", f"batch {event.batch_id} was recalled; it takes no events")
    if isinstance(event, UnitsPacked):
        return _pack(state, event, facts, seq)
    if isinstance(event, BatchClosed):
        _require(state, event, BatchStatus.OPEN, code="batch_not_open")
        if event.units_packed != state.units_packed:
            raise Refusal(
                "unit_count_mismatch",
                f"the station closes {event.batch_id} with {event.units_packed} units, "
                f"its records hold {state.units_packed}",
            )
        return Outcome(replace(state, status=BatchStatus.CLOSED))
    if isinstance(event, BatchShipped):
        _require(
            state,
            event,
            BatchStatus.CLOSED,
            BatchStatus.SHIPPED,
            BatchStatus.RECEIVED,
            code="batch_not_closed",
        )
        return Outcome(replace(state, status=BatchStatus.SHIPPED))
    if isinstance(event, BatchReceived):
        _require(state, event, BatchStatus.SHIPPED, BatchStatus.RECEIVED, code="batch_not_shipped")
        province = event.receiver_province or state.received_province
        return Outcome(replace(state, status=BatchStatus.RECEIVED, received_province=province))
    if isinstance(event, BatchRecalled):
        recalled = replace(
            state,
            status=BatchStatus.RECALLED,
            recalled_at=event.occurred_at,
            recall_reason=event.reason,
        )
        return Outcome(recalled)
    raise Refusal("wrong_topic", f"{event.type} is not a batch event")  # pragma: no cover


def _open(state: BatchState | None, event: BatchOpened, facts: Facts) -> BatchState:
    if state is not None:
        raise Refusal("batch_exists", f"batch {event.batch_id} is already open")
    product = facts.product
    if product is None:
        raise Refusal("unknown_product", f"product {event.product_key} is not registered")
    if product.producer_id != event.producer_id:
        raise Refusal(
            "product_of_another_producer",
            f"product {event.product_key} is registered to {product.producer_id}",
        )
    return BatchState(
        batch_id=event.batch_id,
        product_key=event.product_key,
        producer_id=event.producer_id,
        lot=event.lot,
        production_date=event.production_date,
        expiry_date=event.expiry_date,
        raw_materials=json.dumps(
            [m.model_dump(mode="json") for m in event.raw_materials], ensure_ascii=False
        ),
        planned_units=event.planned_units,
        units_packed=0,
        status=BatchStatus.OPEN,
        recalled_at=None,
        recall_reason=None,
        received_province=None,
        head_seq=0,
        head_hash=GENESIS_HASH,
    )


def _pack(state: BatchState, event: UnitsPacked, facts: Facts, seq: int) -> Outcome:
    _require(state, event, BatchStatus.OPEN, code="batch_not_open")
    if facts.label_key_producer != state.producer_id:
        raise Refusal(
            "label_key_not_producers",
            f"labels signed by key {event.key_id}, which is not a key of {state.producer_id}",
        )
    # the labels' star claim must hold when they are packed: the one judgement of a claim
    claim = judge_claim(event.stars, facts.standing or NEVER_CERTIFIED)
    if not claim.holds:
        raise Refusal(claim.reason.value, f"labels claim {event.stars}★: {claim.detail}")
    units = packed_units(state, event, seq)
    return Outcome(replace(state, units_packed=state.units_packed + len(units)), units)


def packed_units(state: BatchState, event: UnitsPacked, seq: int) -> tuple[Unit, ...]:
    """The unit rows of a packing that is (or will be) record `seq` of `state`'s batch; the
    ingest agent rebuilds them for a packing it finds recorded already (a replay after a
    crash between the record and its units)."""
    return tuple(
        Unit(
            unit_key=identifiers.unit_key(state.product_key, serial),
            batch_id=state.batch_id,
            product_key=state.product_key,
            producer_id=state.producer_id,
            serial=serial,
            printed_stars=event.stars,
            key_id=event.key_id,
            packed_on=event.packed_on,
            seq=seq,
        )
        for serial in event.serials
    )


def _require(state: BatchState, event: BatchEvent, *allowed: BatchStatus, code: str) -> None:
    if state.status not in allowed:
        raise Refusal(
            code,
            f"{event.type} needs batch {event.batch_id} {' or '.join(allowed)}, "
            f"it is {state.status}",
        )
