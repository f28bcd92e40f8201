"""records.session.chunks_by_group: how partition keys are grouped for one read of many
(replica_chunks), and units' writes for one batch (records.store.record_scans)."""

from __future__ import annotations

from records.session import chunks_by_group


def test_chunks_hold_one_group_each_in_the_order_given():
    items = [(group, n) for n, group in enumerate("aabab")]
    assert chunks_by_group(items, most=10) == [[0, 1, 3], [2, 4]]


def test_a_chunk_holds_at_most_so_many_items():
    assert chunks_by_group([("a", n) for n in range(7)], most=3) == [[0, 1, 2], [3, 4, 5], [6]]


def test_a_full_chunk_of_one_group_leaves_the_others_filling():
    items = [("a", 0), ("b", 1), ("a", 2), ("b", 3), ("a", 4)]
    assert chunks_by_group(items, most=2) == [[0, 2], [1, 3], [4]]


def test_with_sizes_a_chunk_holds_at_most_so_much_and_a_larger_item_stands_alone():
    items = [("a", 4), ("a", 5), ("b", 9), ("a", 2), ("a", 20), ("a", 1)]
    chunks = chunks_by_group(items, most=10, size=lambda n: n, most_size=10)
    assert chunks == [[4, 5], [9], [2], [20], [1]]
