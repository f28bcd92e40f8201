"""The trust list's three newer kinds of key: a council's desk key (signs its evaluation
steps, nothing else), the audit log's checkpoint key and the witnesses with their quorum;
and the `ocop-keys` commands that issue them."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from auditlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from auditlog.cosignature import CosignatureSigner, WitnessCheck, cosign, verify_cosignatures
from auditlog.note import Ed25519Signer, parse_note
from contract import admin_map
from contract.certification import EvaluationLevel
from contract.encoding import model_bytes
from contract.errors import ContractError, build
from contract.evaluation import MemberScored
from contract.events import CertificationIssued, ProducerKind, ProducerRegistered
from contract.verdict import Reason
from demo.authority import (
    DESK_COUNCIL,
    LOG_ORIGIN,
    SUCCESSOR_COUNCILS,
    WITNESS_QUORUM,
    open_office,
)
from demo.cast import COUNCILS
from keys import certs, cli
from keys.certs import RevocationReason
from keys.errors import TrustListError
from keys.ids import decode_public_key
from keys.signing import SigningKey
from keys.trustlist import KeyStatus, TrustList, build_trust_list
from keys.verifier import authenticate_label, verify_event
from tests.world import NOW, PRODUCER, PRODUCT, World

LONG_AGO = NOW - timedelta(days=400)
PASSPHRASE = "a passphrase long enough"


@pytest.fixture(scope="module")
def desk() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def desk_certificate(world: World, desk: SigningKey) -> Any:
    return certs.certify_desk_key(
        world.provincial,
        desk.public_key,
        authority_id="VN-34",
        desk_name="Văn phòng OCOP tỉnh Thái Bình: bàn đánh giá",
        now=NOW - timedelta(days=100),
    )


def scored(key: SigningKey, *, authority_id: str = "VN-34") -> bytes:
    step = MemberScored(
        event_id=uuid4(),
        occurred_at=NOW,
        dossier_id="TB-HS-0001",
        product_key=PRODUCT,
        authority_id=authority_id,
        level=EvaluationLevel.PROVINCIAL,
        member_id="TB-HD-01",
        part_a=Decimal("30"),
        part_b=Decimal("20"),
        part_c=Decimal("25"),
    )
    return model_bytes(key.sign_document(step))


# -- desk keys ---------------------------------------------------------------------------------


def test_a_desk_key_signs_its_councils_evaluation_steps(world, desk, desk_certificate):
    trust = world.trust(desk_keys=[desk_certificate])
    genuine = verify_event(scored(desk), trust=trust, now=NOW)
    assert genuine.reason is Reason.GENUINE
    assert isinstance(genuine.event, MemberScored)
    assert genuine.signer == desk_certificate.body
    # The council's own key still may.
    assert verify_event(scored(world.provincial), trust=trust, now=NOW).genuine


def test_a_desk_key_signs_nothing_else(world, desk, desk_certificate):
    trust = world.trust(desk_keys=[desk_certificate])
    other_council = verify_event(scored(desk, authority_id="VN-33"), trust=trust, now=NOW)
    assert other_council.reason is Reason.SIGNER_NOT_AUTHORISED
    registration = ProducerRegistered(
        event_id=uuid4(), occurred_at=NOW, authority_id="VN-34", producer_id="TB-HTX-NEW",
        name="HTX mới", kind=ProducerKind.COOPERATIVE, address="Thôn 1", commune="Xã A",
        district="Huyện B", province="Thái Bình",
    )  # fmt: skip
    award = world.certifications[0]
    issued = CertificationIssued(event_id=uuid4(), occurred_at=NOW, certification=award)
    for event in (registration, issued):
        verdict = verify_event(model_bytes(desk.sign_document(event)), trust=trust, now=NOW)
        assert verdict.reason is Reason.SIGNER_NOT_AUTHORISED, event.type
        assert "may not sign" in verdict.detail


def test_a_desk_key_certifies_nothing_and_signs_no_label(world, desk, desk_certificate):
    by_desk = certs.certify_producer_key(
        desk, SigningKey.generate().public_key, authority_id="VN-34", producer_id=PRODUCER,
        producer_name="X", producer_kind=ProducerKind.HOUSEHOLD, address="Y", now=NOW,
    )  # fmt: skip
    with pytest.raises(TrustListError, match="not an authority key"):
        world.trust(desk_keys=[desk_certificate], producer_keys=[by_desk])
    label = world.label(key=desk)
    verdict = authenticate_label(label.url, trust=world.trust(desk_keys=[desk_certificate]))
    assert verdict.reason is Reason.SIGNER_NOT_AUTHORISED
    assert "is a desk key" in verdict.detail


def test_a_desk_key_is_certified_by_its_own_council(world, desk):
    claimed = certs.certify_desk_key(
        world.national, desk.public_key, authority_id="VN-34", desk_name="X", now=LONG_AGO
    )
    with pytest.raises(TrustListError, match="belongs to VN-NATIONAL"):
        world.trust(desk_keys=[claimed])


def test_a_revoked_desk_key_is_refused_after_its_revocation(world, desk, desk_certificate):
    revocation = certs.revoke_key(
        world.provincial,
        desk_certificate.body.key_id,
        reason=RevocationReason.COMPROMISED,
        effective_at=NOW - timedelta(hours=1),
        now=NOW - timedelta(hours=1),
    )
    trust = world.trust(desk_keys=[desk_certificate], key_revocations=[revocation])
    verdict = verify_event(scored(desk), trust=trust, now=NOW)
    assert verdict.reason is Reason.KEY_REVOKED
    assert verdict.key is not None
    assert verdict.key.status is KeyStatus.REVOKED
    # What it signed before stays valid; and another council may not revoke it.
    earlier = trust.key_state(desk_certificate.body.key_id, (NOW - timedelta(days=1),) * 2)
    assert earlier is not None
    assert earlier.usable
    by_other = certs.revoke_key(
        world.national, desk_certificate.body.key_id, reason=RevocationReason.RETIRED, now=NOW
    )
    with pytest.raises(TrustListError, match="belongs to VN-NATIONAL"):
        world.trust(desk_keys=[desk_certificate], key_revocations=[by_other])


# -- the audit log's key and the witnesses ----------------------------------------------------


@pytest.fixture(scope="module")
def log() -> Ed25519Signer:
    return Ed25519Signer.generate("ocop.vn/log")


@pytest.fixture(scope="module")
def witnesses() -> tuple[CosignatureSigner, CosignatureSigner]:
    return CosignatureSigner.generate("w1.example"), CosignatureSigner.generate("w2.example")


def audit_list(
    world: World,
    log: Ed25519Signer,
    signers: tuple[CosignatureSigner, ...],
    *,
    quorum: int,
    more_witnesses: tuple[Any, ...] = (),
    **documents: Any,
) -> bytes:
    named = [
        certs.certify_witness(world.root, w.verifier(), operator=f"Office {w.name}", now=LONG_AGO)
        for w in signers
    ]
    return build_trust_list(
        world.root,
        version=1,
        now=NOW,
        authorities=world.authorities,
        log_keys=[certs.certify_log_key(world.root, log.verifier(), now=LONG_AGO)],
        witnesses=[*named, *more_witnesses],
        witness_quorum=quorum,
        **documents,
    )


def test_the_log_key_and_witnesses_round_trip(world, log, witnesses):
    data = audit_list(world, log, witnesses, quorum=2)
    trust = TrustList.load(data, root_public_key=world.root.public_key)
    (verifier,) = trust.log_verifiers(NOW)
    assert verifier == log.verifier()
    assert verifier.vkey == trust.log_keys()[0].vkey == log.verifier().vkey
    assert trust.log_verifiers(NOW, origin="other.example/log") == ()
    assert trust.witness_quorum == 2
    assert [w.vkey for w in trust.witnesses()] == [w.verifier().vkey for w in witnesses]
    assert [w.operator for w in trust.witnesses()] == ["Office w1.example", "Office w2.example"]
    # The published JSON carries them too.
    body = json.loads(data)["body"]
    assert body["witness_quorum"] == 2
    assert body["log_keys"][0]["body"]["origin"] == "ocop.vn/log"

    # A checkpoint signed by the log and cosigned by both witnesses passes; by one, too few.
    checkpoint = Checkpoint("ocop.vn/log", 7, bytes(32))
    signed = sign_checkpoint(checkpoint, log)
    opened = open_checkpoint(signed, origin=LOG_ORIGIN, log=verifier)
    assert opened.checkpoint == checkpoint
    policy = trust.witness_policy(NOW)
    assert policy is not None
    once = cosign(signed, witnesses[0], timestamp=1_700_000_000)
    assert verify_cosignatures(parse_note(once), policy).reason is WitnessCheck.TOO_FEW
    twice = cosign(once, witnesses[1], timestamp=1_700_000_001)
    assert verify_cosignatures(parse_note(twice), policy).ok


def test_a_list_without_witnesses_has_no_policy(world):
    trust = world.trust()
    assert trust.witness_policy(NOW) is None
    assert trust.log_verifiers(NOW) == ()


@pytest.mark.parametrize("quorum", [0, 3])
def test_the_quorum_must_be_one_to_the_number_of_witnesses(world, log, witnesses, quorum):
    with pytest.raises(ContractError, match="witness quorum"):
        audit_list(world, log, witnesses, quorum=quorum)
    with pytest.raises(ContractError, match="witness quorum"):
        build_trust_list(world.root, version=1, now=NOW, witness_quorum=1)


def test_a_revoked_witness_leaves_too_few_and_nothing_lowers_the_quorum(world, log, witnesses):
    trust = TrustList.load(
        audit_list(world, log, witnesses, quorum=2), root_public_key=world.root.public_key
    )
    first = trust.witnesses()[0]
    revocation = certs.revoke_key(
        world.root, first.key_id, reason=RevocationReason.COMPROMISED, now=NOW + timedelta(days=1)
    )
    later = TrustList.load(
        audit_list(world, log, witnesses, quorum=2, key_revocations=[revocation]),
        root_public_key=world.root.public_key,
    )
    assert later.witness_policy(NOW) is not None
    with pytest.raises(TrustListError, match="only 1 witnesses are usable"):
        later.witness_policy(NOW + timedelta(days=2))
    # The office cannot publish such a list now.
    with pytest.raises(TrustListError, match="asks for 2"):
        build_trust_list(
            world.root,
            version=2,
            now=NOW + timedelta(days=2),
            witnesses=[
                certs.certify_witness(world.root, w.verifier(), operator="X", now=LONG_AGO)
                for w in witnesses
            ],
            witness_quorum=2,
            key_revocations=[revocation],
        )


def test_a_rotating_witness_counts_once(world, log, witnesses):
    old = certs.certify_witness(world.root, witnesses[0].verifier(), operator="X", now=LONG_AGO)
    new_key = CosignatureSigner.generate(witnesses[0].name)
    new, _ = certs.rotate(
        world.root, old.body, SigningKey(new_key.private_key).public_key, now=NOW - timedelta(1)
    )
    data = audit_list(world, log, witnesses, quorum=2, more_witnesses=(new,))
    trust = TrustList.load(data, root_public_key=world.root.public_key)
    policy = trust.witness_policy(NOW)
    assert policy is not None
    assert [w.name for w in policy.witnesses] == ["w1.example", "w2.example"]
    assert policy.witnesses[0] == new_key.verifier()


def test_only_the_root_certifies_and_revokes_log_and_witness_keys(world, log, witnesses):
    by_council = certs.certify_log_key(world.provincial, log.verifier(), now=LONG_AGO)
    with pytest.raises(TrustListError, match=r"log key \w+ is not signed by the root"):
        build_trust_list(world.root, version=1, now=NOW, log_keys=[by_council])
    key = certs.certify_log_key(world.root, log.verifier(), now=LONG_AGO)
    revocation = certs.revoke_key(
        world.provincial, key.body.key_id, reason=RevocationReason.RETIRED, now=NOW
    )
    with pytest.raises(TrustListError, match="only the root revokes a log key"):
        world.trust(log_keys=[key], key_revocations=[revocation])


def test_a_log_key_signs_no_event_and_no_key_serves_two_roles(world, log):
    key = certs.certify_log_key(world.root, log.verifier(), now=LONG_AGO)
    trust = world.trust(log_keys=[key])
    as_key = SigningKey(log.private_key)
    verdict = verify_event(scored(as_key), trust=trust, now=NOW)
    assert verdict.reason is Reason.SIGNER_NOT_AUTHORISED
    twice = certs.certify_desk_key(
        world.provincial, as_key.public_key, authority_id="VN-34", desk_name="X", now=LONG_AGO
    )
    with pytest.raises(TrustListError, match="appears twice"):
        world.trust(log_keys=[key], desk_keys=[twice])


def test_a_log_origin_must_be_a_note_key_name(world):
    fields = certs.certify_log_key(world.root, Ed25519Signer.generate("ok").verifier()).body
    for origin in ("ocop vn/log", "ocop.vn+log", ""):
        with pytest.raises(ContractError, match="origin"):
            build(certs.LogKeyCertificate, **fields.model_dump() | {"origin": origin})


# -- an authority that no longer exists keeps its history -------------------------------------


def test_a_council_retired_by_the_reform_keeps_what_it_signed_before(world):
    reform = NOW + timedelta(days=10)
    retirement = certs.revoke_key(
        world.root,
        world.authorities[0].body.key_id,
        reason=RevocationReason.RETIRED,
        effective_at=reform,
        now=NOW,
    )
    trust = world.trust(key_revocations=[retirement])
    assert trust.standing(PRODUCT, PRODUCER, NOW).state.certification is not None
    after = world.producer_key(SigningKey.generate(), now=reform + timedelta(days=1))
    with pytest.raises(TrustListError, match="not usable when it signed"):
        world.trust(key_revocations=[retirement], producer_keys=[after])


# -- the demo ---------------------------------------------------------------------------------


def test_the_demo_has_the_reforms_councils_a_desk_a_log_and_two_witnesses(tmp_path):
    former = {c.authority_id for c in COUNCILS} - {"VN-NATIONAL"}
    assert {admin_map.successor_authority(a) for a in former} == {
        c.authority_id for c in SUCCESSOR_COUNCILS
    }
    office, _ = open_office(tmp_path)
    trust = TrustList.load(office.trust_list(version=1), root_public_key=office.root.public_key)
    now = office.issued_at
    (log,) = trust.log_verifiers(now, origin=LOG_ORIGIN)
    assert log == office.log_signer().verifier()
    policy = trust.witness_policy(now)
    assert policy is not None
    assert policy.quorum == WITNESS_QUORUM == len(policy.witnesses)
    desk = office.desks[DESK_COUNCIL]
    certificate = trust.key_certificate(desk.key_id)
    assert isinstance(certificate, certs.DeskKeyCertificate)
    assert certificate.authority_id == "VN-33"
    hung_yen = trust.key_certificate(office.councils["VN-33"].key_id)
    assert hung_yen is not None
    assert hung_yen.valid_from.date().isoformat() == "2025-06-30"  # midnight in Vietnam
    env = office.desk_env()
    assert env["OCOP_DESK_KEY_ID"] == desk.key_id
    assert (tmp_path / "desk-keystore" / f"{desk.key_id}.key").exists()
    again, made = open_office(tmp_path)
    assert not made
    assert again.desks[DESK_COUNCIL].key_id == desk.key_id
    assert again.witness_keys.keys() == office.witness_keys.keys()


# -- ocop-keys --------------------------------------------------------------------------------


@pytest.fixture
def office(tmp_path, monkeypatch):
    monkeypatch.setenv("OCOP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv(cli.PASSPHRASE_VARIABLE, PASSPHRASE)
    return tmp_path / "state"


def run(*args: str) -> str:
    result = CliRunner().invoke(cli.app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["ocop-keys", *args])
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 1
    err: str = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    return err


def test_the_cli_issues_desk_log_and_witness_keys(office, tmp_path):
    run("init")
    run("issue", "authority", "--authority-id", "VN-33", "--name", "Hội đồng OCOP tỉnh Hưng Yên")
    desk = run("issue", "desk-key", "--authority", "VN-33", "--desk-name", "Bàn đánh giá")
    assert "desk key" in desk
    assert "for VN-33" in desk
    log = run("issue", "log-key", "--origin", "ocop.vn/log")
    assert "vkey ocop.vn/log+" in log
    external = Ed25519Signer.generate("ocop.vn/log2")
    run("issue", "log-key", "--origin", "ocop.vn/log2", "--vkey", external.verifier().vkey)
    w1, w2 = CosignatureSigner.generate("w1.example"), CosignatureSigner.generate("w2.example")
    operator = ["--operator", "Sở KH&CN"]
    assert "quorum 1 of 1" in run("issue", "witness", "--vkey", w1.verifier().vkey, *operator,
                                  "--quorum", "1")  # fmt: skip
    assert "quorum 2 of 2" in run("issue", "witness", "--vkey", w2.verifier().vkey, *operator,
                                  "--quorum", "2")  # fmt: skip
    output = tmp_path / "trust.json"
    run("export-trust-list", str(output))
    root = (office / "trust" / "root.pub").read_text().strip()
    trust = TrustList.load(output.read_bytes(), root_public_key=decode_public_key(root))
    now = trust.body.issued_at
    assert {v.name for v in trust.log_verifiers(now)} == {"ocop.vn/log", "ocop.vn/log2"}
    assert external.verifier() in trust.log_verifiers(now)
    policy = trust.witness_policy(now)
    assert policy is not None
    assert policy.quorum == 2
    assert len(trust.body.desk_keys) == 1
    # Rotating a log key keeps its origin; the quorum can be lowered on its own.
    log_key = next(key for key in trust.log_keys() if key.origin == "ocop.vn/log")
    assert "new key" in run("rotate", log_key.key_id)
    assert "witness quorum 1 of 2" in run("witness-quorum", "1")
    run("export-trust-list", str(output))
    again = TrustList.load(output.read_bytes(), root_public_key=decode_public_key(root))
    rotated = [key for key in again.log_keys() if key.origin == "ocop.vn/log"]
    assert len(rotated) == 2
    assert again.witness_quorum == 1


def test_the_new_commands_have_help():
    for command in ("desk-key", "log-key", "witness"):
        result = CliRunner().invoke(cli.app, ["issue", command, "--help"])
        assert result.exit_code == 0
    text = CliRunner().invoke(cli.app, ["issue", "witness", "--help"]).output
    assert "QUORUM" in text
    assert "cosign" in text


def test_bad_input_is_refused_in_both_languages(office, monkeypatch, capsys):
    run("init")
    run("issue", "authority", "--authority-id", "VN-33", "--name", "Hội đồng OCOP tỉnh Hưng Yên")
    witness = CosignatureSigner.generate("w1.example").verifier().vkey
    log = Ed25519Signer.generate("ocop.vn/log").verifier().vkey
    cases = [
        (["issue", "witness", "--vkey", "nonsense", "--operator", "X", "--quorum", "1"],
         "không phải khóa xác minh đồng ký", "is not a cosignature/v1 (0x04) verifier key"),
        (["issue", "witness", "--vkey", log, "--operator", "X", "--quorum", "1"],
         "không phải khóa xác minh đồng ký", "not a cosignature/v1 (0x04) key"),
        (["issue", "witness", "--vkey", witness, "--operator", "X", "--quorum", "2"],
         "ngưỡng 2 không hợp lệ", "a quorum of 2 is not valid: it must be 1 to 1"),
        (["issue", "log-key", "--origin", "ocop vn/log"],
         "--origin 'ocop vn/log' không hợp lệ", "no space and no '+'"),
        (["issue", "log-key", "--origin", "ocop.vn/other", "--vkey", log],
         "khác --origin", "--vkey is named 'ocop.vn/log', not --origin 'ocop.vn/other'"),
        (["issue", "log-key", "--origin", "ocop.vn/log", "--vkey", witness],
         "không phải khóa xác minh Ed25519", "is not the log's Ed25519 (0x01) verifier key"),
        (["issue", "desk-key", "--authority", "VN-99", "--desk-name", "X"],
         "không có khóa còn hiệu lực của hội đồng VN-99", "no usable key of authority VN-99"),
        (["issue", "desk-key", "--authority", "VN-33", "--desk-name", "X", "--public-key", "x"],
         "--public-key không phải khóa công khai Ed25519", "--public-key: public key must be 43"),
        (["witness-quorum", "1"], "ngưỡng 1 không hợp lệ", "it must be 1 to 0"),
    ]  # fmt: skip
    for args, vietnamese, english in cases:
        err = refused(monkeypatch, capsys, *args)
        assert vietnamese in err, (args, err)
        assert english in err, (args, err)
    assert not (office / "trust" / "witnesses").exists()  # nothing was saved
    w = CosignatureSigner.generate("w9.example").verifier().vkey
    run("issue", "witness", "--vkey", w, "--operator", "X", "--quorum", "1")
    witness_id = json.loads(next((office / "trust" / "witnesses").glob("*.json")).read_text())
    err = refused(monkeypatch, capsys, "rotate", witness_id["body"]["key_id"])
    assert "đơn vị vận hành" in err
    assert "comes from its operator" in err
