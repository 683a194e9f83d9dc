"""The JSON bytes of rendered objects in the build's caches and pipes: orjson, for what it reads back exactly."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

# A date, a dataclass or a str subclass would be written as orjson sees fit: refused instead (TypeError), so that
# what is stored is what json.loads would give back too.
_EXACT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def encode(value: Any) -> bytes | None:
    """Compact JSON, UTF-8, keys in their order, that json.loads reads as decode() does; None for a value that
    would not read back the same: an int beyond 64 bits, a key that is no string, a date. (NaN and infinity, which
    orjson writes as null, do not reach here: a rendered template that holds one is refused when it is read, as
    the API server would refuse it.)"""
    try:
        return orjson.dumps(value, option=_EXACT)
    except TypeError:
        return None


def decode(data: bytes | bytearray | memoryview | str) -> Any:
    """What encode() wrote, ~2x faster than json.loads (an int beyond 64 bits would come back as a float: encode
    writes none)."""
    return orjson.loads(data)


def sealed(payload: bytes) -> bytes:
    """A cache file's bytes: the sha256 of the payload on the first line, then the payload."""
    return hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def unsealed(stored: bytes) -> bytes | None:
    """The payload of sealed() bytes, None if it is not whole (a corrupt entry is made again)."""
    digest, _, payload = stored.partition(b"\n")
    return payload if digest.decode(errors="replace") == hashlib.sha256(payload).hexdigest() else None
