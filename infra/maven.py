"""Server jars from Maven Central: each server is a pom in infra/maven/<name>/."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from contract.bilingual import bilingual
from infra.process import StackError

POMS = Path(__file__).resolve().parent / "maven"


def ensure_jars(name: str, lib_root: Path) -> Path:
    """Resolve the server's jars once; again only when its pom changed.

    A stamp holding the pom's hash is written last, so an interrupted resolution is retried.
    """
    pom = POMS / name / "pom.xml"
    target = lib_root / name
    stamp = target / ".pom-sha256"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            bilingual(
                "cần Maven để tải các tệp jar của máy chủ nhưng không tìm thấy `mvn`",
                "Maven is needed to fetch the server jars and no `mvn` was found",
            )
        )
    if target.exists():
        shutil.rmtree(target)
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={target}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        said = bilingual(
            f"Maven không tải được các tệp jar của {name}",
            f"Maven could not resolve the {name} jars",
        )
        raise StackError(f"{said}:\n{tail}")
    stamp.write_text(digest)
    return target
