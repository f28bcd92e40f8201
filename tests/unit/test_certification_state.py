"""Which certification applies when: the latest to have started supersedes the others."""

from __future__ import annotations

from datetime import timedelta

from contract.certification import (
    CertificationStatus,
    StandingOverTime,
    certification_state,
    standing,
)
from keys import certs
from tests.world import NOW, World


def rated(state):
    """(status, stars) of a certification state."""
    return state.status, state.certification.stars if state.certification else None


def test_a_downgrade_supersedes_and_its_revocation_revives_nothing(world: World):
    award = world.certifications[0].body  # 4★ from NOW - 200 days
    downgrade = world.award(stars=3, score="61", number="2/GCN", valid_from=NOW).body
    revocation = certs.revoke_certification(
        world.provincial, downgrade, decision_no="9/QĐ", reason="sai phạm",
        effective_at=NOW + timedelta(days=10), now=NOW + timedelta(days=10),
    ).body  # fmt: skip
    awards, revoked = [award, downgrade], {downgrade.certificate_no: revocation}

    before = certification_state(awards, revoked, NOW - timedelta(days=1))
    assert rated(before) == (CertificationStatus.IN_FORCE, 4)
    during = certification_state(awards, revoked, NOW + timedelta(days=1))
    assert rated(during) == (CertificationStatus.IN_FORCE, 3)
    after = certification_state(awards, revoked, NOW + timedelta(days=11))
    assert rated(after) == (CertificationStatus.REVOKED, 3)


def test_a_renewal_takes_over_only_when_it_starts(world: World):
    award = world.certifications[0].body
    renewal = world.award(stars=5, score="91", number="3/GCN",
                          valid_from=NOW + timedelta(days=30)).body  # fmt: skip
    now = certification_state([award, renewal], {}, NOW)
    assert now.certification == award
    later = certification_state([award, renewal], {}, NOW + timedelta(days=31))
    assert rated(later) == (CertificationStatus.IN_FORCE, 5)


def test_expiry_needs_no_event(world: World):
    award = world.certifications[0].body
    assert certification_state([award], {}, award.valid_until).status is CertificationStatus.EXPIRED
    assert certification_state([], {}, NOW).status is CertificationStatus.NONE


def test_the_standing_over_time_is_the_standing_at_every_moment(world: World):
    """Worked out once a stretch, it must agree with `standing` at each moment where one
    could change, a microsecond either side of it, and between: an award, a downgrade and
    a renewal overlapping, the downgrade revoked, another producer's revocation beside."""
    award = world.certifications[0].body  # 4★ from NOW - 200 days
    downgrade = world.award(stars=3, score="61", number="2/GCN", valid_from=NOW).body
    renewal = world.award(stars=5, score="91", number="3/GCN",
                          valid_from=NOW + timedelta(days=30)).body  # fmt: skip
    revoked = {
        downgrade.certificate_no: certs.revoke_certification(
            world.provincial, downgrade, decision_no="9/QĐ", reason="sai phạm",
            effective_at=NOW + timedelta(days=10), now=NOW + timedelta(days=10),
        ).body,
        "99/GCN": certs.revoke_certification(
            world.provincial, award.model_copy(update={"certificate_no": "99/GCN"}),
            decision_no="10/QĐ", reason="khác", effective_at=NOW + timedelta(days=3),
            now=NOW + timedelta(days=3),
        ).body,
    }  # fmt: skip
    for awards in ([], [award], [award, downgrade], [award, downgrade, renewal]):
        over_time = StandingOverTime(awards, revoked)
        moments = {m for a in awards for m in (a.valid_from, a.valid_until)}
        moments |= {r.effective_at for r in revoked.values()}
        tick = timedelta(microseconds=1)
        asked = sorted({m + d for m in moments for d in (-tick, 0 * tick, tick, timedelta(days=1))})
        for at in [NOW - timedelta(days=900), *asked, NOW + timedelta(days=3000)]:
            assert over_time.at(at) == standing(awards, revoked, at), at
