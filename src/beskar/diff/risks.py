"""Risk flags: what an object change does to a running cloud (restarts, re-runs, refusals, deletions)."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from beskar.diff.changes import Change, Flag, Manifest, ObjectChange, ObjectKey, Risk
from beskar.diff.objects import NOISE_KEYS, index
from beskar.diff.structure import compare
from beskar.catalog import catalog
from beskar.render.images import images_of, tag_of

WORKLOADS = frozenset({"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet"})
# Fields Kubernetes refuses to change in place, per kind.
IMMUTABLE = {
    "StatefulSet": ("spec.selector", "spec.volumeClaimTemplates", "spec.serviceName", "spec.podManagementPolicy"),
    "Deployment": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
}
NodeLabels = Mapping[str, Mapping[str, str]]  # node name -> its Kubernetes labels


def _paths(change: ObjectChange) -> list[str]:
    return [f.path for f in change.fields] + [t.path for t in change.texts]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


def _template_changed(change: ObjectChange, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """The pod template differs beyond chart version labels (checksum annotations count: that is their job)."""
    before = (old.get("spec") or {}).get("template")
    after = (new.get("spec") or {}).get("template")
    return any(str(leaf.path[-1]) not in NOISE_KEYS for leaf in compare(before, after))


def _selector_matches(labels: Mapping[str, str], pod_spec: dict[str, Any]) -> bool:
    """Whether a node with `labels` passes the pod's nodeSelector and required node affinity."""
    selector = pod_spec.get("nodeSelector") or {}
    if any(labels.get(k) != str(v) for k, v in selector.items()):
        return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    return any(all(_expression(labels, e) for e in term.get("matchExpressions") or []) for term in terms)


def _expression(labels: Mapping[str, str], expression: dict[str, Any]) -> bool:
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    present = key in labels
    if operator == "In":
        return present and labels[key] in [str(v) for v in values]
    if operator == "NotIn":
        return not present or labels[key] not in [str(v) for v in values]
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    return True  # Gt/Lt: numeric labels Beskar never sets; do not claim a node count from them


def scheduled_nodes(body: dict[str, Any], nodes: NodeLabels) -> int:
    """How many of the site's nodes a DaemonSet's pods run on."""
    pod_spec = ((body.get("spec") or {}).get("template") or {}).get("spec") or {}
    return sum(1 for labels in nodes.values() if _selector_matches(labels, pod_spec))


def _images(body: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    return dict(images_of(body))


def _number(value: Any, total: int = 100) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return float(value[:-1]) * total / 100
    return None


def _pdb_tightened(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    before, after = old.get("spec") or {}, new.get("spec") or {}
    low, high = _number(before.get("minAvailable")), _number(after.get("minAvailable"))
    if high is not None and (low is None or high > low):
        return f"minAvailable {before.get('minAvailable', 'unset')} -> {after.get('minAvailable')}"
    low, high = _number(before.get("maxUnavailable")), _number(after.get("maxUnavailable"))
    if high is not None and low is not None and high < low:
        return f"maxUnavailable {before.get('maxUnavailable')} -> {after.get('maxUnavailable')}"
    return None


def _secret_readers(key: ObjectKey, changed_keys: set[str], head: Iterable[Manifest]) -> dict[str, list[str]]:
    """HelmRelease -> the changed keys of Secret `key` it reads through valuesFrom (same namespace)."""
    readers: dict[str, list[str]] = {}
    for manifest in head:
        body = manifest.body
        if body.get("kind") != "HelmRelease" or (body.get("metadata") or {}).get("namespace", "") != key.namespace:
            continue
        for source in (body.get("spec") or {}).get("valuesFrom") or []:
            if source.get("kind") == "Secret" and source.get("name") == key.name:
                wanted = source.get("valuesKey")
                hit = sorted(changed_keys) if wanted is None else [wanted] if wanted in changed_keys else []
                if hit:
                    readers.setdefault(body["metadata"]["name"], []).extend(hit)
    return readers


def flags(changes: Iterable[ObjectChange], base: Iterable[Manifest], head: Iterable[Manifest],
          nodes: NodeLabels) -> list[Flag]:
    """Every risk the object changes carry, in the order of the changes."""
    base, head = list(base), list(head)
    before, after = index(base), index(head)
    found: list[Flag] = []
    for change in changes:
        found.extend(_flags_of(change, before.get(change.key), after.get(change.key), head, nodes))
    return found


def _flags_of(change: ObjectChange, old: Manifest | None, new: Manifest | None, head: list[Manifest],
              nodes: NodeLabels) -> Iterator[Flag]:
    key, subject, release = change.key, str(change.key), change.release
    if change.change is Change.REMOVED:
        yield Flag(Risk.PRUNED, subject, "removed: Flux prunes it from the cluster", release)
    if key.kind == "CustomResourceDefinition":
        yield Flag(Risk.CRD, subject, f"CRD {change.change.value}: every resource of the kind is affected", release)
    if old is None or new is None:
        return
    if change.change is not Change.CHANGED:
        return
    paths = _paths(change)
    if key.kind in WORKLOADS and _template_changed(change, old.body, new.body):
        count = scheduled_nodes(new.body, nodes) if key.kind == "DaemonSet" and nodes else None
        if key.kind == "DaemonSet":
            where = f"on {count} node(s)" if count is not None else "on every node it selects"
        else:
            where = f"{(new.body.get('spec') or {}).get('replicas', 1)} replica(s)"
        if count != 0:  # a DaemonSet no node runs restarts nothing (nova-compute-default beside the families')
            yield Flag(Risk.RESTART, subject, f"pod template changed: pods restart ({where})", release, count)
    if key.kind == "Job" and any(_under(p, "spec") for p in paths):
        yield Flag(Risk.JOB_RERUN, subject, "Job spec changed: it is immutable, so Flux replaces it and it runs "
                                            "again", release)
    for prefix in IMMUTABLE.get(key.kind, ()):
        if any(_under(p, prefix) for p in paths):
            yield Flag(Risk.IMMUTABLE, subject, f"{prefix} changed: Kubernetes refuses it (delete and recreate)",
                       release)
    if key.kind == "Service" and any(_under(p, "spec.selector") for p in paths):
        yield Flag(Risk.SERVICE_SELECTOR, subject, "Service selector changed: it may select other pods", release)
    if key.kind == "PodDisruptionBudget":
        why = _pdb_tightened(old.body, new.body)
        if why:
            yield Flag(Risk.PDB_TIGHTENED, subject, f"PodDisruptionBudget tightened ({why}): drains may block",
                       release)
    if key.kind == "HelmRelease":
        old_version = (((old.body.get("spec") or {}).get("chart") or {}).get("spec") or {}).get("version")
        new_version = (((new.body.get("spec") or {}).get("chart") or {}).get("spec") or {}).get("version")
        if old_version != new_version:
            yield Flag(Risk.CHART_VERSION, subject, f"chart version {old_version} -> {new_version}",
                       key.name)
    if key.kind in ("GitRepository", "OCIRepository") and any(_under(p, "spec.ref") for p in paths):
        yield Flag(Risk.CHART_VERSION, subject, "chart source moves to another ref: every chart it serves "
                                                "may change", release)
    yield from _release_moves(change, old.body, new.body)
    if key.kind == "Secret":
        changed = {_data_key(f.path) for f in change.fields if f.path.startswith(("data.", "data["))}
        for reader, keys in sorted(_secret_readers(key, changed, head).items()):
            yield Flag(Risk.SECRET_READERS, f"HelmRelease {key.namespace}/{reader}",
                       f"reads changed key(s) {', '.join(sorted(set(keys)))} of {subject}: Flux upgrades the release",
                       reader)


def _data_key(path: str) -> str:
    """`data["nova.oslo_db.nova.password"]` or `data.token` -> the Secret's key."""
    rest = path[len("data"):]
    return rest[2:-2] if rest.startswith('["') else rest[1:]


def _release_moves(change: ObjectChange, old: dict[str, Any], new: dict[str, Any]) -> Iterator[Flag]:
    before, after = _images(old), _images(new)
    moves: dict[tuple[str, str], int] = {}
    for path, image in after.items():
        previous = before.get(path)
        if previous is None or previous == image:
            continue
        was, now = (catalog().release_of_tag(tag_of(reference) or "") for reference in (previous, image))
        if was and now and was != now:
            moves[(was, now)] = moves.get((was, now), 0) + 1
    for (was, now), count in sorted(moves.items()):
        yield Flag(Risk.IMAGE_RELEASE, str(change.key), f"{count} image(s) move from OpenStack {was} to {now}",
                   change.release)
