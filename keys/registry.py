"""The issuing office's ledger: every signed document it issued, kept to build trust lists from.

One canonical JSON file per document, named by its content hash, in a folder per kind, next
to the root's public key, the last published trust list version and the witness quorum the
root set (a number the root signs into every trust list). Nothing secret is here
(private keys live in the keystore), so the folder can be backed up and audited freely.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, TypeAdapter

from contract.bilingual import bilingual
from contract.certification import CertificationRevocation, StarCertification
from contract.encoding import decode_model, model_bytes, sha256_hex
from contract.errors import ContractError
from contract.signed import Signed, signed_type
from keys.certs import (
    AuthorityCertificate,
    DeskKeyCertificate,
    KeyRevocation,
    LogKeyCertificate,
    ProducerKeyCertificate,
    WitnessCertificate,
)
from keys.errors import KeysError
from keys.ids import decode_public_key, encode_public_key

DEFAULT_REGISTRY = Path(".state/trust")


class Kind(StrEnum):
    AUTHORITIES = "authorities"
    PRODUCER_KEYS = "producer_keys"
    CERTIFICATIONS = "certifications"
    KEY_REVOCATIONS = "key_revocations"
    CERTIFICATION_REVOCATIONS = "certification_revocations"
    DESK_KEYS = "desk_keys"
    LOG_KEYS = "log_keys"
    WITNESSES = "witnesses"


KEY_KINDS = (Kind.AUTHORITIES, Kind.PRODUCER_KEYS, Kind.DESK_KEYS, Kind.LOG_KEYS, Kind.WITNESSES)
"""The kinds that certify a key (and so can be rotated and revoked)."""


_BODIES: dict[Kind, type[BaseModel]] = {
    Kind.AUTHORITIES: AuthorityCertificate,
    Kind.PRODUCER_KEYS: ProducerKeyCertificate,
    Kind.CERTIFICATIONS: StarCertification,
    Kind.KEY_REVOCATIONS: KeyRevocation,
    Kind.CERTIFICATION_REVOCATIONS: CertificationRevocation,
    Kind.DESK_KEYS: DeskKeyCertificate,
    Kind.LOG_KEYS: LogKeyCertificate,
    Kind.WITNESSES: WitnessCertificate,
}


class Registry:
    def __init__(self, folder: Path = DEFAULT_REGISTRY) -> None:
        self.folder = folder

    @property
    def _root_file(self) -> Path:
        return self.folder / "root.pub"

    def root_public_key(self) -> Ed25519PublicKey:
        try:
            return decode_public_key(self._root_file.read_text().strip())
        except FileNotFoundError:
            raise KeysError(
                bilingual(
                    f"chưa có khóa gốc trong {self.folder}: chạy `ocop-keys init` trước",
                    f"no root in {self.folder}: run `ocop-keys init` first",
                )
            ) from None

    def root_exists(self) -> bool:
        return self._root_file.exists()

    def set_root(self, public_key: Ed25519PublicKey) -> Path:
        if self.root_exists():
            raise KeysError(
                bilingual(
                    f"{self._root_file} đã tồn tại: sổ đăng ký này đã có khóa gốc",
                    f"{self._root_file} exists: this registry already has a root",
                )
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self._root_file.write_text(encode_public_key(public_key) + "\n")
        return self._root_file

    def add(self, kind: Kind, signed: Signed[Any]) -> Path:
        data = model_bytes(signed)
        path = self.folder / kind / f"{sha256_hex(data)[:16]}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def documents(self, kind: Kind) -> list[Signed[Any]]:
        adapter: TypeAdapter[Signed[Any]] = TypeAdapter(signed_type(_BODIES[kind]))
        documents = []
        for path in sorted((self.folder / kind).glob("*.json")):
            try:
                documents.append(decode_model(adapter, path.read_bytes()))
            except ContractError as exc:
                raise KeysError(
                    bilingual(
                        f"{path} không phải tài liệu hợp lệ",
                        f"{path} is not a valid document: {exc}",
                    )
                ) from None
        return documents

    def next_version(self) -> int:
        """The version of the next trust list: one more than the last one published."""
        path = self.folder / "version"
        version = int(path.read_text()) + 1 if path.exists() else 1
        path.write_text(f"{version}\n")
        return version

    @property
    def _quorum_file(self) -> Path:
        return self.folder / "witness_quorum"

    def witness_quorum(self) -> int:
        """The quorum the root last set; 0 while no witness is named."""
        path = self._quorum_file
        return int(path.read_text()) if path.exists() else 0

    def set_witness_quorum(self, quorum: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._quorum_file.write_text(f"{quorum}\n")
