"""records.session.pack_by_group: how writes and reads of different partitions are packed
into one request (replica_batches, replica_chunks)."""

from __future__ import annotations

from records.session import Sized, pack_by_group


def test_packs_hold_one_group_each_in_the_order_given():
    sized = [Sized(group, 1, n) for n, group in enumerate("aabab")]
    assert pack_by_group(sized, most=10, most_bytes=None) == [[0, 1, 3], [2, 4]]


def test_a_pack_holds_at_most_so_many_items():
    sized = [Sized("a", 1, n) for n in range(7)]
    assert pack_by_group(sized, most=3, most_bytes=None) == [[0, 1, 2], [3, 4, 5], [6]]


def test_past_its_first_item_a_pack_holds_at_most_so_many_bytes():
    sizes = [3, 2, 4, 9, 1]
    sized = [Sized("a", size, n) for n, size in enumerate(sizes)]
    # 3+2 fit in 5; 4 alone (4+9 would not fit); 9 alone though larger; then 1
    assert pack_by_group(sized, most=10, most_bytes=5) == [[0, 1], [2], [3], [4]]


def test_a_full_pack_of_one_group_leaves_the_others_filling():
    sized = [Sized("a", 1, 0), Sized("b", 1, 1), Sized("a", 1, 2), Sized("b", 1, 3)]
    assert pack_by_group(sized, most=1, most_bytes=None) == [[0], [1], [2], [3]]
    assert pack_by_group(sized, most=2, most_bytes=None) == [[0, 2], [1, 3]]
