"""Request ids: the one rule for accepting a caller's id, and the generator for new ones.

The gateway applies the rule to the ``X-Request-Id`` header and the gRPC server to the
``x-request-id`` metadata, so an id is either kept from edge to log to trailer or replaced at the
edge, never echoed by one hop while another logs a different one.
"""

from __future__ import annotations

import random
import re

__all__ = ["REQUEST_ID_PATTERN", "acceptable_request_id", "new_request_id"]

#: Visible ASCII, 1-128 characters: what an HTTP header and gRPC metadata both carry unchanged and a
#: log line shows unambiguously (no spaces or control characters). Trace formats such as
#: ``trace/abc=1`` or W3C trace ids pass.
REQUEST_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")

#: Source of generated ids. They name a call in logs and error messages and need to be unique, not
#: secret, so a generator seeded once from the OS (per process) is enough; asking the OS for random
#: bytes on every call releases and retakes the GIL, which under load costs tens of microseconds.
_ids = random.Random()


def acceptable_request_id(value: str | None) -> bool:
    """Whether a caller's id may be used as given."""
    return value is not None and REQUEST_ID_PATTERN.fullmatch(value) is not None


def new_request_id() -> str:
    """A fresh request id: 32 hex digits."""
    # The bytes' hex: the same 32 lower-case digits as formatting the number, in half the time.
    return _ids.getrandbits(128).to_bytes(16, "big").hex()
