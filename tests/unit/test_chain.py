"""Hash chains built and re-verified in memory: every defect is named at the right record."""

from __future__ import annotations

import dataclasses

import pytest

from contract.records import GENESIS_HASH, record_hash
from keys.chain import ChainDefect, ChainRecord, seal, verify_chain
from keys.signing import SigningKey

BATCH = "/01/08931234567897/10/L1"
SEALER = SigningKey.generate()
KEYS = {SEALER.key_id: SEALER.public_key}


def chain(events: list[bytes], batch: str = BATCH) -> list[ChainRecord]:
    records, prev = [], GENESIS_HASH
    for seq, event in enumerate(events, start=1):
        hashed = record_hash(batch, seq, prev, event)
        records.append(
            ChainRecord(batch, seq, event, prev, hashed, seal(SEALER, hashed), SEALER.key_id)
        )
        prev = hashed
    return records


EVENTS = [b'{"n":1}', b'{"n":2}', b'{"n":3}']


def test_an_untouched_chain_verifies_up_to_its_head():
    records = chain(EVENTS)
    verdict = verify_chain(BATCH, records, KEYS, head=(3, records[-1].record_hash))
    assert (verdict.ok, verdict.verified) == (True, 3)


@pytest.mark.parametrize(
    ("damage", "defect", "verified"),
    [
        (
            lambda r: [r[0], dataclasses.replace(r[1], event=b'{"n":9}'), r[2]],
            ChainDefect.BAD_HASH,
            1,
        ),
        (lambda r: [r[0], r[2]], ChainDefect.GAP, 1),
        (lambda r: [r[1], r[0], r[2]], ChainDefect.GAP, 0),
        (
            lambda r: [r[0], dataclasses.replace(r[1], prev_hash=bytes(32)), r[2]],
            ChainDefect.BROKEN_LINK,
            1,
        ),
        (lambda r: [*r[:2], dataclasses.replace(r[2], seal=r[1].seal)], ChainDefect.BAD_SEAL, 2),
        (
            lambda r: [dataclasses.replace(r[0], sealed_by="aaaaaaaaaaaaa"), *r[1:]],
            ChainDefect.UNKNOWN_SEAL_KEY,
            0,
        ),
        (lambda r: [], ChainDefect.EMPTY, 0),
    ],
)
def test_each_kind_of_damage_is_named(damage, defect, verified):
    verdict = verify_chain(BATCH, damage(chain(EVENTS)), KEYS)
    assert (verdict.defect, verdict.verified) == (defect, verified)
    assert verdict.detail


def test_a_record_of_another_batch_is_refused():
    foreign = chain(EVENTS, batch="/p/OTHER/10/L1")
    assert verify_chain(BATCH, foreign, KEYS).defect is ChainDefect.WRONG_BATCH


def test_a_chain_cut_short_of_its_head_is_refused():
    records = chain(EVENTS)
    verdict = verify_chain(BATCH, records[:2], KEYS, head=(3, records[2].record_hash))
    assert verdict.defect is ChainDefect.NOT_AT_HEAD


def test_the_hash_covers_position_and_batch():
    assert record_hash(BATCH, 1, GENESIS_HASH, b"x") != record_hash(BATCH, 2, GENESIS_HASH, b"x")
    assert record_hash(BATCH, 1, GENESIS_HASH, b"x") != record_hash(
        "/p/B/10/L", 1, GENESIS_HASH, b"x"
    )
    with pytest.raises(ValueError, match="numbered from 1"):
        record_hash(BATCH, 0, GENESIS_HASH, b"x")
