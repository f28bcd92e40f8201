"""records.session.run_each against a stand-in driver whose answers come on its own thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
from cassandra.cluster import Session
from cassandra.query import Statement

from records.session import run_each


class Refused(Exception):
    pass


class Driver:
    """Answers each statement after a moment on a pool thread; fails the rows named."""

    def __init__(self, failing: frozenset[int] = frozenset()) -> None:
        self.pool = ThreadPoolExecutor(4)
        self.failing = failing
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.started: list[int] = []
        self.finished: list[int] = []

    def execute_async(self, statement: Any, params: tuple[int]) -> Driver.Response:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.started.append(params[0])
        return Driver.Response(self, params[0])

    class Response:
        def __init__(self, driver: Driver, row: int) -> None:
            self.driver, self.row = driver, row

        def add_callbacks(
            self, ok: Callable[[Any], None], failed: Callable[[BaseException], None]
        ) -> None:
            def answer() -> None:
                time.sleep(0.002)
                with self.driver.lock:
                    self.driver.in_flight -= 1
                    self.driver.finished.append(self.row)
                if self.row in self.driver.failing:
                    failed(Refused(self.row))
                else:
                    ok([])

            self.driver.pool.submit(answer)


def _run(driver: Driver, rows: list[tuple[int]], concurrency: int) -> Any:
    async def main() -> Any:
        session = cast(Session, driver)
        return await run_each(session, cast(Statement, None), rows, concurrency=concurrency)

    return asyncio.run(main())


def test_every_row_is_written_with_at_most_concurrency_in_flight():
    driver = Driver()
    rows = [(n,) for n in range(50)]
    assert _run(driver, rows, concurrency=8) == 50
    assert sorted(driver.started) == list(range(50))
    assert driver.most_in_flight <= 8


def test_no_rows_is_no_statement():
    driver = Driver()
    assert _run(driver, [], concurrency=8) == 0
    assert driver.started == []


def test_a_failure_is_raised_once_nothing_is_in_flight_and_stops_the_rest():
    driver = Driver(failing=frozenset({3}))
    with pytest.raises(Refused):
        _run(driver, [(n,) for n in range(200)], concurrency=4)
    assert driver.in_flight == 0  # settled only after every started statement answered
    assert sorted(driver.finished) == sorted(driver.started)
    assert len(driver.started) < 200  # no new statement after the failure
