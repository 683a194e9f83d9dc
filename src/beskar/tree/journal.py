"""The all-or-nothing write: a journal staged and synced, one commit point, then applied or rolled back."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Iterable

from beskar.problems import InputError, Origin, Problem
from beskar.tree.comparison import Change, Difference, compare_unlocked
from beskar.tree.files import failure, make_directories, sync_directory, sync_file, sync_file_content, sync_files
from beskar.tree.lock import locked, state_directory
from beskar.tree.paths import FILE_MODE, JOURNAL_DIR, PLAN_FILE, ROLLING_BACK, STATE_DIR, refuse_links, unsafe


def compare(root: Path, emitted: dict[str, bytes], prefixes: Iterable[str],
            owned: Iterable[str] | None = None) -> list[Difference]:
    """What writing `emitted` would change on disk: created, updated and deleted files, sorted by path.

    Deleted are the files Beskar owns under `prefixes` (or, given `owned`, those files) that `emitted` lacks.

    A pending write is finished (or rolled back) first, and no writer runs meanwhile."""
    settle(root)
    with locked(root, exclusive=False):
        return compare_unlocked(root, emitted, prefixes, owned)


def write(root: Path, emitted: dict[str, bytes], prefixes: Iterable[str],
          owned: Iterable[str] | None = None) -> list[Difference]:
    """Bring the files under `prefixes` to exactly `emitted`, all or nothing, under the fleet's lock.

    New contents are staged and fsynced in a journal, beside hard links to the files they replace or
    delete; only when the journal is complete is it marked committed and moved into place. A run killed
    before the mark leaves the previous tree (the next command discards the stage); one killed after it
    is finished by the next command; a move that fails (a read-only directory, a full disk) is rolled
    back from the links, and the previous tree is what remains.
    """
    with locked(root):
        _recover(root)
        changes = compare_unlocked(root, emitted, prefixes, owned)
        pending = [d for d in changes if d.change is not Change.UNCHANGED]
        if pending:
            plan = {"write": [d.path for d in pending if d.change is not Change.DELETED],
                    "delete": [d.path for d in pending if d.change is Change.DELETED],
                    "created": [d.path for d in pending if d.change is Change.CREATED]}
            journal = root / JOURNAL_DIR
            try:
                _stage(root, journal, emitted, plan)
            except OSError as error:
                _discard(journal)
                raise InputError([Problem(f"cannot stage the new tree: {failure(root, error)}; nothing was changed")]) from None
            _apply_or_roll_back(root, journal, plan)
    return changes


def settle(root: Path) -> bool:
    """Finish (or roll back) a write a previous beskar left pending; True if there was one. Every command runs it."""
    if not (root / JOURNAL_DIR).exists() and not (root / STATE_DIR).is_file():
        return False
    with locked(root):
        return _recover(root)


recover = settle


def _recover(root: Path) -> bool:
    journal = root / JOURNAL_DIR
    state_directory(root)
    if not journal.exists() and not journal.is_symlink():
        return False
    if journal.is_symlink() or not journal.is_dir():
        raise InputError([Problem(f"{JOURNAL_DIR} is not a directory", Origin(JOURNAL_DIR, 1, 1, "journal"),
                                  hint=f"remove {JOURNAL_DIR}, then render again")])
    plan_file = journal / PLAN_FILE
    if not plan_file.is_file():
        _discard(journal)  # never committed: the tree was not touched
        return True
    plan = _read_plan(root, plan_file)
    if (journal / ROLLING_BACK).exists():
        _roll_back(root, journal, plan)
    else:
        _apply_or_roll_back(root, journal, plan)
    return True


def _read_plan(root: Path, plan_file: Path) -> dict[str, list[str]]:
    where = Origin(f"{JOURNAL_DIR}/{PLAN_FILE}", 1, 1, "journal")
    hint = f"remove {JOURNAL_DIR} and run `beskar render`; compare the tree with git"
    try:
        plan = json.loads(plan_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError([Problem(f"the pending write's journal cannot be read: {error}", where, hint)]) from None
    if not (isinstance(plan, dict) and set(plan) == {"write", "delete", "created"}
            and all(isinstance(plan[k], list) for k in plan)):
        raise InputError([Problem("the pending write's journal is not a plan of writes and deletes", where, hint)])
    checked: set[str] = set()
    for path in plan["write"] + plan["delete"] + plan["created"]:
        if unsafe(path):
            raise InputError([Problem(f"the pending write's journal names {path!r}, outside the fleet", where, hint)])
        refuse_links(root, path, checked)
    return plan


def _places(journal: Path, plan: dict[str, list[str]]) -> tuple[list[Path], list[Path]]:
    """Where each written file is staged and each replaced or deleted file kept: flat, named by its index in
    the plan, so the stage is two directories however deep the tree (made and synced once, not once per
    directory of the tree). A journal an earlier Beskar left nests them by path under stage/ and backup/."""
    replaced = plan["write"] + plan["delete"]
    if (journal / "stage").is_dir():
        return [journal / "stage" / r for r in plan["write"]], [journal / "backup" / r for r in replaced]
    return ([journal / "staged" / str(i) for i in range(len(plan["write"]))],
            [journal / "kept" / str(i) for i in range(len(replaced))])


def _stage(root: Path, journal: Path, emitted: dict[str, bytes], plan: dict[str, list[str]]) -> None:
    """New contents into staged/, links to the files they replace or delete into kept/, all synced, then the
    plan: the commit point. Files are made durable together after they are all written, directories once."""
    make_directories(journal / "staged", root)
    make_directories(journal / "kept", root)
    staged, kept = _places(journal, plan)
    for relative, place in zip(plan["write"], staged):
        descriptor = os.open(place, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(descriptor, FILE_MODE)
            view = memoryview(emitted[relative])
            while view:
                view = view[os.write(descriptor, view):]
        finally:
            os.close(descriptor)
    sync_files(staged, journal)  # all written first, then made durable at once
    for relative, place in zip(plan["write"] + plan["delete"], kept):
        target = root / relative
        if target.is_file():
            try:
                os.link(target, place)
            except OSError:  # a filesystem without hard links (or another device): a synced copy
                shutil.copyfile(target, place)
                sync_file(place)
    for directory in (journal / "staged", journal / "kept", journal, journal.parent):
        sync_directory(directory)
    sync_file_content(journal / f"{PLAN_FILE}.tmp", json.dumps(plan, indent=1).encode())
    os.replace(journal / f"{PLAN_FILE}.tmp", journal / PLAN_FILE)  # the commit point
    sync_directory(journal)


def _apply_or_roll_back(root: Path, journal: Path, plan: dict[str, list[str]]) -> None:
    try:
        _apply(root, journal, plan)
    except OSError as error:
        reason = failure(root, error)
        try:
            sync_file_content(journal / ROLLING_BACK, b"")
        except OSError:
            pass  # the journal itself cannot be written: the rollback below still runs now
        _roll_back(root, journal, plan)
        raise InputError([Problem(f"cannot write the tree: {reason}; the previous tree is kept",
                                  hint="fix the cause and run `beskar render` again")]) from None


def _apply(root: Path, journal: Path, plan: dict[str, list[str]]) -> None:
    staged, _ = _places(journal, plan)
    touched: set[Path] = set()
    for relative, place in zip(plan["write"], staged):
        if place.exists():  # absent only if a previous apply already moved it
            target = root / relative
            if target.parent not in touched:
                make_directories(target.parent, root)
                touched.add(target.parent)
            os.replace(place, target)
    for relative in plan["delete"]:
        target = root / relative
        target.unlink(missing_ok=True)
        touched.add(target.parent)
    for directory in touched:
        if directory.is_dir():
            sync_directory(directory)
    for relative in plan["delete"]:
        _prune_empty((root / relative).parent, root)
    _discard(journal)


def _roll_back(root: Path, journal: Path, plan: dict[str, list[str]]) -> None:
    """Undo a committed write, from the links in kept/: what existed is put back, what was created removed."""
    staged, kept = _places(journal, plan)
    staged_at = dict(zip(plan["write"], staged))
    created = set(plan["created"])
    try:
        for relative, place in zip(plan["write"] + plan["delete"], kept):
            target = root / relative
            if relative in created:
                place_staged = staged_at.get(relative)
                if place_staged is None or not place_staged.exists():  # moved into place by the apply
                    target.unlink(missing_ok=True)
                    _prune_empty(target.parent, root)
            elif place.exists():  # else already put back by an earlier, interrupted rollback
                make_directories(target.parent, root)
                os.replace(place, target)
    except OSError as error:
        raise InputError([Problem(f"cannot restore the previous tree: {failure(root, error)}; the pending write "
                                  f"is kept in {JOURNAL_DIR}", hint="fix the cause; the next beskar command "
                                  "finishes restoring it")]) from None
    _discard(journal)


def _discard(journal: Path) -> None:
    # The plan goes first: a journal without one is an uncommitted stage, discarded by the next command.
    try:
        (journal / PLAN_FILE).unlink(missing_ok=True)
    except OSError:
        pass
    shutil.rmtree(journal, ignore_errors=True)


def _prune_empty(directory: Path, root: Path) -> None:
    while directory != root and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent
