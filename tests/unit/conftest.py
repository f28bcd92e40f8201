"""The unit tests' shared fixture: the small OCOP world of tests/world.py."""

from __future__ import annotations

import pytest

from tests.world import World


@pytest.fixture(scope="session")
def world() -> World:
    return World()
