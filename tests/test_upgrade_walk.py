"""`beskar upgrade` walked over the demo fleet stage by stage, and its refusals through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from beskar import tree as trees
from beskar.operations import upgrade as upgrading
from beskar.operations.compilation import render_fleet

from test_upgrade_plan import helm_release, kustomization, status_list


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def changed_releases(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    changed = {path for path in set(before) | set(after) if before.get(path) != after.get(path)}
    assert all(path.startswith("apps/prod-brno/03-openstack/") or path == "sites/prod-brno/site.yaml"
               for path in changed), changed
    return {Path(path).stem.split("-", 1)[1] for path in changed if path.startswith("apps/")}


def test_walk_2025_1_to_2025_2_stage_by_stage_ends_as_a_fleet_written_at_the_target(demo_fleet, tmp_path):
    plan = upgrading.plan(demo_fleet, "2025.2").site("prod-brno")
    stages = list(plan.stages)
    assert stages[0].name == "mariadb" and not plan.refusals
    direct = tmp_path / "direct"
    shutil.copytree(demo_fleet, direct)  # the same fleet (and sealed secrets), written at the target instead
    before = snapshot(demo_fleet)
    moved = upgrading.start(demo_fleet, "2025.2")
    walked = [moved.stage]
    while True:
        after = snapshot(demo_fleet)
        assert [d for d in render_fleet(demo_fleet, check=True)[1] if d.change is not trees.Change.UNCHANGED] == []
        if moved.finished:
            break
        stage = next(s for s in stages if s.name == moved.stage)
        assert changed_releases(before, after) == set(stage.charts), stage.name
        assert moved.message == f"upgrade(prod-brno): {stage.name} to 2025.2 (2025.1 -> 2025.2)"
        before = after
        moved = upgrading.next_stage(demo_fleet, "prod-brno")
        walked.append(moved.stage)
    assert walked == [s.name for s in stages] + ["finish"]
    site_text = (demo_fleet / "sites/prod-brno/site.yaml").read_text()
    assert "upgrade:" not in site_text and 'release: "2025.2"' in site_text
    assert "# " in site_text  # comments kept by the text edits

    fleet_file = direct / "beskar.yaml"
    fleet_file.write_text(fleet_file.read_text().replace('release: "2025.1"', 'release: "2025.2"'))
    render_fleet(direct)
    walked_tree, direct_tree = snapshot(demo_fleet), snapshot(direct)
    rendered = [p for p in direct_tree if p.split("/")[0] in ("apps", "clusters", "inventory") and "/prod-brno/" in p]
    assert rendered and {p: walked_tree.get(p) for p in rendered} == {p: direct_tree[p] for p in rendered}


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
