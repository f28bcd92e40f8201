"""Making and checking signatures: documents (certificates, events, trust lists) and labels.

What bytes are signed is the contract's business (contract.signed, contract.label); this
module holds the private keys that sign them and checks signatures with public keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel

from contract.fields import encode_signature
from contract.identifiers import new_serial, validate_serial
from contract.label import LabelBatch, SignedLabel
from contract.signed import Signed, document_signing_bytes, signed_type
from keys.errors import SignatureInvalid
from keys.ids import encode_public_key, key_id

BodyT = TypeVar("BodyT", bound=BaseModel)


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key with its key id worked out once."""

    private_key: Ed25519PrivateKey
    public_key: Ed25519PublicKey = field(init=False, repr=False)
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        public_key = self.private_key.public_key()
        object.__setattr__(self, "public_key", public_key)
        object.__setattr__(self, "key_id", key_id(public_key))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key_text(self) -> str:
        return encode_public_key(self.public_key)

    def sign_document(self, body: BodyT) -> Signed[BodyT]:
        signature = self.private_key.sign(document_signing_bytes(body))
        envelope = signed_type(type(body))
        return envelope(body=body, kid=self.key_id, sig=encode_signature(signature))


def verify_document(signed: Signed[BodyT], public_key: Ed25519PublicKey) -> BodyT:
    """Returns the body only once its signature verified under `public_key`."""
    verify_bytes(public_key, signed.signature, signed.signing_bytes())
    return signed.body


def verify_bytes(public_key: Ed25519PublicKey, signature: bytes, data: bytes) -> None:
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        raise SignatureInvalid("signature does not verify") from None


class LabelSigner:
    """Signs the unit labels of one packing run with the producer's key."""

    def __init__(self, key: SigningKey, batch: LabelBatch) -> None:
        if batch.key_id != key.key_id:
            raise ValueError(f"batch names key {batch.key_id}, signer holds {key.key_id}")
        self._sign = key.private_key.sign
        self.batch = batch

    def sign(self, serial: str | None = None) -> SignedLabel:
        """Signs the label of one unit; a fresh unpredictable serial unless one is given."""
        serial = new_serial() if serial is None else validate_serial(serial)
        return SignedLabel(self.batch, serial, self._sign(self.batch.signing_bytes(serial)))
