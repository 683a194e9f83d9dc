"""One answer for every link fact: the model's effective MTUs, the netplan, the MAAS plan and the MTU check agree.

Every case is data: tests/link_cases/<name>.yaml. Keys:

  example:   SITE, to start from the packaged example fleet and look at that site; `edits` then lists
             {file, replace: {old, new}} applied to it (every occurrence of old, which must occur)
  networks, nodes:  else, the networks and nodes of site `one` of the smallest fleet (tests/check_cases/_bases/
             fleet/beskar.yaml, with tests/link_cases/_site.yaml for the rest of the site)
  mtu:       node -> device -> the MTU the device must have (the model's link, the netplan's device)
  maas:      node -> interface -> the MTU the MAAS plan must state for it (null: none)
  errors:    exactly the model/mtu-mismatch messages ([] for none); or error_count and errors_include

Whatever the case, for every node of the site: the netplan writes each link with the model's MTU, every MTU the MAAS
plan states is the model's, the bond and VLAN MAAS configures are told a non-default MTU, and a site the check is
silent about renders a netplan that netplan's own rules accept.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from beskar.catalog import catalog
from beskar.check.rules_model_hosts import mtu_mismatch
from beskar.fleet.examples import write_example
from beskar.model.base import DEFAULT_MTU
from beskar.model.links import LinkKind, node_links
from beskar.operations.compilation import compile_fleet
from beskar.render.maas import machine_plan
from beskar.render.netplan import netplan, netplan_problems

CASES_DIR = Path(__file__).parent / "link_cases"
CASES = sorted(p.stem for p in CASES_DIR.glob("*.yaml") if not p.name.startswith("_"))
BASE_FLEET = Path(__file__).parent / "check_cases" / "_bases" / "fleet" / "beskar.yaml"
KEYS = {"example", "edits", "networks", "nodes", "mtu", "maas", "errors", "error_count", "errors_include"}


def load_case(name: str) -> dict:
    case = yaml.safe_load((CASES_DIR / f"{name}.yaml").read_text())
    assert set(case) <= KEYS, f"{name}: unknown keys {sorted(set(case) - KEYS)}"
    assert ("example" in case) != ("nodes" in case), f"{name}: either example: or networks: and nodes:"
    assert ("errors" in case) != ("error_count" in case), f"{name}: either errors: or error_count:"
    return case


def build_fleet(case: dict, root: Path) -> str:
    """Write the case's fleet under root; returns the site to look at."""
    if "example" in case:
        write_example(root)
        for edit in case.get("edits", []):
            path = root / edit["file"]
            text = path.read_text()
            assert edit["replace"]["old"] in text, f"{edit['replace']['old']!r} is not in {edit['file']}"
            path.write_text(text.replace(edit["replace"]["old"], edit["replace"]["new"]))
        return case["example"]
    (root / "sites/one").mkdir(parents=True)
    shutil.copy(BASE_FLEET, root / "beskar.yaml")
    site = yaml.safe_load((CASES_DIR / "_site.yaml").read_text())
    site.update(networks=case["networks"], nodes=case["nodes"])
    (root / "sites/one/site.yaml").write_text(yaml.safe_dump(site, sort_keys=False))
    return "one"


@pytest.fixture(params=CASES)
def compiled_case(request, tmp_path):
    case = load_case(request.param)
    name = build_fleet(case, tmp_path / "fleet")
    compiled = compile_fleet(tmp_path / "fleet", [name])
    return case, compiled.sites[name], compiled.fleet.sites[name]


def _netplan_mtus(document: dict) -> dict[str, int]:
    network = document["network"]
    return {device: config["mtu"] for section in ("ethernets", "bonds", "vlans", "bridges")
            for device, config in (network.get(section) or {}).items()}


def test_the_model_netplan_and_maas_plan_agree(compiled_case):
    case, site, _ = compiled_case
    plan = machine_plan(site, catalog())
    for node in site.nodes:
        links = node_links(site, node, catalog())
        model = {link.name: link.mtu for link in links}
        written = _netplan_mtus(netplan(site, node, catalog()))
        assert written == model, f"{node.name}: netplan {written} != model {model}"
        for device, mtu in case["mtu"].get(node.name, {}).items():
            assert model.get(device) == mtu, f"{node.name} {device}: model says {model.get(device)}, case {mtu}"
        machine = plan.machine(node.name)
        for interface in machine.interfaces:
            link = links.get(interface.name)
            assert interface.mtu in (None, link.mtu), f"{node.name} {interface.name}: MAAS {interface.mtu}, " \
                                                      f"netplan {link.mtu}"
            if interface.type in ("bond", "vlan") and link.mtu != DEFAULT_MTU:
                assert interface.mtu == link.mtu, f"{node.name} {interface.name}: MAAS is not told {link.mtu}"
        stated = {i.name: i.mtu for i in machine.interfaces}
        for device, mtu in (case.get("maas") or {}).get(node.name, {}).items():
            assert device in stated and stated[device] == mtu, f"{node.name} {device}: MAAS plan {stated}"


def test_the_check_reports_only_short_mtus(compiled_case):
    case, site, layered = compiled_case
    messages = [finding.message for finding in mtu_mismatch(site, layered)]
    if "errors" in case:
        assert messages == case["errors"], messages
    else:
        assert len(messages) == case["error_count"], messages
        assert set(case["errors_include"]) <= set(messages), messages
    if not messages:
        for node in site.nodes:
            assert netplan_problems(netplan(site, node, catalog())) == [], node.name


def test_a_link_that_sets_no_mtu_is_never_short(compiled_case):
    """Derivation's promise: a NIC or bond that sets no MTU has at least what everything it carries needs."""
    _, site, _ = compiled_case
    for node in site.nodes:
        links = node_links(site, node, catalog())
        for link in links:
            if link.derived:
                assert link.mtu >= link.needed_mtu, (node.name, link)
            for child in links:
                if child.parent == link.name and link.derived:
                    assert child.mtu <= link.mtu, (node.name, child.name, link.name)
            if link.kind is LinkKind.BOND:
                for member in link.members:
                    nic = links.get(member)
                    assert nic.master == link.name and (nic.declared_mtu or link.mtu) == nic.mtu


def test_every_case_is_listed():
    assert len(CASES) >= 10 and {"brno-bond-unset", "ostrava-bond-unset"} <= set(CASES)
