"""The real node stores and returns rows through prepared statements."""

from __future__ import annotations

import uuid

from infra.schema import connect
from infra.settings import StackSettings


def test_prepared_insert_reads_back(stack_settings: StackSettings, unique_name):
    cluster, session = connect(stack_settings)
    try:
        session.execute(
            f"CREATE KEYSPACE {unique_name} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.set_keyspace(unique_name)
        session.execute("CREATE TABLE probe (id uuid PRIMARY KEY, name text, stars int)")
        insert = session.prepare("INSERT INTO probe (id, name, stars) VALUES (?, ?, ?)")
        select = session.prepare("SELECT name, stars FROM probe WHERE id = ?")
        row_id = uuid.uuid4()
        session.execute(insert, (row_id, "Mắm cáy Hồng Tiến", 4))
        row = session.execute(select, (row_id,)).one()
        assert (row.name, row.stars) == ("Mắm cáy Hồng Tiến", 4)
        assert session.execute(select, (uuid.uuid4(),)).one() is None
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {unique_name}")
        cluster.shutdown()
