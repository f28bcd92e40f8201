"""The signed status list: what is true NOW, for verifiers that are offline most of the time.

The audit log proves that a label's record was made; it cannot say that the product still
holds its stars, that the key that signed is still good or that the batch was not recalled.
The trust list says the first two, but it is rebuilt only when an authority publishes one
(valid a week). The status list is the short-lived answer (issue 21): every registered
product's current stars and status, every revoked key and every recalled batch, issued by
the log writer every few minutes and valid for a day (OCOP_LOG_STATUS_VALIDITY_H).

**Signer and format.** A C2SP signed note (c2sp.org/signed-note) signed by the audit log's
key, which the root certifies in the trust list (keys.certs.LogKeyCertificate): a verifier
that holds the trust list already knows that key, so no key is added to the hierarchy nor
to the pins of offline verifiers, and the note format and its checks are the log's own
(auditlog.note). The text's first line is `ocop-status-list/v1`, never a log origin, and its
second is JSON, never a decimal: a status list can never be read as a checkpoint (which a
witness would cosign), nor a checkpoint as a status list. The body is one line of canonical
JSON (contract.encoding), so the bytes a verifier checks are the bytes it decodes.

**Never trusted silently.** `open_status_list` returns the body only once the log key's
signature verified; `StatusList.freshness` says how old it is and whether it is past its
`expires_at`. A stale list is shown as stale and the verdict falls back to the trust list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from auditlog.note import MalformedNote, NoteRejected, Signer, Verifier, open_note, sign_note
from contract.certification import CertificationStatus
from contract.encoding import decode_model, model_bytes
from contract.errors import ContractError
from contract.fields import UtcDateTime

STATUS_HEADER = "ocop-status-list/v1"
"""The first line of a status list's note text (a new format gets a new header)."""

DEFAULT_VALIDITY = timedelta(hours=24)


class StatusListError(Exception):
    """The bytes are not a status list signed by a log key the verifier trusts."""


class ProductStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_key: str
    producer_id: str
    stars: Annotated[int, Field(ge=0, le=5)]
    """The stars of the recognition that decides (0: never certified)."""
    status: CertificationStatus
    certificate_no: str | None = None
    valid_until: UtcDateTime | None = None


class RevokedKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str
    reason: str
    effective_at: UtcDateTime


class RecalledBatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: str
    product_key: str
    recalled_at: UtcDateTime | None = None
    reason: str | None = None


class StatusListBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["status_list"] = "status_list"
    origin: str
    """The log whose key signed it (the note's key name)."""
    issued_at: UtcDateTime
    expires_at: UtcDateTime
    trust_list_version: int | None = None
    """The trust list the revoked keys were read from (None: none was held)."""
    products: tuple[ProductStatus, ...] = ()
    revoked_keys: tuple[RevokedKey, ...] = ()
    recalled_batches: tuple[RecalledBatch, ...] = ()

    @model_validator(mode="after")
    def _expires(self) -> Self:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self


_BODY: TypeAdapter[StatusListBody] = TypeAdapter(StatusListBody)


def status_text(body: StatusListBody) -> str:
    return f"{STATUS_HEADER}\n{model_bytes(body).decode()}\n"


def sign_status_list(body: StatusListBody, log: Signer) -> str:
    """The signed note; `log` is the log's checkpoint signer, named by the log's origin."""
    if log.name != body.origin:
        raise ValueError(f"a status list of {body.origin} signed by the key of {log.name}")
    return sign_note(status_text(body), log)


@dataclass(frozen=True)
class Freshness:
    issued_at: datetime
    expires_at: datetime
    age: timedelta
    stale: bool

    def warning(self) -> str | None:
        if not self.stale:
            return None
        return (
            f"the status list issued {self.issued_at:%Y-%m-%d %H:%M} UTC expired "
            f"{self.expires_at:%Y-%m-%d %H:%M} UTC: its statement is not relied on"
        )


@dataclass(frozen=True)
class StatusList:
    """A status list whose signature verified; use `freshness` before relying on it."""

    body: StatusListBody
    signed_by: str
    """The log key's name and id, `<origin>+<hex id>`."""

    def freshness(self, now: datetime) -> Freshness:
        return Freshness(
            self.body.issued_at,
            self.body.expires_at,
            now - self.body.issued_at,
            now >= self.body.expires_at,
        )

    def product(self, product_key: str) -> ProductStatus | None:
        return next((p for p in self.body.products if p.product_key == product_key), None)

    def revoked(self, key_id: str) -> RevokedKey | None:
        return next((k for k in self.body.revoked_keys if k.key_id == key_id), None)

    def recalled(self, batch_id: str) -> RecalledBatch | None:
        return next((b for b in self.body.recalled_batches if b.batch_id == batch_id), None)


def open_status_list(data: bytes | str, log_keys: Iterable[Verifier]) -> StatusList:
    """The status list, once a trusted log key signed it; StatusListError says why not."""
    keys = tuple(log_keys)
    if not keys:
        raise StatusListError("the trust list names no log key to check a status list with")
    # 1. A signed note, signed by one of the log's keys.
    try:
        verified = open_note(data, keys)
    except MalformedNote as exc:
        raise StatusListError(f"not a signed note: {exc}") from None
    except NoteRejected as exc:
        raise StatusListError(f"{exc.reason}: {exc}") from None
    signer = verified.verified[0]
    # 2. Its text is a status list: the header, one line of canonical JSON.
    header, _, rest = verified.text.partition("\n")
    if header != STATUS_HEADER or not rest.endswith("\n") or "\n" in rest[:-1]:
        raise StatusListError(f"the note is not an {STATUS_HEADER} statement")
    try:
        body = decode_model(_BODY, rest[:-1].encode())
    except ContractError as exc:
        raise StatusListError(f"the status list is malformed: {exc}") from None
    # 3. Of the log whose key signed it.
    if body.origin != signer.name:
        raise StatusListError(f"a status list of {body.origin} signed by {signer.name}'s key")
    return StatusList(body, f"{signer.name}+{signer.key_id.hex()}")
