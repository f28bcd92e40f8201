from __future__ import annotations

import base64
import hashlib
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.certification import EvaluationLevel, ProductGroup, StarCertification, stars_for_score
from contract.errors import ContractError
from keys import certs
from keys.errors import KeystoreError, SignatureInvalid
from keys.ids import decode_public_key, encode_public_key, key_id, raw_public_key
from keys.keystore import Keystore
from keys.signing import SigningKey, verify_document
from tests.world import NOW, PRODUCT

PASSPHRASE = "correct horse battery staple"


def test_key_id_is_the_truncated_sha256_of_the_raw_public_key():
    public = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    digest = hashlib.sha256(raw_public_key(public)).digest()[:8]
    assert key_id(public) == base64.b32encode(digest).decode().rstrip("=").lower()
    assert len(key_id(public)) == 13
    assert key_id(public) != key_id(SigningKey.generate().public_key)


def test_public_key_text_round_trips_and_refuses_other_spellings():
    public = SigningKey.generate().public_key
    text = encode_public_key(public)
    assert len(text) == 43
    assert raw_public_key(decode_public_key(text)) == raw_public_key(public)
    for bad in (text[:-1], text + "A", text[:-1] + "!", "A" * 42 + "B"):
        with pytest.raises(ValueError, match="public key"):
            decode_public_key(bad)


def test_documents_verify_only_under_their_signer_and_only_unchanged(world):
    signed = world.certifications[0]
    assert verify_document(signed, world.provincial.public_key) == signed.body
    with pytest.raises(SignatureInvalid):
        verify_document(signed, world.national.public_key)
    inflated = type(signed)(
        body=signed.body.model_copy(update={"product_name": "Mắm cáy Hồng Tiến loại 1"}),
        kid=signed.kid,
        sig=signed.sig,
    )
    with pytest.raises(SignatureInvalid):
        verify_document(inflated, world.provincial.public_key)


@pytest.mark.parametrize(
    ("score", "stars"),
    [
        ("0", 1),
        ("29.99", 1),
        ("30", 2),
        ("49.99", 2),
        ("50", 3),
        ("69.99", 3),
        ("70", 4),
        ("89.99", 4),
        ("90", 5),
        ("100", 5),
    ],
)
def test_star_bands_of_decision_148(score, stars):
    assert stars_for_score(Decimal(score)) == stars


def award_fields(**changes):
    fields = {
        "certificate_no": "1/GCN",
        "decision_no": "1/QĐ",
        "product_key": PRODUCT,
        "product_name": "Mắm cáy",
        "product_group": ProductGroup.FOOD,
        "producer_id": "TB-HTX-HONGTIEN",
        "stars": 4,
        "score": Decimal("78"),
        "evaluation_level": EvaluationLevel.PROVINCIAL,
        "authority_id": "VN-34",
        "issued_at": NOW,
        "valid_from": NOW,
        "valid_until": NOW + timedelta(days=1),
    }
    return fields | changes


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"score": Decimal("91")}, "stars 4 do not match score 91, which is 5★"),
        (
            {"stars": 5, "score": Decimal("95")},
            "a 5★ rating is awarded at national level, not provincial",
        ),
        (
            {"evaluation_level": EvaluationLevel.NATIONAL},
            "a 4★ rating is awarded at provincial level",
        ),
        ({"valid_until": NOW}, "valid_until must be after valid_from"),
        ({"score": Decimal("78.555")}, "at most 2 decimal places"),
        ({"score": Decimal("101")}, "less than or equal to 100"),
    ],
)
def test_certifications_that_break_the_rules_cannot_exist(changes, message):
    with pytest.raises(ValueError, match=message):
        StarCertification(**award_fields(**changes))


def test_certify_product_defaults_to_36_months_and_reports_contract_errors(world):
    award = world.certifications[0].body
    assert (award.valid_from.year + 3, award.valid_from.month) == (
        award.valid_until.year,
        award.valid_until.month,
    )
    with pytest.raises(ContractError, match="stars 3 do not match score 78"):
        world.award(stars=3, score="78")


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime(2025, 1, 31, tzinfo=UTC), 1, datetime(2025, 2, 28, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), 36, datetime(2027, 2, 28, tzinfo=UTC)),
        (datetime(2025, 11, 15, 8, tzinfo=UTC), 3, datetime(2026, 2, 15, 8, tzinfo=UTC)),
    ],
)
def test_add_months(start, months, end):
    assert certs.add_months(start, months) == end


def test_rotation_certifies_the_new_key_and_retires_the_old_at_the_next_midnight_in_vietnam(world):
    new_key = SigningKey.generate()
    old = world.producer_keys[0].body
    certificate, retirement = certs.rotate(world.provincial, old, new_key.public_key, now=NOW)
    assert certificate.body.key_id == new_key.key_id
    assert certificate.body.producer_id == old.producer_id
    assert certificate.kid == world.provincial.key_id
    assert retirement.body.key_id == old.key_id
    assert retirement.body.reason is certs.RevocationReason.RETIRED
    assert retirement.body.effective_at == datetime(
        2025, 3, 10, 17, 0, tzinfo=UTC
    )  # 00:00 on 11 March, UTC+7


def test_keystore_writes_private_files_and_reads_them_back(tmp_path):
    store = Keystore(tmp_path / "keystore")
    key = store.generate(PASSPHRASE)
    path = store.path(key.key_id)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keystore").stat().st_mode & 0o777 == 0o700
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert store.load(key.key_id, PASSPHRASE).key_id == key.key_id
    assert store.key_ids() == [key.key_id]


def test_keystore_refuses_readable_files_wrong_passphrases_and_swapped_files(tmp_path):
    store = Keystore(tmp_path)
    key, other = store.generate(PASSPHRASE), store.generate(PASSPHRASE)
    with pytest.raises(KeystoreError, match=r"sai cụm mật khẩu\? / .*wrong passphrase"):
        store.load(key.key_id, PASSPHRASE + "!")
    with pytest.raises(KeystoreError, match=r"ít nhất 12 ký tự / .*at least 12 characters"):
        store.generate("short")
    with pytest.raises(KeystoreError, match=r"không có khóa aaaaaaaaaaaaa.* / no key"):
        store.load("aaaaaaaaaaaaa", PASSPHRASE)
    os.chmod(store.path(key.key_id), 0o644)
    with pytest.raises(KeystoreError, match=r"quyền 0644.* / .*mode 0644"):
        store.load(key.key_id, PASSPHRASE)
    os.chmod(store.path(key.key_id), 0o600)
    os.replace(store.path(other.key_id), store.path(key.key_id))
    with pytest.raises(
        KeystoreError, match=f"chứa khóa {other.key_id}.* / .*holds key {other.key_id}"
    ):
        store.load(key.key_id, PASSPHRASE)
