"""The fleet's .sops.yaml: one creation rule per site, so plain `sops` encrypts each site to its recipients."""

from __future__ import annotations

from beskar.secrets.sops import KUBERNETES_RULE_REGEX
from beskar.tree import GENERATED_MARK

HEADER = (f"{GENERATED_MARK} from the sites' secrets settings (`secrets.recipients` and `secrets.operators`).\n"
          "# Written by `beskar init` and `beskar secrets sync|keygen|recipients`; edit the fleet, not this file.\n")


def sops_config(recipients: dict[str, list[str]]) -> bytes:
    """The .sops.yaml text for site -> recipients (site's own first, then operators). Pure and deterministic.

    Each rule matches the site's SOPS files below sites/<site>/, keeps apiVersion, kind and metadata
    readable (Flux needs them clear) and encrypts data and stringData to exactly that site's recipients.
    """
    lines = [HEADER, "creation_rules:\n"]
    for site in sorted(recipients):
        keys = list(dict.fromkeys(recipients[site]))
        if not keys:
            continue
        # Site names are DNS labels: nothing in them needs escaping in a regex.
        lines.append(f"  - path_regex: ^sites/{site}/.*\\.sops\\.ya?ml$\n")
        lines.append(f"    encrypted_regex: {KUBERNETES_RULE_REGEX}\n")
        # One comma-separated string: the form every sops 3.x version reads.
        lines.append(f"    age: {','.join(keys)}\n")
    if len(lines) == 2:
        lines[-1] = "creation_rules: []\n"
    return "".join(lines).encode()


def generated(text: bytes) -> bool:
    return text.startswith(GENERATED_MARK.encode())
