"""How a fleet tunes its checks (`fleet.checks` in beskar.yaml): disabled rules, severities, conventions."""

from __future__ import annotations

import difflib
import re
from contextvars import ContextVar
from fnmatch import fnmatchcase
from typing import Annotated, Any

from pydantic import Field, ValidationError

from beskar.check.findings import RULES, Severity
from beskar.model.strict import BY_VALUE, Strict
from beskar.problems import InputError, Origin, Problem

class CheckSettings(Strict):
    """`fleet.checks`: every key optional."""

    disable: list[str] = Field(default=[], description="rule ids or globs (tree/image-*) not to run")
    severity: dict[str, Annotated[Severity, BY_VALUE]] = Field(default={}, description="rule id -> error, warning or info")
    production_profiles: list[str] = Field(default=["production"], description="profiles held to production rules")
    flavor_name_pattern: str | None = Field(
        default=None, description="a fleet's own flavor naming convention: a regex with groups family, vcpus, "
        "ram (GiB) and optional disk (ephemeral GiB); default: the field's grammar <family>.<N>core-<M>ram[...]")
    mirror: str | None = Field(default=None, description="registry every image must come from (lint)")
    image_lock_max_age_days: int = Field(default=90, ge=1, description="a site's image lock older than this warns")

    def enabled(self, rule_id: str) -> bool:
        return not any(fnmatchcase(rule_id, pattern) for pattern in self.disable)


_CURRENT: ContextVar[CheckSettings] = ContextVar("beskar_check_settings", default=CheckSettings())


def current() -> CheckSettings:
    """The settings of the check being run (rules read conventions from here)."""
    return _CURRENT.get()


def activate(settings: CheckSettings):
    return _CURRENT.set(settings)


def deactivate(token) -> None:
    _CURRENT.reset(token)


def parse_settings(raw: Any, positions: dict[tuple, Origin], extra_disable: list[str] = ()) -> CheckSettings:
    """Typed settings from `fleet.checks` (positions relative to `fleet`), with every unknown rule id an error."""
    problems: list[Problem] = []
    root = positions.get(("checks",))
    try:
        settings = CheckSettings.model_validate(raw if raw is not None else {})
    except ValidationError as error:
        for item in error.errors(include_url=False):
            path = ("checks", *item["loc"])
            where = next((positions[path[:n]] for n in range(len(path), 0, -1) if path[:n] in positions), root)
            dotted = ".".join(str(p) for p in item["loc"])
            problems.append(Problem(f"fleet.checks.{dotted}: {item['msg']}", where))
        raise InputError(problems) from None
    for index, pattern in enumerate([*settings.disable, *extra_disable]):
        # the rules imported so far first: a run's own rules are, and reading RULES whole imports every rule
        if not any(fnmatchcase(rule_id, pattern) for rule_id in RULES.registered()) and \
                not any(fnmatchcase(rule_id, pattern) for rule_id in RULES):
            where = positions.get(("checks", "disable", index)) if index < len(settings.disable) else None
            problems.append(Problem(f"no rule matches {pattern!r}", where, _did_you_mean(pattern)))
    for rule_id in settings.severity:
        if rule_id not in RULES:
            problems.append(Problem(f"no rule {rule_id!r}", positions.get(("checks", "severity", rule_id)),
                                    _did_you_mean(rule_id)))
    try:
        groups = set(re.compile(settings.flavor_name_pattern or "(?P<family>)(?P<vcpus>)(?P<ram>)").groupindex)
        if not {"family", "vcpus", "ram"} <= groups:
            problems.append(Problem("flavor_name_pattern needs the named groups family, vcpus and ram",
                                    positions.get(("checks", "flavor_name_pattern")), "e.g. (?P<vcpus>\\d+)"))
    except re.error as error:
        problems.append(Problem(f"flavor_name_pattern is not a regular expression: {error}",
                                positions.get(("checks", "flavor_name_pattern"))))
    if problems:
        raise InputError(problems)
    if extra_disable:
        settings = settings.model_copy(update={"disable": [*settings.disable, *extra_disable]})
    return settings


def _did_you_mean(word: str) -> str:
    close = difflib.get_close_matches(word, sorted(RULES), n=1)
    return f"did you mean {close[0]!r}?" if close else "`beskar rules` lists every rule"
