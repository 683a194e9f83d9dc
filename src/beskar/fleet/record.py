"""A record of facts derived from fleet files, kept in .beskar/ beside the tree, each under the digest of the bytes
it was derived from: a cache that cannot be stale, so one site's command need not re-derive every other site.

The record is never the truth: an entry is used only when the digest of what it came from is the same now, a
missing, unreadable or foreign record is an empty one, and a record that cannot be written is simply not kept.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from beskar.tree import STATE_DIR, write_file

_VERSION = 1


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class Record:
    """One named record (.beskar/<name>.json): digest -> a JSON value; only the entries used are kept."""

    def __init__(self, root: Path, name: str) -> None:
        self.path = Path(root) / STATE_DIR / f"{name}.json"
        self._entries: dict[str, Any] = {}
        self._used: dict[str, Any] = {}
        self._added = False
        try:
            stored = json.loads(self.path.read_bytes()) if self.path.is_file() and not self.path.is_symlink() else {}
            if isinstance(stored, dict) and stored.get("version") == _VERSION and isinstance(stored.get("entries"), dict):
                self._entries = stored["entries"]
        except (OSError, ValueError):
            pass

    def get(self, key: str) -> Any | None:
        if key in self._entries:
            self._used[key] = self._entries[key]
        return self._entries.get(key)

    def put(self, key: str, value: Any) -> None:
        """Record `value` under `key`, if it is plain JSON (a YAML date, say, is not recorded: it is derived again)."""
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return
        self._entries[key] = value
        self._used[key] = value
        self._added = True

    def save(self) -> None:
        """Keep what this run used (entries of files that no longer exist fall away); written only if it changed."""
        if not self._added and len(self._used) == len(self._entries):
            return
        try:
            if self.path.parent.is_dir() and not self.path.parent.is_symlink():
                write_file(self.path, json.dumps({"version": _VERSION, "entries": self._used},
                                                 sort_keys=True, separators=(",", ":")).encode())
        except OSError:
            pass
        self._entries, self._added = dict(self._used), False
