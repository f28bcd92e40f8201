"""Who the station signs as: a producer key from the keystore, its certificate in the
published trust list, and that trust list (checked under the pinned root key).

The trust list is also how the station knows its registered products: a product is the
producer's if an authority certified it for that producer, and the stars it may print are
the ones certified and in force today.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.bilingual import bilingual
from keys.certs import ProducerKeyCertificate
from keys.errors import KeysError
from keys.keystore import Keystore
from keys.signing import SigningKey
from keys.trustlist import TrustList
from keys.verify_cli import load_root_key
from producers.errors import IdentityError
from producers.settings import StationSettings


@dataclass(frozen=True)
class StationIdentity:
    key: SigningKey
    certificate: ProducerKeyCertificate
    trust: TrustList

    @classmethod
    def of(cls, key: SigningKey, trust: TrustList) -> StationIdentity:
        certificate = trust.key_certificate(key.key_id)
        if not isinstance(certificate, ProducerKeyCertificate):
            raise IdentityError(
                bilingual(
                    f"khóa {key.key_id} không phải khóa nhà sản xuất trong danh sách tin cậy "
                    f"phiên bản {trust.version}",
                    f"key {key.key_id} is not a producer key in trust list version {trust.version}",
                )
            )
        return cls(key, certificate, trust)

    @property
    def producer_id(self) -> str:
        return self.certificate.producer_id


def load_trust_list(settings: StationSettings) -> TrustList:
    path = settings.trust_list_path
    try:
        root = load_root_key(settings.root_key_source)
        return TrustList.load(path.read_bytes(), root_public_key=root)
    except OSError as exc:
        raise IdentityError(
            bilingual(
                f"không đọc được danh sách tin cậy {path}",
                f"cannot read the trust list {path}: {exc.strerror}",
            )
        ) from None
    except KeysError as exc:
        source = settings.root_key_source
        where = bilingual(
            f"danh sách tin cậy {path} (khóa gốc {source})", f"trust list {path} (root {source})"
        )
        raise IdentityError(f"{where}: {exc}") from None


def load_identity(settings: StationSettings, passphrase: str) -> StationIdentity:
    trust = load_trust_list(settings)
    keystore = Keystore(settings.keystore_path)
    key_id = settings.station_key or _only_producer_key(keystore, trust)
    try:
        key = keystore.load(key_id, passphrase)
    except KeysError as exc:
        raise IdentityError(str(exc)) from None
    return StationIdentity.of(key, trust)


def _only_producer_key(keystore: Keystore, trust: TrustList) -> str:
    held = [
        kid
        for kid in keystore.key_ids()
        if isinstance(trust.key_certificate(kid), ProducerKeyCertificate)
    ]
    if len(held) != 1:
        found = ", ".join(held)
        raise IdentityError(
            bilingual(
                f"kho khóa {keystore.folder} phải chứa đúng một khóa nhà sản xuất có trong danh "
                f"sách tin cậy, hoặc chỉ rõ khóa bằng OCOP_STATION_KEY (tìm thấy: "
                f"{found or 'không có'})",
                f"the keystore {keystore.folder} must hold exactly one producer key of the trust "
                f"list, or name it with OCOP_STATION_KEY (found: {found or 'none'})",
            )
        )
    return held[0]
