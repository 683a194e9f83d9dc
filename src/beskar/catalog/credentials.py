"""Which credentials a chart reads, and the flat key of each in the site's Secret `common`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from beskar.catalog.knowledge import Catalog


class SecretKind(StrEnum):
    PASSWORD = "password"
    HEX = "hex"
    UUID = "uuid"
    SSH_PRIVATE_KEY = "ssh_private_key"
    SSH_PUBLIC_KEY = "ssh_public_key"


# Generated from their pair, never on their own (a key pair's public half).
DERIVED = frozenset({SecretKind.SSH_PUBLIC_KEY.value})
DEFAULT_LENGTH = 32  # of generated passwords and hex tokens, unless the site's secrets.password_length says


@dataclass(frozen=True, order=True)
class Credential:
    """One valuesFrom entry: the flat Secret key, the values path it fills, and how it is generated."""

    key: str
    target: str
    kind: SecretKind = SecretKind.PASSWORD


def chart_credentials(catalog: Catalog, component: str, deployed: frozenset[str]) -> list[Credential]:
    """The credentials the component's chart reads, given the components deployed in the site."""
    spec = catalog.components[component]
    rules = catalog.credentials
    skeleton = catalog.values_skeleton(spec.chart)
    ignored = set(rules.get("ignored", {}).get(spec.chart, ()))
    skip_users = set(rules["never_deployed"])
    found: dict[str, Credential] = {}
    explicit = {**rules["charts"].get(spec.chart, {}), **rules["ceph"].get(spec.chart, {})}

    endpoints = skeleton.get("endpoints") or {}
    for section, body in endpoints.items():
        auth = body.get("auth") if isinstance(body, dict) else None
        if not isinstance(auth, dict) or section in rules["ignored_sections"]:
            continue
        for user, fields in auth.items():
            target = f"endpoints.{section}.auth.{user}.password"
            if target in explicit or f"{section}.{user}" in ignored:
                continue
            if user == "memcache_secret_key":
                memcache = rules["memcache_secret_key"]
                found[f"endpoints.{section}.auth.{user}"] = Credential(
                    memcache["key"], f"endpoints.{section}.auth.{user}", SecretKind(memcache["kind"]))
                continue
            if not isinstance(fields, dict) or "password" not in fields or user in skip_users:
                continue
            if user in catalog.components and user != component and user not in deployed:
                continue
            found[target] = Credential(_flat_key(catalog, component, section, user), target)

    for target, rule in explicit.items():
        found[target] = Credential(rule["key"], target, SecretKind(rule.get("kind", "password")))
    return sorted(found.values(), key=lambda c: c.target)


def _flat_key(catalog: Catalog, component: str, section: str, user: str) -> str:
    rules = catalog.credentials
    shared = rules["shared"].get(f"{section}.{user}")
    if shared:
        return shared
    section = rules["section_aliases"].get(section, section)
    # A user named after a deployable component belongs to it (nova's `neutron` user is neutron's).
    owner = user if user in catalog.components else component
    return f"{owner}.{section}.{user}.password"
