"""`beskar diff` scenarios as data (tests/diff_scenarios/<case>/): one merge request each on the example fleet as
`beskar demo` commits it, the expected summary and flags, and the golden markdown note; plus revisions and clones."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from beskar.operations import secrets as site_secrets
from beskar.secrets import age
from build_sources import source_arguments

SCENARIOS = Path(__file__).parent / "diff_scenarios"
CASES = sorted(p.name for p in SCENARIOS.iterdir() if (p / "change.yaml").is_file())
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@localhost"}


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, capture_output=True, text=True,
                          check=True)
    return done.stdout


@pytest.fixture(scope="module")
def demo_repository(tmp_path_factory) -> Path:
    """`beskar demo` once: the example fleet written, its secrets synced, rendered and committed."""
    import sys
    root = tmp_path_factory.mktemp("demo") / "fleet"
    subprocess.run([sys.executable, "-m", "beskar", "demo", str(root)], check=True, capture_output=True)
    return root


def apply_change(root: Path, change: dict, monkeypatch) -> None:
    for name, text in change.get("files", {}).items():
        (root / name).write_text(text)
    for edit in change.get("edits", []):
        path = root / edit["file"]
        text = path.read_text()
        assert text.count(edit["old"]) == 1, f"{edit['file']} must hold the edited text exactly once"
        path.write_text(text.replace(edit["old"], edit["new"]))
    if "sync" in change:  # `beskar secrets sync SITE`: the credentials a newly enabled service needs
        key = root / "demo-keys" / "DEMO-operator.agekey"
        site_secrets.sync(root, change["sync"], lambda: age.load_identities([key]))
    if "rotate" in change:
        rotate = change["rotate"]
        monkeypatch.setattr(site_secrets, "today", lambda: rotate["day"])
        key = root / "demo-keys" / "DEMO-operator.agekey"
        done = site_secrets.rotate(root, rotate["site"], rotate["keys"], lambda: age.load_identities([key]))
        assert done.site == rotate["site"]


def _operator_key(root: Path) -> dict[str, str]:
    return {"SOPS_AGE_KEY_FILE": str(root / "demo-keys" / "DEMO-operator.agekey")}


@pytest.fixture
def scenario_repository(demo_repository: Path, tmp_path: Path, monkeypatch, request) -> tuple[Path, dict]:
    case = request.param
    root = tmp_path / "fleet"
    shutil.copytree(demo_repository, root, symlinks=True)
    change = yaml.safe_load((SCENARIOS / case / "change.yaml").read_text())
    if "base" in change:  # the fleet the change is made on, when it is not the demo's as it is
        apply_change(root, change["base"], monkeypatch)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", change["base"]["description"])
    apply_change(root, change, monkeypatch)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", change["description"])
    return root, change


def normalise(text: str) -> str:
    """What differs between two `beskar demo` runs: commit ids, the secrets' generated values (their digests, and the
    checksum annotations of the configuration that holds them when the build can decrypt) and set-on dates."""
    text = re.sub(r"\(([0-9a-f]{8})\)", "(COMMIT)", text)
    text = re.sub(r"\b[0-9a-f]{64}\b", "SHA256", text)
    text = re.sub(r"sha256:[0-9a-f]{10}\b", "sha256:DIGEST", text)  # a secret's salted digest, not a locked one
    return re.sub(r"\b\d{4}-\d{2}-\d{2}\b", "YYYY-MM-DD", text)


def _site(report: dict, name: str) -> dict:
    return next(s for s in report["sites"] if s["site"] == name)


def _object(site: dict, subject: str) -> dict:
    kind, _, rest = subject.partition(" ")
    namespace, _, name = rest.rpartition("/")
    return next(o for o in site["objects"] if (o["kind"], o["namespace"], o["name"]) == (kind, namespace, name))


def _subject(item: dict) -> str:
    return f"{item['kind']} {item['namespace'] + '/' if item['namespace'] else ''}{item['name']}"


def check_site(site: dict, summary: dict, expected: dict) -> None:
    assert site["status"] == expected["status"], site
    if expected["status"] == "unchanged":
        assert not site["objects"] and not site["files"] and not site["model"] and not site["images"]
    if "objects" in expected:
        assert summary["objects"] == expected["objects"]
    if "model" in expected:
        assert len(site["model"]) == len(expected["model"]), site["model"]
        for got, want in zip(site["model"], expected["model"]):
            assert got["path"] == want["path"]
            assert got["change"] == want.get("change", "changed")
            for key in ("old", "new"):
                if key in want:
                    assert got[key] == want[key]
            for side in ("base", "head"):
                if side in want:
                    assert got[side]["file"] == want[side] and got[side]["line"] > 0
            if "layer" in want:
                assert got["head"]["layer"] == want["layer"]
    changed = [_subject(o) for o in site["objects"] if o["change"] == "changed"]
    if "changed_objects" in expected:
        assert changed == expected["changed_objects"]
    for subject in expected.get("changed_objects_include", []):
        assert subject in changed
    removed = [_subject(o) for o in site["objects"] if o["change"] == "removed"]
    if "removed_objects" in expected:
        assert removed == expected["removed_objects"]
    for subject, paths in expected.get("fields", {}).items():
        got = [f["path"] for f in _object(site, subject)["fields"]]
        assert got == paths, got
    for subject, paths in expected.get("secret_fields", {}).items():
        fields = _object(site, subject)["fields"]
        secret = [f for f in fields if f["secret"]]
        assert [f["path"] for f in secret] == paths
        assert all(re.fullmatch(r"sha256:[0-9a-f]{10}", f["old"]) and f["old"] != f["new"] for f in secret)
    risks = {}
    for flag in site["flags"]:
        risks[flag["risk"]] = risks.get(flag["risk"], 0) + 1
    if "flags" in expected:
        assert risks == expected["flags"], site["flags"]
    for risk, least in expected.get("flags_at_least", {}).items():
        assert risks.get(risk, 0) >= least, site["flags"]
    for subject in expected.get("flag_subjects", []):
        assert subject in [f["subject"] for f in site["flags"]]
    for message in expected.get("flag_messages", []):
        assert any(message in f["message"] for f in site["flags"]), site["flags"]
    files = {f["path"]: f for f in site["files"]}
    if "files" in expected:
        assert sorted(files) == sorted(expected["files"])
    for path in expected.get("files_added", []):
        assert files[path]["change"] == "added"
    for path in expected.get("files_removed", []):
        assert files[path]["change"] == "removed"
    for path in expected.get("files_changed_include", []):
        assert files[path]["change"] == "changed"
    for path, paths in expected.get("file_fields", {}).items():
        got = [f["path"] for f in files[path]["fields"]]
        for wanted in paths:
            assert wanted in got, got
    for got, want in zip(site["failures"], expected.get("failures", [])):
        assert got["side"] == want["side"] and want["message"] in got["message"]
        assert got["place"].startswith(want["place"] + ":")
        assert got["release"] == want.get("release", "")
    for change, most in expected.get("objects_at_most", {}).items():
        assert summary["objects"][change] <= most
    if "restarts" in expected:
        assert len(summary["restarts"]) == len(expected["restarts"]), summary["restarts"]
        for got, want in zip(summary["restarts"], expected["restarts"]):
            assert got["subject"].startswith(want["prefix"]) and got["nodes"] == want["nodes"]
    for want in expected.get("text_lines", []):
        texts = [t for o in site["objects"] if _subject(o).startswith(want["object_prefix"])
                 for t in o["texts"] if t["path"] == want["file"]]
        assert texts, [_subject(o) for o in site["objects"]]
        for text in texts:
            assert all(line in text["lines"] for line in want["lines"]), text["lines"]
    if "failures" in expected:
        assert len(site["failures"]) == len(expected["failures"])
    check_images(site, summary, expected)


def _image_matches(got: dict, want: dict) -> bool:
    if got["repository"] != want["repository"] or got["change"] != want.get("change", "changed"):
        return False
    return all(got[side] is not None and all(got[side][k] == v for k, v in want[side].items())
               for side in ("old", "new") if want.get(side))


def check_images(site: dict, summary: dict, expected: dict) -> None:
    """The image changes: counts per change, and images that must (or must not) be reported, with their upstream
    reference, tag, digest and the workloads that pull them."""
    counted = {c: sum(1 for i in site["images"] if i["change"] == c) for c in ("added", "changed", "removed")}
    assert summary["images"] == counted
    if "images" in expected:
        assert counted == expected["images"], site["images"]
    for change, least in expected.get("images_at_least", {}).items():
        assert counted[change] >= least, site["images"]
    for want in expected.get("image_changes", []):
        found = [i for i in site["images"] if _image_matches(i, want)]
        assert len(found) == 1, (want, [(i["repository"], i["change"]) for i in site["images"]])
        image = found[0]
        for side in ("old", "new"):
            if want.get(side) is None and side in want:
                assert image[side] is None
        for workload in want.get("workloads_include", []):
            assert workload in image["workloads"], image["workloads"]
        assert sorted(image["workloads"]) == sorted({u["subject"] for u in image["uses"]})
        kinds = [w.split(" ")[0] for w in image["workloads"]]
        if "Deployment" in kinds:  # the pods that run all the time are named before the Jobs
            assert not {"Job", "CronJob"} & set(kinds[:kinds.index("Deployment")]), kinds
        for use in image["uses"]:
            assert use["source"] == want.get("source", use["source"]) and use["where"]
    for repository in expected.get("images_not", []):  # pulled in both revisions: no image change
        assert repository not in [i["repository"] for i in site["images"]], site["images"]


def _modes() -> list[tuple[str, str]]:
    found = []
    for case in CASES:
        found.append((case, "rendered"))
        if "built" in yaml.safe_load((SCENARIOS / case / "expect.yaml").read_text()):
            found.append((case, "built"))
    return found


@pytest.fixture
def diff_arguments(request):
    """The arguments and environment of `beskar diff` in a mode: the rendered Flux objects (--no-build), or built
    through the real charts (the reference sources, one cache for the session)."""
    def arguments(mode: str, expect: dict) -> tuple[list[str], dict[str, str]]:
        if mode == "rendered":
            return ["--no-build"], {}
        sources = request.getfixturevalue("example_sources")
        cache = request.getfixturevalue("build_cache")
        releases = [part for release in expect.get("releases", []) for part in ("--release", release)]
        return [*source_arguments(sources), *releases], {"BESKAR_CACHE": str(cache)}
    return arguments


@pytest.mark.parametrize("scenario_repository,mode", _modes(), indirect=["scenario_repository"])
def test_scenario(scenario_repository, mode, run_beskar, diff_arguments, request):
    root, change = scenario_repository
    case = request.node.callspec.params["scenario_repository"]
    expect = yaml.safe_load((SCENARIOS / case / "expect.yaml").read_text())
    if mode == "built":
        expect = expect["built"]
    extra, env = diff_arguments(mode, expect)
    if "secret" in change:
        env = {**env, **_operator_key(root)}  # the build decrypts with it: its output must still show no value

    def beskar_diff(*options: str):
        done = run_beskar("diff", "HEAD~1", "HEAD", *extra, *options, cwd=root, env=env, timeout=900)
        assert done.returncode == expect["exit"], done.stdout[-2000:] + done.stderr[-3000:]
        return done

    as_json = beskar_diff("--format", "json")
    report = json.loads(as_json.stdout)
    assert report["schema"] == "beskar.diff/v1"
    assert report["head"]["commit"] == git(root, "rev-parse", "HEAD").strip()
    assert report["different"] is True
    summaries = {s["site"]: s for s in report["summary"]}
    assert sorted(summaries) == sorted(expect["sites"])
    for name, expected in expect["sites"].items():
        site = _site(report, name)
        if expected["status"] == "changed":
            assert site["built"] is (mode == "built")
        check_site(site, summaries[name], expected)

    markdown = beskar_diff("--format", "markdown")
    golden = SCENARIOS / case / ("expected.md" if mode == "rendered" else "expected-built.md")
    if os.environ.get("BESKAR_UPDATE_GOLDEN"):
        golden.write_text(normalise(markdown.stdout))
    assert normalise(markdown.stdout) == golden.read_text()
    for name, expected in expect["sites"].items():
        if expected["status"] != "unchanged":
            assert f"<summary><b>{name}</b>" in markdown.stdout

    if "secret" in change:  # no format may show a decrypted value, before or after the rotation
        rich = beskar_diff()
        values = [_secret_value(root, change["secret"], revision, run_beskar) for revision in ("HEAD~1", "HEAD")]
        assert values[0] != values[1]
        for output in (as_json.stdout, markdown.stdout, rich.stdout, rich.stderr):
            for value in values:
                assert value not in output
        assert change["secret"]["key"] in rich.stdout


def _secret_value(root: Path, secret: dict, revision: str, run_beskar) -> str:
    git(root, "checkout", "-q", revision, "--", f"sites/{secret['site']}/secrets.sops.yaml")
    try:
        shown = run_beskar("secrets", "show", secret["site"], secret["key"], cwd=root, env=_operator_key(root))
        assert shown.returncode == 0, shown.stderr
        value = shown.stdout.strip()
        assert len(value) >= 16
        return value
    finally:
        git(root, "checkout", "-q", "HEAD", "--", f"sites/{secret['site']}/secrets.sops.yaml")


def test_no_change_is_exit_0_and_same_bytes_twice(demo_repository, run_beskar):
    first = run_beskar("diff", "HEAD", "HEAD", "--format", "markdown", cwd=demo_repository)  # nothing to build
    assert first.returncode == 0, first.stderr
    assert "No site changes (2 site(s) compared)." in first.stdout
    working = run_beskar("diff", "--format", "json", cwd=demo_repository)  # working tree vs merge-base with main
    assert working.returncode == 0, working.stderr
    report = json.loads(working.stdout)
    assert report["base"]["revision"] == "merge-base with main" and report["head"]["commit"] == ""
    assert [s["status"] for s in report["sites"]] == ["unchanged", "unchanged"]


@pytest.mark.parametrize("scenario_repository", ["network-mtu"], indirect=True)
def test_output_is_deterministic(scenario_repository, run_beskar):
    root, _ = scenario_repository
    outputs = set()
    for seed in ("0", "1", "12345"):
        for form in ("json", "markdown", "rich"):
            env = {"PYTHONHASHSEED": seed}
            done = run_beskar("diff", "HEAD~1", "HEAD", "--no-build", "--format", form, cwd=root, env=env)
            assert done.returncode == 1, done.stderr
            outputs.add((form, done.stdout))
    assert len(outputs) == 3  # one output per format, whatever the hash seed


@pytest.mark.parametrize("scenario_repository", ["release-image-pin"], indirect=True)
def test_site_release_and_limit_options(scenario_repository, run_beskar):
    root, _ = scenario_repository
    only = run_beskar("diff", "HEAD~1", "HEAD", "--no-build", "--site", "prod-brno", "--format", "json", cwd=root)
    assert only.returncode == 0, only.stderr
    report = json.loads(only.stdout)
    assert [s["site"] for s in report["sites"]] == ["prod-brno"] and report["different"] is False
    nova = json.loads(run_beskar("diff", "HEAD~1", "HEAD", "--no-build", "--release", "nova", "--format", "json",
                                 cwd=root).stdout)
    ostrava = _site(nova, "prod-ostrava")
    assert [_subject(o) for o in ostrava["objects"]] == ["HelmRelease openstack/nova"]
    assert {f["subject"] for f in ostrava["flags"]} == {"HelmRelease openstack/nova"}
    images = {i["repository"]: i for i in ostrava["images"]}
    assert "quay.io/airshipit/nova" in images and "quay.io/airshipit/keystone" not in images
    assert {u["release"] for i in ostrava["images"] for u in i["uses"]} == {"nova"}
    assert images["quay.io/airshipit/openstack-client"]["workloads"] == ["HelmRelease openstack/nova"]
    short = run_beskar("diff", "HEAD~1", "HEAD", "--no-build", "--format", "markdown", "--limit-bytes", "4000",
                       cwd=root)
    assert short.returncode == 1
    assert len(short.stdout.encode()) <= 4000
    assert "**truncated**" in short.stdout and short.stdout.count("```") % 2 == 0
    assert short.stdout.startswith("### beskar diff") and "| prod-ostrava | changed |" in short.stdout


@pytest.mark.parametrize("scenario_repository", ["image-lock-digest"], indirect=True)
def test_terminal_output_counts_and_names_image_changes(scenario_repository, run_beskar):
    root, _ = scenario_repository
    done = run_beskar("diff", "HEAD~1", "HEAD", "--no-build", cwd=root)
    assert done.returncode == 1, done.stderr
    header = next(line for line in done.stdout.splitlines() if "images + ~ -" in line)
    row = next(line for line in done.stdout.splitlines() if "prod-brno" in line and "changed" in line)
    cells = [cell.strip() for cell in re.split(r"[│┃]", row)]
    assert cells[[c.strip() for c in re.split(r"[│┃]", header)].index("images + ~ -")] == "0 1 0"
    assert ("~ quay.io/airshipit/keystone: 2025.1-ubuntu_noble@sha256:4d1e0f9a8b7c -> "
            "2025.1-ubuntu_noble@sha256:9a7b5c3d1e0f, pulled by HelmRelease openstack/keystone") in done.stdout


def test_missing_revision_is_exit_2_naming_it(demo_repository, run_beskar):
    done = run_beskar("diff", "no-such-branch", cwd=demo_repository)
    assert done.returncode == 2
    assert "no-such-branch" in done.stderr and "Traceback" not in done.stderr


def test_not_a_repository_is_exit_2(tmp_path, run_beskar):
    (tmp_path / "beskar.yaml").write_text("fleet: {}\n")
    done = run_beskar("diff", cwd=tmp_path)
    assert done.returncode == 2 and "not in a git repository" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("scenario_repository", ["service-disabled"], indirect=True)
def test_shallow_clone(scenario_repository, tmp_path, run_beskar):
    root, _ = scenario_repository
    deep = tmp_path / "deep"
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "2", root.as_uri(), str(deep))
    git(tmp_path, "clone", "-q", "--depth", "1", root.as_uri(), str(shallow))
    works = run_beskar("diff", "HEAD~1", "HEAD", "--no-build", "--format", "json", cwd=deep)
    assert works.returncode == 1, works.stderr
    assert _site(json.loads(works.stdout), "prod-brno")["status"] == "changed"
    missing = run_beskar("diff", "HEAD~1", "HEAD", cwd=shallow)
    assert missing.returncode == 2
    assert "HEAD~1" in missing.stderr and "shallow" in missing.stderr and "Traceback" not in missing.stderr


def test_worktrees_are_removed(demo_repository, run_beskar):
    run_beskar("diff", "HEAD", "HEAD", cwd=demo_repository)
    listed = git(demo_repository, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 1


@pytest.mark.parametrize("scenario_repository", ["flavor-ratio-one-site"], indirect=True)
def test_charts_that_cannot_be_had_are_one_error_per_source(scenario_repository, tmp_path, run_beskar):
    root, _ = scenario_repository
    missing = tmp_path / "nowhere"
    sources = [part for name in ("openstack-helm", "ingress-nginx", "prometheus-community", "rook-release")
               for part in ("--chart-source", f"{name}={missing}")]
    done = run_beskar("diff", "HEAD~1", "HEAD", *sources, cwd=root, env={"BESKAR_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--no-build" in done.stderr and str(missing) in done.stderr
    problems = [line for line in done.stderr.splitlines() if line.startswith("  apps/")]
    assert 1 <= len(problems) <= 4, done.stderr  # one per source, not one per release and revision
