"""The cluster tests: three Kafka nodes and three Cassandra nodes on their own loopback
addresses, started for the session (and stopped at its end unless they ran before, or
OCOP_KEEP_STACK is set). Heavy: they run only when asked, `./run tests -m cluster`
(docs/cluster.md), never in the default run.

The local single-node stack listens on 127.0.0.1 with the same ports, so the cluster takes
127.0.1.1-3 (OCOP_CLUSTER_FIRST_ADDRESS) and JMX ports 7300-7302, its own state folder
(.state/cluster) and keeps out of the single node's way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from infra import stack
from infra.settings import PROJECT_ROOT, StackSettings


def cluster_settings() -> StackSettings:
    return StackSettings(
        state_dir=PROJECT_ROOT / ".state" / "cluster",
        nodes=3,
        first_address=os.environ.get("OCOP_CLUSTER_FIRST_ADDRESS", "127.0.1.1"),
        cassandra_jmx_port=7300,
        topic_partitions=6,
        start_timeout_s=240,
    )


@pytest.fixture(scope="session")
def cluster() -> Iterator[StackSettings]:
    settings = cluster_settings()
    statuses = stack.up(settings, report=print)
    yield settings
    started = {s.name for s in statuses if s.started_now}
    if started and not os.environ.get("OCOP_KEEP_STACK"):
        stack.down(settings, report=print)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Cluster tests are deselected unless the marker expression names them."""
    for item in items:
        if "tests/cluster/" in str(item.path):
            item.add_marker(pytest.mark.cluster)
    if "cluster" in (config.option.markexpr or ""):
        return
    chosen = [item for item in items if "tests/cluster/" not in str(item.path)]
    if len(chosen) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in chosen])
        items[:] = chosen
