"""The MAAS planner: (machine plan, observed MAAS machines) -> steps; pure, and blind to machines not in the plan."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Iterable

import yaml

from beskar.model.links import Bonding
from beskar.render.maas import MachinePlan, PlannedInterface, PlannedMachine

# Tags Beskar owns on its machines: it adds and removes these, and never touches any other tag.
MANAGED_TAG_PREFIXES = ("site-", "role-", "flavor-", "rack-")
WAITING = ("New", "Commissioning", "Testing")
IN_PROGRESS = ("Deploying", "Releasing", "Disk erasing")
GIB = 1024 ** 3


class Action(StrEnum):
    ENLIST = "enlist"
    TAG = "tag"
    CONFIGURE_INTERFACES = "configure-interfaces"
    CONFIGURE_STORAGE = "configure-storage"
    DEPLOY = "deploy"


@dataclass(frozen=True)
class Call:
    """One MAAS API 2.0 request. Values may hold placeholders the runner fills from a fresh read of the
    machine: {system_id}, {interface:NAME}, {blockdevice:NAME}; and {secret:KEY} from SOPS."""

    method: str
    path: str
    op: str | None = None
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MaasStep:
    hostname: str
    action: Action
    summary: str
    calls: tuple[Call, ...]
    requires: tuple[str, ...] = ()  # MAAS statuses the machine must be in when the step runs (empty: any)


@dataclass(frozen=True)
class Refusal:
    machine: str
    reason: str


@dataclass(frozen=True)
class MaasPlan:
    steps: tuple[MaasStep, ...]
    in_place: tuple[str, ...] = ()  # planned machines with nothing to do
    waiting: tuple[Refusal, ...] = ()  # planned machines MAAS is busy with; plan again later
    refused: tuple[Refusal, ...] = ()  # conflicts Beskar will not resolve by itself
    unmanaged: tuple[str, ...] = ()  # MAAS machines that are not in the plan: never touched


@dataclass(frozen=True)
class ObservedLink:
    id: int
    mode: str
    subnet: str | None
    address: str | None


@dataclass(frozen=True)
class ObservedInterface:
    id: int
    name: str
    type: str
    mac: str | None
    parents: tuple[str, ...]
    vid: int | None
    mtu: int | None
    bond_mode: str | None
    links: tuple[ObservedLink, ...]


@dataclass(frozen=True)
class ObservedMachine:
    system_id: str
    hostname: str
    status: str
    tags: tuple[str, ...]
    power_type: str | None
    interfaces: tuple[ObservedInterface, ...]
    volume_groups: int = 0
    boot_disk: str | None = None

    @property
    def macs(self) -> frozenset[str]:
        return frozenset(i.mac.lower() for i in self.interfaces if i.mac)

    def interface(self, name: str) -> ObservedInterface | None:
        return next((i for i in self.interfaces if i.name == name), None)


@dataclass(frozen=True)
class Subnet:
    id: int
    cidr: str
    vlan_id: int  # MAAS's database id of the subnet's VLAN (what create_vlan takes)
    vid: int


def observe_machine(raw: dict[str, Any]) -> ObservedMachine:
    """A machine as `GET /MAAS/api/2.0/machines/` lists it."""
    interfaces = []
    for i in raw.get("interface_set") or []:
        params = i.get("params") if isinstance(i.get("params"), dict) else {}
        links = tuple(ObservedLink(link.get("id", 0), str(link.get("mode", "")),
                                   (link.get("subnet") or {}).get("cidr"), link.get("ip_address"))
                      for link in i.get("links") or [])
        interfaces.append(ObservedInterface(
            i["id"], i["name"], i.get("type", "physical"), (i.get("mac_address") or "").lower() or None,
            tuple(i.get("parents") or ()), (i.get("vlan") or {}).get("vid"),
            params.get("mtu") or i.get("effective_mtu"), params.get("bond_mode"), links))
    return ObservedMachine(raw["system_id"], raw.get("hostname", ""), raw.get("status_name", ""),
                           tuple(raw.get("tag_names") or ()), raw.get("power_type"), tuple(interfaces),
                           len(raw.get("volume_groups") or []), (raw.get("boot_disk") or {}).get("name"))


def observe_subnets(raw: Iterable[dict[str, Any]]) -> tuple[Subnet, ...]:
    """Subnets as `GET /MAAS/api/2.0/subnets/` lists them."""
    return tuple(Subnet(s["id"], s["cidr"], (s.get("vlan") or {}).get("id", 0), (s.get("vlan") or {}).get("vid", 0))
                 for s in raw)


# The bonding options of the catalog (links.yaml) under the names MAAS's create_bond takes.
_MAAS_BOND_OPTIONS = {"lacp_rate": "bond_lacp_rate", "mii_monitor_interval": "bond_miimon",
                      "transmit_hash_policy": "bond_xmit_hash_policy"}


def bond_options(bonding: Bonding | None) -> list[tuple[str, str]]:
    """create_bond parameters for the bond's options, the same ones its netplan sets."""
    if bonding is None:
        return []
    options = vars(bonding.options)
    return [(_MAAS_BOND_OPTIONS[key], str(options[key])) for key in sorted(options) if options[key] is not None]


def cloud_config(machine: PlannedMachine) -> str:
    return "#cloud-config\n" + yaml.safe_dump(machine.user_data, sort_keys=True, default_flow_style=False)


def plan(machine_plan: MachinePlan, machines: Iterable[dict[str, Any]],
         subnets: Iterable[dict[str, Any]] = ()) -> MaasPlan:
    """What MAAS must do so the planned machines exist, are tagged, configured and deployed. Pure."""
    observed = [observe_machine(raw) for raw in machines]
    known_subnets = observe_subnets(subnets)
    steps: list[MaasStep] = []
    in_place, waiting, refused = [], [], []
    claimed: set[str] = set()
    for planned in machine_plan.machines:
        match, refusal = _match(planned, observed)
        if refusal:
            refused.append(refusal)
            if match is not None:
                claimed.add(match.system_id)  # a conflict is shown, not listed again as unmanaged
            continue
        if match is None:
            steps.append(_enlist(planned))
            steps.extend(_tag(planned, ()))
            continue
        claimed.add(match.system_id)
        mine = list(_tag(planned, match.tags))
        if match.status in WAITING or match.status in IN_PROGRESS:
            waiting.append(Refusal(planned.hostname, f"MAAS status {match.status}: plan again when it is done"))
        elif match.status == "Ready":
            interfaces, problem = _configure_interfaces(planned, match, known_subnets)
            if problem:
                refused.append(Refusal(planned.hostname, problem))
            else:
                mine += interfaces
                mine += _configure_storage(planned, match)
                mine.append(_deploy(planned, machine_plan.os_series, allocate=True))
        elif match.status == "Allocated":
            mine.append(_deploy(planned, machine_plan.os_series, allocate=False))
        elif match.status != "Deployed":
            refused.append(Refusal(planned.hostname, f"MAAS status {match.status} needs an operator "
                                                     "(e.g. release or mark fixed) before Beskar continues"))
        if not mine and match.status == "Deployed":
            in_place.append(planned.hostname)
        steps.extend(mine)
    unmanaged = tuple(sorted(f"{m.hostname} ({m.system_id})" for m in observed if m.system_id not in claimed))
    return MaasPlan(tuple(steps), tuple(in_place), tuple(waiting), tuple(refused), unmanaged)


def _planned_macs(planned: PlannedMachine) -> frozenset[str]:
    return frozenset(i.mac for i in planned.interfaces if i.mac) | ({planned.boot_mac} if planned.boot_mac else set())


def _match(planned: PlannedMachine, observed: list[ObservedMachine]) -> tuple[ObservedMachine | None, Refusal | None]:
    """The MAAS machine that is this planned one: same hardware (a MAC) and same hostname, else a refusal."""
    macs = _planned_macs(planned)
    by_mac = [m for m in observed if m.macs & macs]
    by_name = [m for m in observed if m.hostname == planned.hostname]
    if len(by_mac) > 1:
        names = ", ".join(f"{m.hostname} ({m.system_id})" for m in by_mac)
        return None, Refusal(planned.hostname, f"its MACs are spread over several MAAS machines: {names}")
    if by_mac and by_mac[0].hostname != planned.hostname:
        other = by_mac[0]
        return other, Refusal(planned.hostname, f"its MAC belongs to MAAS machine {other.hostname} "
                                                f"({other.system_id}); rename that machine in MAAS or fix the plan")
    if by_name and not by_mac:
        other = by_name[0]
        if other.macs:
            return other, Refusal(planned.hostname, f"MAAS machine {other.system_id} is called {planned.hostname} "
                                                    "but has none of its MACs; Beskar will not touch it")
        return other, None
    return (by_mac[0] if by_mac else None), None


def _enlist(planned: PlannedMachine) -> MaasStep:
    params = [("hostname", planned.hostname), ("architecture", planned.architecture),
              ("power_type", planned.power_type)]
    params += [("mac_addresses", mac) for mac in sorted(_planned_macs(planned))]
    if planned.power_address:
        params += [("power_parameters_power_address", planned.power_address),
                   ("power_parameters_power_user", planned.power_user or ""),
                   ("power_parameters_power_pass", f"{{secret:{planned.password_key}}}")]
    summary = f"enlist {planned.hostname} ({planned.power_type} {planned.power_address or ''}".rstrip() + \
        f", boot {planned.boot_mac}); MAAS commissions it"
    return MaasStep(planned.hostname, Action.ENLIST, summary, (Call("POST", "machines/", None, tuple(params)),))


def _tag(planned: PlannedMachine, current: tuple[str, ...]) -> list[MaasStep]:
    wanted, have = set(planned.tags), set(current)
    add = sorted(wanted - have)
    remove = sorted(t for t in have - wanted if t.startswith(MANAGED_TAG_PREFIXES))
    if not add and not remove:
        return []
    calls = [Call("POST", "tags/", None, (("name", tag), ("comment", "managed by beskar"))) for tag in add]
    calls += [Call("POST", f"tags/{tag}/", "update_nodes", (("add", "{system_id}"),)) for tag in add]
    calls += [Call("POST", f"tags/{tag}/", "update_nodes", (("remove", "{system_id}"),)) for tag in remove]
    words = ([f"add {', '.join(add)}"] if add else []) + ([f"remove {', '.join(remove)}"] if remove else [])
    return [MaasStep(planned.hostname, Action.TAG, "; ".join(words), tuple(calls))]


def _configure_interfaces(planned: PlannedMachine, machine: ObservedMachine,
                          subnets: tuple[Subnet, ...]) -> tuple[list[MaasStep], str | None]:
    calls: list[Call] = []
    words: list[str] = []
    base = "nodes/{system_id}/interfaces/"
    for wanted in planned.interfaces:
        if wanted.type == "physical":
            have = next((i for i in machine.interfaces if i.mac and i.mac == wanted.mac), machine.interface(wanted.name))
            if have is None:
                return [], f"MAAS found no NIC {wanted.name} ({wanted.mac}) when commissioning; check the MAC"
            changes = ([("name", wanted.name)] if have.name != wanted.name else []) + \
                      ([("mtu", str(wanted.mtu))] if wanted.mtu and have.mtu != wanted.mtu else [])
            if changes:
                calls.append(Call("PUT", f"{base}{have.id}/", None, tuple(changes)))
                words.append(f"set {have.name} " + " ".join(f"{k}={v}" for k, v in changes))
            continue
        have = machine.interface(wanted.name)
        if have is not None:
            if wanted.type == "bond" and (set(have.parents) != set(wanted.parents) or have.bond_mode != wanted.bond_mode):
                return [], (f"MAAS has bond {wanted.name} with {', '.join(have.parents)} ({have.bond_mode}); "
                            f"the plan wants {', '.join(wanted.parents)} ({wanted.bond_mode}): delete it in MAAS")
            continue
        if wanted.type == "bond":
            params = [("name", wanted.name), ("bond_mode", wanted.bond_mode or "802.3ad")]
            params += [("parents", f"{{interface:{p}}}") for p in wanted.parents]
            params += bond_options(wanted.bonding)
            if wanted.mtu:
                params.append(("mtu", str(wanted.mtu)))
            calls.append(Call("POST", base, "create_bond", tuple(params)))
            words.append(f"create bond {wanted.name} ({wanted.bond_mode}) of {', '.join(wanted.parents)}")
        elif wanted.type == "vlan":
            subnet = next((s for s in subnets if s.vid == wanted.vlan and s.cidr == wanted.subnet), None) or \
                next((s for s in subnets if s.vid == wanted.vlan), None)
            if subnet is None:
                return [], f"MAAS has no subnet on VLAN {wanted.vlan}: create it before configuring {wanted.name}"
            params = [("vlan", str(subnet.vlan_id)), ("parent", f"{{interface:{wanted.parents[0]}}}")]
            if wanted.mtu:
                params.append(("mtu", str(wanted.mtu)))
            calls.append(Call("POST", base, "create_vlan", tuple(params)))
            words.append(f"create VLAN {wanted.vlan} on {wanted.parents[0]}")
    carrier = next((i for i in planned.interfaces if i.address), None)
    if carrier is not None:
        link_calls, problem = _link(carrier, machine, subnets, base)
        if problem:
            return [], problem
        calls += link_calls
        if link_calls:
            words.append(f"address {carrier.address} on {carrier.name}")
    if not calls:
        return [], None
    return [MaasStep(planned.hostname, Action.CONFIGURE_INTERFACES, "; ".join(words), tuple(calls), ("Ready",))], None


def _link(carrier: PlannedInterface, machine: ObservedMachine, subnets: tuple[Subnet, ...],
          base: str) -> tuple[list[Call], str | None]:
    subnet = next((s for s in subnets if s.cidr == carrier.subnet), None)
    if subnet is None:
        return [], f"MAAS has no subnet {carrier.subnet}: create it (on its fabric and VLAN) first"
    have = machine.interface(carrier.name)
    links = have.links if have else ()
    if any(link.mode.lower() == "static" and link.address == carrier.address for link in links):
        return [], None
    calls = [Call("POST", f"{base}{{interface:{carrier.name}}}/", "unlink_subnet", (("id", str(link.id)),))
             for link in links]
    calls.append(Call("POST", f"{base}{{interface:{carrier.name}}}/", "link_subnet", (
        ("mode", "STATIC"), ("subnet", str(subnet.id)), ("ip_address", carrier.address or ""),
        ("default_gateway", "true"))))
    return calls, None


def _configure_storage(planned: PlannedMachine, machine: ObservedMachine) -> list[MaasStep]:
    if planned.storage_layout == "lvm" and machine.volume_groups and planned.root_device in (None, machine.boot_disk):
        return []  # MAAS shows the layout it applied only as volume groups and partitions
    params = [("storage_layout", planned.storage_layout)]
    if planned.root_device:
        params.append(("root_device", f"{{blockdevice:{planned.root_device}}}"))
    if planned.root_size_gib:
        params.append(("root_size", str(planned.root_size_gib * GIB)))
    where = f" on {planned.root_device}" if planned.root_device else ""
    return [MaasStep(planned.hostname, Action.CONFIGURE_STORAGE, f"{planned.storage_layout} layout{where}",
                     (Call("POST", "machines/{system_id}/", "set_storage_layout", tuple(params)),), ("Ready",))]


def _deploy(planned: PlannedMachine, os_series: str, allocate: bool) -> MaasStep:
    user_data = base64.b64encode(cloud_config(planned).encode()).decode()
    calls = [Call("POST", "machines/", "allocate", (("system_id", "{system_id}"),))] if allocate else []
    calls.append(Call("POST", "machines/{system_id}/", "deploy",
                      (("distro_series", os_series), ("user_data", user_data))))
    return MaasStep(planned.hostname, Action.DEPLOY, f"deploy Ubuntu {os_series} with Beskar's user-data",
                    tuple(calls), ("Ready",) if allocate else ("Allocated",))

