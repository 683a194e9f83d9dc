"""Bad input gives one clear message per problem, placed (file:line:column [layer]), exit 2, and loses nothing.

Every case is data: tests/bad_input/<case>/case.yaml breaks one file of the example fleet and
says what stderr must contain. Adding a case needs no code. Keys:

  file:      path of the file to break, relative to the fleet root
  edit:      one of  replace: {old: TEXT, new: TEXT}   (old must occur exactly once)
                     append: TEXT
                     sub: {pattern: REGEX, new: TEXT}   (the first match only; for files whose text is
                                                        random, such as secrets: pattern must match)
                     write: TEXT                        (the whole file)
                     bytes: HEX                         (the whole file, as bytes)
                     repeat: {text: T, close: C, times: N}  (the whole file: T N times then C N times)
                     directory: true | fifo: true       (the file replaced by an empty directory or a FIFO)
                     symlink: TARGET                    (the file replaced by a link to TARGET, relative or not)
  expect:    substrings stderr must contain, e.g. "sites/prod-brno/site.yaml:40:5:" and "[site:prod-brno]"
  command:   the beskar arguments, run inside the fleet (default: [render])
  commands:  several such argument lists: every one must report the case the same way
  exit:      the expected exit code (default 2)
  problems:  how many problems must be reported (default 1)
  placeless: true when the problem is not in a file (e.g. a bad `explain` path): no file:line required
  known_bug: a known defect that makes this case fail today: the case xfails (the reason lists what
             failed), and fails once the defect is gone so that the key gets removed
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from beskar.operations import compilation
from beskar.tree import Change

CASES_DIR = Path(__file__).parent / "bad_input"
CASES = sorted(p.parent.name for p in CASES_DIR.glob("*/case.yaml"))
KEYS = {"file", "edit", "expect", "command", "commands", "exit", "problems", "placeless", "known_bug"}
HEADER = re.compile(r"^error: (\d+) problem\(s\) in the input; nothing was changed$", re.M)
PLACED = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<column>\d+): .+ "
                    r"\[(?P<layer>global|profile:[a-z0-9-]+|site:[a-z0-9-]+)\]$")
# Words of pydantic's internals that a message for people must not show.
INTERNALS = ("lax-or-strict", "function-", "json-or-python", "errors.pydantic.dev", "ValidationError", "input_value")


def load_case(name: str) -> dict:
    case = yaml.safe_load((CASES_DIR / name / "case.yaml").read_text(encoding="utf-8"))
    assert isinstance(case, dict) and not set(case) - KEYS, f"{name}: unknown keys {set(case) - KEYS}"
    assert case.get("expect"), f"{name}: a case must expect something in stderr"
    assert ("file" in case) == ("edit" in case), f"{name}: `file` and `edit` go together"
    if not case.get("placeless"):
        assert any(re.search(r":\d+:\d+", e) for e in case["expect"]), f"{name}: expect no file:line:column"
    return case


def apply_edit(path: Path, edit: dict) -> None:
    assert isinstance(edit, dict) and len(edit) == 1, f"edit must be one of replace/append/write: {edit!r}"
    (kind, spec), = edit.items()
    if kind in ("bytes", "repeat", "directory", "fifo", "symlink"):
        path.unlink()
        if kind == "bytes":
            path.write_bytes(bytes.fromhex(spec))
        elif kind == "repeat":
            path.write_text(spec["text"] * spec["times"] + spec.get("close", "") * spec["times"], encoding="utf-8")
        elif kind == "directory":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to(spec)
        return
    text = path.read_text(encoding="utf-8")
    if kind == "replace":
        count = text.count(spec["old"])
        assert count == 1, f"replace.old occurs {count} times in {path.name}, must be exactly once: {spec['old']!r}"
        text = text.replace(spec["old"], spec["new"])
    elif kind == "sub":
        assert re.search(spec["pattern"], text), f"sub.pattern matches nothing in {path.name}: {spec['pattern']!r}"
        text = re.sub(spec["pattern"], spec["new"], text, count=1)
    elif kind == "append":
        text += spec
    elif kind == "write":
        text = spec
    else:
        raise AssertionError(f"unknown edit {kind!r}")
    path.write_text(text, encoding="utf-8")


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and not p.relative_to(root).as_posix().startswith(".beskar/")}


def problem_lines(stderr: str) -> list[str]:
    """The problem lines (two-space indent), without the hints below them."""
    return [line[2:] for line in stderr.splitlines() if line.startswith("  ") and not line.startswith("   ")]


@pytest.fixture
def rendered_fleet(demo_fleet: Path) -> Path:
    """The example fleet from `beskar demo` (secrets synced, rendered), up to date: the baseline every case breaks."""
    _, differences = compilation.render_fleet(demo_fleet, check=True)
    assert all(d.change is Change.UNCHANGED for d in differences)
    assert any((demo_fleet / "clusters").rglob("*.yaml")) and any((demo_fleet / "apps").rglob("*.yaml"))
    assert all((demo_fleet / f"sites/{site}/secrets.sops.yaml").is_file() for site in ("prod-brno", "prod-ostrava"))
    return demo_fleet


def test_cases_exist():
    assert len(CASES) >= 15, CASES


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name: str, rendered_fleet: Path, run_beskar):
    case = load_case(name)
    root = rendered_fleet
    if "file" in case:
        assert (root / case["file"]).is_file(), f"{case['file']} is not in the example fleet"
        apply_edit(root / case["file"], case["edit"])
    before = snapshot(root)

    failures = []
    for command in case.get("commands", [case.get("command", ["render"])]):
        result = run_beskar(*command, cwd=root, timeout=30)
        failures += [f"{' '.join(command)}: {failure}" for failure in check(case, result, root)]
        if snapshot(root) != before:
            failures.append(f"{' '.join(command)}: a failed run changed files of the fleet or its rendered tree")

    if case.get("known_bug"):
        if not failures:
            pytest.fail(f"{name} no longer shows its known bug ({case['known_bug']}): delete known_bug from case.yaml")
        pytest.xfail(f"known bug: {case['known_bug']} -- {'; '.join(failures)}")
    assert not failures, "\n".join(failures) + f"\n--- stderr:\n{result.stderr}"


def check(case: dict, result, root: Path) -> list[str]:
    """Everything wrong with how one run reported bad input."""
    stderr, failures = result.stderr, []
    if result.returncode != case.get("exit", 2):
        failures.append(f"exit code {result.returncode}, expected {case.get('exit', 2)}")
    if "Traceback" in stderr + result.stdout:
        failures.append("a traceback")
    failures += [f"{expected!r} not in stderr" for expected in case["expect"] if expected not in stderr]
    lines = problem_lines(stderr)
    if not case.get("placeless"):
        for line in lines:
            match = PLACED.match(line)
            if not match:
                failures.append(f"problem without file:line:column [layer]: {line!r}")
            elif not (root / match["file"]).is_file():
                if not os.path.lexists(root / match["file"]):
                    failures.append(f"problem placed in a file that does not exist: {line!r}")
            elif int(match["line"]) != 1 and not 1 <= int(match["line"]) <= _line_count(root / match["file"]) + 1:
                failures.append(f"problem placed after the end of its file: {line!r}")
    # One clear message per problem.
    header = HEADER.search(stderr)
    reported, expected = (int(header[1]) if header else None), case.get("problems", 1)
    if reported != expected or len(lines) != expected:
        failures.append(f"{reported} problem(s) reported in {len(lines)} lines, expected {expected}")
    if len(set(lines)) != len(lines):
        failures.append("the same problem is reported more than once")
    failures += [f"pydantic internals ({word!r}) in the message" for word in INTERNALS if word in stderr]
    return failures


def _line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") + 1


def test_an_edit_that_changes_nothing_is_refused(tmp_path: Path):
    target = tmp_path / "site.yaml"
    target.write_text("region: brno\nregion2: brno\n")
    with pytest.raises(AssertionError, match="occurs 0 times"):
        apply_edit(target, {"replace": {"old": "regoin", "new": "x"}})
    with pytest.raises(AssertionError, match="occurs 2 times"):
        apply_edit(target, {"replace": {"old": "brno", "new": "x"}})
    apply_edit(target, {"append": "tls: true\n"})
    assert target.read_text() == "region: brno\nregion2: brno\ntls: true\n"
