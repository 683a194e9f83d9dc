"""Every rule fires on a small hand-written repository, at the exact file and line, and nothing else fires.

Every case is data: tests/check_cases/<scope>/<rule-name>[--<variant>]/ holds `expect.yaml` and `repo/`
(the repository). Adding a case needs no code. tests/check_cases/patterns/<pattern>/ holds cases of a
construct found in repositories written by hand (an OCIRepository source, a component, a redefined anchor
...): their findings are just as exact, and most of them say what must NOT fire. Keys of expect.yaml:

  command:   lint (default: `beskar lint repo/`) or check (`beskar check` with repo/ as the fleet)
  base:      a directory of tests/check_cases/_bases/ copied first; repo/ is laid over it
  render:    check only: run `beskar render` after laying repo/ over the base (true, the default), or
             before (base: so that repo/ makes the rendered tree stale), or not at all (false)
  sync:      with a fleet base: `beskar secrets sync` every site, as a user does before committing (existing
             files opened with the base's committed TEST keys, _bases/fleet/TEST-keys/): after laying repo/
             over the base (true, the default; with `render: base` also before rendering the base), or the
             base's sites only, before laying repo/ over it (base: repo/ holds edits made without syncing),
             or never (false)
  args:      options: mirror (lint), disable (list), charts (a directory of the case)
  findings:  exactly the findings expected, each {rule, file, line} (and optionally severity, message:
             a substring); [] for a case where nothing may fire
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from beskar.operations import compilation, review
from beskar.check.findings import RULES, Scope
from beskar.fleet.repository import FLEET_FILE
from secrets_helpers import sync_every_site

CASES_DIR = Path(__file__).parent / "check_cases"
CASES = sorted(p.parent.relative_to(CASES_DIR).as_posix() for p in CASES_DIR.glob("*/*/expect.yaml")
               if not p.parent.parent.name.startswith("_")) + ["clean"]
KEYS = {"command", "base", "render", "sync", "args", "findings"}


def load_case(name: str) -> dict:
    case = yaml.safe_load((CASES_DIR / name / "expect.yaml").read_text(encoding="utf-8"))
    assert isinstance(case, dict) and not set(case) - KEYS, f"{name}: unknown keys {set(case) - KEYS}"
    assert isinstance(case.get("findings"), list), f"{name}: findings: must be a list ([] for none)"
    return case


def sync_with_test_keys(root: Path) -> None:
    sync_every_site(root, sorted((root / "TEST-keys").glob("*.agekey")))


def materialize(name: str, case: dict, destination: Path) -> Path:
    root = destination / "repo"
    sync = case.get("sync", True)
    assert sync in (True, "base", False), f"{name}: sync: must be true, base or false"
    fleet = False
    if case.get("base"):
        shutil.copytree(CASES_DIR / "_bases" / case["base"], root)
        fleet = (root / FLEET_FILE).is_file()
        if fleet and (sync == "base" or sync is True and case.get("render") == "base"):
            sync_with_test_keys(root)
        if case.get("render") == "base":
            compilation.render_fleet(root)
    if (CASES_DIR / name / "repo").is_dir():
        shutil.copytree(CASES_DIR / name / "repo", root, dirs_exist_ok=True)
    if fleet and sync is True:
        sync_with_test_keys(root)
    root.mkdir(exist_ok=True)
    return root


def run_case(name: str, case: dict, root: Path) -> review.Review:
    args = dict(case.get("args") or {})
    if "charts" in args:
        args["charts"] = CASES_DIR / name / args["charts"]
    if case.get("command", "lint") == "check":
        if case.get("render", True) is True:
            compilation.render_fleet(root)
        return review.check(root, **args)
    return review.lint(root, **args)


@pytest.mark.parametrize("name", CASES)
def test_case(name, tmp_path):
    case = load_case(name)
    root = materialize(name, case, tmp_path)
    result = run_case(name, case, root)
    for finding in result.findings:
        assert finding.file and finding.line, f"{name}: a finding without file and line: {finding}"
        assert not Path(finding.file).is_absolute() and (root / finding.file).exists() or finding.rule == "tree/stale"
    found = {(f.rule, f.file, f.line) for f in result.findings}
    expected = {(e["rule"], e["file"], e["line"]) for e in case["findings"]}
    described = "\n".join(f"  {f.rule} {f.file}:{f.line} {f.message}" for f in result.findings)
    assert found == expected, f"{name}: findings differ; got:\n{described}"
    for entry in case["findings"]:
        match = next(f for f in result.findings if (f.rule, f.file, f.line) == (entry["rule"], entry["file"],
                                                                                  entry["line"]))
        if "severity" in entry:
            assert match.severity.value == entry["severity"], name
        if "message" in entry:
            assert entry["message"] in match.message, f"{name}: {match.message!r}"


def test_every_rule_has_a_case_that_fires_it():
    fired = {name.split("--")[0] for name in CASES if name != "clean" and not name.startswith("patterns/")}
    # The build rules run over built objects, not over a tree: their cases are tests/build_cases.
    missing = sorted({r for r in RULES if RULES[r].scope is not Scope.BUILD} - fired)
    assert not missing, f"rules without a case under tests/check_cases: {missing}"
    for name in CASES:
        if name != "clean" and not name.startswith("patterns/"):
            rules = {e["rule"] for e in load_case(name)["findings"]}
            assert name.split("--")[0] in rules, f"{name}: the case must make its own rule fire"
