"""`beskar lint` starts with only what a lint reads (issue 13: under 2 s on any corpus repository; the figures are
benchmarks/lint.py's): the tree rules and their engines, none of the site model, renderer, build or secrets
engines, and still the same findings whichever schema validator decides."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from beskar.check import findings, schemas
from beskar.check.findings import RULE_MODULES, RULES, Scope
from beskar.operations.lint import lint
from beskar.problems import InputError

CHECK = Path(findings.__file__).parent
CASES = Path(__file__).parent / "check_cases"
# What `beskar check` and `beskar build` need and a lint never reads.
NOT_FOR_LINT = ("beskar.model.site", "beskar.model.openstack", "beskar.model.validation", "beskar.render.site",
                "beskar.operations.build", "beskar.operations.compilation", "beskar.operations.review",
                "beskar.secrets", "beskar.build", "beskar.clients.helm", "beskar.clients.charts",
                "cryptography", "pyrage", "helm_python", "openstack")


def _loaded_by(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ)
    return set(json.loads(done.stdout.splitlines()[-1]))


def _heavy(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in NOT_FOR_LINT))


def test_a_lint_process_loads_none_of_the_model_render_build_or_secrets_engines():
    repository = CASES / "tree" / "schema" / "repo"
    loaded = _loaded_by(f"import sys\nsys.argv = ['beskar', 'lint', {str(repository)!r}]\nfrom beskar.cli import app\n"
                        "try:\n    app()\nexcept SystemExit:\n    pass")
    assert "beskar.check.rules_tree_schema" in loaded  # the lint ran its rules ...
    assert not any(m.startswith("beskar.check.rules_model") or m.startswith("beskar.check.rules_build")
                   for m in loaded)  # ... and only the tree rules
    assert _heavy(loaded) == []


def test_rule_modules_are_listed_by_the_scopes_of_their_rules():
    files = {p.stem for p in CHECK.glob("rules_*.py")}
    listed = set().union(*RULE_MODULES.values())
    assert listed == files  # a new rule module is listed, or it would never run
    scopes_of: dict[str, set[Scope]] = {}
    for rule in RULES.values():  # reading RULES whole imports every rule module
        scopes_of.setdefault(rule.run.__module__.rpartition(".")[2], set()).add(rule.scope)
    for module, scopes in scopes_of.items():
        assert {s for s, modules in RULE_MODULES.items() if module in modules} == scopes, module


def test_reading_the_registry_whole_gives_every_rule_after_a_run_of_one_scope():
    loaded = _loaded_by("from beskar.check.findings import RULES, Scope\n"
                        "tree = RULES.of([Scope.TREE])\n"
                        "assert tree and all(r.scope is Scope.TREE for r in tree)\n"
                        "import sys\nassert 'beskar.model.site' not in sys.modules\n"
                        "assert any(r.startswith('model/') for r in RULES) and 'build/image-unlocked' in RULES")
    assert "beskar.check.rules_model_hosts" in loaded


def test_lint_accepts_disabling_any_rule_and_refuses_an_unknown_one():
    repository = CASES / "tree" / "schema" / "repo"
    model_rule = next(r for r in RULES if r.startswith("model/"))
    assert lint(repository, disable=[model_rule]).findings == lint(repository).findings
    with pytest.raises(InputError) as refused:
        lint(repository, disable=["tree/no-such-rule"])
    assert "no rule matches 'tree/no-such-rule'" in str(refused.value.problems[0].message)


@pytest.mark.parametrize("case", ["tree/schema", "tree/unknown-api", "patterns/patch-files", "clean"])
def test_findings_are_the_same_whichever_validator_decides(case, monkeypatch):
    # The first COMPILE_AFTER objects of a kind are validated by jsonschema, the rest by fastjsonschema's code.
    repository = CASES / case / "repo"
    monkeypatch.setattr(schemas, "_validated", {})
    by_jsonschema = lint(repository).findings
    monkeypatch.setattr(schemas, "COMPILE_AFTER", 0)
    by_compiled_code = lint(repository).findings
    assert by_compiled_code == by_jsonschema
    if case == "tree/schema":
        assert any(f.rule == "tree/schema" for f in by_jsonschema)  # a case where schemas find something
