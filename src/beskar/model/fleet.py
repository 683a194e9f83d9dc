"""The fleet's own settings (`fleet:` in beskar.yaml), typed like a site: an unknown or mistyped key is an error."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from beskar.fleet import Fleet
from beskar.fleet.repository import FLEET_FILE
from beskar.model.base import Text
from beskar.model.strict import Strict
from beskar.model.validation import explained, located
from beskar.problems import InputError, Origin, Problem


class Repository(Strict):
    url: str | None = Field(default=None, description="the clone URL Flux syncs every cluster from")
    branch: Text | None = None
    web: str | None = Field(default=None, description="the web view's address, when it is not the clone URL's")
    style: Literal["github", "gitlab"] | None = None


class Upgrade(Strict):
    waves: list[list[str]] = Field(default=[], description="lists of site or profile names upgraded together")


class ProvidedObject(Strict):
    """An object the cluster has without the fleet rendering it (the build rules do not miss it)."""

    kind: str
    name: str
    namespace: str = "*"


class Build(Strict):
    provided: list[ProvidedObject] = []
    allow_images: list[str] = []
    chart_sources: dict[str, str] = Field(default={}, description="source name -> path in the fleet or URL")


class FleetSettings(Strict):
    """`fleet:` in beskar.yaml: every key optional."""

    name: str | None = None
    repository: Repository = Repository()
    upgrade: Upgrade = Upgrade()
    build: Build = Build()
    # Typed by `beskar check` (check/settings.py), which knows the rules the keys name.
    checks: dict[str, Any] | None = None


def type_fleet(fleet: Fleet) -> FleetSettings:
    """The fleet's settings typed; raise InputError placing every problem at its line of beskar.yaml."""
    try:
        return FleetSettings.model_validate(fleet.settings)
    except ValidationError as error:
        raise InputError([_problem(fleet, e) for e in error.errors(include_url=False)]) from None


def _problem(fleet: Fleet, error: dict[str, Any]) -> Problem:
    loc = located(error)
    message, hint = explained(error, FleetSettings, loc, ".".join(str(p) for p in ("fleet", *loc)))
    positions = fleet.settings_positions
    where = next((positions[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in positions),
                 Origin(FLEET_FILE, 1, 1, "global"))
    return Problem(message, where, hint)
