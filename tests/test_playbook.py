"""The shipped host playbook: syntax, ansible-lint (production profile), and an idempotent run into a throwaway root."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from beskar.fleet.examples import write_example
from beskar.operations.compilation import render_fleet
from beskar.fleet.scaffold import playbook_files

# The tasks a directory target can take: files only, nothing activated (no apt, no users, no services).
FILE_TAGS = "network,sysctl,kernel,time,kubespray"
WATCHED = ("/etc/netplan", "/etc/sysctl.d", "/etc/default/grub.d", "/etc/cloud/cloud.cfg.d", "/etc/chrony",
           "/etc/modules-load.d", "/run/systemd/network")


@pytest.fixture(scope="module")
def playbook(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("playbook") / "ansible"
    for relative, content in playbook_files().items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_bytes(content)
    return target


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fleet") / "fleet"
    write_example(root)
    render_fleet(root)
    return root


def _env(**extra: str) -> dict[str, str]:
    home = os.environ.get("HOME", "/tmp")
    return {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1",
            "ANSIBLE_LOCAL_TEMP": f"{home}/.ansible/tmp", **extra}


def test_playbook_files_are_the_packaged_tree():
    files = playbook_files()
    assert list(files) == sorted(files)
    assert "site.yml" in files and ".ansible-lint" in files
    roles = {path.split("/")[1] for path in files if path.startswith("roles/")}
    assert roles == {"netplan", "sysctl", "packages", "hugepages", "ssh_keys", "time_sync", "kubespray_prep"}
    play = yaml.safe_load(files["site.yml"])[0]
    assert [r["role"] for r in play["roles"]] == ["packages", "netplan", "sysctl", "hugepages", "ssh_keys",
                                                  "time_sync", "kubespray_prep"]


def test_syntax_check(playbook, fleet):
    done = subprocess.run(["ansible-playbook", "--syntax-check", "-i",
                           str(fleet / "inventory/prod-brno/hosts/inventory.yaml"), str(playbook / "site.yml")],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_readme_command_runs_from_the_demo_fleet(demo_fleet):
    """`beskar demo` leaves the playbook where the README's command expects it, as `beskar init` writes it."""
    shipped = {f"ansible/{path}": content for path, content in playbook_files().items()}
    present = {p.relative_to(demo_fleet).as_posix(): p.read_bytes()
               for p in sorted((demo_fleet / "ansible").rglob("*")) if p.is_file()}
    assert present == shipped
    done = subprocess.run(["ansible-playbook", "--syntax-check", "-i", "inventory/prod-brno/hosts/inventory.yaml",
                           "ansible/site.yml"], cwd=demo_fleet, capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ansible_lint_production_profile(playbook):
    assert shutil.which("ansible-lint"), "ansible-lint is installed by `pip install -e .[test]`"
    done = subprocess.run(["ansible-lint", "--offline", "--profile", "production", "--nocolor", "."],
                          cwd=playbook, capture_output=True, text=True, env=_env(), timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "0 failure(s), 0 warning(s)" in output and "Profile 'production' was required, and it passed" in output


def _snapshot() -> dict[str, str]:
    """Every file under the host's own configuration directories the playbook writes to, with its hash."""
    found = {}
    for directory in WATCHED:
        for path in sorted(Path(directory).rglob("*")) if Path(directory).is_dir() else []:
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _run(playbook: Path, fleet: Path, node: str, root: Path) -> subprocess.CompletedProcess:
    command = ["ansible-playbook", "-i", str(fleet / "inventory/prod-brno/hosts/inventory.yaml"),
               str(playbook / "site.yml"), "--limit", node, "--connection", "local", "--tags", FILE_TAGS,
               "-e", f"host_root={root}", "-e", "ansible_become=false",
               "-e", f"ansible_python_interpreter={sys.executable}"]
    return subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=300)


def _recap(output: str, node: str) -> dict[str, int]:
    line = re.search(rf"^{re.escape(node)}\s*:\s*(.*)$", output, re.MULTILINE)
    assert line, output
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line.group(1))}


@pytest.mark.parametrize("node", ["brno-cmp-1", "brno-ctl-1"])
def test_network_and_sysctl_tasks_are_idempotent_in_a_throwaway_root(playbook, fleet, tmp_path, node):
    assert shutil.which("netplan"), "netplan.io validates the written netplan (.ci/run installs it)"
    root = tmp_path / "root"
    (root / "etc/netplan").mkdir(parents=True)
    # What MAAS leaves behind: the playbook retires it.
    (root / "etc/netplan/50-cloud-init.yaml").write_text("network: {version: 2, ethernets: {eth0: {dhcp4: true}}}\n")
    before = _snapshot()

    first = _run(playbook, fleet, node, root)
    assert first.returncode == 0, first.stdout + first.stderr
    assert _recap(first.stdout, node)["changed"] > 0
    assert _recap(first.stdout, node)["failed"] == 0
    second = _run(playbook, fleet, node, root)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _recap(second.stdout, node)["changed"] == 0, second.stdout

    host_vars = yaml.safe_load((fleet / f"inventory/prod-brno/hosts/host_vars/{node}.yaml").read_text())
    written = yaml.safe_load((root / "etc/netplan/60-beskar.yaml").read_text())
    assert written == host_vars["netplan_config"]
    assert oct((root / "etc/netplan/60-beskar.yaml").stat().st_mode & 0o777) == "0o600"
    assert not (root / "etc/netplan/50-cloud-init.yaml").exists()
    assert (root / "run/systemd/network").is_dir()  # the handler ran `netplan generate` on the new root
    sysctl = (root / "etc/sysctl.d/90-beskar.conf").read_text().splitlines()
    assert [line for line in sysctl if not line.startswith("#")] == \
        [f"{k} = {v}" for k, v in sorted(host_vars["sysctl_settings"].items())]
    grub = root / "etc/default/grub.d/90-beskar.cfg"
    if host_vars["hugepages_kernel_args"]:
        assert " ".join(host_vars["hugepages_kernel_args"]) in grub.read_text()
    else:
        assert not grub.exists()
    assert "server ntp1.example.org iburst" in (root / "etc/chrony/sources.d/beskar.sources").read_text()
    assert "br_netfilter" in (root / "etc/modules-load.d/beskar-kubernetes.conf").read_text()
    assert _snapshot() == before, "the playbook touched this machine's own configuration"
