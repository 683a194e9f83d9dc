"""The catalog's value objects and their loading from the packaged data files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

import yaml

from beskar.catalog.chart_images import ImageKnowledge

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Release:
    name: str
    codename: str
    distros: tuple[str, ...]
    charts_ref: str


@dataclass(frozen=True)
class Layer:
    name: str
    title: str


@dataclass(frozen=True)
class ComponentSpec:
    """A chart Beskar deploys: its place in the Flux tree and what it needs before it."""

    name: str
    layer: str
    order: int
    chart: str
    source: str
    namespace: str | None = None
    version: str | None = None
    model: str | None = None
    endpoint: str | None = None
    public_name: str | None = None
    disable_wait: bool = False
    depends_on: tuple[str, ...] = ()

    @property
    def from_openstack_helm(self) -> bool:
        return self.source == "openstack-helm"

    @property
    def file_name(self) -> str:
        return f"{self.order:02d}-{self.name}.yaml"


@dataclass(frozen=True)
class BondOptions:
    """The kernel bonding options Beskar sets for one bond mode (None: the kernel's default)."""

    lacp_rate: str | None = None
    mii_monitor_interval: int | None = None
    transmit_hash_policy: str | None = None


@dataclass(frozen=True)
class OpenPattern:
    pattern: tuple[str, ...]
    why: str

    def matches(self, path: tuple[str, ...]) -> bool:
        return len(path) == len(self.pattern) and all(p in ("*", s) for p, s in zip(self.pattern, path))


def _read_text(*parts: str) -> str:
    return resources.files("beskar.catalog").joinpath("data", *parts).read_text(encoding="utf-8")


def _read_yaml(*parts: str) -> Any:
    return yaml.load(_read_text(*parts), Loader=_Loader)


@dataclass
class Catalog:
    """OpenStack knowledge as data: releases, components, images, chart values and credentials."""

    releases: dict[str, Release] = field(default_factory=dict)
    layers: tuple[Layer, ...] = ()
    components: dict[str, ComponentSpec] = field(default_factory=dict)
    helm_repositories: dict[str, str] = field(default_factory=dict)
    open_values: tuple[OpenPattern, ...] = ()
    passthrough_values: frozenset[str] = frozenset()  # keys holding Kubernetes objects a chart passes on
    ceph_cluster: str = ""  # the component running the Ceph cluster OpenStack uses
    image_tag_release: re.Pattern[str] = re.compile(r"(?!)")  # an image tag's OpenStack release (group 1)
    image_tag_codename: re.Pattern[str] = re.compile(r"(?!)")  # an image tag's release codename (group 1)
    credentials: dict[str, Any] = field(default_factory=dict)
    codenames: dict[str, str] = field(default_factory=dict)  # lower-case codename -> YYYY.N, all releases
    _images: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    _values: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Catalog:
        release_data = _read_yaml("releases.yaml")
        releases = release_data["releases"]
        codenames = {str(name).lower(): str(number) for number, name in (release_data.get("earlier") or {}).items()}
        codenames.update({str(r["codename"]).lower(): str(number) for number, r in releases.items()})
        components = _read_yaml("components.yaml")
        open_file = _read_yaml("open_values.yaml")
        opens = open_file["open"]
        return cls(
            releases={
                name: Release(name, r["codename"], tuple(r["distros"]), str(r["charts_ref"]))
                for name, r in releases.items()
            },
            layers=tuple(Layer(**layer) for layer in components["layers"]),
            components={
                name: ComponentSpec(name=name, **{**spec, "depends_on": tuple(spec.get("depends_on", ()))})
                for name, spec in components["components"].items()
            },
            helm_repositories={name: repo["url"] for name, repo in components["helm_repositories"].items()},
            ceph_cluster=components["ceph_cluster"],
            image_tag_release=re.compile(release_data["image_tag_release"]),
            image_tag_codename=re.compile(release_data["image_tag_codename"]),
            open_values=tuple(OpenPattern(tuple(o["pattern"].split(".")), o["why"]) for o in opens),
            passthrough_values=frozenset(map(str, open_file.get("passthrough") or ())),
            credentials=_read_yaml("credentials.yaml"),
            codenames=codenames,
        )

    def release_of_tag(self, tag: str) -> str | None:
        """The OpenStack release an image tag names (2025.1-ubuntu_noble: 2025.1), or None."""
        match = self.image_tag_release.match(tag)
        return match.group(1) if match else None

    def release_of_codename_tag(self, tag: str) -> str | None:
        """The OpenStack release an image tag names by codename (wallaby-ubuntu_focal: 2021.1), or None."""
        match = self.image_tag_codename.match(tag)
        return self.codenames.get(match.group(1).lower()) if match else None

    def images(self, release: str, distro: str) -> dict[str, dict[str, str]]:
        """chart -> images.tags key -> upstream image, as pinned for the release and distro."""
        key = f"{release}-{distro}"
        if key not in self._images:
            self._images[key] = _read_yaml("images", f"{key}.yaml")["charts"]
        return self._images[key]

    def values_skeleton(self, chart: str) -> dict[str, Any]:
        """The key structure of the chart's values.yaml (leaves are None)."""
        if chart not in self._values:
            self._values[chart] = json.loads(_read_text("values", f"{chart}.json"))
        return self._values[chart]

    @cached_property
    def _default_selectors(self) -> dict[str, dict[str, str]]:
        return json.loads(_read_text("values", "labels.json"))

    @cached_property
    def node_labels(self) -> dict[str, Any]:
        return _read_yaml("node_labels.yaml")

    @cached_property
    def build_provided(self) -> list[dict[str, str]]:
        """Objects pods use that no chart manifest makes (jobs and operators create them at run time)."""
        return _read_yaml("build_provided.yaml")["provided"]

    @cached_property
    def build_pods(self) -> list[dict[str, str]]:
        """Label sets of pods that run without a workload in the build (static pods, operator-made pods)."""
        return _read_yaml("build_provided.yaml")["pods"]

    @cached_property
    def host_roles(self) -> dict[str, Any]:
        """role -> packages and sysctl the host playbook sets on nodes of that role."""
        return _read_yaml("host_roles.yaml")["roles"]

    @property
    def ceph_namespace(self) -> str:
        """The namespace of the Ceph cluster (and its Rook operator) OpenStack's charts use."""
        return self.components[self.ceph_cluster].namespace or ""

    def placement(self, name: str) -> dict[str, str]:
        """The node labels that select where a group of charts runs (node_labels.yaml `placement`)."""
        entry = self.node_labels["placement"][name]
        labels = self.node_labels["roles"][entry["role"]]
        return {key: value for key, value in labels.items() if entry.get("label") in (None, key)}

    def node_selectors(self, chart: str) -> dict[str, str]:
        """labels.<group> -> "key=value" for the chart, with Beskar's placement applied."""
        defaults = self._default_selectors.get(chart, {})
        return {**defaults, **self.node_labels["selectors"].get(chart, {})}

    @cached_property
    def image_knowledge(self) -> ImageKnowledge:
        """Each upstream chart's image settings, the objects naming images operators start, mutable tags."""
        return ImageKnowledge.parse(_read_yaml("chart_images.yaml"))

    @cached_property
    def chart_versions(self) -> dict[str, dict[str, str]]:
        return json.loads(_read_text("values", "charts.json"))

    @cached_property
    def _bonds(self) -> dict[str, BondOptions]:
        return {str(mode): BondOptions(**options) for mode, options in _read_yaml("links.yaml")["bonds"].items()}

    def bond_options(self, mode: str) -> BondOptions:
        """The bonding options of a bond mode (links.yaml); none for modes that need none."""
        return self._bonds.get(mode, BondOptions())
