"""The station's journal: one SQLite file holding its state and its outbox.

One file, so that recording an operation and the event announcing it is ONE transaction:
a crash leaves both or neither, never a packed unit nobody hears of, nor an event about a
unit the station does not remember. WAL mode lets the sender read and mark rows while the
station writes; `synchronous=FULL` makes every commit durable before the operator is told
it happened (a packing line commits a few times a second: the fsync is affordable).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from contract.bilingual import bilingual
from producers.errors import StationError

SCHEMA_VERSION = 2
_UPGRADES = {1: "ALTER TABLE units ADD COLUMN label_digest TEXT;"}
"""From each older schema version to the next: version 2 remembers each label's digest."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id        TEXT PRIMARY KEY,
    product_key     TEXT NOT NULL,
    lot             TEXT NOT NULL,
    product_name    TEXT NOT NULL,
    production_date TEXT NOT NULL,
    expiry_date     TEXT NOT NULL,
    planned_units   INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'closed', 'recalled')),
    opened_at       TEXT NOT NULL,
    closed_at       TEXT,
    recalled_at     TEXT
);
CREATE TABLE IF NOT EXISTS print_runs (
    run_id     INTEGER PRIMARY KEY,
    batch_id   TEXT NOT NULL REFERENCES batches,
    packed_on  TEXT NOT NULL,
    stars      INTEGER NOT NULL,
    key_id     TEXT NOT NULL,
    labels     INTEGER NOT NULL,
    printed_at TEXT NOT NULL
);
-- a unit is issued when its label is signed and packed when its label is scanned;
-- reported_in names the UnitsPacked event that announced it; label_digest is
-- contract.label.SignedLabel.digest (NULL for labels printed before schema version 2)
CREATE TABLE IF NOT EXISTS units (
    serial       TEXT PRIMARY KEY,
    batch_id     TEXT NOT NULL REFERENCES batches,
    run_id       INTEGER NOT NULL REFERENCES print_runs,
    packed_at    TEXT,
    reported_in  TEXT,
    label_digest TEXT
);
CREATE INDEX IF NOT EXISTS units_by_batch ON units (batch_id, packed_at);
CREATE INDEX IF NOT EXISTS units_unreported ON units (batch_id, packed_at)
    WHERE packed_at IS NOT NULL AND reported_in IS NULL;
CREATE TABLE IF NOT EXISTS shipments (
    shipment_id  TEXT PRIMARY KEY,
    batch_id     TEXT NOT NULL REFERENCES batches,
    to_party     TEXT NOT NULL,
    units        INTEGER NOT NULL,
    shipped_at   TEXT NOT NULL,
    received_units INTEGER,
    received_at  TEXT
);
CREATE TABLE IF NOT EXISTS outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT NOT NULL UNIQUE,
    event_type  TEXT NOT NULL,
    batch_id    TEXT NOT NULL,
    topic       TEXT NOT NULL,
    key         BLOB NOT NULL,
    value       BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    acked_at    TEXT,
    partition   INTEGER,
    "offset"    INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE acked_at IS NULL;
"""


def connect(path: Path) -> sqlite3.Connection:
    """Opens (creating on first use) the journal; one connection per thread."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StationError(
                bilingual(
                    f"{path} có lược đồ sổ ghi {version}; trạm này đọc lược đồ {SCHEMA_VERSION}",
                    f"{path} has journal schema {version}; this station reads {SCHEMA_VERSION}",
                )
            )
        if version == 0:  # every statement is idempotent: two first starts do no harm
            connection.executescript(
                f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
            )
        else:
            for older in range(version, SCHEMA_VERSION):
                _upgrade(connection, older)
    except sqlite3.Error as exc:
        raise StationError(
            bilingual(
                f"không mở được sổ ghi của trạm {path}",
                f"cannot open the station journal {path}: {exc}",
            )
        ) from None
    return connection


def _upgrade(connection: sqlite3.Connection, version: int) -> None:
    """One step up, in one transaction; a station that started it first has done it already."""
    with transaction(connection):
        if connection.execute("PRAGMA user_version").fetchone()[0] == version:
            connection.execute(_UPGRADES[version])
            connection.execute(f"PRAGMA user_version={version + 1}")


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: all of it or nothing."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
