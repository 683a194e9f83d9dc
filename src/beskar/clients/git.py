"""The git CLI: make a repository and commit to it; resolve revisions and check them out into temporary worktrees."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


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


class RevisionMissing(GitUnavailable):
    """A revision the repository does not have (or, in a shallow clone, has not fetched)."""

    def __init__(self, revision: str, shallow: bool):
        self.revision = revision
        self.shallow = shallow
        hint = " (this is a shallow clone: `git fetch --unshallow` or a deeper `--depth` brings it)" if shallow else ""
        super().__init__(f"no revision {revision!r} in this repository{hint}")


@dataclass(frozen=True)
class Checkout:
    """Where a fleet lies in its git repository: the repository's top and the fleet's path inside it."""

    top: Path
    prefix: str  # "" when the fleet is the repository's root

    def fleet_in(self, tree: Path) -> Path:
        return tree / self.prefix if self.prefix else tree


def checkout_of(root: Path) -> Checkout:
    """The repository holding the fleet at `root` (a GitUnavailable error when it is not in one)."""
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    prefix = _git(root, "rev-parse", "--show-prefix").strip().rstrip("/")
    return Checkout(top, prefix)


def resolve(root: Path, revision: str) -> str:
    """The commit a revision names, or RevisionMissing."""
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}").strip()
    except GitUnavailable:
        shallow = _git(root, "rev-parse", "--is-shallow-repository").strip() == "true"
        raise RevisionMissing(revision, shallow) from None


def default_branch(root: Path, configured: str | None = None) -> str:
    """The branch merge requests target: origin's HEAD, else the fleet's configured branch, else main or master."""
    try:
        return _git(root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD").strip()
    except GitUnavailable:
        pass
    candidates = [c for c in (configured, "main", "master") if c]
    for name in candidates:
        for ref in (f"origin/{name}", name):
            try:
                resolve(root, ref)
                return ref
            except RevisionMissing:
                continue
    raise RevisionMissing(candidates[0], _git(root, "rev-parse", "--is-shallow-repository").strip() == "true")


def merge_base(root: Path, one: str, other: str) -> str:
    """The best common ancestor of two revisions (where a merge request's branch left its target)."""
    try:
        return _git(root, "merge-base", one, other).strip()
    except GitUnavailable:
        shallow = _git(root, "rev-parse", "--is-shallow-repository").strip() == "true"
        raise RevisionMissing(f"merge-base of {one} and {other}", shallow) from None


@contextmanager
def worktree(root: Path, commit: str) -> Iterator[Path]:
    """A temporary, detached worktree of `commit`, removed afterwards (the repository is otherwise untouched)."""
    parent = Path(tempfile.mkdtemp(prefix="beskar-diff-"))
    path = parent / commit[:12]
    _git(root, "worktree", "add", "--quiet", "--detach", str(path), commit)
    try:
        yield path
    finally:
        try:
            _git(root, "worktree", "remove", "--force", str(path))
        except GitUnavailable:
            _git(root, "worktree", "prune")
        shutil.rmtree(parent, ignore_errors=True)
