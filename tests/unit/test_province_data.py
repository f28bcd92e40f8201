"""Province-scale demo data (demo.province): the generator's recognitions are the news
figures exactly, every dossier passes the evaluation rules, and the same seed gives the
same events."""

from __future__ import annotations

from collections import Counter

import pytest

from contract.admin_map import successor_authority
from contract.evaluation import Context, DossierSubmitted, ProvinceRecognised, Stage, evaluate
from contract.events import ProducerKind, ProducerRegistered, ProductRegistered
from demo import cast
from demo.province import (
    COUNCILS,
    ILLUSTRATIVE,
    THAI_BINH,
    THANG_BINH,
    DemoEvent,
    province_events,
)

EVENTS = province_events()


def _place(authority_id: str) -> tuple[list[ProducerRegistered], list[ProvinceRecognised]]:
    producers = [e for e in EVENTS if isinstance(e, ProducerRegistered)]
    decisions = [e for e in EVENTS if isinstance(e, ProvinceRecognised)]
    return (
        [p for p in producers if p.authority_id == authority_id],
        [d for d in decisions if d.authority_id == authority_id],
    )


def test_thai_binh_november_2023() -> None:
    producers, decisions = _place("VN-34")
    assert len(decisions) == 138
    assert Counter(d.stars for d in decisions) == {4: 48, 3: 90}
    assert len(producers) == 91
    assert Counter(p.kind for p in producers) == {
        ProducerKind.ENTERPRISE: 32, ProducerKind.COOPERATIVE: 36, ProducerKind.HOUSEHOLD: 23,
    }  # fmt: skip
    assert {p.district for p in producers} == set(THAI_BINH.districts)
    assert len(THAI_BINH.districts) == 8
    assert max(d.decided_on for d in decisions).isoformat() <= "2023-11-30"
    in_2021 = [d for d in decisions if d.decided_on.year == 2021]
    assert (len(in_2021), {d.stars for d in in_2021}) == (17, {4})
    assert THAI_BINH.reported


def test_thang_binh_district() -> None:
    producers, decisions = _place("VN-49")
    assert len(decisions) == 31
    assert Counter(d.stars for d in decisions) == {4: 4, 3: 27}
    assert {p.district for p in producers} == {"Huyện Thăng Bình"}
    assert min(d.decided_on for d in decisions).year > 2018
    assert not THANG_BINH.reported  # its producers are illustrative


def test_every_producer_has_a_product_and_every_product_one_recognition() -> None:
    products = [e for e in EVENTS if isinstance(e, ProductRegistered)]
    decisions = [e for e in EVENTS if isinstance(e, ProvinceRecognised)]
    producers = {e.producer_id for e in EVENTS if isinstance(e, ProducerRegistered)}
    assert {p.producer_id for p in products} == producers
    assert len({p.product_key for p in products}) == len(products) == 169
    assert Counter(d.product_key for d in decisions) == Counter(p.product_key for p in products)
    assert len({d.certificate_no for d in decisions}) == 169


def test_the_named_products_are_among_them_as_demo_cast_has_them() -> None:
    decisions = {d.certificate_no: d for d in EVENTS if isinstance(d, ProvinceRecognised)}
    for product in cast.PRODUCTS:
        decision = decisions[product.certificate_no]
        assert (decision.stars, decision.score) == (product.stars, product.score)
        assert decision.decision_no == product.decision_no
    names = [e.name for e in EVENTS if isinstance(e, ProducerRegistered | ProductRegistered)]
    named = {p.name for p in cast.PRODUCTS} | {p.name for p in cast.PRODUCERS}
    assert all(name in named or name.endswith(ILLUSTRATIVE) for name in names)


def test_every_dossier_passes_the_evaluation_rules() -> None:
    context = Context(
        producers={e.producer_id for e in EVENTS if isinstance(e, ProducerRegistered)},
        authorities=COUNCILS,
    )
    dossiers: dict[str, list[DemoEvent]] = {}
    for event in EVENTS:
        if isinstance(event, ProducerRegistered | ProductRegistered):
            continue
        dossiers.setdefault(event.dossier_id, []).append(event)
    assert len(dossiers) == 169
    for events in dossiers.values():
        assert isinstance(events[0], DossierSubmitted)
        state = evaluate(events, context)  # type: ignore[arg-type]
        assert state.stage is Stage.RECOGNISED


def test_the_councils_that_answer_for_them_now() -> None:
    assert {successor_authority(a) for a in COUNCILS} == {"VN-33", "VN-48"}


def test_events_are_in_time_order_and_reproducible() -> None:
    times = [e.occurred_at for e in EVENTS]
    assert times == sorted(times)
    assert province_events() == EVENTS
    other = province_events(seed=7)
    assert other != EVENTS
    assert Counter(type(e) for e in other) == Counter(type(e) for e in EVENTS)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_seed_gives_the_same_figures(seed: int) -> None:
    decisions = [e for e in province_events(seed) if isinstance(e, ProvinceRecognised)]
    assert Counter((d.authority_id, d.stars) for d in decisions) == {
        ("VN-34", 4): 48, ("VN-34", 3): 90, ("VN-49", 4): 4, ("VN-49", 3): 27,
    }  # fmt: skip
