"""The audit log's settings (environment, prefix OCOP_): the log's origin and witnesses, shared
by the writer and the API; the writer's key, sequencer and pace; the witness's own.

There is no default log key or witness key passphrase: a writer or witness without its key
refuses to start. Once the trust list names the log's key and its witnesses, they come from
it (the writer refuses to sign with a key the list does not certify for its origin; the
witness checks checkpoints with the list's log keys; the API takes cosignatures from the
list's witnesses and needs its quorum). The settings below that name keys
(OCOP_LOG_WITNESSES, OCOP_LOG_QUORUM, OCOP_WITNESS_LOG_KEY) are overrides for tests and
development: when set, they win over the trust list.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from auditlog.cosignature import CosignatureVerifier, WitnessPolicy
from auditlog.note import Ed25519Verifier, valid_name
from contract import topics
from infra.settings import PROJECT_ROOT, ConnectionSettings


def _origin(value: str) -> str:
    if not valid_name(value):
        raise ValueError("a log origin holds no space and no '+' (it names the log's key)")
    return value


class LogSettings(ConnectionSettings):
    """What the writer and the API agree on."""

    log_origin: str = Field(
        "ocop.vn/log", description="the log's name: first line of its checkpoints, its key name"
    )
    log_witnesses: list[str] = Field(
        default_factory=list,
        description="verifier keys (cosignature/v1, `<name>+<id>+<key>`) of the witnesses "
        'whose cosignatures the API stores, as JSON: ["w1.example+1a2b3c4d+BA..."]',
    )
    log_quorum: int | None = Field(
        None,
        ge=1,
        description="cosignatures a checkpoint needs to be served as the cosigned one; default "
        "the trust list's quorum, else 1",
    )
    root_key: str | None = Field(
        None, description="the root public key (base64url) the trust list is checked with"
    )

    _check_origin = field_validator("log_origin")(_origin)

    def witness_keys(self) -> list[CosignatureVerifier]:
        return [CosignatureVerifier.from_vkey(text) for text in self.log_witnesses]

    def witness_policy(self) -> WitnessPolicy | None:
        """The k of n witnesses a cosigned checkpoint needs; None while none are named."""
        keys = tuple(self.witness_keys())
        return WitnessPolicy(keys, min(self.log_quorum or 1, len(keys))) if keys else None


class WriterSettings(LogSettings):
    log_topic: str = Field(topics.AUDIT_LEAVES, description="the sequencer: one partition")
    log_group: str = Field("ocop-log", description="the writer's Kafka group (offsets, lag)")
    log_keystore: Path = PROJECT_ROOT / ".state" / "log-keys"
    log_key_id: str | None = Field(None, description="default: the keystore's only key")
    log_passphrase: SecretStr
    log_checkpoint_interval_s: float = Field(
        2.0, gt=0, le=600, description="while the tree grows, a checkpoint at most this often"
    )
    log_step_leaves: int = Field(
        2_000, ge=1, le=100_000, description="messages appended and committed at most per step"
    )
    log_status_interval_s: float = Field(
        300.0, gt=0, description="how often a new signed status list is issued"
    )
    log_status_validity_h: float = Field(
        24.0, gt=0, le=24 * 31, description="how long a status list is valid after its issue"
    )


class WitnessSettings(ConnectionSettings):
    witness_name: str = Field(description="the witness's key name, e.g. witness.so-khcn.vn")
    witness_keystore: Path = PROJECT_ROOT / ".state" / "witness-keys"
    witness_key_id: str | None = Field(None, description="default: the keystore's only key")
    witness_passphrase: SecretStr
    witness_log_url: str = Field(
        "http://127.0.0.1:8000/log", description="the log's base URL (its /checkpoint etc.)"
    )
    witness_log_origin: str = "ocop.vn/log"
    witness_log_key: str | None = Field(
        None, description="the log's verifier key (`ocop-log vkey`); overrides the trust list's"
    )
    witness_trust_list: Path | None = Field(
        None, description="the root-signed trust list naming the log's keys (a file)"
    )
    witness_root_key: str | None = Field(
        None, description="the pinned root public key (base64url, or a file holding it)"
    )
    witness_state: Path = Field(
        PROJECT_ROOT / ".state" / "witness-state", description="the last checkpoint cosigned"
    )
    witness_interval_s: float = Field(5.0, gt=0, description="how often the log is asked")

    _check_name = field_validator("witness_name", "witness_log_origin")(_origin)

    @field_validator("witness_log_key")
    @classmethod
    def _check_log_key(cls, value: str | None) -> str | None:
        """A malformed key is a setting's error at start, not a failure in the first round."""
        if value:
            Ed25519Verifier.from_vkey(value)  # MalformedNote is a ValueError: pydantic's to report
        return value

    def log_verifier(self) -> Ed25519Verifier | None:
        """The override of the trust list's log key, if set."""
        return Ed25519Verifier.from_vkey(self.witness_log_key) if self.witness_log_key else None
