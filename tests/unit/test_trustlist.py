from __future__ import annotations

from datetime import timedelta

import pytest

from contract.certification import CertificationStatus, EvaluationLevel
from contract.events import ProducerKind
from contract.verdict import Lang
from keys import certs
from keys.errors import TrustListError
from keys.signing import SigningKey
from keys.trustlist import KeyStatus, TrustList, build_trust_list, instant
from tests.world import NOW, PRODUCER, PRODUCT


def test_loads_only_under_the_pinned_root(world):
    data = world.trust_list_bytes()
    trust = TrustList.load(data, root_public_key=world.root.public_key)
    assert trust.version == 1
    assert trust.root_key_id == world.root.key_id
    with pytest.raises(TrustListError, match="not signed by the pinned root"):
        TrustList.load(data, root_public_key=SigningKey.generate().public_key)


def test_a_list_signed_by_an_impostor_root_is_refused(world):
    impostor = SigningKey.generate()
    forged = build_trust_list(impostor, version=99, now=NOW)
    with pytest.raises(TrustListError, match="pinned root"):
        TrustList.load(forged, root_public_key=world.root.public_key)


def test_any_changed_byte_is_refused(world):
    data = bytearray(world.trust_list_bytes())
    for position in range(0, len(data), 97):
        changed = bytearray(data)
        changed[position] ^= 0x01
        with pytest.raises(TrustListError):
            TrustList.load(bytes(changed), root_public_key=world.root.public_key)


def test_age_and_staleness(world):
    trust = world.trust()
    fresh = trust.freshness(NOW + timedelta(days=2))
    assert (fresh.age, fresh.stale, fresh.warning(Lang.EN)) == (timedelta(days=2), False, None)
    stale = trust.freshness(NOW + timedelta(days=8))
    assert stale.stale
    assert "stale since 2025-03-17" in stale.warning(Lang.EN)
    assert "quá hạn cập nhật" in stale.warning(Lang.VI)


def test_producer_keys_must_come_from_an_authority(world):
    rogue = SigningKey.generate()
    forged = certs.certify_producer_key(
        rogue,
        SigningKey.generate().public_key,
        authority_id="VN-34",
        producer_id=PRODUCER,
        producer_name="X",
        producer_kind=ProducerKind.HOUSEHOLD,
        address="Y",
        now=NOW,
    )
    with pytest.raises(TrustListError, match="not an authority key"):
        world.trust(producer_keys=[forged])


def test_an_authority_signs_only_for_itself(world):
    stolen_name = certs.certify_producer_key(
        world.provincial,
        SigningKey.generate().public_key,
        authority_id="VN-01",
        producer_id=PRODUCER,
        producer_name="X",
        producer_kind=ProducerKind.HOUSEHOLD,
        address="Y",
        now=NOW,
    )
    with pytest.raises(TrustListError, match="that key belongs to VN-34"):
        world.trust(producer_keys=[stolen_name])


def test_a_five_star_award_needs_a_national_council(world):
    national_award = world.award(stars=5, score="95").body
    assert national_award.evaluation_level is EvaluationLevel.NATIONAL
    by_province = world.provincial.sign_document(
        national_award.model_copy(update={"authority_id": "VN-34"})
    )
    with pytest.raises(TrustListError, match="a national award signed by a provincial authority"):
        world.trust(certifications=[by_province])


def test_nothing_signed_by_an_authority_after_its_revocation_counts(world):
    revoked = certs.revoke_key(
        world.root,
        world.provincial.key_id,
        reason=certs.RevocationReason.COMPROMISED,
        effective_at=NOW - timedelta(days=1),
        now=NOW,
    )
    late = world.producer_key(SigningKey.generate(), now=NOW)
    with pytest.raises(TrustListError, match="not usable when it signed"):
        world.trust(key_revocations=[revoked], producer_keys=[late])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("duplicate_certificate", "appears twice"),
        ("revoke_unknown_key", "no such key"),
        ("authority_revokes_authority", "only the root revokes an authority key"),
        ("revoke_unknown_certificate", "no such certificate"),
    ],
)
def test_inconsistent_lists_are_refused_whole(world, extra, message):
    documents = {
        "duplicate_certificate": {"certifications": [world.award(stars=3, score="60")]},
        "revoke_unknown_key": {
            "key_revocations": [
                certs.revoke_key(
                    world.root, "aaaaaaaaaaaaa", reason=certs.RevocationReason.WITHDRAWN, now=NOW
                )
            ]
        },
        "authority_revokes_authority": {
            "key_revocations": [
                certs.revoke_key(
                    world.provincial,
                    world.national.key_id,
                    reason=certs.RevocationReason.WITHDRAWN,
                    now=NOW,
                )
            ]
        },
        "revoke_unknown_certificate": {
            "certification_revocations": [
                certs.revoke_certification(
                    world.provincial,
                    world.award(stars=4, score="80", number="999/GCN").body,
                    decision_no="1/QĐ",
                    reason="x",
                    now=NOW,
                )
            ]
        },
    }[extra]
    with pytest.raises(TrustListError, match=message):
        world.trust(**documents)


def test_key_state_is_lenient_at_the_start_and_strict_at_the_end(world):
    key = SigningKey.generate()
    certificate = world.producer_key(key, now=NOW)  # valid from 10:00 in Vietnam
    revocation = certs.revoke_key(
        world.provincial,
        key.key_id,
        reason=certs.RevocationReason.COMPROMISED,
        effective_at=NOW + timedelta(days=3),
        now=NOW,
    )
    trust = world.trust(producer_keys=[certificate], key_revocations=[revocation])
    day = (NOW - timedelta(hours=10), NOW + timedelta(hours=14))  # the whole of 10 March
    assert trust.key_state(key.key_id, day).status is KeyStatus.ACTIVE
    assert (
        trust.key_state(key.key_id, instant(NOW - timedelta(seconds=1))).status
        is KeyStatus.NOT_YET_VALID
    )
    assert trust.key_state(key.key_id, instant(NOW + timedelta(days=3))).status is KeyStatus.REVOKED
    straddling = (NOW + timedelta(days=2, hours=14), NOW + timedelta(days=3, hours=14))
    assert trust.key_state(key.key_id, straddling).status is KeyStatus.REVOKED
    assert (
        trust.key_state(key.key_id, instant(NOW + timedelta(days=800))).status is KeyStatus.REVOKED
    )
    assert trust.key_state("aaaaaaaaaaaaa", day) is None


def test_expired_key(world):
    key = SigningKey.generate()
    trust = world.trust(producer_keys=[world.producer_key(key, now=NOW, months=1)])
    assert (
        trust.key_state(key.key_id, instant(NOW + timedelta(days=40))).status is KeyStatus.EXPIRED
    )


def test_the_newest_award_in_force_applies(world):
    downgrade = world.award(
        stars=3, score="65", number="200/GCN", valid_from=NOW - timedelta(days=10)
    )
    trust = world.trust(certifications=[downgrade])
    state = trust.certification_state(PRODUCT, PRODUCER, NOW)
    assert (state.status, state.certification.stars) == (CertificationStatus.IN_FORCE, 3)
    before = trust.certification_state(PRODUCT, PRODUCER, NOW - timedelta(days=20))
    assert before.certification.stars == 4


def test_certification_states(world):
    award = world.certifications[0].body
    revocation = certs.revoke_certification(
        world.provincial,
        award,
        decision_no="47/QĐ-UBND",
        reason="Không duy trì chất lượng",
        effective_at=NOW + timedelta(days=5),
        now=NOW,
    )
    trust = world.trust(certification_revocations=[revocation])
    assert trust.certification_state(PRODUCT, PRODUCER, NOW).status is CertificationStatus.IN_FORCE
    revoked = trust.certification_state(PRODUCT, PRODUCER, NOW + timedelta(days=5))
    assert (revoked.status, revoked.revocation) == (CertificationStatus.REVOKED, revocation.body)
    assert (
        trust.certification_state(PRODUCT, PRODUCER, NOW - timedelta(days=300)).status
        is CertificationStatus.NOT_YET_VALID
    )
    assert (
        trust.certification_state(PRODUCT, "OTHER-PRODUCER", NOW).status is CertificationStatus.NONE
    )
    plain = world.trust()
    assert (
        plain.certification_state(PRODUCT, PRODUCER, award.valid_until).status
        is CertificationStatus.EXPIRED
    )
