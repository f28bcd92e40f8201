"""tlog-proof bundles: built from a log's tiles, written, read back and verified offline,
with each way a bundle can fail named."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from auditlog.checkpoint import Checkpoint, sign_checkpoint
from auditlog.cosignature import CosignatureSigner, WitnessPolicy, cosign
from auditlog.merkle import MemoryHashes, leaf_hash, tree_root
from auditlog.note import Ed25519Signer, encode_base64, sign_note
from auditlog.proof import (
    PROOF_HEADER,
    BundleCheck,
    MalformedProof,
    TlogProof,
    build_proof,
    verify_proof,
)
from auditlog.tiles import TileHashReader, build_tiles

ORIGIN = "ocop.example/log"
LOG = Ed25519Signer.generate(ORIGIN)
WITNESSES = [CosignatureSigner.generate(f"w{i}.example") for i in range(3)]
POLICY = WitnessPolicy(tuple(w.verifier() for w in WITNESSES), quorum=2)

ENTRIES = [f'{{"unit": {i}}}'.encode() for i in range(1000)]
LEAVES = [leaf_hash(e) for e in ENTRIES]
TILES = build_tiles(LEAVES)
READER = TileHashReader(TILES.__getitem__, len(LEAVES))


def signed_checkpoint(*witnesses: CosignatureSigner, log: Ed25519Signer = LOG) -> str:
    checkpoint = Checkpoint(ORIGIN, len(LEAVES), tree_root(READER, len(LEAVES)))
    signed = sign_checkpoint(checkpoint, log)
    for witness in witnesses:
        signed = cosign(signed, witness, timestamp=1_767_225_600)
    return signed


COSIGNED = signed_checkpoint(*WITNESSES[:2])


def verify(proof: TlogProof, entry: bytes, **overrides: object):
    kwargs: dict[str, object] = {"origin": ORIGIN, "log": LOG.verifier(), "witnesses": POLICY}
    kwargs.update(overrides)
    return verify_proof(proof, entry, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("index", [0, 1, 255, 256, 511, 999])
def test_a_bundle_round_trips_and_verifies(index):
    proof = build_proof(READER, index, COSIGNED, extra=b"label 8931234567897")
    text = proof.render()
    assert TlogProof.parse(text) == proof
    assert TlogProof.parse(text.encode()) == proof
    verdict = verify(TlogProof.parse(text), ENTRIES[index])
    assert verdict.ok, verdict.detail
    assert verdict.checkpoint is not None
    assert verdict.checkpoint.size == len(ENTRIES)
    assert [c.witness for c in verdict.cosigned] == ["w0.example", "w1.example"]


def test_the_bundle_has_the_spec_layout():
    proof = build_proof(READER, 5, COSIGNED)
    lines = proof.render().split("\n")
    assert lines[0] == PROOF_HEADER
    assert lines[1] == "index 5"
    hashes = lines[2 : 2 + len(proof.inclusion_path)]
    assert hashes == [encode_base64(h) for h in proof.inclusion_path]
    assert lines[2 + len(hashes)] == ""
    assert "\n".join(lines[3 + len(hashes) :]) == COSIGNED
    with_extra = build_proof(READER, 5, COSIGNED, extra=b"\x01\x02").render().split("\n")
    assert with_extra[1:3] == ["extra AQI=", "index 5"]


def test_a_bundle_for_another_entry_is_not_included():
    proof = build_proof(READER, 5, COSIGNED)
    verdict = verify(proof, ENTRIES[6])
    assert verdict.reason is BundleCheck.NOT_INCLUDED
    assert "wrong_root" in verdict.detail
    moved = dataclasses.replace(proof, index=6)
    assert verify(moved, ENTRIES[5]).reason is BundleCheck.NOT_INCLUDED
    beyond = dataclasses.replace(proof, index=len(ENTRIES))
    assert "bad_index" in verify(beyond, ENTRIES[5]).detail


def test_the_checkpoint_must_be_the_logs():
    proof = build_proof(READER, 5, COSIGNED)
    assert verify(proof, ENTRIES[5], origin="other.example/log").reason is BundleCheck.WRONG_ORIGIN
    impostor = Ed25519Signer.generate(ORIGIN)
    verdict = verify(proof, ENTRIES[5], log=impostor.verifier())
    assert verdict.reason is BundleCheck.NOT_SIGNED_BY_LOG
    # A line whose key id is shifted is someone else's: the log's own signature is missing.
    shifted = COSIGNED.replace("— ocop.example/log ", "— ocop.example/log A")
    verdict = verify(dataclasses.replace(proof, signed_checkpoint=shifted), ENTRIES[5])
    assert verdict.reason is BundleCheck.NOT_SIGNED_BY_LOG
    unsigned_text = dataclasses.replace(proof, signed_checkpoint=sign_note("hi\n", LOG))
    assert verify(unsigned_text, ENTRIES[5]).reason is BundleCheck.MALFORMED


def test_a_bad_log_signature_is_named():
    proof = build_proof(READER, 5, COSIGNED)
    text, _, signatures = COSIGNED.partition("\n\n")
    other_size = text.replace(f"\n{len(ENTRIES)}\n", f"\n{len(ENTRIES) + 1}\n")
    tampered = dataclasses.replace(proof, signed_checkpoint=other_size + "\n\n" + signatures)
    assert verify(tampered, ENTRIES[5]).reason is BundleCheck.BAD_LOG_SIGNATURE


def test_the_witness_policy_applies():
    proof = build_proof(READER, 5, signed_checkpoint(WITNESSES[2]))
    verdict = verify(proof, ENTRIES[5])
    assert verdict.reason is BundleCheck.TOO_FEW_WITNESSES
    assert [c.witness for c in verdict.cosigned] == ["w2.example"]
    stranger = CosignatureSigner.generate(WITNESSES[0].name)  # same name, another key
    proof = build_proof(READER, 5, signed_checkpoint(WITNESSES[1], stranger))
    assert verify(proof, ENTRIES[5]).reason is BundleCheck.TOO_FEW_WITNESSES


def test_a_bad_cosignature_is_named():
    proof = build_proof(READER, 5, COSIGNED)
    head, _, lines = COSIGNED.partition("\n\n")
    log_line, w0, w1 = lines.splitlines()
    name, sig = w0.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    bad_w0 = f"{name} {encode_base64(bytes(raw))}"
    tampered = f"{head}\n\n{log_line}\n{bad_w0}\n{w1}\n"
    verdict = verify(dataclasses.replace(proof, signed_checkpoint=tampered), ENTRIES[5])
    assert verdict.reason is BundleCheck.BAD_COSIGNATURE


def test_a_store_holding_another_tree_builds_no_bundle():
    other = MemoryHashes([leaf_hash(b"x")] * len(LEAVES))
    with pytest.raises(ValueError, match="does not hold the checkpoint's tree"):
        build_proof(other, 5, COSIGNED)


GOOD = build_proof(READER, 5, COSIGNED).render()


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (GOOD.replace(PROOF_HEADER, "c2sp.org/tlog-proof@v2"), "starts with"),
        (GOOD.replace("index 5", "index 05"), "index line"),
        (GOOD.replace("index 5", "idx 5"), "index line"),
        (GOOD.replace("index 5\n", "index 5\nnot-base64!\n"), "base64"),
        (GOOD.replace("index 5\n", "index 5\nAAAA\n"), "32 bytes"),
        (GOOD.replace("\n\n", "\n"), "blank line"),
        (GOOD.replace(PROOF_HEADER, f"{PROOF_HEADER}\nextra !!"), "base64"),
        (GOOD.split("\n\n")[0] + "\n\nnot a note", "blank line"),
        (GOOD.split("\n\n")[0] + "\n\nhello\n\n— x AAAAAAAA\n", "checkpoint"),
        (GOOD.replace("index 5\n", "index 5\n" + "AAAA\n" * 55), "of 65 hashes"),
    ],
)
def test_malformed_bundles_say_why(text, complaint):
    with pytest.raises(MalformedProof, match=complaint):
        TlogProof.parse(text)


def test_not_utf8_is_malformed():
    with pytest.raises(MalformedProof, match="UTF-8"):
        TlogProof.parse(b"\xff" + GOOD.encode())
