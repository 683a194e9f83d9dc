"""The git CLI: make a repository and commit to it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class GitUnavailable(RuntimeError):
    pass


def _git(root: Path, *args: str) -> str:
    if shutil.which("git") is None:
        raise GitUnavailable("git is not installed")
    env = {
        **os.environ,
        # A fresh machine may have no identity configured; the demo commit still needs one.
        "GIT_AUTHOR_NAME": os.environ.get("GIT_AUTHOR_NAME", "Beskar demo"),
        "GIT_AUTHOR_EMAIL": os.environ.get("GIT_AUTHOR_EMAIL", "beskar-demo@localhost"),
        "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME", "Beskar demo"),
        "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL", "beskar-demo@localhost"),
    }
    done = subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GitUnavailable(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def init_and_commit(root: Path, message: str) -> None:
    """Make `root` a git repository on branch main with everything in it committed."""
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)
