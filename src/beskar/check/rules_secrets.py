"""Rules over each site's encrypted Secret: every key its releases read is there, and only the right people can open it."""

from __future__ import annotations

from typing import Iterable

from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.fleet import LayeredSite
from beskar.fleet.repository import secrets_path
from beskar.model import Site
from beskar.render.site import RenderedSite
from beskar.secrets import secret, sopsfile
from beskar.secrets.demo import DEMO_RECIPIENTS
from beskar.secrets.errors import SopsError


def _wanted(site: Site) -> list[str]:
    return list(dict.fromkeys([*site.secrets.recipients, *site.secrets.operators]))


@rule("model/secrets-file", Severity.ERROR, Scope.MODEL,
      "the site's secrets file exists, is SOPS, is the Secret `common` in the OpenStack namespace, and holds "
      "every key the HelmReleases read through valuesFrom")
def secrets_file(site: Site, layered: LayeredSite, rendered: RenderedSite,
                 secrets: sopsfile.SopsFile | SopsError | None) -> Iterable[Finding]:
    relative = secrets_path(site.name)
    needs = rendered.secrets
    if not needs:
        return
    source = secrets
    if source is None:
        # Placed in the site file (at its own recipients, which the file would be encrypted to): a report can
        # only point at a file the repository has.
        site_file = layered.files[-1]
        origin = layered.origin(("secrets", "recipients"))
        yield report("model/secrets-file", f"{relative} does not exist, but {len(needs)} valuesFrom keys read it",
                     file=site_file, line=origin.line if origin and origin.file == site_file else 1,
                     site=site.name, hint=f"run `beskar secrets sync {site.name}`")
        return
    if isinstance(source, SopsError):
        yield report("model/secrets-file", f"{source.where}: {source.message}", file=relative,
                     line=source.line or 1, site=site.name)
        return
    document = source.documents[0]
    metadata = document.get("metadata") or {}
    if document.get("kind") != "Secret" or metadata.get("name") != secret.NAME \
            or metadata.get("namespace") != site.openstack.namespace:
        yield report("model/secrets-file", f"the file must be the Secret {secret.NAME!r} in namespace "
                     f"{site.openstack.namespace!r} (found {document.get('kind')} {metadata.get('name')!r} in "
                     f"{metadata.get('namespace')!r})", file=relative, line=source.line_of("metadata") or 1,
                     site=site.name, hint=f"`beskar secrets sync {site.name}` sets them")
    have = set(secret.key_names(document))
    line = source.line_of("stringData") or 1
    for need in needs:
        if need.key not in have:
            yield report("model/secrets-file", f"key {need.key} ({need.kind}, read by {', '.join(need.readers)}) "
                         "is missing", file=relative, line=line, site=site.name,
                         hint=f"run `beskar secrets sync {site.name}`")


@rule("model/secrets-recipients", Severity.ERROR, Scope.MODEL,
      "the site has its own age recipient, and its secrets file is encrypted to exactly the site's own and the "
      "operators' recipients")
def secrets_recipients(site: Site, layered: LayeredSite,
                       secrets: sopsfile.SopsFile | SopsError | None) -> Iterable[Finding]:
    relative = secrets_path(site.name)
    if not site.secrets.recipients:
        origin = layered.origin(("secrets",))
        yield report("model/secrets-recipients", "the site has no age recipient of its own (its Flux key)",
                     file=origin.file if origin else None, line=origin.line if origin else None, site=site.name,
                     hint=f"run `beskar secrets keygen {site.name} --out FILE`")
    source = secrets
    if not isinstance(source, sopsfile.SopsFile):
        return
    in_file = source.metadata.recipients
    line = source.line_of("sops.age") or source.line_of("sops") or 1
    for recipient in _wanted(site):
        if recipient not in in_file:
            yield report("model/secrets-recipients", f"the file is not encrypted to {recipient}, a recipient of the "
                         "site", file=relative, line=line, site=site.name,
                         hint=f"run `beskar secrets sync {site.name}` to wrap the data key for it")
    for recipient in in_file:
        if recipient not in _wanted(site):
            yield report("model/secrets-recipients", f"the file is encrypted to {recipient}, which is neither the "
                         "site's own nor an operator's recipient", file=relative, line=line, site=site.name,
                         hint=f"`beskar secrets recipients {site.name} remove {recipient}` (rotates every value)")


@rule("model/secrets-demo-recipient", Severity.WARNING, Scope.MODEL,
      "no site is encrypted to, or configured with, the published DEMO keys of the example fleet")
def demo_recipient(site: Site, layered: LayeredSite) -> Iterable[Finding]:
    for field in ("recipients", "operators"):
        for index, recipient in enumerate(getattr(site.secrets, field)):
            if recipient in DEMO_RECIPIENTS:
                origin = layered.origin(("secrets", field, index))
                yield report("model/secrets-demo-recipient",
                             f"secrets.{field} lists the published {DEMO_RECIPIENTS[recipient]} key: anyone can "
                             "open this site's secrets", file=origin.file if origin else None,
                             line=origin.line if origin else None, site=site.name,
                             hint="fine for the demo; for a real site use `beskar secrets keygen`")


@rule("fleet/secrets-shared-recipient", Severity.ERROR, Scope.FLEET,
      "each site has its own age recipient: one site's key opens no other site's secrets")
def shared_recipient(sites: list[tuple[Site, LayeredSite]]) -> Iterable[Finding]:
    owners: dict[str, list[tuple[Site, LayeredSite, int]]] = {}
    for site, layered in sites:
        for index, recipient in enumerate(site.secrets.recipients):
            owners.setdefault(recipient, []).append((site, layered, index))
    for recipient, holders in sorted(owners.items()):
        if len(holders) < 2:
            continue
        names = ", ".join(site.name for site, _, _ in holders)
        for site, layered, index in holders:
            origin = layered.origin(("secrets", "recipients", index))
            yield report("fleet/secrets-shared-recipient", f"{recipient} is a site recipient of {names}: its "
                         "identity opens all of them", file=origin.file if origin else None,
                         line=origin.line if origin else None, site=site.name,
                         hint="give each site its own key (`beskar secrets keygen SITE`); people who need every "
                              "site belong in secrets.operators")
