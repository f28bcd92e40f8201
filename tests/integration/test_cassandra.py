"""The real node stores and returns rows through prepared statements."""

from __future__ import annotations

import uuid

from cassandra.policies import (
    ConstantSpeculativeExecutionPolicy,
    NoSpeculativeExecutionPolicy,
)

from infra.schema import connect
from infra.settings import StackSettings
from records.session import connect as session_connect
from records.session import prepare_read


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


def test_the_verify_apis_reads_may_be_asked_of_a_second_node(stack_settings: StackSettings):
    """The API's session speculates (records.session.connect) and its reads are idempotent,
    which the driver requires before it sends a statement to a second node. The effect needs
    a cluster that loses a node: tests/cluster."""
    cluster, session = session_connect(stack_settings, speculate_after_s=0.25)
    try:
        policy = cluster.profile_manager.default.speculative_execution_policy
        assert isinstance(policy, ConstantSpeculativeExecutionPolicy)
        assert (policy.delay, policy.max_attempts) == (0.25, 1)
        read = prepare_read(session, "SELECT release_version FROM system.local")
        assert read.is_idempotent
        assert read.bind(()).is_idempotent
        assert session.execute(read).one().release_version
    finally:
        cluster.shutdown()
    cluster, _ = session_connect(stack_settings)
    try:
        policy = cluster.profile_manager.default.speculative_execution_policy
        assert isinstance(policy, NoSpeculativeExecutionPolicy)  # writers: none
    finally:
        cluster.shutdown()
