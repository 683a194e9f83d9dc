"""Start-up: importing the command line loads none of the heavy modules only some commands need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("openstack", "cryptography", "pyrage", "jsonschema", "fastjsonschema", "helm_python", "pydantic",
         "beskar.check", "beskar.model", "beskar.render", "beskar.operations", "beskar.clients.helm",
         "rich.table")


def _modules(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env=os.environ)
    return set(json.loads(done.stdout.splitlines()[-1]))


def _heavy(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_importing_the_cli_loads_no_heavy_module():
    loaded = _modules("import beskar.cli")
    assert "beskar.cli.app" in loaded  # the check below is about the real command line
    assert _heavy(loaded) == []


def test_help_builds_every_command_without_heavy_modules():
    # --help makes typer build every command's parameters: their types must not need the engines either.
    loaded = _modules("import sys\nsys.argv = ['beskar', '--help']\nfrom beskar.cli import app\n"
                      "try:\n    app()\nexcept SystemExit:\n    pass")
    assert "typer.main" in loaded and "beskar.cli.entities" in loaded
    assert _heavy(loaded) == []


def test_a_command_still_loads_what_it_needs():
    # The check above could pass because a command's imports vanished: `rules` must load the check engine.
    loaded = _modules("import sys\nsys.argv = ['beskar', 'rules', '--format', 'json']\nfrom beskar.cli import app\n"
                      "try:\n    app()\nexcept SystemExit:\n    pass")
    assert "beskar.check.findings" in loaded


def test_the_encrypt_help_names_the_rule_secrets_use():
    # The help spells the Kubernetes rule out (so that --help needs no SOPS module): it must stay that rule.
    from beskar.cli import sopsfiles
    from beskar.secrets.sops import KUBERNETES_RULE_REGEX

    assert f"'{KUBERNETES_RULE_REGEX}'" in Path(sopsfiles.__file__).read_text()


def test_sites_reads_the_fleet_without_typing_or_rendering_it():
    # `beskar sites` prints layered values: the model, the renderer, the engines and pydantic stay unloaded
    # (typer would load pydantic to convert any parameter, --help's too: cli/coercion.py converts them).
    fleet = Path(__file__).resolve().parent.parent / "src" / "beskar" / "examples" / "fleet"
    loaded = _modules(f"import sys\nsys.argv = ['beskar', 'sites', '-C', {str(fleet)!r}]\nfrom beskar.cli import app\n"
                      "try:\n    app()\nexcept SystemExit:\n    pass")
    assert "beskar.operations.listing" in loaded and "beskar.fleet.repository" in loaded
    printing = {"rich.table", "beskar.operations", "beskar.operations.listing"}  # what the command does
    assert _heavy(loaded - printing) == []
    assert not {"pydantic", "pydantic_core", "typer._adapters"} & loaded


def test_a_bad_value_is_refused_without_pydantic():
    # The error path converts too: it names the option and its choices, and still needs no pydantic.
    script = ("import sys\nsys.argv = ['beskar', 'sites', '-o', 'xml']\nfrom beskar.cli import app\ntry:\n    app()\n"
              "except SystemExit as e:\n    print(e.code, 'pydantic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=os.environ, check=False)
    assert done.stdout.split() == ["2", "False"]
    assert "'xml' is not one of 'table', 'json'" in done.stderr
