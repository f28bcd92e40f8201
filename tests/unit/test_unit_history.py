"""A unit's history as the scan processor keeps it: each scan counted once, and everything
surviving the encoding the Faust table stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from records.rows import ScanSummary
from stream_processors.detect import UNKNOWN_CLIENT, SeenScan, client_key
from stream_processors.history import IDS_KEPT, UnitHistory, decode, encode
from stream_processors.places import Place
from tests.world import NOW


def test_totals_count_each_scan_once_whatever_order_the_times_come_in():
    history = UnitHistory()
    assert history.count("a", NOW, offset=10)
    assert history.count("b", NOW - timedelta(hours=1), offset=11)  # a phone's late clock
    assert history.count("c", NOW + timedelta(hours=2), offset=12)
    assert history.totals == ScanSummary(3, NOW - timedelta(hours=1), NOW + timedelta(hours=2))


def test_a_replay_after_a_crash_is_not_counted_again():
    history = UnitHistory()
    for n in range(3):
        history.count(f"e{n}", NOW, offset=100 + n)
    assert not history.count("e1", NOW, offset=101)  # read again from the last commit
    assert not history.count("other", NOW, offset=102)  # whatever it holds: it was counted
    assert history.scans == 3


def test_a_producer_retry_writing_one_event_at_two_offsets_counts_once():
    history = UnitHistory()
    history.count("e1", NOW, offset=5)
    assert not history.count("e1", NOW, offset=9)
    assert history.count("e2", NOW, offset=10)
    assert history.scans == 2


def test_only_the_last_ids_are_kept():
    history = UnitHistory()
    for n in range(IDS_KEPT + 5):
        history.count(f"e{n}", NOW, offset=n)
    assert history.counted_ids == [f"e{n}" for n in range(5, IDS_KEPT + 5)]


def test_the_encoding_keeps_everything():
    history = UnitHistory(
        recent=[
            SeenScan("s1", NOW, "ab" * 32, Place(20.45, 106.34, 25.0, "Thái Bình"), "cd" * 32),
            SeenScan("s2", NOW + timedelta(minutes=5), None, None, None),
        ],
        raised=["9a3c1f3e-0000-4000-8000-000000000000"],
        corroborated=["9a3c1f3e-0000-4000-8000-000000000000"],
    )
    history.count("s1", NOW, offset=3, client="cd" * 32)
    history.count("s2", NOW + timedelta(minutes=5), offset=4, client=UNKNOWN_CLIENT)
    assert history.counted_clients
    assert decode(encode(history)) == history
    assert decode(None) == UnitHistory()


def test_a_window_stored_before_the_totals_existed_still_reads():
    old = b'{"scans": [{"e": "s1", "t": "2025-03-14T02:00:00+00:00", "d": null, "p": null}], '
    old += b'"raised": []}'
    history = decode(old)
    assert (history.scans, history.counted_offset, len(history.recent)) == (0, -1, 1)


def test_a_history_stored_before_clients_were_counted_still_reads():
    """As the worker wrote it before: no clients, no corroborated ids, scans without "c"."""
    old = (
        '{"n": 4, "first": "2025-03-14T02:00:00+00:00", "last": "2025-03-14T03:00:00+00:00", '
        '"offset": 17, "ids": ["e3", "e4"], "scans": [{"e": "e4", '
        '"t": "2025-03-14T03:00:00+00:00", "d": "' + "ab" * 32 + '", '
        '"p": [20.45, 106.34, 60.0, "Thái Bình"]}], "raised": ["a1"]}'
    ).encode()
    history = decode(old)
    assert (history.scans, history.counted_offset, history.counted_ids) == (4, 17, ["e3", "e4"])
    assert history.recent == [
        SeenScan("e4", datetime(2025, 3, 14, 3, tzinfo=UTC), "ab" * 32,
                 Place(20.45, 106.34, 60.0, "Thái Bình"), None)
    ]  # fmt: skip
    assert history.recent[0].client_key == UNKNOWN_CLIENT  # one client, all of them together
    assert (history.raised, history.corroborated, history.counted_clients) == (["a1"], [], {})
    assert decode(encode(history)) == history


def test_one_clients_fifty_scans_in_an_hour_count_once():
    history = UnitHistory()
    for n in range(50):
        assert history.count(f"e{n}", NOW + timedelta(minutes=n), offset=n, client="one")
    assert history.totals == ScanSummary(1, NOW, NOW)
    assert history.counted_ids[-1] == "e49"  # taken, so a replay is still known
    assert not history.count("e49", NOW + timedelta(minutes=49), offset=49, client="one")


def test_each_client_counts_once_per_window_and_again_after_it():
    history = UnitHistory()
    history.count("a1", NOW, offset=1, client="a")
    history.count("b1", NOW + timedelta(minutes=1), offset=2, client="b")
    history.count("a2", NOW + timedelta(minutes=59), offset=3, client="a")  # same window
    history.count("a3", NOW + timedelta(minutes=60), offset=4, client="a")  # the next one
    history.count("a4", NOW + timedelta(minutes=90), offset=5, client="a")
    history.count("i1", NOW + timedelta(minutes=91), offset=6)  # an inspector: always counts
    history.count("i2", NOW + timedelta(minutes=92), offset=7)
    assert history.totals == ScanSummary(5, NOW, NOW + timedelta(minutes=92))


def test_scans_without_a_client_count_as_one_client():
    history = UnitHistory()
    for n in range(5):
        history.count(f"e{n}", NOW + timedelta(minutes=n), offset=n, client=client_key(None))
    assert history.scans == 1


def test_the_window_setting_decides_and_zero_counts_every_scan():
    history = UnitHistory()
    for n in range(5):
        history.count(f"e{n}", NOW + timedelta(minutes=n), offset=n, client="one",
                      window=timedelta(0))  # fmt: skip
    assert history.scans == 5
    daily = UnitHistory()
    for n in range(5):
        daily.count(f"e{n}", NOW + timedelta(hours=3 * n), offset=n, client="one",
                    window=timedelta(days=1))  # fmt: skip
    assert daily.scans == 1
