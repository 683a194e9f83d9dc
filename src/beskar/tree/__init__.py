"""The rendered tree: deterministic YAML emission, the fleet's lock, the all-or-nothing write and the staleness check.

The names below are the package's interface; its modules are split by noun (emission, paths, lock, files,
comparison, journal)."""

from beskar.tree.comparison import Change, Difference, deletions, file_changes
from beskar.tree.emission import GENERATED_MARK, Tree, emit_file, header
from beskar.tree.digest import recorded_files
from beskar.tree.files import sync_directory, write_file
from beskar.tree.journal import compare, recover, settle, write
from beskar.tree.lock import locked
from beskar.tree.paths import (DIRECTORY_MODE, FILE_MODE, JOURNAL_DIR, PLAN_FILE, ROLLING_BACK, STATE_DIR,
                               owned_files, site_prefixes)

__all__ = ["Change", "DIRECTORY_MODE", "Difference", "FILE_MODE", "GENERATED_MARK", "JOURNAL_DIR", "PLAN_FILE",
           "ROLLING_BACK", "STATE_DIR", "Tree", "compare", "deletions", "emit_file", "file_changes", "header",
           "locked", "owned_files", "recorded_files", "recover", "settle", "site_prefixes", "sync_directory", "write",
           "write_file"]
