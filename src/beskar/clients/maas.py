"""A thin client for MAAS's REST API 2.0 (OAuth 1.0 PLAINTEXT), and the live steps that run a MAAS plan."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Mapping
from urllib import error, parse, request

from beskar.plan.maas import Call, MaasStep, observe_machine
from beskar.plan.steps import Result, ResultType
from beskar.render.maas import MachinePlan

URL_VARIABLE = "BESKAR_MAAS_URL"
KEY_VARIABLE = "BESKAR_MAAS_KEY"
_PLACEHOLDER = re.compile(r"\{(system_id|interface|blockdevice|secret)(?::([^}]+))?\}")


class MaasError(Exception):
    """MAAS could not be reached or refused a request."""


@dataclass(frozen=True)
class ApiKey:
    consumer: str
    token: str
    secret: str

    @classmethod
    def parse(cls, text: str) -> ApiKey:
        parts = text.strip().split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError("a MAAS API key has three parts, consumer:token:secret (see `maas apikey`)")
        return cls(*parts)

    def header(self) -> str:
        # PLAINTEXT signs with "consumer_secret&token_secret"; MAAS consumers have an empty secret.
        fields = {
            "oauth_version": "1.0", "oauth_signature_method": "PLAINTEXT",
            "oauth_consumer_key": self.consumer, "oauth_token": self.token,
            "oauth_signature": parse.quote("&" + self.secret, safe=""),
            "oauth_nonce": uuid.uuid4().hex, "oauth_timestamp": str(int(time.time())),
        }
        return "OAuth " + ", ".join(f'{k}="{v}"' for k, v in fields.items())


class MaasClient:
    """Requests against `<url>/api/2.0/`; answers are decoded JSON."""

    def __init__(self, url: str, key: ApiKey, timeout: float = 30.0):
        self.base = url.rstrip("/") + "/api/2.0/"
        self.key = key
        self.timeout = timeout

    def call(self, method: str, path: str, op: str | None = None,
             params: tuple[tuple[str, str], ...] | list[tuple[str, str]] = ()) -> Any:
        query = [("op", op)] if op else []
        body = None
        if method == "GET":
            query += list(params)
        else:
            body = parse.urlencode(list(params)).encode()
        url = self.base + path.lstrip("/") + (("?" + parse.urlencode(query)) if query else "")
        req = request.Request(url, data=body, method=method, headers={
            "Authorization": self.key.header(), "Accept": "application/json",
            **({"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {})})
        try:
            with request.urlopen(req, timeout=self.timeout) as response:
                text = response.read().decode("utf-8", "replace")
        except error.HTTPError as failure:
            detail = failure.read().decode("utf-8", "replace")[:300]
            raise MaasError(f"{method} {path}{f' op={op}' if op else ''}: HTTP {failure.code}: {detail}") from None
        except (error.URLError, OSError) as failure:
            raise MaasError(f"cannot reach MAAS at {self.base}: {getattr(failure, 'reason', failure)}") from None
        return json.loads(text) if text.strip() else None

    def machines(self, hostname: str | None = None) -> list[dict[str, Any]]:
        return self.call("GET", "machines/", params=[("hostname", hostname)] if hostname else [])

    def subnets(self) -> list[dict[str, Any]]:
        return self.call("GET", "subnets/")

    def tag_exists(self, name: str) -> bool:
        return any(t.get("name") == name for t in self.call("GET", "tags/"))


class LiveStep:
    """One planned step against a live MAAS: says whether it would be skipped, and runs to a Result."""

    def __init__(self, client: MaasClient, step: MaasStep, machine_plan: MachinePlan, secrets: Mapping[str, str]):
        self.client, self.step, self.machine_plan, self.secrets = client, step, machine_plan, secrets

    @property
    def name(self) -> str:
        return f"{self.step.action.value} {self.step.hostname}"

    def _machine(self) -> dict[str, Any] | None:
        found = [m for m in self.client.machines(self.step.hostname) if m.get("hostname") == self.step.hostname]
        return found[0] if found else None

    def is_skip(self) -> Result:
        try:
            machine = self._machine()
        except MaasError as failure:
            return Result(ResultType.FAILED, str(failure))
        if self.step.action.value == "enlist":
            return Result(ResultType.SKIPPED, "already enlisted") if machine else Result(ResultType.COMPLETED)
        if machine is None:
            return Result(ResultType.SKIPPED, "not in MAAS yet (enlist it first)")
        if self.step.requires and machine.get("status_name") not in self.step.requires:
            return Result(ResultType.SKIPPED, f"MAAS status is {machine.get('status_name')}, "
                                              f"the step needs {' or '.join(self.step.requires)}")
        return Result(ResultType.COMPLETED)

    def run(self) -> Result:
        planned = self.machine_plan.machine(self.step.hostname)
        if planned is None:  # the planner never makes such a step; refuse rather than trust it
            return Result(ResultType.FAILED, f"{self.step.hostname} is not in the plan; refusing to touch it")
        try:
            for call in self.step.calls:
                machine = self._machine() if self.step.action.value != "enlist" else None
                if machine is not None:
                    macs = {planned.boot_mac, *(i.mac for i in planned.interfaces if i.mac)} - {None}
                    if observe_machine(machine).macs and not observe_machine(machine).macs & macs:
                        return Result(ResultType.FAILED, f"MAAS machine {machine['system_id']} has none of "
                                                         f"{planned.hostname}'s MACs; refusing to touch it")
                if call.path == "tags/" and self.client.tag_exists(dict(call.params)["name"]):
                    continue
                resolved = self._resolve(call, machine)
                self.client.call(resolved.method, resolved.path, resolved.op, resolved.params)
        except (MaasError, LookupError) as failure:
            return Result(ResultType.FAILED, str(failure))
        return Result(ResultType.COMPLETED, self.step.summary)

    def _resolve(self, call: Call, machine: dict[str, Any] | None) -> Call:
        def fill(text: str) -> str:
            def one(match: re.Match) -> str:
                kind, name = match.group(1), match.group(2)
                if kind == "secret":
                    if name not in self.secrets:
                        raise LookupError(f"secret {name} was not supplied: pass --secrets, e.g. "
                                          f"`sops -d sites/{self.machine_plan.site}/secrets.sops.yaml | "
                                          f"beskar maas apply {self.machine_plan.site} --secrets -`")
                    return self.secrets[name]
                if machine is None:
                    raise LookupError(f"{self.step.hostname} is not in MAAS")
                if kind == "system_id":
                    return machine["system_id"]
                if kind == "interface":
                    found = next((i for i in machine.get("interface_set") or [] if i["name"] == name), None)
                    if found is None:
                        raise LookupError(f"{self.step.hostname} has no interface {name} in MAAS")
                    return str(found["id"])
                found = next((b for b in machine.get("blockdevice_set") or [] if b.get("name") == name), None)
                if found is None:
                    raise LookupError(f"{self.step.hostname} has no disk {name} in MAAS")
                return str(found["id"])
            return _PLACEHOLDER.sub(one, text)

        return Call(call.method, fill(call.path), call.op, tuple((k, fill(v)) for k, v in call.params))
