"""The semantic diff of two revisions' Kubernetes objects, keyed by (kind, namespace, name)."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Iterable, Sequence

from beskar.diff.changes import Change, FieldChange, Manifest, ObjectChange, ObjectKey, TextChange
from beskar.diff.structure import MISSING, Leaf, Path, compare, dotted
from beskar.diff.texts import diff_text, digest, is_text_file

# Labels every chart bump rewrites (Helm's and Kubernetes' recommended conventions): folded unless --all.
NOISE_KEYS = frozenset({"helm.sh/chart", "chart", "app.kubernetes.io/version", "heritage"})
SECRET_KINDS = frozenset({"Secret"})
DATA_KINDS = frozenset({"Secret", "ConfigMap"})
# SOPS metadata of an encrypted Secret changes with every edit (MAC, IVs, timestamps): not a change to review.
SOPS_KEYS = frozenset({"sops"})


def index(manifests: Iterable[Manifest]) -> dict[ObjectKey, Manifest]:
    """Manifests by key; a later duplicate wins, as the last applied would (build checks duplicates)."""
    return {m.key: m for m in manifests}


def decoded_data(body: dict[str, Any]) -> dict[str, Any]:
    """A ConfigMap's or Secret's data as text where it is text: base64 `data` of a Secret decoded, `stringData`
    merged over it as the API server does, `binaryData` kept as base64."""
    kind = body.get("kind")
    data: dict[str, Any] = {}
    if kind == "Secret":
        for key, value in (body.get("data") or {}).items():
            data[key] = _decode(value)
        for key, value in (body.get("stringData") or {}).items():
            data[key] = value
    else:
        data.update(body.get("data") or {})
    for key, value in (body.get("binaryData") or {}).items():
        data[key] = f"<binary {len(str(value))} base64 chars>"
    return data


def _decode(value: Any) -> Any:
    if not isinstance(value, str) or value.startswith("ENC["):
        return value  # SOPS ciphertext: compared as it is, shown only as a digest
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"<binary {len(raw)} bytes>"


def _without(body: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def _is_noise(path: Path) -> bool:
    """A chart version label, anywhere (the object's or its pod template's labels)."""
    return len(path) >= 2 and path[-2] == "labels" and str(path[-1]) in NOISE_KEYS


def diff_object(key: ObjectKey, old: Manifest | None, new: Manifest | None, *, everything: bool = False,
                salt: str = "") -> ObjectChange | None:
    """One object's change, or None when both revisions have the same object."""
    placed = new or old
    assert placed is not None
    if old is None or new is None:
        change = Change.ADDED if old is None else Change.REMOVED
        return ObjectChange(key, placed.layer, placed.release, change)
    if old.body == new.body:
        return None
    secret = key.kind in SECRET_KINDS
    skip = ("data", "stringData", "binaryData", *SOPS_KEYS) if key.kind in DATA_KINDS else ()
    fields, texts, folded = document_changes(_without(old.body, skip), _without(new.body, skip),
                                             everything=everything)
    if key.kind in DATA_KINDS:
        data_fields, data_texts, _ = document_changes(decoded_data(old.body), decoded_data(new.body),
                                                      prefix=("data",), secret=secret, salt=f"{salt}/{key}")
        fields += data_fields
        texts += data_texts
    if not fields and not texts:
        return None  # only SOPS metadata moved, or only chart version labels (folded unless --all)
    return ObjectChange(key, new.layer, new.release, Change.CHANGED, tuple(fields), tuple(texts), folded)


def document_changes(old: Any, new: Any, *, prefix: Path = (), everything: bool = True, secret: bool = False,
                     salt: str = "") -> tuple[list[FieldChange], list[TextChange], int]:
    """The field changes of two documents, files inside string values as line diffs; with `secret`, every value
    as a digest. Returns (fields, texts, how many noise changes were folded)."""
    fields: list[FieldChange] = []
    texts: list[TextChange] = []
    folded = 0
    for leaf in compare(old, new, prefix):
        if not everything and _is_noise(leaf.path):
            folded += 1
            continue
        fields.extend(_field(leaf, texts, secret=secret, salt=salt))
    return fields, texts, folded


def _field(leaf: Leaf, texts: list[TextChange], *, secret: bool, salt: str) -> list[FieldChange]:
    path = dotted(leaf.path)
    old = None if leaf.old is MISSING else leaf.old
    new = None if leaf.new is MISSING else leaf.new
    if leaf.change is Change.CHANGED and (is_text_file(old) or is_text_file(new)) and \
            isinstance(old, str) and isinstance(new, str):
        text = diff_text(path, old, new, secret=secret, salt=salt)
        if text is not None:
            texts.append(text)
            return []
    if secret:
        return [FieldChange(path, leaf.change, None if old is None else digest(old, salt),
                            None if new is None else digest(new, salt), secret=True)]
    return [FieldChange(path, leaf.change, old, new)]


def diff_objects(base: Sequence[Manifest], head: Sequence[Manifest], *, everything: bool = False,
                 salt: str = "") -> list[ObjectChange]:
    """Every object added, removed or changed between two revisions, in (layer, release, kind, ns, name) order."""
    before, after = index(base), index(head)
    changes = []
    for key in sorted(set(before) | set(after)):
        change = diff_object(key, before.get(key), after.get(key), everything=everything, salt=salt)
        if change is not None:
            changes.append(change)
    return sorted(changes, key=lambda c: (c.layer, c.release, c.key))
