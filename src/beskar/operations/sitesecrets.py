"""One site's secrets as the commands see them: its settings, the keys it needs, its encrypted file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from beskar.catalog import catalog
from beskar.fleet import LayeredSite, load_fleet
from beskar.fleet.record import Record
from beskar.fleet.repository import SOPS_CONFIG, secrets_path, section_of_every_site
from beskar.model import Site, type_secrets
from beskar.model.secrets import SecretsSettings
from beskar.operations.compilation import compile_fleet
from beskar.problems import InputError, Origin, Problem
from beskar.plan import secrets as plan
from beskar.secrets import secret, sopsconfig, sopsfile
from beskar.secrets.age import Identity
from beskar.secrets.errors import SopsError, as_input_error
from beskar.secrets.sealing import Opened, open_file
from beskar.secrets.sopsfile import SopsFile
from beskar.tree import write_file

Identities = Callable[[], list[Identity]]


@dataclass
class SiteSecrets:
    root: Path
    name: str
    site: Site
    layered: LayeredSite
    needs: list[plan.Need]
    source: SopsFile | None

    @property
    def relative(self) -> str:
        return secrets_path(self.name)

    @property
    def path(self) -> Path:
        return self.root / self.relative

    @property
    def namespace(self) -> str:
        return self.site.openstack.namespace

    @property
    def wanted(self) -> list[str]:
        """Who must be able to open the file: the site's own recipients, then the operators."""
        settings = self.site.secrets
        return list(dict.fromkeys([*settings.recipients, *settings.operators]))

    @property
    def existing(self) -> list[str]:
        return secret.key_names(self.source.documents[0]) if self.source else []

    def plan_sync(self) -> plan.Plan:
        return plan.plan_sync(self.needs, self.existing, self.site.secrets.password_length, self.comment)

    @property
    def comment(self) -> str:
        return f"beskar@{self.name}"

    def open(self, identities: Identities) -> Opened:
        if self.source is None:
            raise InputError([Problem(f"{self.relative} does not exist yet",
                                      hint=f"create it with `beskar secrets sync {self.name}`")])
        try:
            return open_file(self.source, identities())
        except SopsError as error:
            raise as_input_error(error) from None

    def require_recipients(self) -> None:
        if not self.wanted:
            origin = self.layered.origin(("secrets",))
            raise InputError([Problem(
                f"site {self.name} has no age recipients: nobody could open its secrets", origin,
                hint=f"run `beskar secrets keygen {self.name} --out FILE` for the site's Flux key, and set "
                     "secrets.operators (in beskar.yaml defaults) to your own age recipient")])


def load(root: Path, name: str) -> SiteSecrets:
    """Type the site, render what its Secret must hold, and read its encrypted file (no key needed)."""
    compiled = compile_fleet(root, [name])
    knowledge = catalog()
    pairs = plan.pairs_in(knowledge.credentials)
    needs = plan.needs_of(((n.key, n.kind) for n in compiled.rendered[name].secrets), pairs)
    layered = compiled.fleet.sites[name]
    return SiteSecrets(Path(root), name, compiled.sites[name], layered, needs, _source(layered))


def _source(layered: LayeredSite) -> SopsFile | None:
    """The site's encrypted file as the fleet read it (no key needed), or None if it does not exist yet."""
    if layered.secrets_file is None:
        return None
    relative = secrets_path(layered.name)
    try:
        text = layered.secrets_file.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError([Problem(f"not UTF-8 text: {error.reason}", Origin(relative, 1, 1, "secrets"))]) from None
    try:
        return sopsfile.read(text, relative)
    except SopsError as error:
        raise as_input_error(error) from None


def all_recipients(root: Path) -> dict[str, list[str]]:
    """site -> recipients for every site of the fleet (for .sops.yaml): only each site's secrets settings are
    typed, not the whole site, so that one site's secrets commands cost the same whatever the fleet's size."""
    sections = section_of_every_site(root, "secrets")
    if sections is not None:
        # Typing recipients (bech32 checksums) is recorded too, under the digest of the section it typed.
        record = Record(root, "recipients")
        try:
            found = {}
            for name, section in sections.items():
                entry = json.dumps(section, sort_keys=True, default=repr)  # a few recipients: the text is the key
                recipients = record.get(entry)
                if recipients is None:
                    typed = SecretsSettings.model_validate(section or {})
                    recipients = list(dict.fromkeys([*typed.recipients, *typed.operators]))
                    record.put(entry, recipients)
                found[name] = recipients
            record.save()
            return found
        except ValueError:  # pydantic's ValidationError: the placed problems come from load_fleet's path below
            pass
    fleet = load_fleet(root)
    result = {}
    problems = []
    for name, layered in fleet.sites.items():
        try:
            settings = type_secrets(layered)
        except InputError as error:
            problems.extend(error.problems)
            continue
        result[name] = list(dict.fromkeys([*settings.recipients, *settings.operators]))
    if problems:
        raise InputError(problems)
    return result


def update_sops_config(root: Path) -> str:
    """Write .sops.yaml from the fleet if it is Beskar's (or absent); says what happened."""
    path = Path(root) / SOPS_CONFIG
    try:
        content = sopsconfig.sops_config(all_recipients(root))
    except InputError:
        return f"{SOPS_CONFIG} not updated: the fleet has problems (see `beskar render`)"
    if path.is_file():
        current = path.read_bytes()
        if current == content:
            return f"{SOPS_CONFIG} up to date"
        if not sopsconfig.generated(current):
            return f"{SOPS_CONFIG} left alone: it was not written by Beskar"
    write_file(path, content)
    return f"{SOPS_CONFIG} written"
