"""End-to-end tests use the same stack fixture as the integration tests."""

from tests.integration.conftest import pytest_collection_modifyitems, stack_settings, unique_name

__all__ = ["pytest_collection_modifyitems", "stack_settings", "unique_name"]
