"""JSON texts remembered by the wire form of the message they were made from.

Encoding a message to JSON walks it in Python; serialising it is done in C and costs a fraction of
that. Where the same message comes back again and again (an experiment's configuration on every
page, the same resource polled by many clients), a memo keyed by the wire form turns the walk into
one serialisation and one lookup. Equal wire forms are equal messages (serialisation writes a map in
its own iteration order, the order the encoders walk it in too), so a hit is exactly the JSON a walk
would give: the memo can only miss, never answer wrongly.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Hashable
from typing import Final

from google.protobuf.message import Message

#: After this many misses in a row a lane rests: it looks up one message in ``MEMO_PROBE_EVERY`` and
#: lets the rest be encoded straight away, until a probe hits. Messages that never repeat (events,
#: unique metadata) then cost almost nothing extra; ones that do are back to hitting after a few reads.
MEMO_MISS_STREAK: Final = 64
MEMO_PROBE_EVERY: Final = 16

Key = tuple[Hashable, bytes]
#: What ``MemoLane.recall`` gives for a message: the key to ``remember`` its JSON under (None: do
#: not), and the JSON remembered for it (None: encode it).
Recalled = tuple[Key | None, bytes | None]


class WireMemo:
    """JSON texts by ``(tag, wire form)``, the least recently used leaving first once ``entries`` or
    ``budget`` (bytes of wire forms and texts together) is passed. Messages are looked up through a
    :class:`MemoLane` (``lane()``), which decides when looking up is worth it.

    Messages whose wire form is shorter than ``min_bytes`` (walking them costs about as much as the
    lookup) are never remembered; longer than ``max_bytes``, neither, and their lane rests. Several
    threads may share a memo: a lost race costs an extra encoding, eviction or probe, never a wrong
    answer.
    """

    __slots__ = ("_budget", "_entries", "_items", "_max_bytes", "_min_bytes", "_used")

    def __init__(self, *, entries: int, budget: int, min_bytes: int = 0, max_bytes: int) -> None:
        self._entries = entries
        self._budget = budget
        self._min_bytes = min_bytes
        self._max_bytes = max_bytes
        self._items: OrderedDict[Key, bytes] = OrderedDict()
        self._used = 0  # bytes held, keys' wire forms and texts

    def __len__(self) -> int:
        return len(self._items)

    @property
    def used(self) -> int:
        """Bytes held (wire forms and texts)."""
        return self._used

    def lane(self, tag: Hashable = None) -> MemoLane:
        """A way into the memo for one kind of message. ``tag`` keeps apart texts of one message made
        differently (two routes answering with different parts of the same response); the lane keeps
        its own streak of misses, so one route's answers that never repeat do not rest another's."""
        return MemoLane(self, tag)

    def remember(self, key: Key, text: bytes) -> None:
        """Keep ``text`` as the JSON of the message a lane gave ``key`` for."""
        size = len(key[1]) + len(text)
        if size > self._budget:
            return
        items = self._items
        while items and (len(items) >= self._entries or self._used + size > self._budget):
            try:
                (_, wire), old = items.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break
            self._used -= len(wire) + len(old)
        if key not in items:
            items[key] = text
            self._used += size


class MemoLane:
    """Looks messages up in a :class:`WireMemo` under one tag, resting through streaks of misses; what
    is encoded after a miss is kept with the memo's ``remember``."""

    __slots__ = ("_memo", "_resting", "_streak", "_tag")

    def __init__(self, memo: WireMemo, tag: Hashable) -> None:
        self._memo = memo
        self._tag = tag
        self._streak = 0  # misses in a row
        self._resting = 0  # messages still to let through without a lookup

    def recall(self, message: Message) -> Recalled:
        """The key for ``message`` and the text remembered under it (see :data:`Recalled`)."""
        if self._resting:
            self._resting -= 1
            return None, None
        memo = self._memo
        # Partial: a proto2 message missing a required field has a wire form (and a JSON one) too.
        wire = message.SerializePartialToString()
        size = len(wire)
        if size < memo._min_bytes:
            return None, None
        if size > memo._max_bytes:
            # Too large to keep (a long listing page): likely again, so rest at once rather than
            # serialise the next ones for nothing.
            self._streak = MEMO_MISS_STREAK
            self._resting = MEMO_PROBE_EVERY - 1
            return None, None
        key = (self._tag, wire)
        items = memo._items
        found = items.get(key)
        if found is None:
            self._streak += 1
            if self._streak >= MEMO_MISS_STREAK:
                # The streak is kept: after the rest, a probe that misses starts the next rest at once.
                self._resting = MEMO_PROBE_EVERY - 1
            return key, None
        self._streak = 0
        with contextlib.suppress(KeyError):  # evicted by another thread meanwhile
            items.move_to_end(key)
        return key, found
