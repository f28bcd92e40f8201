"""Integration tests run against the real local Kafka broker and Cassandra node.

The session starts the stack when it is not running and stops, at the end, only what it
started itself; a stack a developer left running stays up. Tests work in their own
keyspace and topics, so they never touch the demo's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from infra import stack
from infra.settings import StackSettings


@pytest.fixture(scope="session")
def stack_settings() -> Iterator[StackSettings]:
    settings = StackSettings()
    statuses = stack.up(settings)
    yield settings
    started = {s.name for s in statuses if s.started_now}
    if started and not os.environ.get("OCOP_KEEP_STACK"):
        stack.down(settings, only=started)


@pytest.fixture
def unique_name() -> str:
    """A fresh name for a keyspace or topic (letters, digits, underscores)."""
    return f"it_{uuid.uuid4().hex[:12]}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)
