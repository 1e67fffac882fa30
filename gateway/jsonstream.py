"""Splitting a streamed request body into its JSON messages, as they arrive.

A client-streaming or bidi call over REST sends its requests as one HTTP body holding a sequence of
JSON values, the way grpc-gateway reads it: concatenated or newline-delimited
(``{"a":1}\\n{"a":2}`` or ``{"a":1}{"a":2}``). Envoy's transcoder takes one JSON array of them
(``[{"a":1},{"a":2}]``); a body whose first character is ``[`` is read that way. A request message is
a JSON object, so an array cannot be confused with a single message.

The splitter only finds where each value ends (strings and nesting are tracked with two small
regular expressions); the caller parses each value. It keeps at most one unfinished value in memory,
so a body of any length streams in bounded memory::

    stream = JsonStream(max_value_bytes=4 << 20)
    for chunk in chunks:
        for value in stream.feed(chunk):
            handle(value)
    for value in stream.close():
        handle(value)
"""

from __future__ import annotations

import re

__all__ = ["JsonStream", "JsonStreamError"]

_STRUCTURE = re.compile(rb'[{}\[\]"]')
_STRING_END = re.compile(rb'["\\]')
_NOT_SPACE = re.compile(rb"[^ \t\r\n]")
_SCALAR_END = re.compile(rb"[ \t\r\n,\]{\[\"]")
_OPEN = frozenset(b"{[")


class JsonStreamError(ValueError):
    """The body is not a sequence of JSON values (or one value is larger than allowed)."""


class JsonStream:
    """An incremental splitter; see the module docstring."""

    def __init__(self, max_value_bytes: int) -> None:
        self._limit = max_value_bytes
        self._buf = bytearray()
        self._pos = 0  # where scanning resumes
        self._start: int | None = None  # start of the value being scanned
        self._depth = 0
        self._in_string = False
        self._scalar = False
        self._array: bool | None = None  # None until the first character says which form this is
        self._want_separator = False  # array form: a value was read, "," or "]" comes next
        self._closed_array = False
        self.count = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """The values completed by ``chunk``, in order."""
        self._buf += chunk
        values: list[bytes] = []
        while True:
            value = self._next()
            if value is None:
                break
            values.append(value)
        if self._start is None:
            # Nothing unfinished: drop what was consumed so the buffer never grows with the body.
            del self._buf[: self._pos]
            self._pos = 0
        elif self._start > 0:
            del self._buf[: self._start]
            self._pos -= self._start
            self._start = 0
        if self._start is not None and len(self._buf) > self._limit:
            raise JsonStreamError(f"a streamed message is larger than {self._limit} bytes")
        return values

    def close(self) -> list[bytes]:
        """The last value (a bare number or literal ends only here); an unfinished value is an error."""
        values: list[bytes] = []
        if self._start is not None and self._scalar:
            values.append(self._emit(len(self._buf)))
        if self._start is not None or self._in_string:
            raise JsonStreamError("the request body ends inside a JSON value")
        if self._array and not self._closed_array:
            raise JsonStreamError("the request body ends inside its JSON array")
        return values

    def _emit(self, end: int) -> bytes:
        assert self._start is not None
        value = bytes(self._buf[self._start : end])
        self._start = None
        self._scalar = False
        self._pos = end
        self.count += 1
        if self._array:
            self._want_separator = True
        return value

    def _next(self) -> bytes | None:
        buf = self._buf
        if self._start is None and not self._begin():
            return None
        assert self._start is not None
        if self._scalar:
            m = _SCALAR_END.search(buf, self._pos)
            if m is None:
                self._pos = len(buf)
                return None
            return self._emit(m.start())
        pos = self._pos
        while True:
            if self._in_string:
                m = _STRING_END.search(buf, pos)
                if m is None:
                    self._pos = len(buf)
                    return None
                if buf[m.start()] == 0x5C:  # backslash: skip the escaped character
                    if m.start() + 1 >= len(buf):
                        self._pos = m.start()
                        return None
                    pos = m.start() + 2
                    continue
                self._in_string = False
                pos = m.end()
                if self._depth == 0:
                    return self._emit(pos)
                continue
            m = _STRUCTURE.search(buf, pos)
            if m is None:
                self._pos = len(buf)
                return None
            ch = buf[m.start()]
            pos = m.end()
            if ch == 0x22:  # "
                self._in_string = True
            elif ch in _OPEN:
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    return self._emit(pos)

    def _begin(self) -> bool:
        """Skip to the start of the next value (handling the array form's brackets and commas)."""
        buf = self._buf
        while True:
            m = _NOT_SPACE.search(buf, self._pos)
            if m is None:
                self._pos = len(buf)
                return False
            at = m.start()
            ch = buf[at]
            if self._closed_array:
                raise JsonStreamError("unexpected data after the request body's JSON array")
            if self._array is None:
                self._array = ch == 0x5B  # [
                if self._array:
                    self._pos = at + 1
                    continue
            if self._array and self._want_separator:
                if ch == 0x2C:  # ,
                    self._want_separator = False
                    self._pos = at + 1
                    continue
                if ch == 0x5D:  # ]
                    self._closed_array = True
                    self._pos = at + 1
                    continue
                raise JsonStreamError("expected ',' or ']' between the messages of the JSON array")
            if self._array and ch == 0x5D and self.count == 0:
                self._closed_array = True
                self._pos = at + 1
                continue
            if ch in (0x5D, 0x7D, 0x2C):
                raise JsonStreamError(f"unexpected {chr(ch)!r} in the request body")
            self._start = at
            self._pos = at + 1
            if ch == 0x22:
                self._in_string = True
            elif ch in _OPEN:
                self._depth = 1
            else:
                self._scalar = True
            return True
