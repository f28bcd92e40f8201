"""Migration files: naming, ordering and statement splitting, without a server."""

from __future__ import annotations

import pytest

from infra.process import StackError
from infra.schema import MIGRATIONS, load_migrations, split_statements
from infra.settings import DataSettings
from infra.topics import topic_specs


def test_statements_split_at_line_ends_and_drop_comments():
    cql = """
    -- a heading
    CREATE TABLE IF NOT EXISTS a (id int PRIMARY KEY); -- trailing note
    CREATE TABLE IF NOT EXISTS b (
        id int PRIMARY KEY,  -- the key
        v text
    );
    """
    statements = split_statements(cql)
    assert len(statements) == 2
    assert statements[0].startswith("CREATE TABLE IF NOT EXISTS a")
    assert "--" not in statements[1]
    assert "v text" in statements[1]


def test_shipped_migrations_are_numbered_and_idempotent():
    migrations = load_migrations(MIGRATIONS)
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    for migration in migrations:
        for statement in migration.statements:
            assert "IF NOT EXISTS" in statement or "IF EXISTS" in statement, statement[:60]


def test_a_badly_named_migration_is_refused(tmp_path):
    (tmp_path / "1_first.cql").write_text("CREATE TABLE IF NOT EXISTS x (id int PRIMARY KEY);")
    with pytest.raises(StackError, match=r"tên migration phải có dạng NNNN_.* / .*is named NNNN_"):
        load_migrations(tmp_path)


def test_two_migrations_with_one_number_are_refused(tmp_path):
    for name in ("0001_a.cql", "0001_b.cql"):
        (tmp_path / name).write_text("CREATE TABLE IF NOT EXISTS x (id int PRIMARY KEY);")
    with pytest.raises(StackError, match=r"trùng số phiên bản.* / .*share a version"):
        load_migrations(tmp_path)


def test_topics_follow_settings():
    specs = {
        s.name: s for s in topic_specs(DataSettings(topic_partitions=12, replication_factor=3))
    }
    assert specs["ocop.batch-events"].partitions == 12
    assert specs["ocop.batch-events"].config["min.insync.replicas"] == "2"
    assert specs["ocop.dead-letter"].partitions == 1
    assert specs["ocop.batch-events"].config["retention.ms"] == "-1"
