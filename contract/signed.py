"""The envelope of every signed document: the body, the signer's key id, the signature.

The signature covers the canonical bytes of ["OCOP-DOC-v1", <body as JSON>]. Every body
carries a stable `type` name, so a signature over one kind of document can never be passed
off as one over another, and the tag keeps documents and labels apart. This module only
defines the format; keys.signing makes and checks signatures.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from contract.encoding import canonical_bytes
from contract.fields import KeyId, Signature, decode_signature

DOCUMENT_TAG = "OCOP-DOC-v1"

BodyT = TypeVar("BodyT", bound=BaseModel)


def document_signing_bytes(body: BaseModel) -> bytes:
    return canonical_bytes([DOCUMENT_TAG, body.model_dump(mode="json")])


def signed_type(body_type: type[BodyT]) -> type[Signed[BodyT]]:
    """The concrete envelope class for a body class, as pydantic needs it at run time."""
    return cast(Any, Signed)[body_type]  # type: ignore[no-any-return]


class Signed(BaseModel, Generic[BodyT]):
    """A signed document, exactly as it travels and is stored (canonical JSON)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    body: BodyT
    kid: KeyId
    sig: Signature

    def signing_bytes(self) -> bytes:
        return document_signing_bytes(self.body)

    @property
    def signature(self) -> bytes:
        return decode_signature(self.sig)
