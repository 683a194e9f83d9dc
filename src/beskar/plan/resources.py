"""Cloud entities as plain records (kind, key by names, fields), desired and observed alike, and their kinds' rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Iterable, Mapping


class Kind(StrEnum):
    DOMAIN = "domain"
    GROUP = "group"
    PROJECT = "project"
    ROLE = "role-assignment"
    QUOTA = "quota"
    AGGREGATE = "aggregate"
    AGGREGATE_HOST = "aggregate-host"
    FLAVOR = "flavor"
    FLAVOR_ACCESS = "flavor-access"
    NETWORK = "network"
    SUBNET = "subnet"
    ROUTER = "router"
    ROUTER_INTERFACE = "router-interface"
    RULE = "security-group-rule"
    IMAGE = "image"


@dataclass(frozen=True)
class KindRules:
    """How the planner treats a kind.

    `parent`/`parent_len`: the resource this one belongs to, named by the first `parent_len` parts of its key.
    `relation`: it has no identity of its own (a membership, a setting of its parent): it follows its parent's
    management and is reconciled fully, without --prune. `partial`: only the declared fields are compared.
    `immutable`: fields the API cannot change in place (a change replaces the resource). `finish`: fields set by
    a second call after creation, so an interrupted create leaves a resource lacking only these. `cloud_decides`:
    fields where a desired None means "whatever the cloud chose" (neutron's MTU, segment, gateway, pools).
    `opt_in`: a relation only reconciled under a declared parent that `manages` it (a project's role assignments
    are left alone unless the project lists them).
    """

    order: int
    parent: Kind | None = None
    parent_len: int = 0
    relation: bool = False
    partial: bool = False
    immutable: frozenset[str] = frozenset()
    finish: frozenset[str] = frozenset()
    replaceable: bool = True
    cloud_decides: frozenset[str] = frozenset()
    opt_in: bool = False  # a relation reconciled only where its declared parent says it manages it


RULES: dict[Kind, KindRules] = {
    Kind.DOMAIN: KindRules(0, replaceable=False),
    Kind.GROUP: KindRules(1, Kind.DOMAIN, 1, immutable=frozenset()),
    Kind.PROJECT: KindRules(2, Kind.DOMAIN, 1, immutable=frozenset({"parent"}), replaceable=False),
    Kind.ROLE: KindRules(3, Kind.PROJECT, 2, relation=True, opt_in=True),
    Kind.QUOTA: KindRules(4, Kind.PROJECT, 2, relation=True, partial=True),
    Kind.AGGREGATE: KindRules(5, finish=frozenset({"metadata"})),
    Kind.AGGREGATE_HOST: KindRules(6, Kind.AGGREGATE, 1, relation=True),
    Kind.FLAVOR: KindRules(7, immutable=frozenset({"vcpus", "ram", "disk", "ephemeral", "swap", "public"})),
    Kind.FLAVOR_ACCESS: KindRules(8, Kind.FLAVOR, 1, relation=True),
    Kind.NETWORK: KindRules(9, immutable=frozenset({"network_type", "physical_network", "segmentation_id"}),
                            cloud_decides=frozenset({"mtu", "network_type", "physical_network", "segmentation_id"})),
    Kind.SUBNET: KindRules(10, Kind.NETWORK, 1, immutable=frozenset({"cidr"}),
                           cloud_decides=frozenset({"gateway", "pools"})),
    Kind.ROUTER: KindRules(11),
    Kind.ROUTER_INTERFACE: KindRules(12, Kind.ROUTER, 1, relation=True),
    Kind.RULE: KindRules(13, Kind.PROJECT, 2, relation=True,
                         immutable=frozenset({"direction", "ethertype", "protocol", "port_min", "port_max",
                                              "remote_ip_prefix"})),
    Kind.IMAGE: KindRules(14, immutable=frozenset({"url", "sha256", "disk_format", "container_format"})),
}


@dataclass(frozen=True)
class Resource:
    """One entity: its kind, its key (names, never cloud IDs), and the fields Beskar compares.

    Observed resources also say whether they carry Beskar's mark (`managed`) and, when not, whether they
    look like what an interrupted create leaves (`unfinished`: nothing set beyond the first create call).
    Field values are str, int, float, bool, None, tuples, or dicts of str (extra specs, metadata).
    """

    kind: Kind
    key: tuple[str, ...]
    fields: Mapping[str, Any] = field(default_factory=dict)
    managed: bool = True
    unfinished: bool = False
    manages: frozenset[Kind] = frozenset()  # desired: the opt-in relations this resource declares in full

    @property
    def ref(self) -> tuple[Kind, tuple[str, ...]]:
        return self.kind, self.key

    @property
    def parent_ref(self) -> tuple[Kind, tuple[str, ...]] | None:
        rules = RULES[self.kind]
        if rules.parent is None or self.kind in (Kind.GROUP, Kind.PROJECT):
            return None  # a group's or project's domain may be one Beskar does not declare (e.g. Default)
        return rules.parent, self.key[:rules.parent_len]

    def label(self) -> str:
        return f"{self.kind.value} {'/'.join(self.key)}"


@dataclass(frozen=True)
class State:
    """A set of resources by (kind, key), plus the compute hosts nova knows (aggregates can only hold those)."""

    resources: Mapping[tuple[Kind, tuple[str, ...]], Resource]
    compute_hosts: frozenset[str] | None = None  # None: not observed (a desired state)

    @classmethod
    def of(cls, resources: Iterable[Resource], compute_hosts: Iterable[str] | None = None) -> State:
        by_ref: dict[tuple[Kind, tuple[str, ...]], Resource] = {}
        for resource in resources:
            if resource.ref in by_ref:
                raise ValueError(f"{resource.label()} appears twice")
            by_ref[resource.ref] = resource
        hosts = frozenset(compute_hosts) if compute_hosts is not None else None
        return cls(dict(sorted(by_ref.items(), key=lambda item: sort_key(item[1]))), hosts)

    def get(self, kind: Kind, key: tuple[str, ...]) -> Resource | None:
        return self.resources.get((kind, key))

    def of_kind(self, kind: Kind) -> list[Resource]:
        return [r for r in self.resources.values() if r.kind is kind]

    def __len__(self) -> int:
        return len(self.resources)


def sort_key(resource: Resource) -> tuple:
    return RULES[resource.kind].order, resource.key
