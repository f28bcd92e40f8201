"""A unit's history as the scan processor keeps it: each scan counted once, and everything
surviving the encoding the Faust table stores."""

from __future__ import annotations

from datetime import timedelta

from records.rows import ScanSummary
from stream_processors.detect import SeenScan
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
            SeenScan("s1", NOW, "ab" * 32, Place(20.45, 106.34, 25.0, "Thái Bình")),
            SeenScan("s2", NOW + timedelta(minutes=5), None, None),
        ],
        raised=["9a3c1f3e-0000-4000-8000-000000000000"],
    )
    history.count("s1", NOW, offset=3)
    history.count("s2", NOW + timedelta(minutes=5), offset=4)
    assert decode(encode(history)) == history
    assert decode(None) == UnitHistory()


def test_a_window_stored_before_the_totals_existed_still_reads():
    old = b'{"scans": [{"e": "s1", "t": "2025-03-14T02:00:00+00:00", "d": null, "p": null}], '
    old += b'"raised": []}'
    history = decode(old)
    assert (history.scans, history.counted_offset, len(history.recent)) == (0, -1, 1)
