"""The pure planner of a site's secret values: what sync adds, what rotate renews, what is no longer used.

The steps change a mapping of values (the decrypted Secret) through a generator the caller passes
(beskar.secrets.generation), so planning needs neither the values nor any crypto library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Protocol, Sequence

from beskar.catalog.credentials import DEFAULT_LENGTH, DERIVED
from beskar.plan.steps import Outcome, Result, ResultType, run_steps


@dataclass(frozen=True)
class Need:
    """A key the site's Secret must hold; `pair` names the private key a public key is derived from."""

    key: str
    kind: str
    pair: str | None = None


def pairs_in(credential_rules: dict[str, Any]) -> dict[str, str]:
    """public-key key -> private-key key, from the catalog's credential rules (`pair:` entries)."""
    found = {}
    for section in ("charts", "ceph"):
        for rules in (credential_rules.get(section) or {}).values():
            for rule in rules.values():
                if isinstance(rule, dict) and rule.get("pair"):
                    found[rule["key"]] = rule["pair"]
    return found


def needs_of(keys_and_kinds: Iterable[tuple[str, str]], pairs: dict[str, str]) -> list[Need]:
    return [Need(key, kind, pairs.get(key)) for key, kind in keys_and_kinds]


class Generator(Protocol):
    """Where new values come from (beskar.secrets.generation in the field)."""

    def generate(self, kind: str, length: int = DEFAULT_LENGTH) -> str: ...

    def ssh_public_key(self, private_key: str, comment: str = "") -> str: ...


@dataclass(frozen=True)
class Generate:
    """Give `key` a new random value of `kind`; unless it rotates, skipped once the key has a value."""

    key: str
    kind: str
    length: int = DEFAULT_LENGTH
    rotate: bool = False

    @property
    def made(self) -> str:
        return f"new {self.kind}"

    def make(self, values: dict[str, Any], generator: Generator) -> str | Result:
        return generator.generate(self.kind, self.length)


@dataclass(frozen=True)
class Derive:
    """Set a public key from its private key (planned after the private key's step)."""

    key: str
    source: str
    comment: str = ""
    rotate: bool = False

    @property
    def made(self) -> str:
        return f"derived from {self.source}"

    def make(self, values: dict[str, Any], generator: Generator) -> str | Result:
        if not isinstance(values.get(self.source), str):
            return Result(ResultType.FAILED, f"its private key {self.source} has no value")
        try:
            return generator.ssh_public_key(values[self.source], self.comment)
        except (ValueError, TypeError) as error:
            return Result(ResultType.FAILED, f"{self.source} is not an OpenSSH private key ({error})")


Change = Generate | Derive


@dataclass(frozen=True)
class Plan:
    """Changes in order, keys the file holds that nothing reads, and what blocks a change."""

    steps: tuple[Change, ...] = ()
    unused: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def changes(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps)


class ValueStep:
    """A planned change on the step protocol (plan.steps), bound to the values it changes and a generator."""

    def __init__(self, change: Change, values: dict[str, Any], generator: Generator):
        self.change, self.values, self.generator = change, values, generator
        self.name = change.key
        self.description = "rotate" if change.rotate else change.made

    def is_skip(self) -> Result:
        if not self.change.rotate and self.change.key in self.values:
            return Result(ResultType.SKIPPED, "has a value")
        return Result(ResultType.COMPLETED)

    def run(self) -> Result:
        made = self.change.make(self.values, self.generator)
        if isinstance(made, Result):
            return made
        self.values[self.change.key] = made
        return Result(ResultType.COMPLETED, "rotated" if self.change.rotate else self.change.made)


def _change(need: Need, length: int, rotate: bool, comment: str) -> Change:
    if need.kind in DERIVED:
        if not need.pair:
            raise ValueError(f"{need.key}: a {need.kind} needs a `pair` in the catalog")
        return Derive(need.key, need.pair, comment, rotate)
    return Generate(need.key, need.kind, length, rotate)


def _in_order(needs: Iterable[Need]) -> list[Need]:
    """Private keys before the public keys derived from them."""
    return sorted(needs, key=lambda n: (n.kind in DERIVED, n.key))


def plan_sync(needs: list[Need], existing: Iterable[str], length: int = DEFAULT_LENGTH, comment: str = "") -> Plan:
    """Generate every missing key; never touch an existing one. Pure: the keys are plaintext names."""
    have = set(existing)
    by_key = {need.key: need for need in needs}
    problems: list[str] = []
    blocked: set[str] = set()
    for need in needs:
        if need.pair and need.key in have and need.pair not in have:
            blocked.add(need.pair)
            problems.append(f"{need.key} exists without its private key {need.pair}; a new private key would not "
                            f"match it: rotate the pair with `beskar secrets rotate SITE {need.pair}`")
        elif need.pair and need.key not in have and need.pair not in have and need.pair not in by_key:
            blocked.add(need.key)
            problems.append(f"{need.key}: its private key {need.pair} is neither in the file nor needed")
    steps = [_change(need, length, False, comment) for need in _in_order(needs)
             if need.key not in have and need.key not in blocked]
    return Plan(tuple(steps), tuple(sorted(have - set(by_key))), tuple(problems))


def plan_rotation(needs: list[Need], existing: Iterable[str], keys: list[str] | None,
                  length: int = DEFAULT_LENGTH, comment: str = "") -> Plan:
    """Renew the named keys (None: every needed key); a key pair always rotates together."""
    have = set(existing)
    by_key = {need.key: need for need in needs}
    wanted = list(by_key) if keys is None else list(keys)
    problems = [f"{key}: not a key the site needs (its kind is unknown, so it cannot be generated)"
                for key in wanted if key not in by_key]
    chosen = {key for key in wanted if key in by_key}
    for need in needs:  # a pair rotates as one
        if need.pair and (need.key in chosen or need.pair in chosen):
            chosen |= {need.key, need.pair}
    steps = tuple(_change(need, length, True, comment) for need in _in_order(by_key[k] for k in chosen))
    return Plan(steps, tuple(sorted(have - set(by_key))), tuple(problems))


def bind(plan: Plan, values: dict[str, Any], generator: Generator) -> Sequence[ValueStep]:
    return [ValueStep(change, values, generator) for change in plan.steps]


def run(plan: Plan, values: dict[str, Any], generator: Generator) -> tuple[dict[str, Any], list[Outcome]]:
    """Run the plan on a copy of the values (stopping at the first failure): the new values and the outcomes."""
    result = dict(values)
    return result, run_steps(bind(plan, result, generator))
