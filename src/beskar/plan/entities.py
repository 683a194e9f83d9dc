"""The entity planner: (desired, observed) -> ordered steps; pure, so every rule of ownership is testable."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from beskar.plan.resources import RULES, Kind, Resource, State


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"  # delete and create again: the API cannot change the field in place
    DELETE = "delete"
    ADOPT = "adopt"  # mark a resource someone else created as Beskar's (only with --adopt), then update it
    RESUME = "resume"  # finish a create that was interrupted between its calls


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Step:
    """One change to the cloud. `skip` says why it would not run; `pending` whether it is drift at all."""

    action: Action
    kind: Kind
    key: tuple[str, ...]
    changes: tuple[Change, ...] = ()
    desired: Resource | None = None
    observed: Resource | None = None
    skip: str | None = None
    pending: bool = True

    @property
    def runs(self) -> bool:
        return self.skip is None

    def label(self) -> str:
        return f"{self.action.value} {self.kind.value} {'/'.join(self.key)}"


@dataclass(frozen=True)
class Options:
    prune: bool = False  # delete managed resources the site no longer declares, and allow replacements
    adopt: bool = False  # take over declared resources that exist without Beskar's mark


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    unmanaged: tuple[Resource, ...]  # in the cloud, not Beskar's, not declared: reported, never touched

    @property
    def pending(self) -> tuple[Step, ...]:
        """Differences between site and cloud (what --detailed-exitcode counts)."""
        return tuple(step for step in self.steps if step.pending)

    @property
    def runnable(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.runs)


HOST_UNKNOWN = ("host {host} is not a nova compute host yet (no nova-compute service has registered it); "
                "it joins the aggregate on the first apply after it registers")


def diff(kind: Kind, desired: dict[str, Any], observed: dict[str, Any]) -> tuple[Change, ...]:
    """Field-level differences over the desired fields; mappings (extra specs, metadata) compare key by key."""
    rules = RULES[kind]
    changes: list[Change] = []
    for name, want in desired.items():
        have = observed.get(name)
        if want is None and name in rules.cloud_decides:
            continue
        if isinstance(want, dict) or isinstance(have, dict):
            want, have = want or {}, have or {}
            for key in sorted(set(want) | set(have)):
                if want.get(key) != have.get(key):
                    changes.append(Change(f"{name}.{key}", have.get(key), want.get(key)))
        elif want != have:
            changes.append(Change(name, have, want))
    return tuple(changes)


def _touches(changes: tuple[Change, ...], fields: frozenset[str]) -> bool:
    return any(change.field.split(".", 1)[0] in fields for change in changes)


def _depth(resource: Resource, state: State) -> int:
    """How deep a project sits under other declared projects (parents are created first, deleted last)."""
    depth, seen = 0, set()
    current = resource
    while current.kind is Kind.PROJECT and current.fields.get("parent") and current.key not in seen:
        seen.add(current.key)
        parent = state.get(Kind.PROJECT, (current.key[0], current.fields["parent"]))
        if parent is None:
            break
        depth, current = depth + 1, parent
    return depth


class _Planner:
    def __init__(self, desired: State, observed: State, options: Options):
        self.desired, self.observed, self.options = desired, observed, options

    def owned(self, ref: tuple[Kind, tuple[str, ...]] | None) -> str | None:
        """None if Beskar may change what belongs to `ref` (it is Beskar's, or about to be); else why not."""
        if ref is None:
            return None
        parent = self.observed.get(*ref)
        wanted = self.desired.get(*ref)
        if parent is None or parent.managed or self.options.adopt:
            return None
        if wanted is not None and parent.unfinished:
            return None  # resumed in this plan
        return f"it belongs to {parent.label()}, which Beskar does not manage"

    def forward(self, want: Resource) -> Step | None:
        rules = RULES[want.kind]
        have = self.observed.get(*want.ref)
        blocked = self.owned(want.parent_ref) if rules.relation or want.kind is Kind.SUBNET else None
        if have is None:
            if want.kind is Kind.AGGREGATE_HOST and self.observed.compute_hosts is not None \
                    and want.key[1] not in self.observed.compute_hosts:
                return Step(Action.CREATE, want.kind, want.key, desired=want,
                            skip=HOST_UNKNOWN.format(host=want.key[1]), pending=False)
            return Step(Action.CREATE, want.kind, want.key, (), want, None, blocked)
        changes = diff(want.kind, dict(want.fields), dict(have.fields))
        if not rules.relation and not have.managed:
            return self.unmarked(want, have, changes)
        if not changes:
            return None
        if _touches(changes, rules.immutable):
            return self.replace(want, have, changes, blocked)
        return Step(Action.UPDATE, want.kind, want.key, changes, want, have, blocked)

    def unmarked(self, want: Resource, have: Resource, changes: tuple[Change, ...]) -> Step:
        rules = RULES[want.kind]
        if have.unfinished and not _touches(changes, frozenset(want.fields) - rules.finish):
            return Step(Action.RESUME, want.kind, want.key, changes, want, have)
        skip = None
        if not self.options.adopt:
            skip = (f"{have.label()} exists but Beskar did not create it; apply with --adopt to take it over "
                    "(or rename it in the site)")
        elif _touches(changes, rules.immutable):
            skip = f"adopting it would replace it ({', '.join(c.field for c in changes)}); change it by hand first"
        return Step(Action.ADOPT, want.kind, want.key, changes, want, have, skip)

    def replace(self, want: Resource, have: Resource, changes: tuple[Change, ...], blocked: str | None) -> Step:
        rules = RULES[want.kind]
        fields = ", ".join(sorted({c.field.split(".", 1)[0] for c in changes} & rules.immutable))
        if not rules.replaceable:
            skip = f"the API cannot change {fields} of an existing {want.kind.value}; change it by hand"
        elif rules.relation:
            skip = blocked
        else:
            skip = blocked or (None if self.options.prune else
                               f"changing {fields} replaces the {want.kind.value} (delete, then create); "
                               "allow it with --prune")
        return Step(Action.REPLACE, want.kind, want.key, changes, want, have, skip)

    def backward(self, have: Resource) -> Step | Resource | None:
        """A step for an observed resource the site does not declare, or the resource itself if unmanaged."""
        rules = RULES[have.kind]
        if rules.relation:
            parent = have.parent_ref
            declared = self.desired.get(*parent) if parent is not None else None
            if declared is None or not have.managed or rules.partial:
                return None  # only what belongs to a declared parent is reconciled
            if rules.opt_in and have.kind not in declared.manages:
                return None
            if self.owned(parent) is not None:
                return None
            return Step(Action.DELETE, have.kind, have.key, observed=have)
        if not have.managed:
            return have
        skip = None if self.options.prune else "not declared in the site; delete it with --prune"
        if have.kind is Kind.DOMAIN:
            foreign = [p for p in self.observed.of_kind(Kind.PROJECT) if p.key[0] == have.key[0] and not p.managed]
            if foreign:
                skip = (f"the domain holds {len(foreign)} project(s) Beskar does not manage "
                        f"({', '.join(p.key[1] for p in foreign[:3])}); deleting it would delete them")
        if have.kind is Kind.PROJECT:
            children = [p for p in self.observed.of_kind(Kind.PROJECT)
                        if p.key[0] == have.key[0] and p.fields.get("parent") == have.key[1] and not p.managed]
            if children:
                skip = f"it has sub-projects Beskar does not manage ({', '.join(p.key[1] for p in children[:3])})"
        return Step(Action.DELETE, have.kind, have.key, observed=have, skip=skip)


def plan(desired: State, observed: State, options: Options = Options()) -> Plan:
    """The ordered steps that make `observed` what `desired` says, within what Beskar may touch.

    Order: deletions of memberships first (a host leaves an aggregate before it joins another one in a
    different zone), then creations and updates parents first (domains, groups, projects, roles and quotas;
    aggregates before flavors; networks before subnets before routers), then deletions of resources
    children first.
    """
    planner = _Planner(desired, observed, options)
    forward: list[Step] = []
    for want in desired.resources.values():
        step = planner.forward(want)
        if step is not None:
            forward.append(step)
    releases: list[Step] = []
    removals: list[Step] = []
    unmanaged: list[Resource] = []
    for have in observed.resources.values():
        if desired.get(*have.ref) is not None:
            continue
        outcome = planner.backward(have)
        if isinstance(outcome, Resource):
            unmanaged.append(outcome)
        elif outcome is not None:
            (releases if RULES[have.kind].relation else removals).append(outcome)

    def order(step: Step) -> tuple:
        resource = step.desired or step.observed
        state = desired if step.desired is not None else observed
        return RULES[step.kind].order, _depth(resource, state), step.key

    forward.sort(key=order)
    releases.sort(key=order, reverse=True)
    removals.sort(key=order, reverse=True)
    return Plan(tuple(releases + forward + removals), tuple(unmanaged))
