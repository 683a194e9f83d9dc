"""Chart versions and the constraints Flux resolves them with (Masterminds semver, as source-controller)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_TERM = re.compile(r"^(=|!=|>=|<=|>|<|~>|~|\^)?\s*(v?[0-9xX*]+(?:\.[0-9xX*]+)?(?:\.[0-9xX*]+)?(?:-[0-9A-Za-z.-]+)?"
                   r"(?:\+[0-9A-Za-z.-]+)?)$")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    text: str = ""

    def _key(self) -> tuple:
        # A release sorts after its prereleases; numeric identifiers sort numerically, below alphanumeric ones.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, not self.prerelease, pre)

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def parse_version(text: str) -> Version | None:
    match = _VERSION.match(text.strip())
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    return Version(int(major), int(minor or 0), int(patch or 0), tuple(pre.split(".")) if pre else (), text)


class ConstraintError(ValueError):
    pass


@dataclass(frozen=True)
class _Term:
    operator: str
    version: Version
    wild: int  # how many leading parts were given (3 = exact); parts after a wildcard are free

    def allows(self, candidate: Version) -> bool:
        op, v = self.operator, self.version
        if self.wild < 3 and op in ("", "="):
            return _prefix(candidate, v, self.wild)
        if op in ("", "="):
            return candidate == v
        if op == "!=":
            return not (_prefix(candidate, v, self.wild) if self.wild < 3 else candidate == v)
        if op == ">":
            return candidate > _upper(v, self.wild) if self.wild < 3 else candidate > v
        if op == ">=":
            return candidate >= v
        if op == "<":
            return candidate < v
        if op == "<=":
            return candidate < _upper(v, self.wild) if self.wild < 3 else candidate <= v
        if op in ("~", "~>"):
            upper = Version(v.major + 1, 0, 0) if self.wild == 1 else Version(v.major, v.minor + 1, 0)
            return v <= candidate < upper
        if op == "^":
            if v.major > 0 or self.wild == 1:
                upper = Version(v.major + 1, 0, 0)
            elif v.minor > 0 or self.wild == 2:
                upper = Version(0, v.minor + 1, 0)
            else:
                upper = Version(0, 0, v.patch + 1)
            return v <= candidate < upper
        raise ConstraintError(f"unknown operator {op!r}")


def _prefix(candidate: Version, v: Version, parts: int) -> bool:
    return (candidate.major, candidate.minor, candidate.patch)[:parts] == (v.major, v.minor, v.patch)[:parts]


def _upper(v: Version, parts: int) -> Version:
    if parts == 0:
        return Version(1 << 62, 0, 0)
    if parts == 1:
        return Version(v.major + 1, 0, 0)
    return Version(v.major, v.minor + 1, 0)


@dataclass(frozen=True)
class Constraint:
    """`4.12.*`, `>=1.0 <2`, `~1.2`, `^0.3`, `1.2.3 || 2.x`; empty or `*` means the latest release."""

    text: str
    alternatives: tuple[tuple[_Term, ...], ...]
    prerelease: bool  # a constraint naming a prerelease also admits prereleases

    def allows(self, candidate: Version) -> bool:
        if candidate.prerelease and not self.prerelease:
            return False
        return any(all(t.allows(candidate) for t in terms) for terms in self.alternatives)


def parse_constraint(text: str | None) -> Constraint:
    source = (text or "*").strip() or "*"
    alternatives = []
    for part in source.split("||"):
        tokens = re.findall(r"(?:=|!=|>=|<=|>|<|~>|~|\^)?\s*[^\s,]+", part.replace(",", " "))
        if not tokens:
            raise ConstraintError(f"{source!r} is not a version constraint")
        alternatives.append(tuple(_term(token.strip(), source) for token in tokens))
    return Constraint(source, tuple(alternatives), "-" in source)


def _term(token: str, source: str) -> _Term:
    match = _TERM.match(token)
    if not match:
        raise ConstraintError(f"{source!r} is not a version constraint ({token!r})")
    operator, raw = match.group(1) or "", match.group(2).lstrip("v")
    core, _, pre = raw.partition("-")
    core = core.partition("+")[0]
    parts = core.split(".")
    given = 0
    numbers = []
    for part in parts:
        if part in ("x", "X", "*"):
            break
        numbers.append(int(part))
        given += 1
    numbers += [0] * (3 - len(numbers))
    # `given` parts were named: `1.2` and `1.2.x` match any patch, `~1.2` bounds the minor.
    return _Term(operator, Version(numbers[0], numbers[1], numbers[2], tuple(pre.split(".")) if pre else ()), given)


def best_version(constraint: Constraint, candidates: list[str]) -> str | None:
    """The highest candidate the constraint allows (as source-controller picks a chart version)."""
    allowed = [(v, text) for text in candidates if (v := parse_version(text)) is not None and constraint.allows(v)]
    return max(allowed)[1] if allowed else None
