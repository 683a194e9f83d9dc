"""`beskar check`, `lint` and `rules` as a user runs them: formats, exit codes, suppression and configuration."""
from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from beskar.check.findings import RULES
from secrets_helpers import DEMO_FINDINGS, DEMO_WARNING

CASES = Path(__file__).parent / "check_cases"
FINDING_KEYS = {"rule", "severity", "file", "line", "message", "hint"}


@pytest.fixture
def rendered(demo_fleet: Path) -> Path:
    return demo_fleet


def placed(findings: list[dict]) -> list[tuple]:
    """(rule, severity, file, site) of JSON findings, sorted."""
    return sorted((f["rule"], f["severity"], f["file"], f["site"]) for f in findings)


def broken(root: Path) -> Path:
    """The rendered example with one error (a dependsOn on a release that does not exist) and one warning."""
    horizon = root / "apps/prod-brno/03-openstack/18-horizon.yaml"
    horizon.write_text(horizon.read_text().replace("  - name: keystone\n", "  - name: keystone-api\n"))
    kustomization = root / "apps/prod-brno/03-openstack/kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("- 20-designate.yaml\n", ""))
    return root


def test_check_of_the_example_is_clean_and_exits_0(rendered, run_beskar):
    # Clean: no finding but the warnings about the DEMO keys, which are there by design.
    done = run_beskar("check", cwd=rendered)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 errors, 3 warnings, 0 info" in done.stdout and "rendered tree up to date" in done.stdout
    listed = run_beskar("check", "--format", "json", cwd=rendered)
    assert listed.returncode == 0 and placed(json.loads(listed.stdout)) == DEMO_FINDINGS


def test_json_lists_findings_with_relative_files_and_exit_1(rendered, run_beskar):
    done = run_beskar("lint", broken(rendered), "--format", "json")
    assert done.returncode == 1, done.stderr
    findings = json.loads(done.stdout)
    assert {(f["rule"], f["file"], f["severity"]) for f in findings} == {
        ("tree/missing-dependency", "apps/prod-brno/03-openstack/18-horizon.yaml", "error"),
        ("tree/orphan-file", "apps/prod-brno/03-openstack/20-designate.yaml", "warning")}
    assert all(FINDING_KEYS <= set(f) and isinstance(f["line"], int) for f in findings)
    dependency = next(f for f in findings if f["rule"] == "tree/missing-dependency")
    lines = (rendered / dependency["file"]).read_text().splitlines()
    assert lines[dependency["line"] - 1] == "  - name: keystone-api"


def test_table_groups_findings_by_file(rendered, run_beskar):
    done = run_beskar("lint", broken(rendered))
    assert done.returncode == 1
    out = done.stdout
    assert out.index("apps/prod-brno/03-openstack/18-horizon.yaml") < out.index("tree/missing-dependency")
    assert out.index("apps/prod-brno/03-openstack/20-designate.yaml") < out.index("tree/orphan-file")
    assert "hint:" in out and "1 error, 1 warning, 0 info" in out


def test_junit_fails_on_errors_and_lists_every_rule_that_ran(rendered, run_beskar):
    done = run_beskar("lint", broken(rendered), "--format", "junit")
    assert done.returncode == 1
    suites = ElementTree.fromstring(done.stdout)
    cases = suites.findall("./testsuite/testcase")
    failed = [c for c in cases if c.find("failure") is not None]
    assert suites.get("failures") == "1" and len(failed) == 1
    assert failed[0].find("failure").get("type") == "tree/missing-dependency"
    names = {c.get("name").split(" ")[0] for c in cases}
    assert names == {r for r in RULES if r.startswith("tree/")}  # lint runs the tree rules only


def test_gitlab_code_quality_report_written_to_output(rendered, run_beskar, tmp_path):
    report = tmp_path / "ci" / "gl-code-quality-report.json"
    done = run_beskar("lint", broken(rendered), "--format", "gitlab", "--output", report)
    assert done.returncode == 1
    assert "tree/missing-dependency" in done.stdout  # the table still goes to the job log
    issues = json.loads(report.read_text())
    assert len(issues) == 2 and len({i["fingerprint"] for i in issues}) == 2
    for issue in issues:
        assert {"description", "check_name", "fingerprint", "severity", "location"} <= set(issue)
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert issue["location"]["path"].startswith("apps/") and issue["location"]["lines"]["begin"] >= 1
    again = run_beskar("lint", rendered, "--format", "gitlab")
    assert json.loads(again.stdout) == issues  # deterministic: same input, same report


def test_suppression_by_comment_and_configuration(rendered, run_beskar):
    root = broken(rendered)
    horizon = root / "apps/prod-brno/03-openstack/18-horizon.yaml"
    horizon.write_text(horizon.read_text().replace("  - name: keystone-api\n",
                                                   "  - name: keystone-api  # beskar: disable=tree/missing-dependency\n"))
    fleet = root / "beskar.yaml"
    fleet.write_text(fleet.read_text().replace("fleet:\n", "fleet:\n  checks:\n    disable: [tree/orphan-*]\n", 1))
    done = run_beskar("lint", root, "--format", "json")
    assert done.returncode == 0 and json.loads(done.stdout) == [], done.stdout


def test_file_wide_comment_and_severity_override(rendered, run_beskar):
    root = broken(rendered)
    horizon = root / "apps/prod-brno/03-openstack/18-horizon.yaml"
    horizon.write_text("# beskar: disable=tree/missing-dependency\n" + horizon.read_text())
    fleet = root / "beskar.yaml"
    fleet.write_text(fleet.read_text().replace(
        "fleet:\n", "fleet:\n  checks:\n    severity: {tree/orphan-file: error}\n", 1))
    done = run_beskar("lint", root, "--format", "json")
    assert done.returncode == 1
    assert [(f["rule"], f["severity"]) for f in json.loads(done.stdout)] == [("tree/orphan-file", "error")]


def test_unknown_rule_in_configuration_is_unusable_input(rendered, run_beskar):
    fleet = rendered / "beskar.yaml"
    fleet.write_text(fleet.read_text().replace("fleet:\n", "fleet:\n  checks:\n    disable: [tree/orphan-fle]\n", 1))
    done = run_beskar("check", cwd=rendered)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "beskar.yaml:4:" in done.stderr and "did you mean 'tree/orphan-file'?" in done.stderr


def test_disable_option_and_unreadable_path(rendered, run_beskar, tmp_path):
    done = run_beskar("lint", broken(rendered), "-d", "tree/missing-dependency", "-d", "tree/orphan-file")
    assert done.returncode == 0, done.stdout
    missing = run_beskar("lint", tmp_path / "nowhere")
    assert missing.returncode == 2 and "not a directory" in missing.stderr and "Traceback" not in missing.stderr
    charts = run_beskar("lint", rendered, "--charts", tmp_path / "no-charts")
    assert charts.returncode == 2 and "--charts" in charts.stderr


def test_check_reports_a_stale_tree(rendered, run_beskar):
    horizon = rendered / "apps/prod-brno/03-openstack/18-horizon.yaml"
    horizon.write_text(horizon.read_text().replace("timeout: 30m", "timeout: 60m", 1))
    done = run_beskar("check", "--format", "json", cwd=rendered)
    assert done.returncode == 1
    assert placed(json.loads(done.stdout)) == sorted(
        DEMO_FINDINGS + [("tree/stale", "error", "apps/prod-brno/03-openstack/18-horizon.yaml", None)])


def test_check_of_one_site(rendered, run_beskar):
    ostrava = rendered / "apps/prod-ostrava/03-openstack/18-horizon.yaml"
    ostrava.write_text(ostrava.read_text().replace("timeout: 30m", "timeout: 60m", 1))
    done = run_beskar("check", "--site", "prod-brno", "--format", "json", cwd=rendered)
    assert done.returncode == 0  # ostrava's stale file is not prod-brno's: only prod-brno's DEMO warnings
    assert placed(json.loads(done.stdout)) == [(DEMO_WARNING, "warning", "beskar.yaml", "prod-brno"),
                                               (DEMO_WARNING, "warning", "sites/prod-brno/site.yaml", "prod-brno")]


def test_rules_lists_every_rule(run_beskar):
    done = run_beskar("rules", "--format", "json")
    listed = json.loads(done.stdout)
    assert [r["rule"] for r in listed] == sorted(RULES)
    assert all(r["summary"] and r["severity"] in ("error", "warning", "info") for r in listed)
    table = run_beskar("rules")
    assert all(rule_id in table.stdout for rule_id in RULES)


def test_lint_of_a_hand_written_repository_follows_overlays(run_beskar, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(CASES / "clean" / "repo", root)
    patch = root / "apps/prod/keystone-replicas.yaml"
    patch.write_text(patch.read_text().replace("  name: keystone\n", "  name: keystone-api\n"))
    done = run_beskar("lint", root, "--format", "json")
    assert done.returncode == 1
    (finding,) = json.loads(done.stdout)
    assert (finding["rule"], finding["file"], finding["line"]) == (
        "tree/missing-patch-target", "apps/prod/kustomization.yaml", 6)
