"""Starting the stack again is harmless: nothing starts twice and both servers answer."""

from __future__ import annotations

from infra import stack
from infra.settings import StackSettings


def test_second_up_starts_nothing(stack_settings: StackSettings):
    before = {s.name: s.pid for s in stack.status(stack_settings)}
    again = stack.up(stack_settings)
    assert [s.started_now for s in again] == [False, False]
    assert {s.name: s.pid for s in again} == before
    assert all(s.healthy for s in stack.status(stack_settings))
