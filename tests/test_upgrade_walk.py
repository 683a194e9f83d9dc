"""`beskar upgrade` through the CLI on the demo fleet: its refusals (exit 2, nothing changed), the live gate from a
status file, abort. The full walks are in test_upgrade_stages.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from beskar.cli.app import app
from beskar.operations import upgrade as upgrading
from test_upgrade_plan import catalog_without, helm_release, kustomization, status_list


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def test_next_refuses_while_the_stage_is_not_applied_and_abort_reverts(demo_fleet, run_beskar):
    assert run_beskar("upgrade", "start", "--to", "2025.2", cwd=demo_fleet).returncode == 0
    status = demo_fleet.parent / "status.json"
    status.write_text(json.dumps(status_list(kustomization(), helm_release("mariadb", ready="False"))))
    before = snapshot(demo_fleet)
    refused = run_beskar("upgrade", "next", "--cluster-status", status, cwd=demo_fleet)
    assert refused.returncode == 2, refused.stderr
    assert "stage mariadb is not done: HelmRelease mariadb is not Ready" in refused.stderr
    assert "Traceback" not in refused.stderr and snapshot(demo_fleet) == before
    shown = run_beskar("upgrade", "status", "--cluster-status", status, "-o", "json", cwd=demo_fleet)
    assert json.loads(shown.stdout)["waiting"]["prod-brno"]
    status.write_text(json.dumps(status_list(kustomization(), helm_release("mariadb"))))
    moved = run_beskar("upgrade", "next", "--cluster-status", status, cwd=demo_fleet)
    assert moved.returncode == 0 and "rabbitmq-4.0" in moved.stdout
    assert "done: [mariadb, rabbitmq-4.0]" in (demo_fleet / "sites/prod-brno/site.yaml").read_text()
    reverted = run_beskar("upgrade", "abort", "--site", "prod-brno", cwd=demo_fleet)
    assert reverted.returncode == 0 and "revert rabbitmq-4.0" in reverted.stdout
    assert "done: [mariadb]}" in (demo_fleet / "sites/prod-brno/site.yaml").read_text()
    assert run_beskar("render", "--check", cwd=demo_fleet).returncode == 0


def test_a_later_wave_may_not_start_before_the_earlier_one_finished(demo_fleet, run_beskar):
    assert run_beskar("upgrade", "start", "--to", "2025.2", cwd=demo_fleet).returncode == 0
    before = snapshot(demo_fleet)
    refused = run_beskar("upgrade", "next", "--site", "prod-ostrava", cwd=demo_fleet)
    assert refused.returncode == 2
    assert "wave 2 waits for wave(s) before it: prod-brno not at 2025.2 yet" in refused.stderr
    assert snapshot(demo_fleet) == before


def test_start_refuses_an_edge_not_in_the_graph_and_plan_changes_nothing(demo_fleet, run_beskar):
    before = snapshot(demo_fleet)
    refused = run_beskar("upgrade", "start", "--to", "2024.2", cwd=demo_fleet)
    assert refused.returncode == 2 and "no upgrade path from 2025.1 to 2024.2" in refused.stderr
    planned = run_beskar("upgrade", "plan", "--to", "2026.1", "--format", "json", cwd=demo_fleet)
    assert planned.returncode == 0, planned.stderr
    document = json.loads(planned.stdout)
    assert document["waves"] == [["prod-brno"], ["prod-ostrava"]] and document["refusals"] == []
    brno = document["sites"][0]
    assert brno["from"] == "2025.1" and brno["stages"][0]["stage"] == "mariadb"
    assert brno["stages"][0]["images"]["mariadb"]
    assert snapshot(demo_fleet) == before


def test_a_fleet_on_a_distro_the_target_lacks_plans_a_distro_step(demo_fleet, run_beskar):
    fleet_file = demo_fleet / "beskar.yaml"
    fleet_file.write_text(fleet_file.read_text().replace("distro: ubuntu_noble", "distro: ubuntu_jammy"))
    assert run_beskar("render", cwd=demo_fleet).returncode == 0
    planned = run_beskar("upgrade", "plan", "--to", "2025.2", cwd=demo_fleet)
    assert planned.returncode == 0, planned.stdout + planned.stderr  # jammy -> noble is a distro step, not a refusal
    assert "distro step: ubuntu_jammy -> ubuntu_noble first" in planned.stdout
    # Each stage carries its box, not eaten as console markup.
    assert re.search(r"^  \[ \]  1\. \S+: ", planned.stdout, re.MULTILINE), planned.stdout


def test_start_refuses_a_target_without_pins_for_an_enabled_service(demo_fleet, monkeypatch):
    knowledge = catalog_without("2025.2", "ubuntu_noble", "designate")
    monkeypatch.setattr(upgrading, "catalog", lambda: knowledge)
    before = snapshot(demo_fleet)
    refused = CliRunner().invoke(app, ["upgrade", "start", "--to", "2025.2", "-C", str(demo_fleet)])
    assert refused.exit_code == 2, refused.output
    assert "prod-brno: the catalog has no 2025.2-ubuntu_noble pins for designate" in refused.output
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
    assert snapshot(demo_fleet) == before


def test_start_refuses_an_edge_not_in_the_graph_with_the_path_that_works(demo_fleet, run_beskar):
    fleet_file = demo_fleet / "beskar.yaml"
    fleet_file.write_text(fleet_file.read_text().replace('release: "2025.1"', 'release: "2024.2"')
                          .replace("distro: ubuntu_noble", "distro: ubuntu_jammy"))
    assert run_beskar("render", cwd=demo_fleet).returncode == 0
    before = snapshot(demo_fleet)
    refused = run_beskar("upgrade", "start", "--to", "2026.1", cwd=demo_fleet)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert ("prod-brno: 2024.2 -> 2026.1 is not one upgrade; go through 2024.2 -> 2025.1 -> 2026.1, one `--to` at "
            "a time") in " ".join(refused.stderr.split())
    assert snapshot(demo_fleet) == before


def test_mid_upgrade_the_target_releases_images_are_not_a_mix(demo_fleet, run_beskar):
    """After `upgrade start` the first stage runs the target's images beside the source's: that is the plan, not an
    image left behind, so tree/image-release-mix says nothing."""
    upgrading.start(demo_fleet, "2025.2")
    checked = run_beskar("check", "--format", "json", cwd=demo_fleet, timeout=300)
    rules = {finding["rule"] for finding in json.loads(checked.stdout)}
    assert "tree/image-release-mix" not in rules, checked.stdout
