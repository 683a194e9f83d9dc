"""Findings and the rule registry: every check is a registered rule that yields typed findings."""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable, Iterable


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Scope(StrEnum):
    MODEL = "model"  # over a typed Site (and its layered document, for positions)
    FLEET = "fleet"  # over all typed sites of a fleet together (e.g. pools unique across sites)
    TREE = "tree"  # over a rendered or hand-written Flux tree
    BUILD = "build"  # over the final objects of a site's build (beskar check --build)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem a rule found: where (file relative to the checked root, 1-based line) and what to do."""

    file: str | None
    line: int | None
    rule: str
    severity: Severity
    message: str
    hint: str | None = None
    site: str | None = None
    subject: str | None = None  # what it is about when that is not the place: a secret key, a recipient

    def as_json(self) -> dict[str, Any]:
        found = {"rule": self.rule, "severity": self.severity.value, "site": self.site, "file": self.file,
                 "line": self.line, "message": self.message, "hint": self.hint}
        return found if self.subject is None else {**found, "subject": self.subject}


@dataclass(frozen=True)
class Rule:
    """A check: its id (e.g. `model/address-outside-cidr`), default severity, scope and one-line explanation."""

    id: str
    severity: Severity
    scope: Scope
    summary: str
    run: Callable[..., Iterable[Finding]] = field(compare=False, repr=False)
    parameters: tuple[str, ...] = field(default=(), compare=False, repr=False)  # what the rule reads, by name


# The modules that register each scope's rules, by the part of a subject they read: a run imports only those of
# the scopes it runs (the model and build rules import the site model, the renderer and the build engines, most of
# what `beskar lint`'s start-up would otherwise cost). tests/test_lint_startup.py holds this list to the files.
RULE_MODULES: dict[Scope, tuple[str, ...]] = {
    Scope.MODEL: ("rules_entities", "rules_hosts", "rules_image_lock", "rules_model_addresses",
                  "rules_model_consistency", "rules_model_hosts", "rules_secrets"),
    Scope.FLEET: ("rules_hosts", "rules_model_addresses", "rules_secrets"),
    Scope.TREE: ("rules_tree_images", "rules_tree_layout", "rules_tree_refs", "rules_tree_schema",
                 "rules_tree_secrets", "rules_tree_values"),
    Scope.BUILD: ("rules_build_images", "rules_build_objects", "rules_build_pods", "rules_build_services"),
}


class Registry(dict[str, Rule]):
    """Every rule by id. Rule modules register on import; reading the registry whole (iterating it, asking for an
    id not registered yet) imports every rule module first, so it always answers for all rules. `of(scopes)`
    imports only those scopes' modules."""

    _complete = False

    def load(self, scopes: Iterable[Scope] = tuple(Scope)) -> None:
        scopes = tuple(scopes)
        if self._complete:
            return
        for scope in scopes:
            for name in RULE_MODULES[scope]:
                importlib.import_module(f"{__package__}.{name}")
        if set(scopes) == set(Scope):
            self._complete = True

    def of(self, scopes: Iterable[Scope]) -> list[Rule]:
        """The rules of these scopes, by id."""
        scopes = frozenset(scopes)
        self.load(scopes)
        return [r for _, r in sorted(dict.items(self)) if r.scope in scopes]

    def registered(self) -> list[str]:
        """The ids registered so far, without importing any rule module."""
        return list(dict.keys(self))

    def __iter__(self):
        self.load()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self.load()
        return dict.__len__(self)

    def __contains__(self, rule_id: object) -> bool:
        if not dict.__contains__(self, rule_id):
            self.load()
        return dict.__contains__(self, rule_id)

    def __getitem__(self, rule_id: str) -> Rule:
        if not dict.__contains__(self, rule_id):
            self.load()
        return dict.__getitem__(self, rule_id)

    def get(self, rule_id: str, default: Any = None) -> Any:
        return self[rule_id] if rule_id in self else default

    def keys(self):
        self.load()
        return dict.keys(self)

    def values(self):
        self.load()
        return dict.values(self)

    def items(self):
        self.load()
        return dict.items(self)


RULES = Registry()


def _spelling(rule_id: str) -> tuple[str, ...]:
    """An id without case, separators and plurals (`fleet/public-pools-overlap` is `fleet/public-pool-overlap`)."""
    return tuple(re.sub(r"(?<=ss)es$|(?<!s)s$", "", word) for word in re.split(r"[/_-]+", rule_id.lower()))


def rule(rule_id: str, severity: Severity, scope: Scope, summary: str):
    """Register a rule function. It yields findings; `report(...)` fills in rule id and severity.

    An id registered already, or spelled like one (case, separators, plurals), is refused at import: two modules
    writing the same check would otherwise both run and report each problem twice.
    """

    def register(function: Callable[..., Iterable[Finding]]) -> Callable[..., Iterable[Finding]]:
        twin = next((other for other in RULES.registered() if _spelling(other) == _spelling(rule_id)), None)
        if twin is not None:
            raise ValueError(f"rule {rule_id} registered twice" if twin == rule_id else
                             f"rule {rule_id} is spelled like the registered rule {twin}: one check, one id")
        parameters = tuple(inspect.signature(function).parameters)
        RULES[rule_id] = Rule(rule_id, severity, scope, summary, function, parameters)
        return function

    return register


def report(rule_id: str, message: str, *, file: str | None = None, line: int | None = None,
           hint: str | None = None, site: str | None = None) -> Finding:
    """A finding of a registered rule, with the rule's default severity."""
    registered = RULES[rule_id]
    return Finding(file, line, rule_id, registered.severity, message, hint, site)
