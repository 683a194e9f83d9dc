"""The tree's guarantees under faults and races: all or nothing, old or new after any kill, one writer at a time,
a pending write finished by any next command, only inside the fleet, fixed file modes."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import tempfile
import time
from pathlib import Path

from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from beskar import tree as trees
from beskar.cli.app import app
from beskar.fleet import load_fleet
from beskar.tree import journal
from beskar.operations import compilation
from beskar.problems import InputError
from lock_holder import lock_held_elsewhere


def cli(*args: str, cwd: Path) -> SimpleNamespace:
    """A command run in this process, as `run_beskar` runs it in a new one (where a new process is not what a test
    is about, this saves the interpreter's start and imports): exit code, stdout, stderr; an exception that
    escaped the command shows as a traceback would."""
    result = CliRunner().invoke(app, [*args, "-C", str(cwd)], catch_exceptions=True)
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout,
                           stderr=result.stderr + (f"Traceback: {result.exception!r}" if escaped else ""))


def snapshot(root: Path, tops=("clusters", "apps", "inventory")) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for top in tops for p in sorted((root / top).rglob("*")) if p.is_file()}


@pytest.fixture
def memory_fleet(demo_fleet: Path):
    """The demo fleet on a RAM-backed filesystem where there is one: fsync costs nothing there, so the tests that
    write hundreds of trees stay fast; what they prove (old or new after a kill, one writer) needs no disk."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield demo_fleet
        return
    directory = Path(tempfile.mkdtemp(prefix="beskar-test-", dir=shm))
    try:
        shutil.copytree(demo_fleet, directory / "fleet", symlinks=True)
        yield directory / "fleet"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def two_trees(memory_fleet: Path):
    """The demo fleet rendered (tree A on disk) and the bytes of a second tree B (a changed region: most files
    differ, one site's files are created and another's deleted), with the prefixes both own."""
    root = memory_fleet
    compiled = compilation.compile_fleet(root)
    a = compiled.emitted()
    prefixes = compiled.owned_prefixes()
    b = {path.replace("prod-ostrava", "prod-olomouc"): content.replace(b"brno", b"brno-2")
         for path, content in a.items()}
    b = dict(sorted(b.items()))
    assert snapshot(root) == a
    return root, a, b, prefixes + [p.replace("prod-ostrava", "prod-olomouc") for p in prefixes]


def _child(action) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            action()
        except BaseException:
            code = 3
        os._exit(code)
    return pid


def test_a_move_that_fails_after_the_commit_point_is_rolled_back(two_trees, monkeypatch):
    root, a, b, prefixes = two_trees
    calls = {"n": 0}
    real_replace = os.replace

    def failing_replace(source, target):
        calls["n"] += 1
        if calls["n"] == 30:  # past the commit point, 28 files of B already moved into place
            raise PermissionError(13, "Permission denied", str(target))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(InputError, match=r"cannot write the tree: .*Permission denied; the previous tree is kept"):
        trees.write(root, b, prefixes)
    monkeypatch.undo()
    assert snapshot(root) == a
    assert not (root / trees.JOURNAL_DIR).exists()
    trees.write(root, b, prefixes)  # once the cause is gone, the next render writes everything
    assert snapshot(root) == b


def test_a_killed_rollback_is_finished_by_the_next_command(two_trees, monkeypatch):
    root, a, b, prefixes = two_trees
    real_replace = os.replace
    calls = {"n": 0}

    def dying_replace(source, target):
        calls["n"] += 1
        if calls["n"] == 20:
            raise PermissionError(13, "Permission denied", str(target))
        if calls["n"] == 25:  # in the middle of the rollback: the process dies
            raise KeyboardInterrupt
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        trees.write(root, b, prefixes)
    monkeypatch.undo()
    assert (root / trees.JOURNAL_DIR / trees.ROLLING_BACK).exists()
    compilation.compile_fleet(root)  # any command: `beskar sites` loads the fleet
    assert snapshot(root) == a
    assert not (root / trees.JOURNAL_DIR).exists()


def test_kills_at_random_points_leave_old_or_new_and_any_next_command_repairs(two_trees, run_beskar):
    """>= 50 SIGKILLs spread over the write; after each, a command of some kind runs first, then the tree is A or B."""
    root, a, b, prefixes = two_trees
    started = time.monotonic()
    trees.write(root, b, prefixes)
    duration = max(time.monotonic() - started, 0.05)
    trees.write(root, a, prefixes)
    fleet = root
    # Every kind of next command, the cheap ones more often: each starts by finishing the pending write, the
    # expensive ones (a full compile) add nothing to that but their seconds.
    repairs = [
        lambda: load_fleet(fleet),                                                 # sites, explain, secrets...
        lambda: trees.compare(fleet, a, prefixes),                                 # check's staleness
        lambda: trees.write(fleet, trees_by_state[state], prefixes),               # render
        lambda: compilation.compile_fleet(fleet),                                  # every compiling command
        lambda: trees.compare(fleet, a, prefixes),
        lambda: trees.write(fleet, trees_by_state[state], prefixes),
        lambda: load_fleet(fleet),
        lambda: compilation.render_fleet(fleet, check=True),                       # render --check
    ]
    trees_by_state = {"a": a, "b": b}
    state, rng, outcomes, killed = "a", random.Random(16), {"old": 0, "new": 0}, 0
    round_ = -1
    while killed < 50 and round_ < 150:  # a child that finished before its kill does not count
        round_ += 1
        target = b if state == "a" else a
        pid = _child(lambda: trees.write(fleet, target, prefixes))
        time.sleep(rng.uniform(0, duration))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            killed += 1
        else:  # the write outran its kill: the first write's time overstated a write's, aim earlier from now on
            duration *= 0.8
        repair = repairs[round_ % len(repairs)]
        if round_ % 20 == 19:  # and as the real CLI, in a new process
            assert run_beskar("render", "--check", cwd=fleet).returncode in (0, 1)
        else:
            repair()
        assert not (fleet / trees.JOURNAL_DIR).exists(), f"round {round_}: the pending write was left"
        now = snapshot(fleet)
        assert now in (a, b), f"round {round_}: a tree that is neither old nor new"
        outcomes["new" if now == target else "old"] += 1
        state = "a" if now == a else "b"
    assert killed >= 50, killed
    assert outcomes["old"] and outcomes["new"], outcomes


def test_two_writers_at_once_take_turns(two_trees):
    root, a, b, prefixes = two_trees
    for round_ in range(20):
        writers = [_child(lambda: trees.write(root, a, prefixes)), _child(lambda: trees.write(root, b, prefixes))]
        reader = _child(lambda: _assert_consistent(trees.compare(root, a, prefixes), len(a), len(b)))
        statuses = [os.waitpid(pid, 0)[1] for pid in writers + [reader]]
        assert all(os.WIFEXITED(s) and os.WEXITSTATUS(s) == 0 for s in statuses), (round_, statuses)
        assert snapshot(root) in (a, b)
        assert not (root / trees.JOURNAL_DIR).exists()


def _assert_consistent(changes, size_a: int, size_b: int) -> None:
    """A reader compares against A: it sees all of A unchanged, or all of B (no file of A unchanged but shared)."""
    unchanged = sum(c.change is trees.Change.UNCHANGED for c in changes)
    deleted = sum(c.change is trees.Change.DELETED for c in changes)
    assert (unchanged, deleted) == (size_a, 0) or deleted > 0 and unchanged < size_a // 4, (unchanged, deleted)


def test_a_writer_waits_then_names_the_other(demo_fleet, monkeypatch):
    with lock_held_elsewhere(demo_fleet) as holder:
        monkeypatch.setenv("BESKAR_LOCK_WAIT", "0.2")
        result = cli("render", cwd=demo_fleet)
    assert result.returncode == 2, result.stderr
    assert f"another beskar is writing this fleet (pid {holder})" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_command_finishes_a_pending_write_first(two_trees):
    root, a, b, prefixes = two_trees
    for command in (["render", "--check"], ["check"], ["sites"], ["explain", "prod-brno", "region"]):
        trees.write(root, a, prefixes)
        _leave_committed_journal(root, a, prefixes)
        assert snapshot(root) != a
        result = cli(*command, cwd=root)
        assert "Traceback" not in result.stderr, result.stderr
        assert not (root / trees.JOURNAL_DIR).exists(), command
        assert snapshot(root) == a, command
        if command[:2] == ["render", "--check"]:
            assert result.returncode == 0, result.stdout  # the finished tree is up to date


def _leave_committed_journal(root: Path, a: dict[str, bytes], prefixes) -> None:
    """What a render killed just after its commit point leaves: a complete journal, half of it moved."""
    changed = {path: content + b"# old\n" for path, content in list(a.items())[:10]}
    for path, content in changed.items():
        (root / path).write_bytes(content)
    real_apply = journal._apply

    def half_apply(root_, journal_directory, plan):
        staged, _ = journal._places(journal_directory, plan)
        for relative, place in list(zip(plan["write"], staged))[:5]:
            os.replace(place, root_ / relative)
        raise SystemExit  # killed

    journal._apply = half_apply
    try:
        with pytest.raises(SystemExit):
            trees.write(root, a, prefixes)
    finally:
        journal._apply = real_apply
    assert (root / trees.JOURNAL_DIR / trees.PLAN_FILE).is_file()


def test_journal_paths_outside_the_fleet_are_refused(two_trees, tmp_path):
    root, a, b, prefixes = two_trees
    journal = root / trees.JOURNAL_DIR
    (journal / "stage").mkdir(parents=True)
    outside = tmp_path / "outside.yaml"
    (journal / "stage" / "x").write_text("owned\n")
    (journal / trees.PLAN_FILE).write_text(json.dumps({"write": ["../outside.yaml"], "delete": [], "created": []}))
    result = cli("render", cwd=root)
    assert result.returncode == 2 and "outside the fleet" in result.stderr, result.stderr
    assert ".beskar/txn/plan.json:1:1" in result.stderr
    assert not outside.exists() and "Traceback" not in result.stderr


@pytest.mark.parametrize("content", ["{not json", '{"write": 3}', "\xff"])
def test_a_corrupt_journal_is_an_input_error(demo_fleet, content):
    journal = demo_fleet / trees.JOURNAL_DIR
    journal.mkdir(parents=True)
    (journal / trees.PLAN_FILE).write_text(content, encoding="latin-1")
    before = snapshot(demo_fleet)
    result = cli("render", "--check", cwd=demo_fleet)
    assert result.returncode == 2 and ".beskar/txn/plan.json:1:1" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and snapshot(demo_fleet) == before


def test_state_directory_that_is_a_file(demo_fleet):
    shutil.rmtree(demo_fleet / ".beskar")
    (demo_fleet / ".beskar").write_text("not a directory\n")
    for command in (["render"], ["render", "--check"], ["check"]):
        result = cli(*command, cwd=demo_fleet)
        assert result.returncode == 2 and ".beskar:1:1" in result.stderr, (command, result.stderr)
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("link", ["clusters/prod-brno", "apps", "inventory/prod-brno/hosts/host_vars"])
def test_a_symlinked_output_directory_is_refused(demo_fleet, tmp_path, link):
    elsewhere = tmp_path / "elsewhere"
    (demo_fleet / link).rename(elsewhere)
    (demo_fleet / link).symlink_to(elsewhere)
    site = demo_fleet / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace("region: brno", "region: brno-2"))
    before = {p: p.read_bytes() for p in sorted(elsewhere.rglob("*")) if p.is_file()}
    for command in (["render"], ["render", "--check"]):
        result = cli(*command, cwd=demo_fleet)
        assert result.returncode == 2, result.stderr
        assert f"{link} is a symbolic link" in result.stderr and "Traceback" not in result.stderr
    assert {p: p.read_bytes() for p in sorted(elsewhere.rglob("*")) if p.is_file()} == before


def test_files_and_directories_have_fixed_modes_whatever_the_umask(example_fleet):
    previous = os.umask(0o077)
    try:
        compilation.render_fleet(example_fleet)
    finally:
        os.umask(previous)
    for top in ("clusters", "apps", "inventory"):
        for path in (example_fleet / top).rglob("*"):
            expected = trees.DIRECTORY_MODE if path.is_dir() else trees.FILE_MODE
            assert path.stat().st_mode & 0o777 == expected, path


# --- the render record: sites skipped only when nothing they are rendered from, nor their tree, changed -----

def _render(root, **options):
    from beskar.operations import rendering
    return rendering.render_tree(root, **options)


def test_a_no_op_render_skips_every_site_and_reports_the_same(memory_fleet):
    first = _render(memory_fleet)  # the demo's tree was written without a record: this render records it
    assert first.skipped == ()
    before = snapshot(memory_fleet)
    again = _render(memory_fleet)
    assert again.skipped == ("prod-brno", "prod-ostrava")
    assert again.sites == first.sites and again.changes == first.changes
    assert all(c.change is trees.Change.UNCHANGED for c in again.changes)
    assert snapshot(memory_fleet) == before
    assert _render(memory_fleet, check=True).skipped == ("prod-brno", "prod-ostrava")


@pytest.mark.parametrize("damage", ["edit", "delete", "add", "unmark"])
def test_a_hand_edited_tree_is_caught_though_the_record_matches_the_inputs(memory_fleet, run_beskar, damage):
    _render(memory_fleet)
    target = memory_fleet / "apps/prod-brno/00-common/00-namespaces.yaml"
    if damage == "edit":
        target.write_bytes(target.read_bytes().replace(b"name:", b"name: x", 1))
    elif damage == "delete":
        target.unlink()
    elif damage == "add":
        (target.parent / "99-extra.yaml").write_bytes(target.read_bytes())
    else:  # without Beskar's mark the file is no longer Beskar's: render must write its own again
        target.write_bytes(target.read_bytes().split(b"\n", 1)[1])
    result = run_beskar("render", "--check", "--format", "json", cwd=memory_fleet)
    assert result.returncode == 1, result.stdout + result.stderr
    expected = {"edit": "stale", "delete": "missing", "add": "extra", "unmark": "stale"}[damage]
    path = "apps/prod-brno/00-common/99-extra.yaml" if damage == "add" else target.relative_to(memory_fleet).as_posix()
    assert json.loads(result.stdout)["changes"] == [{"path": path, "change": expected}]
    repaired = _render(memory_fleet)
    assert repaired.skipped == ("prod-ostrava",)
    assert run_beskar("render", "--check", cwd=memory_fleet).returncode == 0


def test_a_changed_input_or_beskar_renders_the_site_again(memory_fleet, monkeypatch):
    from beskar.operations import inputs
    _render(memory_fleet)
    site = memory_fleet / "sites/prod-ostrava/site.yaml"
    site.write_text(site.read_text().replace("region: ostrava", "region: ostrava-2"))
    changed = _render(memory_fleet)
    assert changed.skipped == ("prod-brno",)
    assert any(c.change is trees.Change.UPDATED and c.path.startswith("clusters/prod-ostrava/") or
               c.change is trees.Change.UPDATED and c.path.startswith("apps/prod-ostrava/") for c in changed.changes)
    assert _render(memory_fleet).skipped == ("prod-brno", "prod-ostrava")
    profile = memory_fleet / "profiles/production.yaml"
    profile.write_text(profile.read_text() + "# a comment changes no value, but the profile's bytes\n")
    assert _render(memory_fleet).skipped == ()
    monkeypatch.setattr(inputs, "_code_digest", lambda: "another beskar")
    assert _render(memory_fleet).skipped == ()


def test_a_journal_nested_by_path_as_earlier_beskars_left_it_is_finished(two_trees):
    root, a, b, prefixes = two_trees
    relative = next(iter(a))
    journal_directory = root / trees.JOURNAL_DIR
    (journal_directory / "stage" / relative).parent.mkdir(parents=True)
    (journal_directory / "stage" / relative).write_bytes(a[relative] + b"# new\n")
    (journal_directory / trees.PLAN_FILE).write_text(json.dumps({"write": [relative], "delete": [], "created": []}))
    assert trees.settle(root)
    assert (root / relative).read_bytes() == a[relative] + b"# new\n"
    assert not journal_directory.exists()


def test_an_input_edited_while_the_render_reads_it_is_not_recorded(memory_fleet, monkeypatch):
    from beskar.operations import rendering
    site = memory_fleet / "sites/prod-ostrava/site.yaml"
    original = site.read_text()
    real_emit = rendering._emit

    def edited_meanwhile(root, only):  # after the digests are taken, before the render reads the site
        site.write_text(original.replace("region: ostrava", "region: ostrava-2"))
        return real_emit(root, only)

    monkeypatch.setattr(rendering, "_emit", edited_meanwhile)
    _render(memory_fleet)
    monkeypatch.undo()
    site.write_text(original)  # edited back: the inputs hash as before the render, the tree does not match them
    again = _render(memory_fleet)
    assert again.skipped == ("prod-brno",)
    assert any(c.change is trees.Change.UPDATED for c in again.changes)
    assert _render(memory_fleet, check=True).skipped == ("prod-brno", "prod-ostrava")


@pytest.mark.parametrize("as_mapping", [True, False])
def test_deletions_are_the_generated_files_not_emitted_and_emitted_files_are_not_opened(tmp_path, as_mapping,
                                                                                       monkeypatch):
    from beskar import tree as trees
    from beskar.tree import paths

    site = tmp_path / "apps" / "prod-brno"
    site.mkdir(parents=True)
    for name, text in {"kept.yaml": f"{trees.GENERATED_MARK} from x\n", "gone.yaml": f"{trees.GENERATED_MARK} from x\n",
                       "mine.yaml": "hand: written\n"}.items():
        (site / name).write_text(text)
    opened: list[str] = []
    original = paths._generated
    monkeypatch.setattr(paths, "_generated", lambda path: opened.append(path.name) or original(path))
    emitted = {"apps/prod-brno/kept.yaml": b"", "apps/prod-brno/new.yaml": b""}
    found = trees.deletions(tmp_path, emitted if as_mapping else list(emitted), ["apps/prod-brno"])
    assert found == [trees.Difference("apps/prod-brno/gone.yaml", trees.Change.DELETED)]
    assert sorted(opened) == ["gone.yaml", "mine.yaml"]
