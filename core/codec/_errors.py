"""Errors raised by the codec."""

from __future__ import annotations


class CodecError(ValueError):
    """The JSON does not fit the message (or, when encoding, the message cannot be written as JSON).

    ``str(err)`` names the field path from the root of the value, e.g.
    ``thing.payload.int32Value: expected an integer, got "abc"``; ``path`` and ``reason`` hold the two
    parts separately so a caller can re-root the path (the gateway prefixes the body field name).
    """

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.reason = reason
        self.path = path


class Fail(Exception):
    """Internal: raised deep inside a decoder; each enclosing level adds its path segment on the way out,
    so the happy path never builds a path string."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        # Segments innermost first: field keys as given in the input, or "[index]" / "[key]".
        self.segments: list[str] = []

    def to_codec_error(self) -> CodecError:
        path = ""
        for segment in reversed(self.segments):
            if segment.startswith("["):
                path += segment
            else:
                path = f"{path}.{segment}" if path else segment
        return CodecError(self.reason, path)
