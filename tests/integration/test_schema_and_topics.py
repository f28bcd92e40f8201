"""Migrations and topics apply on the real servers, and applying them again changes nothing."""

from __future__ import annotations

import shutil

import pytest

from contract import topics as names
from infra.process import StackError
from infra.schema import MIGRATIONS, connect, load_migrations, migrate
from infra.settings import StackSettings
from infra.topics import admin_client, apply_topics, topic_specs


@pytest.fixture
def scratch_keyspace(stack_settings: StackSettings, unique_name):
    settings = stack_settings.model_copy(update={"keyspace": unique_name})
    yield settings
    cluster, session = connect(settings)
    session.execute(f"DROP KEYSPACE IF EXISTS {unique_name}")
    cluster.shutdown()


def test_migrations_apply_twice(scratch_keyspace: StackSettings):
    first = migrate(scratch_keyspace)
    second = migrate(scratch_keyspace)
    versions = [f"{m.version:04d}_{m.name}" for m in load_migrations()]
    assert first == [
        f"{v}: applied ({len(m.statements)} statements)"
        for v, m in zip(versions, load_migrations(), strict=True)
    ]
    assert second == [f"{v}: already applied" for v in versions]

    cluster, session = connect(scratch_keyspace)
    try:
        rows = session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s",
            (scratch_keyspace.keyspace,),
        )
        tables = {row.table_name for row in rows}
    finally:
        cluster.shutdown()
    assert {"schema_migrations", "units", "batch_records", "certifications"} <= tables


def test_an_applied_migration_that_was_edited_is_refused(scratch_keyspace, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    migrate(scratch_keyspace, folder)
    first = sorted(folder.glob("*.cql"))[0]
    first.write_text(first.read_text() + "\n-- an afterthought\n")
    with pytest.raises(
        StackError, match=r"đã bị sửa sau khi được áp dụng.* / .*changed after it was applied"
    ):
        migrate(scratch_keyspace, folder)


def test_topics_apply_twice_with_their_settings(stack_settings: StackSettings):
    apply_topics(stack_settings)
    second = apply_topics(stack_settings)
    assert all(line.endswith("up to date") for line in second), second

    with admin_client(stack_settings) as admin:
        described = {t["name"]: t for t in admin.describe_topics([names.BATCH_EVENTS])}
    expected = {s.name: s for s in topic_specs(stack_settings)}[names.BATCH_EVENTS]
    assert len(described[names.BATCH_EVENTS]["partitions"]) == expected.partitions
