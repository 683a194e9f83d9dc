"""Tree rules on secrets: Secrets SOPS-encrypted, no credentials in clear text, SOPS files readable by their site."""

from __future__ import annotations

import base64
import functools
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
# Not a credential but where one will come from: ${VAR}, {{ template }}, ENC[sops], vault:, ref+, op://
# (1Password), <changeme>, **** and other masks.
_REFERENCE = re.compile(r"^(\$\{.*\}|\{\{.*\}\}|ENC\[.*\]|vault:.*|ref\+.*|op://.*|<.*>|\*{3,}|x{4,}|X{4,}"
                        r"|changeme|change-me|CHANGEME|CHANGE_ME|REPLACE_ME|TODO)$", re.S)
# A credential inside an embedded config file: `secret = ...`, `api_token: ...`, a TSIG `secret "...";`.
_EMBEDDED = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.-]*)\s*(?:=|:(?=\s))\s*(\S.*?)\s*;?\s*$")
_TSIG = re.compile(r"^\s*secret\s+\"([^\"]+)\"\s*;")


def sops_metadata(data: Any) -> dict[str, Any] | None:
    sops = data.get("sops") if isinstance(data, dict) else None
    return sops if isinstance(sops, dict) else None


def _encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("ENC[")


def placeholder(value: Any, encoded: bool = False) -> bool:
    """A value that stands for a credential to be filled in (`${VAR}`, `op://...`, `<changeme>`, `****`)."""
    if encoded and isinstance(value, str):
        try:
            value = base64.b64decode(value, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
    return isinstance(value, str) and _REFERENCE.match(value.strip()) is not None


def _applied_files(repository: FluxRepository) -> set[str]:
    return {r.file for cluster in repository.clusters.values() for r in cluster.resources}


@rule("tree/plain-secret", Severity.ERROR, Scope.TREE,
      "Every Secret a cluster applies (and every secretGenerator input) is SOPS-encrypted; values that are "
      "placeholders (${VAR}, op://..., <changeme>, ****) are not credentials.")
def plain_secrets(repository: FluxRepository) -> Iterator[Finding]:
    applied_files = _applied_files(repository)
    for resource in repository.objects():
        if resource.kind != "Secret" or not resource.api_version == "v1" or resource.file not in applied_files:
            continue
        sealed = sops_metadata(resource.data) is not None
        for section in ("data", "stringData"):
            values = resource.data.get(section)
            if not isinstance(values, dict):
                continue
            clear = [key for key, value in values.items() if value not in (None, "") and not _encrypted(value)
                     and not placeholder(value, encoded=section == "data")]
            if clear:
                why = ("is SOPS-encrypted but these values are not" if sealed else "is not SOPS-encrypted")
                yield report("tree/plain-secret",
                             f"Secret {resource.name} {why}: {', '.join(map(str, clear[:5]))}"
                             + (" ..." if len(clear) > 5 else ""), **resource.at((section, clear[0])),
                             hint="encrypt it with sops (encrypted_regex: ^(data|stringData)$), e.g. "
                                  "`beskar secrets encrypt FILE --age RECIPIENT`")
    yield from repository.problems_of("tree/plain-secret")


@functools.lru_cache(maxsize=1 << 16)  # the same few thousand keys in every site's values
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


def _literals(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any, int]]:
    """(path, value, line within the value) of every credential written literally, also inside block scalars."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                yield from _literals(value, path + (key,))
            elif credential_key(str(key)) and _literal(value):
                yield path + (key,), value, -1
            elif isinstance(value, str) and "\n" in value:
                for number, line in _embedded(value):
                    yield path + (key,), line, number
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _literals(item, path + (index,))


def _embedded(text: str) -> Iterator[tuple[int, str]]:
    """Lines of an embedded config file (INI, YAML, named.conf) that set a credential literally."""
    for number, line in enumerate(text.splitlines()):
        if line.lstrip().startswith(("#", ";", "//")):
            continue
        tsig = _TSIG.match(line)
        if tsig and _literal(tsig.group(1)):
            yield number, "secret"
            continue
        match = _EMBEDDED.match(line)
        if match and credential_key(match.group(1)) and _literal(match.group(2).strip("\"'")):
            yield number, match.group(1)


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
            for path, value, number in _literals(values, root):
                dotted = ".".join(str(p) for p in path[len(root):])
                file, line = resource.where(path)
                if number >= 0:  # inside a block scalar: its text starts on the line after the key
                    line += number + 1
                    dotted = f"{dotted} (its {value} line)"
                yield report("tree/clear-text-credential",
                             f"{resource.label()}: {what} set {dotted} to a literal value",
                             file=file, line=line, site=site,
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
