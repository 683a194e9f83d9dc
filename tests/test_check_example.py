"""The example fleet checks clean; mutating one value per rule makes exactly that rule fire, at the right line.

The example is the fleet `beskar demo` writes: its sites' secrets are synced and encrypted to the published DEMO
keys, which `model/secrets-demo-recipient` warns about by design. "Clean" is therefore: those warnings and
nothing else; a mutation is judged by the findings it adds to that baseline.

Every mutation is data: tests/example_mutations/<scope>/<rule-name>[--<variant>].yaml. Keys:

  command:  check (edit the fleet's files, render, `beskar check`) or lint (render, edit the rendered tree,
            `beskar lint`)
  stage:    check only: `rendered` edits after rendering (to make the committed tree stale)
  sync:     check only: true runs `beskar secrets sync` on every site after the edits, as a user does before
            committing (files opened with the DEMO operator key); default false: edits made without syncing
  edits:    a list of {file, and one of: replace: {old, new} (old occurs exactly once; with all: true,
            every occurrence), append: TEXT, write: TEXT (the whole file), rename: NEW-PATH}
  expect:   {file, and line: N or marker: a text on exactly one line of the file after the edits (or,
            with occurrence: N, on the Nth of the lines having it)}: a finding of the rule must be there
"""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

from beskar.operations import compilation, demo, review
from beskar.check.findings import RULES, Scope
from secrets_helpers import DEMO_FINDINGS, sync_every_site

MUTATIONS_DIR = Path(__file__).parent / "example_mutations"
MUTATIONS = sorted(p.relative_to(MUTATIONS_DIR).with_suffix("").as_posix() for p in MUTATIONS_DIR.glob("*/*.yaml"))


def added(findings: list, baseline: list) -> list:
    """The findings that are not in the baseline (compared without lines, which edits above them may move)."""
    left = Counter((f.rule, f.file, f.message) for f in baseline)
    new = []
    for finding in findings:
        key = (finding.rule, finding.file, finding.message)
        if left[key]:
            left[key] -= 1
        else:
            new.append(finding)
    return new


@pytest.fixture(scope="module")
def rendered_example(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("example") / "fleet"
    demo.write_demo(root)
    return root


@pytest.fixture(scope="module")
def baseline(rendered_example) -> list:
    return review.check(rendered_example).findings


def test_the_example_fleet_checks_clean(rendered_example, baseline):
    checked = review.check(rendered_example)
    assert sorted((f.rule, f.severity.value, f.file, f.site) for f in checked.findings) == DEMO_FINDINGS, \
        [str(f) for f in checked.findings]
    assert checked.findings == baseline
    assert checked.sites == ("prod-brno", "prod-ostrava") and checked.stale == 0 and checked.objects > 60
    linted = review.lint(rendered_example)
    assert linted.findings == [], [str(f) for f in linted.findings]
    assert linted.clusters == ("prod-brno", "prod-ostrava") and linted.objects == checked.objects


def apply_edit(root: Path, edit: dict) -> None:
    path = root / edit["file"]
    kinds = set(edit) - {"file"}
    assert len(kinds) == 1, f"one of replace/append/write/rename per edit: {edit}"
    kind = kinds.pop()
    if kind == "write":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edit["write"], encoding="utf-8")
    elif kind == "rename":
        path.rename(root / edit["rename"])
    else:
        text = path.read_text(encoding="utf-8")
        if kind == "replace":
            old, new = edit["replace"]["old"], edit["replace"]["new"]
            wanted = "at least once" if edit["replace"].get("all") else "once"
            assert text.count(old) == 1 or (edit["replace"].get("all") and text.count(old) > 1), \
                f"{edit['file']}: {old!r} occurs {text.count(old)} times, must occur {wanted}"
            text = text.replace(old, new)
        else:
            assert kind == "append", kind
            text += edit["append"]
        path.write_text(text, encoding="utf-8")


def expected_line(root: Path, expect: dict) -> int:
    if "line" in expect:
        return expect["line"]
    lines = (root / expect["file"]).read_text(encoding="utf-8").splitlines()
    hits = [number for number, line in enumerate(lines, start=1) if expect["marker"] in line]
    if "occurrence" in expect:
        return hits[expect["occurrence"] - 1]
    assert len(hits) == 1, f"marker {expect['marker']!r} is on lines {hits} of {expect['file']}"
    return hits[0]


@pytest.mark.parametrize("name", MUTATIONS)
def test_one_mutation_fires_exactly_its_rule(name, rendered_example, baseline, tmp_path):
    mutation = yaml.safe_load((MUTATIONS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    rule = name.split("--")[0]
    root = tmp_path / "fleet"
    shutil.copytree(rendered_example, root)
    edits_first = mutation["command"] == "check" and mutation.get("stage") != "rendered"
    for edit in mutation["edits"]:
        apply_edit(root, edit)
    if mutation.get("sync"):
        assert edits_first, f"{name}: sync: applies to edits of the fleet (command: check, not stage: rendered)"
        sync_every_site(root, [root / "demo-keys" / "DEMO-operator.agekey"])
    if edits_first:
        compilation.render_fleet(root)
    result = review.check(root) if mutation["command"] == "check" else review.lint(root)
    new = added(result.findings, baseline if mutation["command"] == "check" else [])
    fired = {f.rule for f in new}
    described = "\n".join(f"  {f.rule} {f.file}:{f.line} {f.message}" for f in new)
    assert fired == {rule}, f"{name}: expected only {rule} to fire beyond the baseline; got:\n{described}"
    place = (mutation["expect"]["file"], expected_line(root, mutation["expect"]))
    assert place in {(f.file, f.line) for f in new}, f"{name}: nothing new at {place}; got:\n{described}"


def test_every_rule_has_a_mutation_of_the_example():
    # Build rules need the charts: their example-fleet cases are in tests/test_build_rules.py.
    missing = sorted({r for r in RULES if RULES[r].scope is not Scope.BUILD} - {n.split("--")[0] for n in MUTATIONS})
    assert not missing, f"rules without a mutation under tests/example_mutations: {missing}"
