"""records.session.bound: the same bytes the driver's own bind makes, without its per-value
column description (the scan processor binds thousands of rows a second)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from cassandra import cqltypes
from cassandra.protocol import ColumnMetadata
from cassandra.query import UNSET_VALUE, PreparedStatement

from records.session import bound

COLUMNS = [
    ("unit_key", "UTF8Type"),
    ("scanned_at", "TimestampType"),
    ("event_id", "UUIDType"),
    ("day", "SimpleDateType"),
    ("accuracy_m", "Int32Type"),
    ("open_alerts", "MapType(UUIDType, UTF8Type)"),
    ("copy_evidence", "SetType(UTF8Type)"),
    ("corroborated", "BooleanType"),
]


def statement() -> PreparedStatement:
    metadata = [
        ColumnMetadata("ocop", "t", name, cqltypes.lookup_casstype(kind)) for name, kind in COLUMNS
    ]
    return PreparedStatement(metadata, b"id-" + str(uuid.uuid4()).encode(), [0], "INSERT",
                             "ocop", 5, [], None)  # fmt: skip


ID = uuid.uuid4()
ROWS = [
    ("u1", datetime(2026, 12, 3, 9, 1, 2, 345678, tzinfo=UTC), ID, date(2026, 12, 3), 5000,
     {ID: "past_expiry"}, {"inspection:x", "y"}, True),
    ("u2", datetime(2026, 1, 1, tzinfo=UTC), ID, date(2026, 1, 1), None, UNSET_VALUE,
     UNSET_VALUE, False),
    ("u3", datetime(2026, 1, 1, tzinfo=UTC)),  # the rest unset
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS)
def test_the_same_values_and_routing_key_as_the_drivers_bind(row):
    prepared = statement()
    ours, drivers = bound(prepared, row), prepared.bind(row)
    assert ours.values == drivers.values
    assert ours.routing_key == drivers.routing_key
    assert ours.prepared_statement is prepared


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 12, 3, 9, 1, 2, 999_999, tzinfo=UTC),
        datetime(2026, 12, 3, 16, 1, 2, 500, tzinfo=timezone(timedelta(hours=7))),
        datetime(2038, 1, 19, 3, 14, 8, 1_000, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC),  # before 1970: the driver's
        datetime(2026, 12, 3, 9, 1, 2, 345_678),  # naive: the driver's, read as UTC
        date(2026, 12, 3),
        1_796_298_144_123,  # milliseconds already
    ],
)
def test_timestamps_are_the_drivers_milliseconds(when):
    prepared = statement()
    row = ("u", when)
    assert bound(prepared, row).values == prepared.bind(row).values


def test_timestamps_over_years_are_the_drivers_milliseconds():
    prepared = statement()
    rng = random.Random(1489)
    for _ in range(2_000):
        when = datetime.fromtimestamp(rng.uniform(0, 4e9), UTC).replace(
            microsecond=rng.randrange(1_000_000)
        )
        assert bound(prepared, ("u", when)).values == prepared.bind(("u", when)).values, when


def test_more_values_than_columns_are_refused():
    with pytest.raises(ValueError, match="9 values for 8 columns"):
        bound(statement(), (*ROWS[0], "one too many"))
