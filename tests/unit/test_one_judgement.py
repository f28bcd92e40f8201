"""One judgement of a printed star claim: the offline verifier and the verify API agree.

The same certification history, given to `ocop-verify` as a trust list and to the API as
stored certifications, with the same label, must get the same level and reason, whatever
the history: awards, renewals, upgrades, downgrades, revocations and expiries, with any
printed claim, packing day and moment of checking.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.verdict import Level, Reason
from keys import certs
from keys.trustlist import TrustList, build_trust_list
from keys.verifier import verify_label
from tests.unit.test_api_resolution import Shelf, resolver_of, stored
from tests.world import NOW, World

SCORES = {1: "20", 2: "40", 3: "60", 4: "80", 5: "95"}
"""A score in each star band of Decision 148."""
EARLIEST = NOW - timedelta(days=400)
"""The world's authorities and producer key are certified 500 days before NOW."""


@dataclass(frozen=True)
class Award:
    stars: int
    starts_after_days: int
    revoked_after_days: int | None
    """Days after the award starts that a revocation takes effect; None: never revoked."""


@dataclass(frozen=True)
class Case:
    awards: list[Award]
    printed: int
    packed_after_days: int
    checked_after_days: int


def signed_history(world: World, awards: list[Award]) -> list[tuple[Any, Any]]:
    """Each award signed by its council, with its revocation (or None)."""
    history = []
    for number, award in enumerate(awards, start=1):
        start = EARLIEST + timedelta(days=award.starts_after_days)
        signed = world.award(
            stars=award.stars, score=SCORES[award.stars], number=f"{number}/GCN",
            valid_from=start,
        )  # fmt: skip
        revocation = None
        if award.revoked_after_days is not None:
            council = world.national if award.stars == 5 else world.provincial
            effective = start + timedelta(days=award.revoked_after_days)
            decided = start + timedelta(days=min(award.revoked_after_days, 30))
            revocation = certs.revoke_certification(
                council, signed.body, decision_no=f"{number}/QĐ-THU-HỒI", reason="vi phạm",
                effective_at=effective, now=decided,
            )  # fmt: skip
        history.append((signed, revocation))
    return history


def offline_and_api(world: World, case: Case) -> tuple[tuple[Level, Reason], tuple[Level, Reason]]:
    history = signed_history(world, case.awards)
    packed_on = (EARLIEST + timedelta(days=case.packed_after_days)).date()
    checked_at = EARLIEST + timedelta(days=case.checked_after_days, hours=3)
    shelf = Shelf(world, stars=case.printed, packed_on=packed_on)
    label = shelf.labels[0]
    # offline: a trust list holding exactly this history
    trust = TrustList.load(
        build_trust_list(
            world.root, version=1, now=NOW, authorities=world.authorities,
            producer_keys=world.producer_keys,
            certifications=[signed for signed, _ in history],
            certification_revocations=[r for _, r in history if r is not None],
        ),
        root_public_key=world.root.public_key,
    )  # fmt: skip
    offline = verify_label(label.url, trust=trust, now=checked_at)
    # the API: the same history as the processors store it, the unit packed as labelled
    shelf.store.awards[shelf.store.products[label.batch.product_key].product_key] = [
        stored(signed, revocation) for signed, revocation in history
    ]
    resolver = resolver_of(shelf.store, cache_s=0)
    online = asyncio.run(resolver.resolve(label.url, world.trust(), checked_at)).resolution
    return (offline.reason.level, offline.reason), (online.level, online.reason)


awards = st.builds(
    Award,
    stars=st.integers(1, 5),
    starts_after_days=st.integers(0, 900),
    revoked_after_days=st.none() | st.integers(0, 1_200),
)
cases = st.builds(
    Case,
    awards=st.lists(awards, max_size=4),
    printed=st.sampled_from([0, 3, 4, 5]),
    packed_after_days=st.integers(0, 520),
    checked_after_days=st.integers(0, 1_700),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases)
def test_the_offline_verifier_and_the_api_give_the_same_level_and_reason(case: Case):
    world = World()
    offline, online = offline_and_api(world, case)
    assert offline == online


def test_a_true_claim_on_a_later_downgraded_product_is_a_warning_everywhere(world: World):
    """Printed 4★ while the product held 4★; downgraded to 3★ since: the label was true."""
    case = Case(
        awards=[Award(4, 0, None), Award(3, 300, None)],
        printed=4,
        packed_after_days=100,
        checked_after_days=400,
    )
    offline, online = offline_and_api(world, case)
    assert offline == online == (Level.WARNING, Reason.RATING_DOWNGRADED)


def test_a_claim_above_anything_ever_awarded_is_a_fake_logo_even_once_revoked(world: World):
    """Printed 5★ on a product that only ever held 4★, whose certificate was later revoked."""
    case = Case(
        awards=[Award(4, 0, revoked_after_days=300)],
        printed=5,
        packed_after_days=100,
        checked_after_days=400,
    )
    offline, online = offline_and_api(world, case)
    assert offline == online == (Level.COUNTERFEIT, Reason.STARS_EXCEED_CERTIFICATION)


def test_the_cases_cover_every_claim_reason():
    """The generated histories can reach every reason a claim can have."""
    reached = [
        (Case([], 4, 100, 200), Reason.NO_CERTIFICATION),
        (Case([Award(4, 0, None)], 4, 100, 200), Reason.GENUINE),
        (Case([Award(4, 0, None)], 4, 100, 1_300), Reason.CERTIFICATION_EXPIRED),
        (Case([Award(4, 0, 50)], 4, 100, 200), Reason.CERTIFICATION_REVOKED),
    ]
    world = World()
    for case, reason in reached:
        assert offline_and_api(world, case)[1][1] is reason
