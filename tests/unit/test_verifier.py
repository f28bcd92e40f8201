from __future__ import annotations

import json
from datetime import date, timedelta
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.certification import CertificationStatus, ProductGroup
from contract.encoding import model_bytes
from contract.errors import ContractError
from contract.events import (
    BatchClosed,
    CertificationIssued,
    ProducerKind,
    ProducerRegistered,
    ProductRegistered,
    ScannerKind,
    ScanRecorded,
    decode_signed_event,
    parse_event,
)
from contract.label import LabelDefect, MalformedLabel, SignedLabel, decode_label
from contract.verdict import Category, Lang, Reason
from keys import certs
from keys.signing import SigningKey
from keys.trustlist import KeyStatus
from keys.verifier import authenticate_label, verify_event, verify_label
from tests.world import LOT, NOW, OTHER_PRODUCT, PACKED_ON, PRODUCER, PRODUCT

PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def trust(world):
    return world.trust()


def verdict(text, trust, at=NOW):
    return verify_label(text, trust=trust, now=at)


def test_genuine_with_its_facts(world, trust):
    result = verdict(world.label(stars=4).url, trust)
    assert result.reason is Reason.GENUINE
    assert result.genuine
    assert result.category is Category.GENUINE
    assert result.producer.producer_id == PRODUCER
    assert result.key.status is KeyStatus.ACTIVE
    assert result.certification.certification.certificate_no == "123/GCN-UBND"
    assert result.certification_when_packed is CertificationStatus.IN_FORCE
    assert "4★" in result.detail
    assert result.sentence(Lang.VI).startswith("Mã chính hãng")
    facts = json.loads(json.dumps(result.as_json(), ensure_ascii=False))
    assert facts["label"]["lot"] == LOT
    assert facts["certification"]["certificate"]["score"] == "78.5"
    assert facts["trust_list"] == {
        "version": 1,
        "issued_at": "2025-03-10T03:00:00.000000Z",
        "next_update": "2025-03-17T03:00:00.000000Z",
        "age_seconds": 0,
        "stale": False,
    }


def test_fewer_stars_than_awarded_and_no_claim_are_genuine(world, trust):
    assert verdict(world.label(stars=3).url, trust).reason is Reason.GENUINE
    no_claim = verdict(world.label(stars=0, product=OTHER_PRODUCT).url, trust)
    assert (no_claim.reason, no_claim.detail) == (Reason.GENUINE, "the label makes no star claim")


def test_malformed_is_not_one_of_ours(trust):
    result = verdict("https://example.com/01/08931234567897", trust)
    assert (result.reason, result.category, result.defect) == (
        Reason.MALFORMED,
        Category.NOT_OURS,
        LabelDefect.BAD_PATH,
    )
    assert result.label is None
    assert result.producer is None


def test_bad_signature_is_ours_but_not_authentic(world, trust):
    genuine = world.label()
    forged = SignedLabel(
        genuine.batch,
        genuine.serial,
        SigningKey.generate().private_key.sign(genuine.signing_bytes()),
    )
    result = verdict(forged.url, trust)
    assert (result.reason, result.category) == (Reason.BAD_SIGNATURE, Category.NOT_AUTHENTIC)
    assert result.producer is None, "nothing is vouched for before the signature verifies"
    inflated = verdict(genuine.url.replace("&s=4&", "&s=5&"), trust)
    assert inflated.reason is Reason.BAD_SIGNATURE


def test_a_recorded_label_skips_only_the_signature_and_nothing_is_taken_on_trust_unasked(world):
    forged = SignedLabel(world.label().batch, world.label().serial, bytes(64))
    trust = world.trust()
    asked: list[SignedLabel] = []

    def recorded(label: SignedLabel) -> bool:
        asked.append(label)
        return True

    vouched = authenticate_label(forged.url, trust=trust, now=NOW, recorded=recorded)
    assert (vouched.reason, asked) == (Reason.GENUINE, [forged])
    assert vouched.producer is not None
    assert vouched.certification is None  # authenticated, the star claim left to the caller
    assert "recorded" in vouched.detail
    refused = authenticate_label(forged.url, trust=trust, now=NOW, recorded=lambda _: False)
    assert refused.reason is Reason.BAD_SIGNATURE
    assert authenticate_label(forged.url, trust=trust, now=NOW).reason is Reason.BAD_SIGNATURE
    # the key's standing on the packing day is still judged for a recorded label
    revocation = certs.revoke_key(
        world.provincial, world.producer.key_id, reason=certs.RevocationReason.COMPROMISED,
        effective_at=NOW - timedelta(days=1), now=NOW,
    )  # fmt: skip
    revoked = world.trust(key_revocations=[revocation])
    late = authenticate_label(world.label().url, trust=revoked, now=NOW, recorded=recorded)
    assert late.reason is Reason.KEY_REVOKED
    stranger = world.label(key=SigningKey.generate())
    unknown = authenticate_label(stranger.url, trust=trust, now=NOW, recorded=recorded)
    assert unknown.reason is Reason.UNKNOWN_KEY


def test_unknown_key(world, trust):
    result = verdict(world.label(key=SigningKey.generate()).url, trust)
    assert result.reason is Reason.UNKNOWN_KEY
    assert "not in trust list version 1" in result.detail


def test_an_authority_key_does_not_sign_labels(world, trust):
    result = verdict(world.label(key=world.provincial).url, trust)
    assert (result.reason, result.category) == (
        Reason.SIGNER_NOT_AUTHORISED,
        Category.NOT_AUTHENTIC,
    )


def test_key_revoked_after_compromise_keeps_what_was_signed_before(world):
    revocation = certs.revoke_key(
        world.provincial,
        world.producer.key_id,
        reason=certs.RevocationReason.COMPROMISED,
        effective_at=NOW - timedelta(days=1),
        now=NOW,
    )
    trust = world.trust(key_revocations=[revocation])
    after = verdict(world.label(packed_on=PACKED_ON).url, trust)
    assert (after.reason, after.key.status) == (Reason.KEY_REVOKED, KeyStatus.REVOKED)
    assert after.key.revocation == revocation.body
    assert after.detail.endswith(
        "revoked for labels packed on 2025-03-10 (from 2025-03-09 03:00 UTC)"
    )
    same_day = verdict(world.label(packed_on=PACKED_ON - timedelta(days=1)).url, trust)
    assert same_day.reason is Reason.KEY_REVOKED, (
        "a label packed on the revocation day could be either: refused"
    )
    before = verdict(world.label(packed_on=PACKED_ON - timedelta(days=2)).url, trust)
    assert before.reason is Reason.GENUINE


def test_rotation_keeps_the_day_of_rotation_and_retires_the_key_after_it(world):
    new_key = SigningKey.generate()
    certificate, retirement = certs.rotate(
        world.provincial, world.producer_keys[0].body, new_key.public_key, now=NOW
    )
    trust = world.trust(producer_keys=[certificate], key_revocations=[retirement])
    assert verdict(world.label(packed_on=PACKED_ON).url, trust).reason is Reason.GENUINE
    assert (
        verdict(world.label(key=new_key, packed_on=PACKED_ON).url, trust).reason is Reason.GENUINE
    )
    late = verdict(
        world.label(packed_on=PACKED_ON + timedelta(days=1)).url, trust, at=NOW + timedelta(days=1)
    )
    assert (late.reason, late.key.status) == (Reason.KEY_REVOKED, KeyStatus.RETIRED)


def test_key_used_outside_its_certificate(world, trust):
    result = verdict(world.label(packed_on=date(2030, 1, 1)).url, trust)
    assert (result.reason, result.key.status) == (Reason.KEY_REVOKED, KeyStatus.EXPIRED)
    assert (
        "expired for labels packed on 2030-01-01 (valid 2023-10-27 to 2025-10-27)" in result.detail
    )


def test_star_claim_exceeds_certification(world, trust):
    result = verdict(world.label(stars=5).url, trust)
    assert (result.reason, result.category) == (
        Reason.STARS_EXCEED_CERTIFICATION,
        Category.CLAIM_NOT_VALID,
    )
    assert result.detail == "label shows 5★; the product never held more than 4★"


def test_certification_expired_is_judged_now(world, trust):
    result = verdict(world.label().url, trust, at=NOW + timedelta(days=3 * 365))
    assert result.reason is Reason.CERTIFICATION_EXPIRED
    assert result.certification_when_packed is CertificationStatus.IN_FORCE
    assert result.trust_list.stale
    assert result.warnings(Lang.EN)


def test_certification_revoked(world):
    revocation = certs.revoke_certification(
        world.provincial,
        world.certifications[0].body,
        decision_no="47/QĐ-UBND",
        reason="Không duy trì chất lượng",
        effective_at=NOW - timedelta(hours=1),
        now=NOW,
    )
    result = verdict(world.label().url, world.trust(certification_revocations=[revocation]))
    assert result.reason is Reason.CERTIFICATION_REVOKED
    assert "47/QĐ-UBND" in result.detail


def test_no_certification(world, trust):
    assert verdict(world.label(product=OTHER_PRODUCT).url, trust).reason is Reason.NO_CERTIFICATION
    neighbour = SigningKey.generate()
    trust_with_neighbour = world.trust(
        producer_keys=[
            world.producer_key(
                neighbour, producer_id="TB-HKD-NEIGHBOUR", now=NOW - timedelta(days=30)
            )
        ]
    )
    borrowed = verdict(world.label(key=neighbour).url, trust_with_neighbour)
    assert borrowed.reason is Reason.NO_CERTIFICATION, (
        "another producer cannot borrow this product's stars"
    )


def test_a_stale_trust_list_still_answers_but_warns(world, trust):
    result = verdict(world.label().url, trust, at=NOW + timedelta(days=10))
    assert result.reason is Reason.GENUINE
    assert result.trust_list.age == timedelta(days=10)
    assert len(result.warnings(Lang.VI)) == 1


def expected_label_reason(text, original, trust):
    try:
        decoded = decode_label(text)
    except MalformedLabel:
        return Reason.MALFORMED
    certificate = trust.key_certificate(decoded.batch.key_id)
    if certificate is None:
        return Reason.UNKNOWN_KEY
    if certificate.key_id != original.batch.key_id:
        return (
            Reason.SIGNER_NOT_AUTHORISED
            if certificate.type == "authority_certificate"
            else Reason.BAD_SIGNATURE
        )
    return Reason.BAD_SIGNATURE


@PROPERTY
@given(data=st.data())
def test_any_single_changed_character_of_a_label_fails_with_the_right_reason(world, trust, data):
    label = world.label(stars=data.draw(st.sampled_from([0, 3, 4])))
    url = label.url
    position = data.draw(st.integers(0, len(url) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != url[position]))
    changed = url[:position] + replacement + url[position + 1 :]
    result = verdict(changed, trust)
    assert not result.genuine
    assert result.reason is expected_label_reason(changed, label, trust)


def signed_event(world, key=None, **changes):
    fields = {
        "event_id": uuid4(),
        "occurred_at": NOW,
        "batch_id": f"{PRODUCT}/10/{LOT}",
        "producer_id": PRODUCER,
        "units_packed": 1200,
    }
    return model_bytes((key or world.producer).sign_document(BatchClosed(**(fields | changes))))


def test_event_verdicts(world, trust):
    genuine = verify_event(signed_event(world), trust=trust, now=NOW)
    assert genuine.reason is Reason.GENUINE
    assert isinstance(genuine.event, BatchClosed)
    assert genuine.event.units_packed == 1200
    assert verify_event(b"{}", trust=trust, now=NOW).reason is Reason.MALFORMED
    assert (
        verify_event(signed_event(world, SigningKey.generate()), trust=trust, now=NOW).reason
        is Reason.UNKNOWN_KEY
    )
    other_producer = verify_event(
        signed_event(world, producer_id="TB-HKD-OTHER"), trust=trust, now=NOW
    )
    assert other_producer.reason is Reason.SIGNER_NOT_AUTHORISED
    too_late = verify_event(
        signed_event(world, occurred_at=NOW + timedelta(days=3 * 365)), trust=trust, now=NOW
    )
    assert too_late.key is not None
    assert (too_late.reason, too_late.key.status) == (Reason.KEY_REVOKED, KeyStatus.EXPIRED)
    forged = json.loads(signed_event(world))
    forged["body"]["units_packed"] = 1
    assert (
        verify_event(
            model_bytes(
                decode_signed_event(
                    json.dumps(forged, separators=(",", ":"), sort_keys=True).encode()
                )
            ),
            trust=trust,
            now=NOW,
        ).reason
        is Reason.BAD_SIGNATURE
    )


def test_certification_events_are_signed_by_their_authority(world, trust):
    event = CertificationIssued(
        event_id=uuid4(), occurred_at=NOW, certification=world.certifications[0]
    )
    assert (
        verify_event(
            model_bytes(world.provincial.sign_document(event)), trust=trust, now=NOW
        ).reason
        is Reason.GENUINE
    )
    assert (
        verify_event(model_bytes(world.national.sign_document(event)), trust=trust, now=NOW).reason
        is Reason.SIGNER_NOT_AUTHORISED
    )
    scan = ScanRecorded(
        event_id=uuid4(),
        occurred_at=NOW,
        code="x",
        reason=Reason.MALFORMED,
        scanner=ScannerKind.CONSUMER,
    )
    assert (
        verify_event(model_bytes(world.producer.sign_document(scan)), trust=trust, now=NOW).reason
        is Reason.SIGNER_NOT_AUTHORISED
    )


def expected_event_reason(data, original_kid, trust):
    try:
        signed = decode_signed_event(data)
    except ContractError:
        return Reason.MALFORMED
    if signed.kid != original_kid and trust.key_certificate(signed.kid) is None:
        return Reason.UNKNOWN_KEY
    return Reason.BAD_SIGNATURE


@PROPERTY
@given(data=st.data())
def test_any_single_changed_byte_of_an_event_fails_with_the_right_reason(world, trust, data):
    original = signed_event(world)
    position = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    changed = original[:position] + bytes([value]) + original[position + 1 :]
    result = verify_event(changed, trust=trust, now=NOW)
    assert not result.genuine
    assert result.reason is expected_event_reason(changed, world.producer.key_id, trust)


@PROPERTY
@given(data=st.data())
def test_any_single_changed_character_of_an_event_fails_with_the_right_reason(world, trust, data):
    original = signed_event(world).decode()
    position = data.draw(st.integers(0, len(original) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda c: c != original[position]))
    changed = (original[:position] + replacement + original[position + 1 :]).encode()
    result = verify_event(changed, trust=trust, now=NOW)
    assert not result.genuine
    assert result.reason is expected_event_reason(changed, world.producer.key_id, trust)


def registered_producer(**changes):
    fields = {
        "event_id": uuid4(),
        "occurred_at": NOW,
        "authority_id": "VN-34",
        "producer_id": PRODUCER,
        "name": "HTX Hồng Tiến",
        "kind": ProducerKind.COOPERATIVE,
        "address": "Thôn Hồng Tiến",
        "commune": "Xã Đông Hoàng",
        "district": "Huyện Tiền Hải",
        "province": "Thái Bình",
    }
    return ProducerRegistered(**(fields | changes))


def test_registrations_are_signed_by_the_registering_authority(world, trust):
    event = registered_producer()
    genuine = verify_event(model_bytes(world.provincial.sign_document(event)), trust=trust, now=NOW)
    assert genuine.reason is Reason.GENUINE
    assert genuine.event == event

    by_producer = model_bytes(world.producer.sign_document(event))
    assert verify_event(by_producer, trust=trust, now=NOW).reason is Reason.SIGNER_NOT_AUTHORISED
    other_authority = model_bytes(world.national.sign_document(event))
    assert (
        verify_event(other_authority, trust=trust, now=NOW).reason is Reason.SIGNER_NOT_AUTHORISED
    )


def test_product_registration_round_trips_and_is_keyed_with_its_certifications(world, trust):
    product = ProductRegistered(
        event_id=uuid4(),
        occurred_at=NOW,
        authority_id="VN-34",
        product_key=PRODUCT,
        producer_id=PRODUCER,
        name="Mắm cáy Hồng Tiến",
        name_en="Hong Tien crab paste",
        product_group=ProductGroup.FOOD,
    )
    signed = model_bytes(world.provincial.sign_document(product))
    assert decode_signed_event(signed).body == product
    assert product.topic_key() == world.certifications[0].body.product_key.encode()
    assert verify_event(signed, trust=trust, now=NOW).reason is Reason.GENUINE


def test_a_registration_with_bad_fields_lists_each_problem():
    with pytest.raises(ContractError) as caught:
        parse_event(
            registered_producer().model_dump(mode="json")
            | {"kind": "pirate", "province": "", "gln": "123"}
        )
    fields = {problem.field for problem in caught.value.problems}
    assert {f"producer_registered.{name}" for name in ("kind", "province", "gln")} <= fields
