"""The MAAS operations the CLI runs: a site's machine plan against MAAS, and its live steps."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from beskar.catalog import catalog
from beskar.clients.maas import KEY_VARIABLE, URL_VARIABLE, ApiKey, LiveStep, MaasClient
from beskar.operations.compilation import compile_fleet
from beskar.plan.maas import MaasPlan, plan
from beskar.plan.steps import Outcome, Result, run_steps
from beskar.problems import InputError, Problem
from beskar.render.maas import MachinePlan, machine_plan


@dataclass(frozen=True)
class Planned:
    machine_plan: MachinePlan
    plan: MaasPlan


def site_machine_plan(root: Path, site: str) -> MachinePlan:
    compiled = compile_fleet(root, [site])
    return machine_plan(compiled.sites[site], catalog())


def connect(url: str | None, key: str | None) -> MaasClient:
    """A client from flags, else from BESKAR_MAAS_URL and BESKAR_MAAS_KEY."""
    url = url or os.environ.get(URL_VARIABLE)
    key = key or os.environ.get(KEY_VARIABLE)
    problems = []
    if not url:
        problems.append(Problem("no MAAS URL", hint=f"pass --url or set {URL_VARIABLE}, "
                                                    "e.g. http://maas.example.org:5240/MAAS"))
    if not key:
        problems.append(Problem("no MAAS API key", hint=f"pass --key or set {KEY_VARIABLE} to the "
                                                        "consumer:token:secret that `maas apikey` prints"))
    parsed = None
    if key:
        try:
            parsed = ApiKey.parse(key)
        except ValueError as failure:
            problems.append(Problem(f"the MAAS API key is not usable: {failure}"))
    if problems or parsed is None or not url:
        raise InputError(problems)
    return MaasClient(url, parsed)


def plan_site(root: Path, site: str, client: MaasClient | None = None,
              observed: Path | None = None) -> Planned:
    """The steps that bring MAAS to the site's machine plan, from a live MAAS or a saved machine listing."""
    wanted = site_machine_plan(root, site)
    if observed is not None:
        machines, subnets = _observed_file(observed)
    else:
        assert client is not None
        machines, subnets = client.machines(), client.subnets()
    return Planned(wanted, plan(wanted, machines, subnets))


def live_steps(planned: Planned, client: MaasClient, secrets: dict[str, str]) -> list[LiveStep]:
    return [LiveStep(client, step, planned.machine_plan, secrets) for step in planned.plan.steps]


def apply_plan(planned: Planned, client: MaasClient, secrets: dict[str, str],
               progress: Callable[[int, int, LiveStep, Result], None] | None = None) -> list[Outcome]:
    """Run the plan's steps in order, stopping at the first failure; running it again resumes."""
    return run_steps(live_steps(planned, client, secrets), progress)


def _observed_file(path: Path) -> tuple[list[Any], list[Any]]:
    """A saved `GET machines/` listing (a JSON list), or {"machines": [...], "subnets": [...]}."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as failure:
        raise InputError([Problem(f"cannot read the MAAS listing {path}: {failure}",
                                  hint="save one with `maas $PROFILE machines read > machines.json`")]) from None
    if isinstance(data, list):
        return data, []
    if isinstance(data, dict) and isinstance(data.get("machines"), list):
        return data["machines"], list(data.get("subnets") or [])
    raise InputError([Problem(f"{path} is neither a machine list nor {{machines, subnets}}")])


def read_secrets(text: str, source: str) -> dict[str, str]:
    """Secret values from decrypted SOPS output: a Kubernetes Secret (stringData or base64 data) or a flat map."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as failure:
        raise InputError([Problem(f"{source} is not YAML: {failure}")]) from None
    if not isinstance(document, dict):
        raise InputError([Problem(f"{source} is not a mapping of secret keys")])
    if document.get("kind") == "Secret":
        values = {k: str(v) for k, v in (document.get("stringData") or {}).items()}
        for key, value in (document.get("data") or {}).items():
            values.setdefault(key, str(value) if str(value).startswith("ENC[")
                              else base64.b64decode(str(value)).decode())
    else:
        values = {str(k): str(v) for k, v in document.items() if k != "sops"}
    if any(value.startswith("ENC[") for value in values.values()):
        raise InputError([Problem(f"{source} is still encrypted",
                                  hint="decrypt it: sops -d sites/<site>/secrets.sops.yaml | ... --secrets -")])
    return values
