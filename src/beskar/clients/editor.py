"""The user's editor ($VISUAL, $EDITOR, else vi), run on one file and waited for."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from beskar.problems import InputError, Problem


def run_editor(path: Path) -> None:
    """Open `path` in the editor; InputError if it cannot start or exits non-zero."""
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        done = subprocess.run([*shlex.split(command), str(path)], check=False)
    except OSError as error:
        raise InputError([Problem(f"cannot start the editor {command!r}: {error.strerror}",
                                  hint="set EDITOR, e.g. EDITOR=nano")]) from None
    if done.returncode != 0:
        raise InputError([Problem(f"the editor {command!r} exited with {done.returncode}; nothing was changed")])
