"""Private keys on disk: one PKCS#8 PEM file per key, encrypted with a passphrase.

Files are named <key id>.key, written with mode 0600 in a folder of mode 0700 (by default
.state/keystore, which git ignores), and a key file that group or others can read is refused
rather than used: a key that may have leaked must be rotated, not quietly trusted.
Encryption is cryptography's BestAvailableEncryption: standard PKCS#8 (PBES2, AES-256-CBC),
so `openssl pkey` can open a file too. Its key derivation is PBKDF2-HMAC-SHA256 with only
2048 rounds (measured, cryptography 50), weak against offline guessing; hence the long
minimum passphrase. Keys for production belong on an HSM or at least a stronger KDF.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)

from contract.bilingual import bilingual
from keys.errors import KeystoreError
from keys.signing import SigningKey

DEFAULT_KEYSTORE = Path(".state/keystore")
MIN_PASSPHRASE_LENGTH = 12


class Keystore:
    def __init__(self, folder: Path = DEFAULT_KEYSTORE) -> None:
        self.folder = folder

    def path(self, key_id: str) -> Path:
        return self.folder / f"{key_id}.key"

    def generate(self, passphrase: str) -> SigningKey:
        key = SigningKey.generate()
        self.save(key, passphrase)
        return key

    def generate_with(self, variable: str) -> SigningKey:
        """A new key, encrypted with the passphrase in the environment variable `variable`
        (each tool's init-key); refused without one."""
        passphrase = os.environ.get(variable)
        if not passphrase:
            raise KeystoreError(
                bilingual(
                    f"đặt {variable} là cụm mật khẩu sẽ bảo vệ khóa",
                    f"set {variable} to the passphrase that will protect the key",
                )
            )
        return self.generate(passphrase)

    def save(self, key: SigningKey, passphrase: str) -> Path:
        if len(passphrase) < MIN_PASSPHRASE_LENGTH:
            raise KeystoreError(
                bilingual(
                    f"cụm mật khẩu phải dài ít nhất {MIN_PASSPHRASE_LENGTH} ký tự",
                    f"passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters",
                )
            )
        pem = key.private_key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(passphrase.encode())
        )
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.path(key.key_id)
        partial = target.with_suffix(".key.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # whatever the umask, and if the file was left behind
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, target)
        return target

    def load(self, key_id: str, passphrase: str) -> SigningKey:
        path = self.path(key_id)
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeystoreError(
                    bilingual(
                        f"{path} có quyền {stat.S_IMODE(mode):04o}; nhóm và người khác không "
                        "được có quyền truy cập (chmod 600), và khóa đã bị lộ cần được thay mới",
                        f"{path} has mode {stat.S_IMODE(mode):04o}; group and others must have "
                        "no access (chmod 600), and a key that was exposed should be rotated",
                    )
                )
            pem = path.read_bytes()
        except FileNotFoundError:
            raise KeystoreError(
                bilingual(
                    f"không có khóa {key_id} trong {self.folder}",
                    f"no key {key_id} in {self.folder}",
                )
            ) from None
        try:
            private_key = load_pem_private_key(pem, passphrase.encode())
        except (ValueError, TypeError):
            raise KeystoreError(
                bilingual(
                    f"không giải mã được {path}: sai cụm mật khẩu?",
                    f"cannot decrypt {path}: wrong passphrase?",
                )
            ) from None
        if not isinstance(private_key, Ed25519PrivateKey):
            raise KeystoreError(
                bilingual(f"{path} không chứa khóa Ed25519", f"{path} does not hold an Ed25519 key")
            )
        key = SigningKey(private_key)
        if key.key_id != key_id:
            raise KeystoreError(
                bilingual(
                    f"{path} chứa khóa {key.key_id}, không phải {key_id}",
                    f"{path} holds key {key.key_id}, not {key_id}",
                )
            )
        return key

    def load_named_or_only(
        self, key_id: str | None, passphrase: str, *, setting: str, tool: str
    ) -> SigningKey:
        """The key `key_id`, or with none named the keystore's only key; with none or several
        a refusal naming the setting that picks one and the command that makes one (`tool`
        init-key)."""
        if key_id is None:
            found = self.key_ids()
            if len(found) != 1:
                raise KeystoreError(
                    bilingual(
                        f"{self.folder} có {len(found)} khóa; đặt {setting}, hoặc tạo một khóa "
                        f"bằng `{tool} init-key`",
                        f"{self.folder} holds {len(found)} keys; set {setting}, or create one "
                        f"with `{tool} init-key`",
                    )
                )
            key_id = found[0]
        return self.load(key_id, passphrase)

    def key_ids(self) -> list[str]:
        return sorted(path.stem for path in self.folder.glob("*.key"))
