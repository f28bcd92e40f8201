"""The story's last step: one packed unit shown in the public audit log, cosigned by both
witnesses, its proof checked as `ocop-verify --log-proof` checks it (keys.verifier).

The log's writer (`ocop-log`) runs in the background with the other services (demo.services).
The witnesses are other offices' machines: each round here is their own command,
`ocop-witness run --once`, told only the log's URL, the trust list and the pinned root key,
as they would be; each keeps its state (the last checkpoint it cosigned) in
<demo>/witness-state/, so a second run's rounds must prove the log grew from what they
cosigned before. The demo does not leave them running: nothing it prints needs a newer
cosignature than the one this step waits for.
"""

from __future__ import annotations

import os
import subprocess

import httpx

from auditlog.proof import BundleCheck
from contract.bilingual import bilingual
from contract.label import decode_label
from demo.authority import LOG_ORIGIN, WITNESSES, Office
from demo.services import VENV_BIN
from demo.settings import DemoSettings
from infra.process import StackError, log_tail
from keys.trustlist import TrustList
from keys.verifier import LogCheck, LogStatus, check_log_proof, unit_proof_path


def unit_proof_url(api_url: str, label_url: str) -> str:
    return api_url + unit_proof_path(decode_label(label_url))


def witness_env(settings: DemoSettings, office: Office, name: str) -> dict[str, str]:
    """What a witness is told (auditlog.settings.WitnessSettings): its own key, and the log's
    key only through the root-signed trust list, not the log's word."""
    return {
        "OCOP_WITNESS_NAME": name,
        "OCOP_WITNESS_KEYSTORE": str(office.witness_keystore),
        "OCOP_WITNESS_KEY_ID": office.witness_keys[name].key_id,
        "OCOP_WITNESS_PASSPHRASE": office.passphrase,
        "OCOP_WITNESS_LOG_URL": f"{settings.api_url}/log",
        "OCOP_WITNESS_LOG_ORIGIN": LOG_ORIGIN,
        "OCOP_WITNESS_TRUST_LIST": str(office.trust_list_file),
        "OCOP_WITNESS_ROOT_KEY": office.root.public_key_text,
        "OCOP_WITNESS_STATE": str(office.folder / "witness-state" / name),
    }


def witness_rounds(settings: DemoSettings, office: Office) -> None:
    """One round of each witness; a refusal (a split view, a shrunken tree) stops the story."""
    logs = settings.services_folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for name, _ in WITNESSES:
        log_file = logs / f"ocop-witness.{name}.out"
        with log_file.open("ab") as out:
            done = subprocess.run(
                [str(VENV_BIN / "ocop-witness"), "run", "--once"],
                env=os.environ | witness_env(settings, office, name),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=60,
                check=False,
            )
        if done.returncode != 0:
            said = bilingual(
                f"nhân chứng {name} đã từ chối điểm kiểm tra của nhật ký hoặc không khởi động "
                f"được (mã thoát {done.returncode})",
                f"the witness {name} refused the log's checkpoint or could not start (exit "
                f"{done.returncode})",
            )
            raise StackError(f"{said}\n{log_tail(log_file)}")


def witnessed(settings: DemoSettings, office: Office, label_url: str) -> LogCheck | None:
    """The unit's log proof checked as `ocop-verify --log-proof` checks it, once a checkpoint
    holding its record is cosigned by the trust list's quorum; until then, None after a
    round of the witnesses. A proof that fails for any other reason stops the story."""
    response = httpx.get(unit_proof_url(settings.api_url, label_url), timeout=10)
    if response.status_code == 404:
        return None  # the record is not in a signed checkpoint yet
    response.raise_for_status()
    trust = TrustList.load(
        office.trust_list_file.read_bytes(), root_public_key=office.root.public_key
    )
    check = check_log_proof(response.text, trust=trust, label=decode_label(label_url))
    if check.status is LogStatus.RECORDED:
        return check
    if check.reason != BundleCheck.TOO_FEW_WITNESSES:  # not yet cosigned by the quorum
        raise StackError(f"the unit's log proof does not verify: {check.sentence()}")
    witness_rounds(settings, office)
    return None
