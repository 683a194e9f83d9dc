"""Pure planners for a site's secret values: what sync adds, what rotate renews, what is no longer used."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from beskar.plan.steps import ResultType
from beskar.secrets import generation


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


@dataclass(frozen=True)
class StepResult:
    key: str
    outcome: ResultType
    detail: str = ""


class Step(Protocol):
    key: str

    def skipped(self, values: dict[str, Any]) -> bool: ...

    def run(self, values: dict[str, Any]) -> StepResult: ...


class _ValueStep:
    """A step that sets one key: skipped when the key has a value, unless it rotates."""

    key: str
    rotate: bool

    def skipped(self, values: dict[str, Any]) -> bool:
        return not self.rotate and self.key in values

    def run(self, values: dict[str, Any]) -> StepResult:
        if self.skipped(values):
            return StepResult(self.key, ResultType.SKIPPED, "has a value")
        made = self.make(values)
        if isinstance(made, StepResult):
            return made
        values[self.key] = made
        return StepResult(self.key, ResultType.COMPLETED, "rotated" if self.rotate else self.made)

    def make(self, values: dict[str, Any]) -> str | StepResult:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def made(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class Generate(_ValueStep):
    """Give `key` a new random value of `kind`; a `missing` step is skipped once the key has a value."""

    key: str
    kind: str
    length: int = generation.DEFAULT_LENGTH
    rotate: bool = False

    def make(self, values: dict[str, Any]) -> str:
        return generation.generate(self.kind, self.length)

    @property
    def made(self) -> str:
        return f"new {self.kind}"


@dataclass(frozen=True)
class Derive(_ValueStep):
    """Set a public key from its private key (run after the private key's step)."""

    key: str
    source: str
    comment: str = ""
    rotate: bool = False

    def make(self, values: dict[str, Any]) -> str | StepResult:
        if not isinstance(values.get(self.source), str):
            return StepResult(self.key, ResultType.FAILED, f"its private key {self.source} has no value")
        try:
            return generation.ssh_public_key(values[self.source], self.comment)
        except (ValueError, TypeError) as error:
            return StepResult(self.key, ResultType.FAILED, f"{self.source} is not an OpenSSH private key ({error})")

    @property
    def made(self) -> str:
        return f"derived from {self.source}"


@dataclass(frozen=True)
class Plan:
    """Steps in order, keys the file holds that nothing reads, and what blocks a step."""

    steps: tuple[Step, ...] = ()
    unused: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def changes(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps)


def _step(need: Need, length: int, rotate: bool, comment: str) -> Step:
    if need.kind in generation.DERIVED:
        if not need.pair:
            raise ValueError(f"{need.key}: a {need.kind} needs a `pair` in the catalog")
        return Derive(need.key, need.pair, comment, rotate)
    return Generate(need.key, need.kind, length, rotate)


def plan_sync(needs: list[Need], existing: Iterable[str], length: int = generation.DEFAULT_LENGTH,
              comment: str = "") -> Plan:
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
    # Private keys before the public keys derived from them.
    steps = [_step(need, length, False, comment)
             for need in sorted(needs, key=lambda n: (n.kind in generation.DERIVED, n.key))
             if need.key not in have and need.key not in blocked]
    unused = tuple(sorted(have - set(by_key)))
    return Plan(tuple(steps), unused, tuple(problems))


def plan_rotation(needs: list[Need], existing: Iterable[str], keys: list[str] | None,
                  length: int = generation.DEFAULT_LENGTH, comment: str = "") -> Plan:
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
    ordered = sorted((by_key[k] for k in chosen), key=lambda n: (n.kind in generation.DERIVED, n.key))
    steps = tuple(_step(need, length, True, comment) for need in ordered)
    return Plan(steps, tuple(sorted(have - set(by_key))), tuple(problems))


def run(plan: Plan, values: dict[str, Any]) -> tuple[dict[str, Any], list[StepResult]]:
    """Run the steps on a copy of the values; returns the new values and one result per step."""
    result = dict(values)
    return result, [step.run(result) for step in plan.steps]
