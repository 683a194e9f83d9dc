"""The build rules: cases as data (tests/build_cases: built objects in, findings out), and `beskar check --build`
over the example fleet built through the real charts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from beskar.build import BuildFailure, FailureKind, ObjectKey, ReleaseBuild, SiteBuild
from beskar.build.manifests import Placement, built_object
from beskar.check import schemas
from beskar.check.build import BuiltSite
from beskar.check.engine import Subject, run_rules
from beskar.check.findings import RULES, Scope
from build_sources import source_arguments

CASES_DIR = Path(__file__).parent / "build_cases"
CASES = sorted(p.stem for p in CASES_DIR.glob("*.yaml"))


def built_site(case: dict) -> BuiltSite:
    releases = []
    names = sorted(set(case.get("objects") or {}) | set(case.get("failures") or {}))
    for index, name in enumerate(names):
        placement = Placement("site", "03-openstack", name, "ns")
        objects = tuple(built_object(body, placement, f"{name}/templates/t.yaml", schemas.namespaced)
                        for body in (case.get("objects") or {}).get(name, []))
        file, line = f"apps/site/03-openstack/{index:02d}-{name}.yaml", 3
        failure = None
        if name in (case.get("failures") or {}):
            failure = BuildFailure("site", "03-openstack", name, FailureKind.TEMPLATE, file, line, case["failures"][name])
        releases.append(ReleaseBuild("site", "03-openstack", name, "ns", "ns", file, line, None, "", objects, failure))
    build = SiteBuild("site", "v1.32.5", (), tuple(releases))
    nodes = tuple((n, tuple(sorted((k, str(v)) for k, v in labels.items())))
                  for n, labels in (case.get("nodes") or {}).items())
    provided = frozenset(ObjectKey(p["kind"], p.get("namespace", "*"), p["name"]) for p in case.get("provided") or [])
    pods = tuple(tuple(sorted(p.items())) for p in case.get("provided_pods") or [])
    return BuiltSite(build, case.get("mirror"), nodes, tuple(case.get("allowed_images") or ()), provided, pods,
                     locked=bool(case.get("locked")))


@pytest.mark.parametrize("name", CASES)
def test_build_case(name):
    case = yaml.safe_load((CASES_DIR / f"{name}.yaml").read_text())
    built = built_site(case)
    findings = run_rules(Subject(builds=(built,)))
    releases = {r.file: r.release for r in built.build.releases}
    got = sorted((f.rule, releases.get(f.file)) for f in findings)
    assert got == sorted((e["rule"], e["release"]) for e in case["findings"]), [f.message for f in findings]
    for entry in case["findings"]:
        assert any(f.rule == entry["rule"] and entry["message"] in f.message for f in findings), \
            (entry, [f.message for f in findings])
    if name != "clean":
        assert f"build/{name.split('--')[0]}" in {e["rule"] for e in case["findings"]}


def test_every_build_rule_has_a_case():
    build_rules = {r for r in RULES if RULES[r].scope is Scope.BUILD}
    assert build_rules == {f"build/{name.split('--')[0]}" for name in CASES if name != "clean"}


def test_check_build_over_the_example_fleet(built_fleet, example_sources, build_cache, tmp_path):
    root, _ = built_fleet
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_AGE")}
    env.update(BESKAR_CACHE=str(build_cache), NO_COLOR="1", COLUMNS="200")
    done = subprocess.run([sys.executable, "-m", "beskar", "check", "-C", str(root), "--build", "--format", "json",
                           *source_arguments(example_sources)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    findings = json.loads(done.stdout)
    build_findings = [f for f in findings if f["rule"].startswith("build/")]
    by_rule = {}
    for finding in build_findings:
        by_rule.setdefault(finding["rule"], []).append(finding)
    # Every finding points at the HelmRelease that makes the object.
    assert all(f["file"].startswith("apps/") and f["line"] for f in build_findings)
    # What the example fleet's build shows today (fixed ones would fail here, on purpose):
    assert not by_rule.get("build/schema") and not by_rule.get("build/template")
    assert not by_rule.get("build/object-name") and not by_rule.get("build/unschedulable")
    # Every image, of the charts' pods and of what their operators start, comes through the mirror (issue 14).
    assert not by_rule.get("build/image-mirror") and not by_rule.get("build/image-operator-mirror")
    print({rule: len(items) for rule, items in sorted(by_rule.items())})
