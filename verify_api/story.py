"""A batch's story from raw material to shelf, read from its sealed chain of records.

Each record holds the producer-signed event exactly as received, so the story is decoded
from what was sealed, never from a second copy. Decoding a chain costs time proportional to
its packing events (up to 10,000 serials each), so callers cache a story by the chain's
head: a new record is a new head, and every unit of a batch shares one story.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from contract.events import (
    BatchClosed,
    BatchEvent,
    BatchOpened,
    BatchReceived,
    BatchShipped,
    UnitsPacked,
    decode_signed_event,
)
from keys.chain import ChainRecord
from verify_api.schemas import StoryStep


@dataclass(frozen=True)
class Packing:
    """One packing record: what every label it packed says, and where it is in the chain."""

    seq: int
    stars: int
    key_id: str
    packed_on: date


@dataclass(frozen=True)
class ChainFacts:
    steps: list[StoryStep]
    packed: dict[str, Packing]
    """Serial to the record that packed it: the chain itself answers "was this packed, as
    labelled?" (the units table is an index the processors derive from these records).
    Empty when the batch has more serials than the caller wants held."""
    digests: dict[str, str]
    """Serial to its label's digest where the record gave one; empty whenever `packed` is."""


def read_chain(records: Sequence[ChainRecord], *, index_up_to: int) -> ChainFacts:
    """The story, one step per record except that a run of packing records is one step (a
    consumer wants "packed: 2,000 units", not forty lines of fifty); and the packed serials,
    if there are at most `index_up_to` of them."""
    steps: list[StoryStep] = []
    packed: dict[str, Packing] = {}
    digests: dict[str, str] = {}
    for record in records:
        event = decode_signed_event(record.event).body
        if not isinstance(event, BatchEvent):  # the processors chain batch events only
            raise ValueError(f"record {record.seq} holds a {event.type} event")
        if isinstance(event, UnitsPacked):
            packing = Packing(record.seq, event.stars, event.key_id, event.packed_on)
            packed.update(dict.fromkeys(event.serials, packing))
            digests.update(zip(event.serials, event.label_digests, strict=False))  # or none
        units, party, note = _facts(event)
        gln, party_gln = _glns(event)
        last = steps[-1] if steps else None
        if isinstance(event, UnitsPacked) and last is not None and last.kind == event.type:
            steps[-1] = last.model_copy(update={"units": (last.units or 0) + (units or 0)})
            continue
        steps.append(
            StoryStep(
                seq=record.seq,
                kind=event.type,
                at=event.occurred_at,
                units=units,
                party=party,
                note=note,
                gln=gln,
                party_gln=party_gln,
            )
        )
    if len(packed) > index_up_to:
        return ChainFacts(steps, {}, {})
    return ChainFacts(steps, packed, digests)


def story(records: Sequence[ChainRecord]) -> list[StoryStep]:
    return read_chain(records, index_up_to=0).steps


def _glns(event: BatchEvent) -> tuple[str | None, str | None]:
    """(where the step took place, where it went) by GLN, as far as the event names them."""
    if isinstance(event, BatchShipped):
        return event.from_gln, event.to_gln
    if isinstance(event, BatchReceived):
        return event.receiver_gln, None
    return None, None


def _facts(event: BatchEvent) -> tuple[int | None, str | None, str | None]:
    """(units, party, note) of a step."""
    if isinstance(event, UnitsPacked):
        return len(event.serials), None, None
    if isinstance(event, BatchOpened):
        return event.planned_units, None, None
    if isinstance(event, BatchClosed):
        return event.units_packed, None, None
    if isinstance(event, BatchShipped):
        return event.units, event.to_party, None
    if isinstance(event, BatchReceived):
        return event.units, event.receiver, None
    return None, event.recalled_by, event.reason
