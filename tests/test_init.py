"""`beskar init`: a new fleet that checks clean, and a CI job and a pre-commit hook that really fail on errors."""
from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from beskar.operations import compilation, demo
from beskar.fleet import scaffold
from beskar.fleet.examples import write_example
from build_sources import BUNDLE, HELM_REPOSITORY, UPSTREAM_SOURCES, need_reference
from secrets_helpers import DEMO_WARNING

CHECK_FILES = [".gitlab-ci.yml", ".pre-commit-config.yaml"]


@pytest.fixture
def shim(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has a `beskar` that runs this checkout's Beskar, as an installed one would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    command = bin_dir / "beskar"
    command.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m beskar \"$@\"\n")
    command.chmod(command.stat().st_mode | stat.S_IEXEC)
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    src = Path(__file__).resolve().parents[1] / "src"
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", NO_COLOR="1", COLUMNS="200",
               PYTHONPATH=os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")])),
               PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))
    return env


NIC = "{name: eno1, mac: b8:ca:3a:16:00:11}"


def broken_fleet(root: Path) -> Path:
    """The example fleet from `beskar demo`, rendered, with brno-ctl-1's management NIC set to MTU 9000 under the
    1500-byte untagged management network."""
    demo.write_demo(root)
    site = root / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace(NIC, NIC[:-1] + ", mtu: 9000}"))
    compilation.render_fleet(root)
    return root


def test_init_writes_a_new_fleet_that_checks_clean(run_beskar, tmp_path):
    root = tmp_path / "fleet"
    done = run_beskar("init", root, "--format", "json")
    assert done.returncode == 0, done.stderr
    written = {entry["path"]: entry["action"] for entry in json.loads(done.stdout)}
    playbook = [f"ansible/{path}" for path in scaffold.playbook_files()]
    assert written == {p: "create" for p in ["beskar.yaml", "profiles/production.yaml", "sites/.gitkeep",
                                              ".gitignore", *playbook, *CHECK_FILES]}
    assert ".beskar/" in (root / ".gitignore").read_text().splitlines()
    assert "# checks:" in (root / "beskar.yaml").read_text()  # the commented example of fleet.checks
    checked = run_beskar("check", cwd=root)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_init_never_overwrites_without_force(run_beskar, tmp_path):
    root = tmp_path / "fleet"
    run_beskar("init", root)
    ci = root / ".gitlab-ci.yml"
    ci.write_text("# ours\n")
    again = run_beskar("init", root, "--format", "json")
    assert {e["path"]: e["action"] for e in json.loads(again.stdout)} == {p: "keep" for p in CHECK_FILES}
    assert ci.read_text() == "# ours\n" and (root / "beskar.yaml").is_file()
    forced = run_beskar("init", root, "--force")
    assert forced.returncode == 0 and "beskar check --build --format gitlab" in ci.read_text()


def test_init_in_an_existing_fleet_adds_only_the_fleet_wide_files(run_beskar, tmp_path):
    root = tmp_path / "fleet"
    write_example(root)
    before = (root / "beskar.yaml").read_bytes()
    done = run_beskar("init", root, "--format", "json")
    assert [e["path"] for e in json.loads(done.stdout)] == CHECK_FILES
    assert (root / "beskar.yaml").read_bytes() == before


def test_init_refuses_a_directory_that_is_not_a_fleet(run_beskar, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    done = run_beskar("init", tmp_path)
    assert done.returncode == 2 and "neither empty nor a fleet" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def gitlab_job(root: Path, name: str = "beskar-check") -> dict:
    config = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    assert sorted(k for k, v in config.items() if isinstance(v, dict) and "script" in v) == ["beskar-check",
                                                                                             "beskar-diff"]
    return config[name]


def run_job(root: Path, job: dict, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The job's script lines as GitLab's shell runs them: stop at the first failing line."""
    script = "set -e\n" + "\n".join(job["script"])
    return subprocess.run(["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=900)


def local_chart_sources(root: Path, env: dict[str, str], cache: Path) -> dict[str, str]:
    """The fleet's chart sources pointed at the reference copies (fleet.build.chart_sources), and the session's
    chart cache: the environment the CI jobs run in."""
    fleet_file = root / "beskar.yaml"
    sources = {"openstack-helm": str(BUNDLE), **{name: str(HELM_REPOSITORY) for name in UPSTREAM_SOURCES}}
    fleet_file.write_text(fleet_file.read_text().replace(
        "fleet:\n", f"fleet:\n  build: {{chart_sources: {json.dumps(sources)}}}\n", 1))
    return {**env, "BESKAR_CACHE": str(cache)}


def test_gitlab_job_fails_on_errors_and_keeps_the_code_quality_report(shim, tmp_path, build_cache):
    need_reference()  # the job runs `beskar check --build`: the charts, from local copies of the sources
    root = broken_fleet(tmp_path / "fleet")
    shim = local_chart_sources(root, shim, build_cache)
    scaffold.init_fleet(root)
    job = gitlab_job(root)
    report = job["artifacts"]["reports"]["codequality"]
    assert job["artifacts"]["when"] == "always" and report in job["artifacts"]["paths"]
    failed = run_job(root, job, shim)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    reported = json.loads((root / report).read_text())
    # The build's warnings (upstream images not mirrored yet, openstack-helm's ingress Services) are minor.
    built = [i for i in reported if i["check_name"].startswith("build/")]
    assert built and {i["severity"] for i in built} == {"minor"}
    issues = [i for i in reported if i["check_name"] != DEMO_WARNING and i not in built]
    assert {i["check_name"] for i in issues} == {"model/mtu-mismatch"}
    assert all(i["location"]["path"] == "sites/prod-brno/site.yaml" for i in issues)
    site = root / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace(NIC[:-1] + ", mtu: 9000}", NIC))
    compilation.render_fleet(root)
    passed = run_job(root, job, shim)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    remaining = [i for i in json.loads((root / report).read_text()) if not i["check_name"].startswith("build/")]
    # the example's warnings about its DEMO keys, by design
    assert {i["check_name"] for i in remaining} == {DEMO_WARNING} and {i["severity"] for i in remaining} == {"minor"}


def test_merge_request_job_keeps_the_diff_note_and_fails_only_when_the_change_breaks_a_site(shim, tmp_path,
                                                                                             build_cache):
    need_reference()  # the job builds both revisions: the charts, from local copies of the sources
    root = tmp_path / "fleet"
    demo.write_demo(root)
    shim = local_chart_sources(root, shim, build_cache)
    scaffold.init_fleet(root)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], cwd=root, check=True)
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    job = gitlab_job(root, "beskar-diff")
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["paths"] == ["beskar-diff.md"]
    env = {**shim, "CI_MERGE_REQUEST_DIFF_BASE_SHA": base}
    site = root / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace("cpu_allocation_ratio: 3.0", "cpu_allocation_ratio: 2.5"))
    subprocess.run([*git, "commit", "-q", "-am", "change"], cwd=root, check=True)
    changed = run_job(root, job, env)
    assert changed.returncode == 0, changed.stdout + changed.stderr  # differences are what a merge request shows
    note = (root / "beskar-diff.md").read_text()
    assert "<summary><b>prod-brno</b>" in note and "openstack.nova.cpu_allocation_ratio" in note
    assert "**Objects** (built)" in note and "+cpu_allocation_ratio = 2.5" in note
    site.write_text(site.read_text().replace("cpu_allocation_ratio: 2.5", "cpu_allocation_ratio: fast"))
    subprocess.run([*git, "commit", "-q", "-am", "broken"], cwd=root, check=True)
    broken = run_job(root, job, env)
    assert broken.returncode == 2 and "head" in (root / "beskar-diff.md").read_text()


def test_pre_commit_hook_refuses_a_commit_with_errors(shim, tmp_path):
    pytest.importorskip("pre_commit", reason="pre-commit is a test dependency (pip install -e '.[test]')")
    root = broken_fleet(tmp_path / "fleet")
    scaffold.init_fleet(root)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    hook = [sys.executable, "-m", "pre_commit", "run", "--all-files"]
    refused = subprocess.run(hook, cwd=root, env=shim, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "model/mtu-mismatch" in refused.stdout, refused.stdout + refused.stderr
    site = root / "sites/prod-brno/site.yaml"
    site.write_text(site.read_text().replace(NIC[:-1] + ", mtu: 9000}", NIC))
    compilation.render_fleet(root)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    accepted = subprocess.run(hook, cwd=root, env=shim, capture_output=True, text=True, timeout=300)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_other_parts_add_files_through_providers(tmp_path):
    @scaffold.scaffold("test-sops")
    def sops(context: scaffold.InitContext) -> dict[str, bytes]:
        return {".sops.yaml": b"creation_rules: []\n"}

    try:
        context = scaffold.InitContext(tmp_path, new_fleet=False)
        plan = scaffold.plan_init(context, existing={".sops.yaml"}, force=False)
        assert {(p.path, p.action, p.provider) for p in plan} >= {(".sops.yaml", scaffold.Action.KEEP, "test-sops")}
        assert "beskar.yaml" not in {p.path for p in plan}

        @scaffold.scaffold("test-clash")
        def clash(context: scaffold.InitContext) -> dict[str, bytes]:
            return {".sops.yaml": b""}

        with pytest.raises(ValueError, match="both write .sops.yaml"):
            scaffold.plan_init(context, set(), False)
    finally:
        scaffold.PROVIDERS[:] = [p for p in scaffold.PROVIDERS if not p.name.startswith("test-")]


def test_pages_job_publishes_the_report(shim, tmp_path):
    root = tmp_path / "fleet"
    demo.write_demo(root)
    scaffold.init_fleet(root)
    assert "pages" not in yaml.safe_load((root / ".gitlab-ci.yml").read_text())  # only when asked for
    scaffold.init_fleet(root, force=True, pages=True)
    config = yaml.safe_load((root / ".gitlab-ci.yml").read_text())
    assert {k for k, v in config.items() if isinstance(v, dict) and "script" in v} == {"beskar-check", "beskar-diff", "pages"}
    job = config["pages"]
    assert job["artifacts"]["paths"] == ["public"] and job["stage"] == "deploy"
    assert job["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    done = run_job(root, job, shim)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "public/index.html").is_file() and (root / "public/sites/prod-brno.html").is_file()
    assert 'data-site="prod-ostrava"' in (root / "public/index.html").read_text()
