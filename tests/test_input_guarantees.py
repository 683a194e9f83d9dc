"""Hostile input, generated: any damage to any fleet file, through any command, ends in exit 0, 1 or 2; an exit 2
names the place of every problem (as JSON too, on stdout), never shows a traceback and changes no file."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from beskar.cli.app import app
from beskar.operations.demo import write_demo

FILES = ["beskar.yaml", "profiles/production.yaml", "sites/prod-brno/site.yaml", "sites/prod-ostrava/site.yaml",
         "sites/prod-brno/secrets.sops.yaml"]
COMMANDS = [["render"], ["render", "--check"], ["sites"], ["explain", "prod-brno", "region"], ["check"]]
CHEAP = COMMANDS[:4]  # `check` (seconds a run) is drawn once in five
# What an attacker or a bad merge puts into YAML: tags, aliases, anchors, flow openers, control characters,
# documents, directives, merge keys, deep nesting, huge numbers, bool for int.
SNIPPETS = ["!!int brno", "!!float x", "!!timestamp y", "!!binary AAAA", "!!python/object:os.system", "!vault x",
            "&a [*a]", "*nowhere", "&anchor", "<<: *nowhere", "<<: 1", "{", "[", "}", "]", "'", '"', "\t",
            "\x00", "\x07", "\x1b[31m", "\ufeff", ": :", "- -", "? ", "---", "...", "%YAML 1.1", "%TAG ! x",
            "[" * 300 + "]" * 300, "true", "99999999999999999999999", "-1", "0x1F", "1e999", "null", "~",
            "[bold]x[/]", ":100:", "../../etc/passwd", "a: b: c", "key: 1\nkey: 2", "- name: a\n- name: a"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "fleet"
    write_demo(root)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.relative_to(root).as_posix().startswith((".beskar/", ".git/"))}


def damage(text: str, line: int, operation: str, snippet: str) -> str:
    lines = text.split("\n")
    line %= len(lines)
    if operation == "insert":
        lines.insert(line, snippet)
    elif operation == "value":
        head, colon, _ = lines[line].partition(":")
        lines[line] = f"{head}: {snippet}" if colon else snippet
    elif operation == "append":
        lines[line] += snippet
    else:  # truncate
        return "\n".join(lines[:line]) + snippet
    return "\n".join(lines)


# No shrinking: a failing example is printed as drawn (shrinking would rerun commands for minutes).
@settings(max_examples=40, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(file=st.sampled_from(FILES), line=st.integers(0, 400),
       operation=st.sampled_from(["insert", "value", "append", "truncate"]),
       snippet=st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=12)),
       command=st.one_of(st.sampled_from(CHEAP), st.sampled_from(CHEAP), st.sampled_from(CHEAP),
                         st.sampled_from(CHEAP), st.just(["check"])))
def test_damaged_fleet_files_exit_2_with_places_and_change_nothing(pristine, file, line, operation, snippet, command):
    scratch = Path(tempfile.mkdtemp(prefix="beskar-hostile-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK)
                                    else None))
    try:
        root = scratch / "fleet"
        shutil.copytree(pristine, root, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        target = root / file
        target.write_text(damage(target.read_text(encoding="utf-8"), line, operation, snippet), encoding="utf-8")
        before = snapshot(root)
        result = CliRunner().invoke(app, [*command, "-C", str(root), "--format", "json"], catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{command} raised {result.exception!r}") from result.exception
        assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
        if result.exit_code == 2:
            report = json.loads(result.stdout)
            assert report["problems"], report
            for problem in report["problems"]:
                assert problem["file"] and problem["line"] >= 1 and problem["column"] >= 1, problem
                assert (root / problem["file"]).exists() or os.path.lexists(root / problem["file"]), problem
                assert problem["layer"] and problem["message"], problem
            assert snapshot(root) == before, "an input error changed files"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.parametrize("command", COMMANDS)
def test_errors_are_json_on_stdout_with_format_json(demo_fleet, run_beskar, command):
    site = demo_fleet / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace("region: brno", "region: !!int brno"))
    result = run_beskar(*command, "--format", "json", cwd=demo_fleet)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["problems"] == [{"file": "sites/prod-brno/site.yaml", "line": 3, "column": 9,
                                   "layer": "site:prod-brno", "hint": None,
                                   "message": "'brno' is not a valid int (tag tag:yaml.org,2002:int)"}]
    assert "Traceback" not in result.stderr
