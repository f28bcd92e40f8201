"""Versioned CQL migrations (infra/migrations/NNNN_name.cql), applied in order, once each.

The keyspace is created here and not in a migration, because its replication is a setting
that differs between the local node and a cluster. Each applied migration is recorded with
its checksum; a migration edited after it was applied is refused, not silently skipped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cassandra.cluster import Cluster, Session

import records.session
from contract.bilingual import bilingual
from infra.process import StackError
from infra.settings import DataSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.cql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: list[str]
    checksum: str


def load_migrations(folder: Path = MIGRATIONS) -> list[Migration]:
    found = []
    for path in sorted(folder.glob("*.cql")):
        match = _NAME.match(path.name)
        if not match:
            raise StackError(
                bilingual(
                    f"{path.name}: tên migration phải có dạng NNNN_lower_case_name.cql",
                    f"{path.name}: a migration is named NNNN_lower_case_name.cql",
                )
            )
        text = path.read_text()
        found.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                statements=split_statements(text),
                checksum=hashlib.sha256(text.encode()).hexdigest(),
            )
        )
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StackError(
            bilingual(
                f"có hai migration trùng số phiên bản: {versions}",
                f"two migrations share a version number: {versions}",
            )
        )
    return found


def split_statements(cql: str) -> list[str]:
    """Statements end with ';' at a line's end; '--' comments are dropped (none hold a ';')."""
    lines = [line.split("--", 1)[0].rstrip() for line in cql.splitlines()]
    text = "\n".join(line for line in lines if line.strip())
    return [s.strip() for s in text.split(";\n") if s.strip().rstrip(";")] if text else []


def connect(settings: DataSettings) -> tuple[Cluster, Session]:
    try:
        return records.session.connect(settings)
    except records.session.StoreUnavailable as exc:
        raise StackError(str(exc)) from exc  # it says so in both languages already


def migrate(settings: DataSettings, folder: Path = MIGRATIONS) -> list[str]:
    """Create the keyspace, apply what is not applied yet; one report line per migration."""
    migrations = load_migrations(folder)
    cluster, session = connect(settings)
    try:
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {settings.keyspace} WITH replication = "
            f"{{'class': 'NetworkTopologyStrategy', "
            f"'replication_factor': {settings.replication_factor}}}"
        )
        session.set_keyspace(settings.keyspace)
        session.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
        )
        applied = {row.version: row for row in session.execute("SELECT * FROM schema_migrations")}
        report = []
        for migration in migrations:
            done = applied.get(migration.version)
            label = f"{migration.version:04d}_{migration.name}"
            if done is not None:
                if done.checksum != migration.checksum:
                    raise StackError(
                        bilingual(
                            f"migration {label} đã bị sửa sau khi được áp dụng; hãy thêm migration "
                            "mới thay vì sửa migration đã áp dụng",
                            f"migration {label} was changed after it was applied; add a new "
                            "migration instead of editing an applied one",
                        )
                    )
                report.append(f"{label}: already applied")
                continue
            for statement in migration.statements:
                session.execute(statement)
            session.execute(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
                "VALUES (%s, %s, %s, %s)",
                (migration.version, migration.name, migration.checksum, datetime.now(UTC)),
            )
            report.append(f"{label}: applied ({len(migration.statements)} statements)")
        return report
    finally:
        cluster.shutdown()
