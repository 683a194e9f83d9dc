"""Tree rules on secrets: Secrets SOPS-encrypted, no credentials in clear text, SOPS files readable by their site."""

from __future__ import annotations

import posixpath
import re
from typing import Any, Iterator

from beskar.check.documents import Document
from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.check.repository import FluxRepository
from beskar.check.resources import Resource
from beskar.check.rules_tree_schema import applied, unapplied

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SECRET_WORDS = {"password", "passwd", "pwd", "passphrase", "secret", "token", "credential", "credentials"}
_KEY_QUALIFIERS = {"secret", "private", "api", "access", "auth", "encryption", "signing", "master", "shared"}
_REFERENCE = re.compile(r"^(\$\{.*\}|\{\{.*\}\}|ENC\[.*\]|vault:.*|ref\+.*|<.*>)$", re.S)


def sops_metadata(data: Any) -> dict[str, Any] | None:
    sops = data.get("sops") if isinstance(data, dict) else None
    return sops if isinstance(sops, dict) else None


def _encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("ENC[")


@rule("tree/plain-secret", Severity.ERROR, Scope.TREE,
      "Every Secret in the repository (and every secretGenerator input) is SOPS-encrypted.")
def plain_secrets(repository: FluxRepository) -> Iterator[Finding]:
    for resource in repository.objects():
        if resource.kind != "Secret" or not resource.api_version == "v1":
            continue
        sealed = sops_metadata(resource.data) is not None
        for section in ("data", "stringData"):
            values = resource.data.get(section)
            if not isinstance(values, dict):
                continue
            clear = [key for key, value in values.items() if value not in (None, "") and not _encrypted(value)]
            if clear:
                why = ("is SOPS-encrypted but these values are not" if sealed else "is not SOPS-encrypted")
                yield report("tree/plain-secret",
                             f"Secret {resource.name} {why}: {', '.join(map(str, clear[:5]))}"
                             + (" ..." if len(clear) > 5 else ""), **resource.at((section, clear[0])),
                             hint="encrypt it with sops (encrypted_regex: ^(data|stringData)$), e.g. "
                                  "`beskar secrets encrypt FILE --age RECIPIENT`")
    yield from repository.problems_of("tree/plain-secret")


def credential_key(key: str) -> bool:
    """Whether a key names a credential: ...password, ...secret, ...token, secret_key, private_key, api_key ...

    camelCase keys ending in `Secret` (existingSecret, passwordSecret) name a Secret object in Helm charts.
    """
    if re.search(r"[a-z]Secret$", key) or key.lower().startswith("existing"):
        return False
    words = [w.lower() for w in _WORDS.findall(key)]
    if not words:
        return False
    if words[-1] in _SECRET_WORDS:
        return True
    return words[-1] == "key" and len(words) > 1 and words[-2] in _KEY_QUALIFIERS


def _literals(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                yield from _literals(value, path + (key,))
            elif credential_key(str(key)) and _literal(value):
                yield path + (key,), value
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _literals(item, path + (index,))


def _literal(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and value.strip() != "" and not _REFERENCE.match(value.strip())


def _credential_holders(resource: Resource) -> Iterator[tuple[str, tuple[Any, ...], Any]]:
    if resource.kind == "HelmRelease":
        yield "HelmRelease values", ("spec", "values"), resource.spec.get("values")
    elif resource.kind == "ConfigMap" and resource.api_version == "v1":
        yield "ConfigMap data", ("data",), resource.data.get("data")


@rule("tree/clear-text-credential", Severity.ERROR, Scope.TREE,
      "No password-like value (keys such as password, secret, token, secret_key) written literally in "
      "HelmRelease values or ConfigMaps.")
def clear_text_credentials(repository: FluxRepository) -> Iterator[Finding]:
    checked = [(site, r) for site, r in applied(repository)] + [(None, r) for r in unapplied(repository)]
    for site, resource in checked:
        for what, root, values in _credential_holders(resource):
            for path, _ in _literals(values, root):
                dotted = ".".join(str(p) for p in path[len(root):])
                yield report("tree/clear-text-credential",
                             f"{resource.label()}: {what} set {dotted} to a literal value",
                             **resource.at(path), site=site,
                             hint="keep it in the SOPS-encrypted Secret and read it with valuesFrom "
                                  "(kind: Secret, valuesKey, targetPath)")


def _sops_config(repository: FluxRepository, file: str) -> tuple[str, Document] | None:
    """The nearest `.sops.yaml` above a file (sops looks upwards from where it runs)."""
    directory = posixpath.dirname(file)
    while True:
        candidate = posixpath.join(directory, ".sops.yaml") if directory else ".sops.yaml"
        parsed = repository.files.get(candidate)
        if parsed is not None and parsed.documents:
            return directory, parsed.documents[0]
        if not directory:
            return None
        directory = posixpath.dirname(directory)


def _age(value: Any) -> set[str]:
    if isinstance(value, str):
        return {r.strip() for r in value.split(",") if r.strip()}
    if isinstance(value, list):
        return {str(r).strip() for r in value if str(r).strip()}
    return set()


def expected_recipients(repository: FluxRepository, file: str) -> tuple[set[str], str, int] | None:
    """The age recipients the first matching creation rule names, with that rule's file and line."""
    found = _sops_config(repository, file)
    if found is None or not isinstance(found[1].data, dict):
        return None
    directory, config = found
    relative = file[len(directory) + 1:] if directory else file
    for index, creation in enumerate(config.data.get("creation_rules") or []):
        if not isinstance(creation, dict):
            continue
        pattern = creation.get("path_regex")
        try:
            if pattern is not None and not (re.search(str(pattern), relative) or re.search(str(pattern), file)):
                continue
        except re.error:
            continue
        recipients = _age(creation.get("age"))
        for group in creation.get("key_groups") or []:
            if isinstance(group, dict):
                recipients |= _age(group.get("age"))
        return recipients, config.file, config.line_of(("creation_rules", index))
    return None


def _short(recipient: str) -> str:
    return f"{recipient[:10]}...{recipient[-6:]}" if len(recipient) > 20 else recipient


@rule("tree/sops-recipient", Severity.ERROR, Scope.TREE,
      "Every SOPS-encrypted file is encrypted to an age recipient that its .sops.yaml creation rule names.")
def sops_recipients(repository: FluxRepository) -> Iterator[Finding]:
    for parsed, document in repository.documents():
        sops = sops_metadata(document.data)
        if sops is None:
            continue
        expected = expected_recipients(repository, parsed.path)
        if expected is None or not expected[0]:
            continue
        recipients, config, line = expected
        present = {str(e.get("recipient")) for e in sops.get("age") or [] if isinstance(e, dict)}
        if present & recipients:
            continue
        found = ", ".join(sorted(map(_short, present))) or "no age recipient"
        yield report("tree/sops-recipient",
                     f"encrypted to {found}, none of the recipients {config}:{line} names for this file",
                     file=parsed.path, line=document.line_of(("sops", "age")),
                     hint="re-encrypt it for the site's recipient (sops updatekeys, or "
                          "`beskar secrets recipients SITE add`)")
