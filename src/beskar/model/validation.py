"""From a layered site document to a typed Site, with every error placed at its file, line and layer."""

from __future__ import annotations

import difflib
import re
import ipaddress
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from beskar.catalog import Catalog
from beskar.fleet import LayeredSite
from beskar.fleet.documents import named_list
from beskar.model.machines import host_problems
from beskar.model.secrets import SecretsSettings
from beskar.model.site import Purpose, Role, Site
from beskar.problems import InputError, Problem


_VALIDATOR_STEP = re.compile(r"^[a-z][a-z-]*\[")


def _key_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Translate a pydantic location into a provenance path (named list items by name)."""
    path: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            item = node[part]
            path.append(item["name"] if named_list(node) else part)
            node = item
        elif isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        else:
            path.append(part)
            node = None
    return tuple(path)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that holds the field at `loc` (for did-you-mean on unknown keys)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if models else annotation
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation


def _display(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "(site)"


def _problem(layered: LayeredSite, error: dict[str, Any]) -> Problem:
    loc = located(error)
    path = _key_path(layered.data, loc)
    message, hint = explained(error, Site, loc, _display(path))
    return Problem(message, layered.origin(path), hint)


def _once_per_place(layered: LayeredSite, errors: list[dict[str, Any]]) -> list[Problem]:
    """One problem per defect: a YAML anchor's value reached through several aliases fails at every path that
    reaches it, all placed at the anchor; those are one defect, reported once, naming the other paths."""
    groups: dict[tuple[Any, ...], list[tuple[Problem, str]]] = {}
    for error in errors:
        problem = _problem(layered, error)
        shown = _display(_key_path(layered.data, located(error)))
        groups.setdefault((problem.origin, error["type"], error["msg"]), []).append((problem, shown))
    problems = []
    for found in groups.values():
        problem, _ = found[0]
        if len(found) > 1:
            others = [shown for _, shown in found[1:]]
            listed = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            also = f"the same value is reached through aliases at {listed}"
            problem = Problem(problem.message, problem.origin, f"{problem.hint}; {also}" if problem.hint else also)
        problems.append(problem)
    return problems


def located(error: dict[str, Any]) -> tuple[Any, ...]:
    """A pydantic error's location as keys: pydantic appends validator descriptions ("function-after[...]")
    to locations; they are not keys."""
    return tuple(part for part in error["loc"] if not (isinstance(part, str) and _VALIDATOR_STEP.match(part)))


def explained(error: dict[str, Any], model: type[BaseModel], loc: tuple[Any, ...], shown: str) -> tuple[str, str | None]:
    """A pydantic error of `model` at `loc` (displayed as `shown`) as a message for people, and a hint."""
    kind = error["type"]
    if kind == "extra_forbidden":
        holder = _model_at(model, loc[:-1])
        known = sorted(holder.model_fields) if holder else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else (f"known keys: {', '.join(known)}" if known else None)
        return f"unknown key {shown!r}", hint
    if kind == "missing":
        return f"missing required key {shown!r}", None
    return f"{shown}: {error['msg'].removeprefix('Value error, ')}", None


def type_site(layered: LayeredSite, catalog: Catalog) -> Site:
    """Validate the merged document into a Site against the catalog (releases, distributions); raise InputError
    listing every problem with its place."""
    try:
        site = Site.model_validate(layered.data, context={"catalog": catalog})
    except ValidationError as error:
        raise InputError(_once_per_place(layered, error.errors(include_url=False))) from None
    problems = list(_cross_references(site, layered, catalog))
    if problems:
        raise InputError(problems)
    return site


def type_secrets(layered: LayeredSite) -> SecretsSettings:
    """Only the site's `secrets:` settings, typed as type_site types them, at a fraction of its cost: what
    .sops.yaml needs from every other site of the fleet (so one site's secrets commands do not grow with it)."""
    try:
        return SecretsSettings.model_validate(layered.data.get("secrets", {}) if isinstance(layered.data, dict) else {})
    except ValidationError as error:
        raise InputError([_problem(layered, {**e, "loc": ("secrets", *e["loc"])})
                          for e in error.errors(include_url=False)]) from None


def _cross_references(site: Site, layered: LayeredSite, catalog: Catalog):
    """Problems that make the site unusable although each part is well-typed."""
    at = layered.origin
    networks = {n.name: n for n in site.networks}
    families = {f.name for f in site.flavor_families}

    for a, b in _overlapping([(n.name, n.cidr) for n in site.networks]
                             + [("kubernetes pods", site.kubernetes.pod_cidr),
                                ("kubernetes services", site.kubernetes.service_cidr)]):
        where, other = (at(("networks", n, "cidr")) if n in networks else
                        at(("kubernetes", "pod_cidr" if n == "kubernetes pods" else "service_cidr")) for n, _ in (a, b))
        yield Problem(f"CIDR {a[1]} of {a[0]!r} overlaps {b[1]} of {b[0]!r}, set at {other} ({other.layer})", where)
    for purpose in (Purpose.MANAGEMENT,):
        if site.network(purpose) is None:
            yield Problem(f"the site has no {purpose.value} network", at(("networks",)))
    if site.openstack.neutron.enabled and site.network(Purpose.PROVIDER) is None:
        yield Problem("neutron needs a provider network (purpose: provider)", at(("networks",)))
    for network in site.networks:
        if network.gateway is not None and network.gateway not in network.cidr:
            yield Problem(f"gateway {network.gateway} is outside {network.cidr}", at(("networks", network.name, "gateway")))

    for node in site.nodes:
        devices = {i.name for i in node.interfaces} | {b.name for b in node.bonds}
        for bond in node.bonds:
            for member in bond.interfaces:
                if member not in {i.name for i in node.interfaces}:
                    yield Problem(f"bond {bond.name} of {node.name} names unknown interface {member!r}",
                                  at(("nodes", node.name, "bonds", bond.name, "interfaces")))
        for attachment in node.networks:
            where = ("nodes", node.name, "networks", attachment.name)
            if attachment.name not in networks:
                yield Problem(f"node {node.name} is attached to unknown network {attachment.name!r}", at(where),
                              _did_you_mean(attachment.name, networks))
            if attachment.device not in devices:
                yield Problem(f"node {node.name} uses unknown device {attachment.device!r} on {attachment.name}",
                              at(where + ("device",)), _did_you_mean(attachment.device, devices))
        if node.flavor_family is not None:
            if node.flavor_family not in families:
                yield Problem(f"node {node.name} names unknown flavor family {node.flavor_family!r}",
                              at(("nodes", node.name, "flavor_family")), _did_you_mean(node.flavor_family, families))
            if Role.COMPUTE not in node.roles:
                yield Problem(f"node {node.name} has a flavor family but not the compute role",
                              at(("nodes", node.name, "flavor_family")))
    management = site.network(Purpose.MANAGEMENT)
    if management is not None:
        for node in site.nodes:
            if node.address_on(management.name) is None:
                yield Problem(f"node {node.name} has no address on the management network {management.name!r}",
                              at(("nodes", node.name)))
    yield from host_problems(site, at)
    if not site.nodes_with(Role.CONTROL_PLANE):
        yield Problem("the site has no control-plane node", at(("nodes",)))
    if site.ceph.mode == "external" and site.ceph.external is None:
        yield Problem("ceph mode 'external' needs ceph.external (fsid, monitors)", at(("ceph",)))
    release = site.openstack.release
    distros = catalog.releases[release].distros
    if site.openstack.distro not in distros:
        yield Problem(f"release {release} is not built for {site.openstack.distro}; it is for {', '.join(distros)}",
                      at(("openstack", "distro")))


def _overlapping(named: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]):
    for i, a in enumerate(named):
        for b in named[i + 1:]:
            if a[1].version == b[1].version and a[1].overlaps(b[1]):
                yield a, b


def _did_you_mean(word: str, choices) -> str | None:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else None
