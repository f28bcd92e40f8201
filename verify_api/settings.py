"""The API's settings: environment variables with the prefix OCOP_.

There is no default trust root: an API that cannot check the trust list would answer
"genuine" on someone else's word, so it refuses to start instead. Outside development the
device-hash salt is required too: with a known salt, anyone could test whether a given
device id is behind a stored scan.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from contract import topics
from contract.bilingual import bilingual
from infra.settings import ConnectionSettings
from keys.ids import decode_public_key


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ApiSettings(ConnectionSettings):
    environment: Environment = Environment.PRODUCTION
    root_key: str = Field(description="the national office's root public key (base64url)")
    resolver_host: str = Field(
        "ocop.vn",
        description="the host printed in the labels this API resolves (the packing stations' "
        "OCOP_RESOLVER_HOST): labels sign their host, so a path is checked as a label of it",
    )
    scan_topic: str = topics.SCAN_EVENTS
    device_salt: SecretStr | None = Field(
        None, description="secret key of the device hashes; required outside development"
    )
    trust_list_ttl_s: float = Field(
        5.0, ge=0, description="how long a loaded trust list is used before asking Cassandra"
    )
    record_cache_s: float = Field(
        5.0,
        ge=0,
        description="how long product, producer, certification and batch facts are reused; "
        "a revocation or recall shows at most this much later while Cassandra answers "
        "(0: read every time)",
    )
    record_stale_s: float = Field(
        60.0,
        ge=0,
        description="how long past record_cache_s those facts still answer, saying so, while "
        "Cassandra does not answer their reload within half the request deadline (a lost node, a "
        "long garbage collection): a revocation or recall then shows at most record_cache_s + "
        "record_stale_s later (0: never; every scan waits for the reload)",
    )
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(
        default_factory=list,
        description="reverse proxies whose X-Forwarded-For is believed (addresses or "
        'networks, as JSON: ["127.0.0.1/32"]); a request from anywhere else is its own '
        "client, whatever it says it forwards. Each client is one voice in scan analytics",
    )
    facts_memory_mb: int = Field(
        256,
        ge=0,
        description="the one memory budget of the facts scans share (verify_api.facts): "
        "products, producers, batches with their chains' packed serials and label digests, "
        "and the consumer page's rendered frames. A batch is indexed by serial while its "
        "index takes at most a quarter of it (about 200 bytes a serial): such a unit's scan "
        "needs no read of the units table and no signature check (0: hold nothing)",
    )
    rate_limit_per_s: float = Field(
        5.0, ge=0, description="sustained requests per second per client address; 0: no limit"
    )
    rate_limit_burst: int = Field(60, ge=1, description="requests a client may make at once")
    max_body_bytes: int = Field(16_384, ge=1024, description="larger bodies get 413")
    max_url_length: int = Field(2_048, ge=600, description="longer path and query get 414")
    kafka_linger_ms: int = Field(10, ge=0)
    scan_queue_size: int = Field(
        10_000, ge=1, description="scan events waiting for Kafka; when full, new ones are dropped"
    )
    inspection_timeout_s: float = Field(
        10.0, gt=0, description="how long a finding waits for Kafka's acknowledgement"
    )
    # -- operations: deadlines and readiness (see README, Operating the API)
    request_deadline_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="every request is answered within this: from facts held in memory where "
        "it can (and it says so), else 503 with Retry-After; Cassandra reads time out a "
        "little before it",
    )
    speculate_after_s: float = Field(
        0.25,
        gt=0,
        description="a Cassandra read not answered by then is asked of another node too "
        "(once; the first answer wins), so one stalled coordinator need not cost the deadline",
    )
    requests_in_flight: int = Field(
        256,
        ge=1,
        description="requests handled at once per process; one more waits for a slot within "
        "its deadline (then 503), so nothing queues without bound while Cassandra stalls",
    )
    ready_scan_backlog: float = Field(
        0.5,
        gt=0,
        le=1,
        description="not ready while scan events waiting for Kafka fill more than this share "
        "of the scan queue (OCOP_SCAN_QUEUE_SIZE)",
    )
    # -- web security and limits (see README, Web security and limits; verify_api.guards)
    public_base_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#\s]+/?$",
        description="the origin browsers reach this API at, e.g. https://ocop.vn (default "
        "https://<OCOP_RESOLVER_HOST>): when it is https the device cookie is Secure, even "
        "behind a proxy that ends TLS and forwards plain http",
    )
    docs: bool | None = Field(
        None,
        description="serve /docs (Swagger UI, from files the API serves itself); default on "
        "in development, off in production. /openapi.json is always served",
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="a connection must have sent a request's whole head (request line and "
        "headers) this long after it opened or the request began, and then its body within "
        "as long again, else it is closed (408 if the request had begun): a client sending "
        "slowly cannot hold a connection",
    )
    keep_alive_s: int = Field(
        5, ge=1, le=120, description="an idle keep-alive connection is closed after this"
    )
    max_header_bytes: int = Field(
        16_384,
        ge=4_096,
        le=1_048_576,
        description="a request head (URL and headers) larger than this gets 431 and the "
        "connection is closed",
    )
    max_headers: int = Field(
        100, ge=16, le=1_000, description="a request with more header fields gets 431"
    )

    @property
    def public_origin(self) -> str:
        """`public_base_url`, or https://<resolver_host>; without a trailing slash."""
        return (self.public_base_url or f"https://{self.resolver_host}").rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        return self.public_origin.startswith("https://")

    @property
    def docs_enabled(self) -> bool:
        return self.environment is Environment.DEVELOPMENT if self.docs is None else self.docs

    @field_validator("root_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        decode_public_key(value)
        return value

    @model_validator(mode="after")
    def _secrets(self) -> Self:
        if self.device_salt is None and self.environment is not Environment.DEVELOPMENT:
            raise ValueError(
                bilingual(
                    "cần OCOP_DEVICE_SALT khi không chạy ở môi trường phát triển "
                    "(OCOP_ENVIRONMENT=development)",
                    "OCOP_DEVICE_SALT is required outside development "
                    "(OCOP_ENVIRONMENT=development)",
                )
            )
        if self.device_salt is not None and len(self.device_salt.get_secret_value()) < 16:
            raise ValueError(
                bilingual(
                    "OCOP_DEVICE_SALT phải dài ít nhất 16 ký tự",
                    "OCOP_DEVICE_SALT must be at least 16 characters",
                )
            )
        return self

    # -- the inspectors' workspace (backoffice/; see docs/workspace.md)
    workspace_session_h: float = Field(
        10.0,
        gt=0,
        le=24,
        description="how long an inspector's workspace session lasts after signing in with "
        "the token (a working day); its key is derived from OCOP_DEVICE_SALT",
    )
    # -- the office's evaluation desk (backoffice.desk; see docs/office.md)
    authority_topic: str = topics.AUTHORITY_EVENTS
    desk_council: str | None = Field(
        None,
        description="the council whose evaluation desk this is (e.g. VN-33); unset: the "
        "office's dossier screens say the desk is not configured and send nothing",
    )
    desk_keystore: Path | None = Field(
        None, description="the keystore folder holding the desk's signing key (ocop-keys)"
    )
    desk_key_id: str | None = Field(None, description="the desk key's id in that keystore")
    desk_passphrase: SecretStr | None = Field(
        None, description="the passphrase of the desk key (never logged)"
    )

    @model_validator(mode="after")
    def _desk_complete(self) -> Self:
        given = [self.desk_council, self.desk_keystore, self.desk_key_id, self.desk_passphrase]
        if any(value is not None for value in given) and None in given:
            raise ValueError(
                bilingual(
                    "bàn đánh giá cần đủ cả OCOP_DESK_COUNCIL, OCOP_DESK_KEYSTORE, "
                    "OCOP_DESK_KEY_ID và OCOP_DESK_PASSPHRASE, hoặc không đặt biến nào",
                    "the evaluation desk needs all of OCOP_DESK_COUNCIL, OCOP_DESK_KEYSTORE, "
                    "OCOP_DESK_KEY_ID and OCOP_DESK_PASSPHRASE, or none",
                )
            )
        return self
