"""The worker, the API and the audit log's writer, started in the background for the story
and left running after it, so the pages it prints can be opened; `./run stop` (ocop-stack
down) stops them."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from contract.bilingual import bilingual
from demo.authority import LOG_ORIGIN, Office
from demo.settings import DemoSettings
from infra.process import PythonService, StackError, launch, log_tail, running_pid

VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Started:
    name: str
    pid: int
    already_running: bool


def service_env(settings: DemoSettings, office: Office) -> dict[str, str]:
    """What every service is told: where the data is, whom to trust, which log."""
    return settings.topic_env() | {
        "OCOP_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "OCOP_CASSANDRA_HOSTS": settings.cassandra_hosts,
        "OCOP_KEYSPACE": settings.keyspace,
        "OCOP_ROOT_KEY": office.root.public_key_text,
        "OCOP_LOG_ORIGIN": LOG_ORIGIN,
    }


def worker(settings: DemoSettings, office: Office) -> PythonService:
    env = service_env(settings, office) | {
        "OCOP_APP_ID": settings.app_id,
        "OCOP_SEAL_KEYSTORE": str(office.seal_keystore),
        "OCOP_SEAL_PASSPHRASE": office.passphrase,
        "OCOP_WEB_PORT": str(settings.worker_port),
        "OCOP_DATA_DIR": str(settings.services_folder / "faust"),
    }
    return PythonService(
        "ocop-worker", settings.services_folder, [str(VENV_BIN / "ocop-worker"), "run"], env
    )


def api(settings: DemoSettings, office: Office) -> PythonService:
    env = (
        service_env(settings, office)
        | {
            "OCOP_RESOLVER_HOST": settings.resolver_host,
            "OCOP_DEVICE_SALT": office.passphrase,
            # the API's default rate limit holds: each phone scans from its own address, the
            # waits poll slower than 5 requests a second, and the health probes are exempt
            "OCOP_PUBLIC_BASE_URL": settings.api_url,  # plain http here: the cookie is not Secure
            "OCOP_DOCS": "true",  # the demo shows its OpenAPI page (off by default in production)
            "OCOP_RECORD_CACHE_S": "1",
        }
        | office.desk_env()
    )  # Hưng Yên's evaluation desk, with its desk key (not the council's)
    argv = [str(VENV_BIN / "ocop-api"), "--port", str(settings.api_port), "--log-level", "warning"]
    return PythonService("ocop-api", settings.services_folder, argv, env)


def log_writer(settings: DemoSettings, office: Office) -> PythonService:
    """`ocop-log`, with the log's key from its own keystore: with OCOP_ROOT_KEY it refuses
    to sign with a key the stored trust list does not certify for the origin."""
    assert office.log_key is not None  # open_office makes it
    env = service_env(settings, office) | {
        "OCOP_LOG_KEYSTORE": str(office.log_keystore),
        "OCOP_LOG_KEY_ID": office.log_key.key_id,
        "OCOP_LOG_PASSPHRASE": office.passphrase,
        "OCOP_LOG_GROUP": settings.log_group,
    }
    return PythonService(
        "ocop-log", settings.services_folder, [str(VENV_BIN / "ocop-log"), "run"], env
    )


def start(
    service: PythonService, ready_url: str, timeout_s: float = 90.0, *, ready_below: int = 500
) -> Started:
    """Launched unless running; ready once `ready_url` answers with a status below
    `ready_below` (the log's writer has no port: the API's /log/checkpoint answers 200 once
    the writer has signed a checkpoint)."""
    pid = running_pid(service)
    already = pid is not None
    if pid is None:
        pid = launch(service)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if running_pid(service) != pid:
            said = bilingual(
                f"{service.name} đã dừng trong lúc khởi động", f"{service.name} exited at start-up"
            )
            raise StackError(f"{said}\n{log_tail(service.log_file)}")
        try:
            if httpx.get(ready_url, timeout=2).status_code < ready_below:
                return Started(service.name, pid, already)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    said = bilingual(
        f"{service.name} không trả lời tại {ready_url} trong {timeout_s:.0f} s",
        f"{service.name} did not answer at {ready_url} within {timeout_s:.0f} s",
    )
    raise StackError(f"{said}\n{log_tail(service.log_file)}")
