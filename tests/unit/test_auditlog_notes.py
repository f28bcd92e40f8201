"""Signed notes, checkpoints and witness cosignatures: the C2SP and Go test vectors, and
round trips with the failures named."""

from __future__ import annotations

import hashlib

import pytest

from auditlog.checkpoint import (
    Checkpoint,
    MalformedCheckpoint,
    open_checkpoint,
    sign_checkpoint,
)
from auditlog.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    WitnessCheck,
    WitnessPolicy,
    cosign,
    cosigned_message,
    verify_cosignatures,
)
from auditlog.merkle import root_hash
from auditlog.note import (
    Ed25519Signer,
    Ed25519Verifier,
    MalformedNote,
    Note,
    NoteReason,
    NoteRejected,
    NoteSignature,
    Verifier,
    VerifierKey,
    decode_base64,
    key_id,
    open_note,
    parse_note,
    sign_note,
    valid_name,
)

# c2sp.org/signed-note, "Example".
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# golang.org/x/mod/sumdb/note, note_test.go.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotp"
    "RZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox"
    "33WWd1RvMc+QQ=\n"
)
PETER = Ed25519Verifier.from_vkey(PETER_VKEY)
ENOCH = Ed25519Verifier.from_vkey(ENOCH_VKEY)


def test_the_signed_note_spec_example_verifies():
    verifier = Ed25519Verifier.from_vkey(SPEC_VKEY)
    assert verifier.key_id.hex() == "530d903a"
    assert verifier.vkey == SPEC_VKEY
    opened = open_note(SPEC_NOTE.encode(), [verifier])
    assert opened.text == "This is an example message.\n"
    assert [s.name for s in opened.verified] == ["example.com/foo"]


def test_the_key_id_is_the_spec_hash_of_name_type_and_key():
    key = VerifierKey.parse(SPEC_VKEY)
    digest = hashlib.sha256(b"example.com/foo\n\x01" + key.public_key).digest()
    assert key_id("example.com/foo", 0x01, key.public_key) == digest[:4] == key.key_id


def test_go_signer_key_signs_exactly_as_go_does():
    signer = Ed25519Signer.from_skey(PETER_SKEY)
    assert signer.skey == PETER_SKEY
    assert signer.verifier().vkey == PETER_VKEY
    assert sign_note(TEXT, signer) == TEXT + "\n" + PETER_SIG


def test_known_and_unknown_signatures_as_in_go_open():
    both = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    opened = open_note(both, [PETER])
    assert [s.name for s in opened.verified] == ["PeterNeumann"]
    assert [s.name for s in opened.note.signatures] == ["PeterNeumann", "EnochRoot"]
    opened = open_note(both, [PETER, ENOCH])
    assert [s.name for s in opened.verified] == ["PeterNeumann", "EnochRoot"]
    with pytest.raises(NoteRejected) as refused:
        open_note(both, [])
    assert refused.value.reason is NoteReason.NO_KNOWN_SIGNATURE
    with pytest.raises(ValueError, match="two verifiers"):
        open_note(both, [ENOCH, PETER, ENOCH])


def test_a_bad_signature_from_a_known_key_refuses_the_note():
    damaged = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(NoteRejected) as refused:
        open_note(TEXT + "\n" + damaged, [PETER])
    assert refused.value.reason is NoteReason.BAD_SIGNATURE
    # ... but the same damage on a key we don't know is ignored.
    assert open_note(TEXT + "\n" + PETER_SIG + damaged.replace("Peter", "Other"), [PETER])


def test_same_name_other_key_id_is_someone_else():
    wrong_id = PETER_SIG.replace("x08g", "xxxx")
    with pytest.raises(NoteRejected) as refused:
        open_note(TEXT + "\n" + wrong_id, [PETER])
    assert refused.value.reason is NoteReason.NO_KNOWN_SIGNATURE


def test_repeated_lines_are_verified_once():
    opened = open_note(TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG, [PETER])
    assert len(opened.verified) == 1


@pytest.mark.parametrize(
    "message",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
        "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + "— PeterNeumann x08g\n",
        TEXT + "\n" + "— PeterNeumann not*base64\n",
        TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_malformed_notes_as_in_go(message):
    with pytest.raises(MalformedNote):
        open_note(message, [PETER])


def test_invalid_utf8_is_malformed():
    with pytest.raises(MalformedNote, match="UTF-8"):
        parse_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode())
    with pytest.raises(MalformedNote, match="UTF-8"):
        parse_note("\ud800" + TEXT + "\n" + PETER_SIG)


def test_sign_refuses_a_text_the_spec_forbids():
    signer = Ed25519Signer.from_skey(PETER_SKEY)
    for text in ["abc", "tab\there\n", ""]:
        with pytest.raises(MalformedNote):
            sign_note(text, signer)
    with pytest.raises(ValueError, match="at least one"):
        sign_note(TEXT)


def test_signing_again_replaces_the_signers_line():
    signer = Ed25519Signer.from_skey(PETER_SKEY)
    stale = NoteSignature(signer.name, signer.key_id, b"\x00" * 64)
    note = parse_note(TEXT + "\n" + ENOCH_SIG).with_signature(stale)
    resigned = note.with_signature(
        NoteSignature(signer.name, signer.key_id, signer.sign(TEXT.encode()))
    )
    assert resigned.render() == TEXT + "\n" + ENOCH_SIG + PETER_SIG


@pytest.mark.parametrize(
    ("name", "valid"),
    [("example.com/log", True), ("a+b", False), ("a b", False), ("", False), ("a\u00a0b", False)],
)
def test_key_names(name, valid):
    assert valid_name(name) is valid


def mangled(text: str) -> list[str]:
    """Go's manglings: every proper substring from the start or end, every byte bumped."""
    cuts = [text[:i] for i in range(len(text))] + [text[i:] for i in range(1, len(text))]
    bumps = [text[:i] + chr(ord(text[i]) + 1) + text[i + 1 :] for i in range(len(text))]
    return cuts + bumps


def test_mangled_verifier_keys_are_refused():
    for text in mangled(PETER_VKEY):
        with pytest.raises(MalformedNote):
            Ed25519Verifier.from_vkey(text)
    # Go's two crafted keys: a wrong length and an unknown type, each with a matching key id.
    for text in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]:
        VerifierKey.parse(text)
        with pytest.raises(MalformedNote):
            Ed25519Verifier.from_vkey(text)


def test_mangled_signer_keys_are_refused():
    for text in mangled(PETER_SKEY):
        with pytest.raises(MalformedNote):
            Ed25519Signer.from_skey(text)


def test_generated_keys_round_trip_through_their_texts():
    signer = Ed25519Signer.generate("ocop.gov.vn/log")
    again = Ed25519Signer.from_skey(signer.skey)
    assert again.key_id == signer.key_id
    assert Ed25519Verifier.from_vkey(signer.verifier().vkey) == signer.verifier()
    assert "PRIVATE" not in repr(signer)


# Checkpoints.

ORIGIN = "ocop.example/log"
LOG = Ed25519Signer.generate(ORIGIN)
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def test_the_spec_checkpoint_parses_and_renders_back():
    checkpoint = Checkpoint.parse(SPEC_CHECKPOINT)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.root_hash == decode_base64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.text == SPEC_CHECKPOINT
    with_extension = SPEC_CHECKPOINT + "rekor.example/timestamp 1\n"
    assert Checkpoint.parse(with_extension).text == with_extension


ROOT = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (f"log\n5\n{ROOT}", "ends with a newline"),
        ("log\n5\n", "origin, a size and a root"),
        (f"log\n05\n{ROOT}\n", "leading zeros"),
        (f"log\n+5\n{ROOT}\n", "decimal"),
        (f"log\n-1\n{ROOT}\n", "decimal"),
        (f"log\n{2**64}\n{ROOT}\n", "uint64"),
        ("log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n", "not 32"),
        ("log\n5\nnot base64!\n", "not base64"),
        (f"\n5\n{ROOT}\n", "empty"),
        (f"log\n5\n{ROOT}\n\n", "empty"),
    ],
)
def test_malformed_checkpoints_say_why(text, complaint):
    with pytest.raises(MalformedCheckpoint, match=complaint):
        Checkpoint.parse(text)


def checkpoint_of(size: int) -> Checkpoint:
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(size)]
    return Checkpoint(ORIGIN, size, root_hash(leaves))


def test_a_signed_checkpoint_opens_with_the_log_key():
    checkpoint = checkpoint_of(5)
    signed = sign_checkpoint(checkpoint, LOG)
    opened = open_checkpoint(signed, origin=ORIGIN, log=LOG.verifier())
    assert opened.checkpoint == checkpoint
    assert opened.note.render() == signed


def test_a_checkpoint_is_refused_for_another_origin_or_another_key():
    signed = sign_checkpoint(checkpoint_of(5), LOG)
    with pytest.raises(NoteRejected) as refused:
        open_checkpoint(signed, origin="other.example/log", log=LOG.verifier())
    assert refused.value.reason is NoteReason.WRONG_ORIGIN
    impostor = Ed25519Signer.generate(ORIGIN)
    with pytest.raises(NoteRejected) as refused:
        open_checkpoint(signed, origin=ORIGIN, log=impostor.verifier())
    assert refused.value.reason is NoteReason.NO_KNOWN_SIGNATURE
    not_a_checkpoint = sign_note("hello\n", LOG)
    with pytest.raises(MalformedCheckpoint):
        open_checkpoint(not_a_checkpoint, origin=ORIGIN, log=LOG.verifier())


# Cosignatures.

# c2sp.org/tlog-cosignature, the example's witness line and signed message.
SPEC_COSIGNATURE = (
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2"
    "oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
SPEC_COSIGNED_MESSAGE = (
    "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)


def test_the_spec_cosignature_line_and_message():
    line = parse_note(SPEC_CHECKPOINT + "\n" + SPEC_COSIGNATURE).signatures[0]
    assert line.name == "witness.example.com/w1"
    assert len(line.signature) == 8 + 64
    assert int.from_bytes(line.signature[:8], "big") == 1679315147
    assert cosigned_message(SPEC_CHECKPOINT, 1679315147) == SPEC_COSIGNED_MESSAGE.encode()


WITNESSES = [CosignatureSigner.generate(f"witness{i}.example") for i in range(3)]
POLICY = WitnessPolicy(tuple(w.verifier() for w in WITNESSES), quorum=2)


def test_the_cosignature_key_id_uses_type_0x04():
    witness = WITNESSES[0]
    public_key = witness.verifier().public_key
    digest = hashlib.sha256(witness.name.encode() + b"\n\x04" + public_key).digest()
    assert witness.key_id == digest[:4]
    assert witness.key_id != key_id(witness.name, 0x01, public_key)
    assert CosignatureVerifier.from_vkey(witness.verifier().vkey) == witness.verifier()
    assert CosignatureSigner.from_skey(witness.skey).key_id == witness.key_id
    with pytest.raises(MalformedNote):
        Ed25519Verifier.from_vkey(witness.verifier().vkey)
    with pytest.raises(MalformedNote):
        CosignatureVerifier.from_vkey(PETER_VKEY)


def cosigned(signed: str, *witnesses: CosignatureSigner, timestamp: int = 1_767_225_600) -> str:
    for witness in witnesses:
        signed = cosign(signed, witness, timestamp=timestamp)
    return signed


def test_two_of_three_witnesses_cosign():
    signed = cosigned(sign_checkpoint(checkpoint_of(7), LOG), WITNESSES[0], WITNESSES[2])
    opened = open_checkpoint(signed, origin=ORIGIN, log=LOG.verifier())
    verdict = verify_cosignatures(opened.note, POLICY)
    assert verdict.ok, verdict.detail
    assert [c.witness for c in verdict.cosigned] == [WITNESSES[0].name, WITNESSES[2].name]
    assert {c.timestamp for c in verdict.cosigned} == {1_767_225_600}
    # The witnesses' lines are note signatures too: open_note checks them with the log's.
    verifiers: list[Verifier] = [LOG.verifier(), *POLICY.witnesses]
    assert len(open_note(signed, verifiers).verified) == 3


def test_one_of_three_is_too_few():
    signed = cosigned(sign_checkpoint(checkpoint_of(7), LOG), WITNESSES[1])
    verdict = verify_cosignatures(parse_note(signed), POLICY)
    assert verdict.reason is WitnessCheck.TOO_FEW
    assert [c.witness for c in verdict.cosigned] == [WITNESSES[1].name]
    assert "1 of the 2" in verdict.detail


def test_repeats_strangers_and_plain_signatures_do_not_count():
    witness = WITNESSES[0]
    stranger = CosignatureSigner.generate("stranger.example")
    signed = cosigned(sign_checkpoint(checkpoint_of(7), LOG), stranger)
    signed = cosign(signed, witness, timestamp=1)
    text = parse_note(signed).text
    # The witness's line again, with another time, and its key used as a plain 0x01 key.
    plain = Ed25519Signer(witness.name, witness.private_key)
    signed += witness.cosignature(text, 2).line + sign_note(text, plain).split("\n\n")[1]
    verdict = verify_cosignatures(parse_note(signed), POLICY)
    assert verdict.reason is WitnessCheck.TOO_FEW
    assert [(c.witness, c.timestamp) for c in verdict.cosigned] == [(witness.name, 1)]


def test_a_bad_cosignature_from_a_trusted_witness_is_named():
    signed = cosigned(sign_checkpoint(checkpoint_of(7), LOG), *WITNESSES)
    good = parse_note(signed)
    forged = good.signatures[1]
    timestamp = (int.from_bytes(forged.signature[:8], "big") + 1).to_bytes(8, "big")
    bad = good.with_signature(
        NoteSignature(forged.name, forged.key_id, timestamp + forged.signature[8:])
    )
    verdict = verify_cosignatures(bad, POLICY)
    assert verdict.reason is WitnessCheck.BAD_COSIGNATURE
    assert WITNESSES[0].name in verdict.detail
    # Cosignatures on another checkpoint don't carry over.
    moved = Note(parse_note(sign_checkpoint(checkpoint_of(8), LOG)).text, good.signatures)
    assert verify_cosignatures(moved, POLICY).reason is WitnessCheck.BAD_COSIGNATURE


def test_witness_policies_that_mean_nothing_are_refused():
    verifiers = tuple(w.verifier() for w in WITNESSES)
    for quorum in (0, 4):
        with pytest.raises(ValueError, match="quorum"):
            WitnessPolicy(verifiers, quorum)
    with pytest.raises(ValueError, match="twice"):
        WitnessPolicy((verifiers[0], verifiers[0]), 1)
    with pytest.raises(ValueError, match="timestamp"):
        WITNESSES[0].cosignature(SPEC_CHECKPOINT, 2**63)
