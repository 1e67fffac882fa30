"""protogw.core.codec.WireMemo: texts kept by (tag, wire form), within their entries and byte budget;
each MemoLane resting through its own streaks of misses."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, wrappers_pb2
from google.protobuf.descriptor_pb2 import FieldDescriptorProto
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from protogw.core.codec import MemoLane, WireMemo
from protogw.core.codec._memo import MEMO_MISS_STREAK, MEMO_PROBE_EVERY


def _message(name: str, size: int = 8) -> wrappers_pb2.StringValue:
    """A message whose wire form is ``size`` bytes (2 of tag and length, then the text)."""
    return wrappers_pb2.StringValue(value=name.ljust(size - 2, "."))


@dataclass(frozen=True)
class Case:
    id: str
    memo: dict[str, int]  # WireMemo's keyword arguments
    kept: list[tuple[str, int, str]]  # (name, wire size, tag), remembered in order with text "<name>!"
    present: set[tuple[str, str]]  # (name, tag) recalled afterwards
    absent: set[tuple[str, str]] = field(default_factory=set)


CASES = [
    Case(
        "entries: the least recently used leaves",
        {"entries": 2, "budget": 1 << 20, "max_bytes": 1024},
        [("a", 8, ""), ("b", 8, ""), ("c", 8, "")],
        present={("b", ""), ("c", "")},
        absent={("a", "")},
    ),
    Case(
        "budget: wire forms and texts count",
        {"entries": 100, "budget": 3 * (40 + 2), "max_bytes": 1024},
        [("a", 40, ""), ("b", 40, ""), ("c", 40, ""), ("d", 40, "")],
        present={("b", ""), ("c", ""), ("d", "")},
        absent={("a", "")},
    ),
    Case(
        "larger than the whole budget: not kept, nothing evicted",
        {"entries": 100, "budget": 100, "max_bytes": 1024},
        [("a", 8, ""), ("b", 200, "")],
        present={("a", "")},
        absent={("b", "")},
    ),
    Case(
        "tags keep apart texts of one message",
        {"entries": 100, "budget": 1 << 20, "max_bytes": 1024},
        [("a", 8, "x"), ("a", 8, "y")],
        present={("a", "x"), ("a", "y")},
        absent={("a", "z")},
    ),
    Case(
        "at the size bounds: kept",
        {"entries": 100, "budget": 1 << 20, "min_bytes": 8, "max_bytes": 16},
        [("a", 8, ""), ("b", 16, "")],
        present={("a", ""), ("b", "")},
        absent={("c", "")},
    ),
]


def _sizes(case: Case) -> dict[str, int]:
    return {name: size for name, size, _ in case.kept}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kept_within_entries_and_budget(case: Case) -> None:
    memo = WireMemo(**case.memo)
    lanes = {tag: memo.lane(tag) for tag in "xyz"} | {"": memo.lane()}
    sizes = _sizes(case)
    for name, size, tag in case.kept:
        key, text = lanes[tag].recall(_message(name, size))
        assert text is None
        assert key is not None
        memo.remember(key, f"{name}!".encode())
        assert len(memo) <= case.memo["entries"]
        assert memo.used <= case.memo["budget"]
    for name, tag in case.present:
        assert lanes[tag].recall(_message(name, sizes[name]))[1] == f"{name}!".encode(), (name, tag)
    for name, tag in case.absent:
        assert lanes[tag].recall(_message(name, sizes.get(name, 8)))[1] is None, (name, tag)


@pytest.mark.parametrize(("size", "key"), [(7, False), (8, True), (16, True), (17, False)])
def test_size_bounds(size: int, key: bool) -> None:
    lane = WireMemo(entries=10, budget=1 << 20, min_bytes=8, max_bytes=16).lane()
    assert (lane.recall(_message("m", size))[0] is not None) is key


def _looked_up(lane: MemoLane, messages: list[wrappers_pb2.StringValue]) -> int:
    return sum(lane.recall(m)[0] is not None for m in messages)


def _unique(count: int, size: int = 16) -> list[wrappers_pb2.StringValue]:
    return [_message(f"unique {i}", size) for i in range(count)]


def test_a_lane_rests_through_misses_and_wakes_on_a_hit() -> None:
    memo = WireMemo(entries=10_000, budget=1 << 30, max_bytes=1024)
    lane, other = memo.lane(), memo.lane()
    kept = _message("kept")
    key, _ = lane.recall(kept)
    assert key is not None
    memo.remember(key, b"kept!")
    # The first streak is looked up whole, then one message in MEMO_PROBE_EVERY.
    assert _looked_up(lane, _unique(MEMO_MISS_STREAK + 10 * MEMO_PROBE_EVERY)) == MEMO_MISS_STREAK - 1 + 10
    # Another lane of the same memo keeps its own streak.
    assert _looked_up(other, _unique(MEMO_MISS_STREAK - 1)) == MEMO_MISS_STREAK - 1
    # A probe that hits wakes the lane: every message is looked up again.
    while lane.recall(kept)[1] is None:
        pass
    assert all(lane.recall(kept)[1] == b"kept!" for _ in range(MEMO_PROBE_EVERY * 2))


def test_a_message_too_large_to_keep_rests_its_lane_at_once() -> None:
    lane = WireMemo(entries=100, budget=1 << 20, max_bytes=64).lane()
    assert lane.recall(_message("page", 65)) == (None, None)
    # The next ones go by without being serialised; then one probe, which (missing) rests it again.
    assert _looked_up(lane, _unique(4 * MEMO_PROBE_EVERY)) == 4


def _missing_a_required_field() -> Message:
    file = descriptor_pb2.FileDescriptorProto(name="memo_required.proto", package="memo", syntax="proto2")
    file.message_type.add(name="Required").field.add(
        name="needed", number=1, type=FieldDescriptorProto.TYPE_STRING, label=FieldDescriptorProto.LABEL_REQUIRED
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return GetMessageClass(pool.FindMessageTypeByName("memo.Required"))()


def test_a_message_missing_a_required_field_is_remembered_too() -> None:
    memo = WireMemo(entries=10, budget=1 << 20, max_bytes=1024)
    lane = memo.lane()
    key, text = lane.recall(_missing_a_required_field())
    assert key is not None
    assert text is None
    memo.remember(key, b"{}")
    assert lane.recall(_missing_a_required_field())[1] == b"{}"


def test_remembering_a_key_twice_counts_it_once() -> None:
    memo = WireMemo(entries=10, budget=1 << 20, max_bytes=1024)
    key, _ = memo.lane().recall(_message("a"))
    assert key is not None
    memo.remember(key, b"a!")
    memo.remember(key, b"a!")
    assert len(memo) == 1
    assert memo.used == 8 + 2
