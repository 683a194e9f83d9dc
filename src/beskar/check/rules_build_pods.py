"""Build rules over the final pod specs: images through the mirror and pinned, pods schedulable on the site's
nodes, and every ConfigMap, Secret, PVC and ServiceAccount a pod uses made by the site."""

from __future__ import annotations

from typing import Any, Iterator

from beskar.check.build import BuiltSite, containers, workloads
from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.render.images import tag_of


@rule("build/image-mirror", Severity.WARNING, Scope.BUILD, "every container and init container image of the final "
      "pod specs comes through the site's mirror (fleet.build.allow_images lists exceptions)")
def image_mirror(built: BuiltSite) -> Iterator[Finding]:
    if not built.mirror:
        return
    seen = set()
    for item, spec in workloads(built):
        for container in containers(spec):
            image = str(container.get("image", ""))
            if not image or image.startswith(built.mirror.rstrip("/") + "/") or (item.release, image) in seen \
                    or any(image.startswith(prefix) for prefix in built.allowed_images):
                continue
            seen.add((item.release, image))
            file, line = built.where(item)
            yield report("build/image-mirror", f"{item.key} runs {image}, not from the mirror {built.mirror}",
                         file=file, line=line, site=built.site,
                         hint="set the chart's image values to the mirror, or allow it in fleet.build.allow_images")


@rule("build/image-tag", Severity.ERROR, Scope.BUILD, "every image of the final pod specs is pinned: a tag other "
      "than latest, or a digest")
def image_tags(built: BuiltSite) -> Iterator[Finding]:
    seen = set()
    for item, spec in workloads(built):
        for container in containers(spec):
            image = str(container.get("image", ""))
            if not image or "@sha256:" in image or (tag_of(image) not in (None, "latest")) or image in seen:
                continue
            seen.add(image)
            file, line = built.where(item)
            yield report("build/image-tag", f"{item.key} runs {image} without a pinned tag", file=file, line=line,
                         site=built.site, hint="pin a version tag or a digest")


def _selects(labels: dict[str, str], spec: dict[str, Any]) -> bool:
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != str(value):
            return False
    required = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
                 .get("requiredDuringSchedulingIgnoredDuringExecution")) or {})
    terms = required.get("nodeSelectorTerms") or []
    return not terms or any(_term(labels, term) for term in terms)


def _term(labels: dict[str, str], term: dict[str, Any]) -> bool:
    for expression in term.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        has = key in labels
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and has and labels[key] in values:
            return False
        if operator == "Exists" and not has:
            return False
        if operator == "DoesNotExist" and has:
            return False
        if operator in ("Gt", "Lt"):
            try:
                number, limit = int(labels.get(key, "")), int(values[0])
            except (ValueError, IndexError):
                return False
            if (operator == "Gt" and not number > limit) or (operator == "Lt" and not number < limit):
                return False
    return True


@rule("build/unschedulable", Severity.ERROR, Scope.BUILD, "every pod can be scheduled on some node of the site: "
      "its nodeSelector and required node affinity match the node labels the inventory gives")
def unschedulable(built: BuiltSite) -> Iterator[Finding]:
    nodes = built.node_labels()
    if not nodes:
        return
    placed = []
    for item, spec in workloads(built):
        placed.append((item, spec, any(_selects(labels, spec) for labels in nodes)))
    # A chart that splits one DaemonSet by node label (openstack-helm's overrides) leaves the catch-all one on
    # no node when every node has a label: that one runs nowhere by design.
    split = {(i.release, i.template) for i, _, fits in placed if i.kind == "DaemonSet" and fits}
    for item, spec, fits in placed:
        if not fits and not (item.kind == "DaemonSet" and (item.release, item.template) in split):
            file, line = built.where(item)
            wanted = dict(spec.get("nodeSelector") or {})
            yield report("build/unschedulable", f"{item.key} fits no node of the site (nodeSelector {wanted or '{}'}"
                         f"{', required node affinity' if spec.get('affinity') else ''})", file=file, line=line,
                         site=built.site, hint="give some node the role or label the chart selects on")


def _uses(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        if isinstance(volume.get("configMap"), dict) and not volume["configMap"].get("optional"):
            yield "ConfigMap", str(volume["configMap"].get("name"))
        if isinstance(volume.get("secret"), dict) and not volume["secret"].get("optional"):
            yield "Secret", str(volume["secret"].get("secretName"))
        if isinstance(volume.get("persistentVolumeClaim"), dict):
            yield "PersistentVolumeClaim", str(volume["persistentVolumeClaim"].get("claimName"))
        for source in ((volume.get("projected") or {}).get("sources")) or []:
            for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
                if isinstance(source.get(key), dict) and not source[key].get("optional"):
                    yield kind, str(source[key].get("name"))
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if account:
        yield "ServiceAccount", str(account)


@rule("build/missing-object", Severity.ERROR, Scope.BUILD, "every ConfigMap, Secret and PVC a pod mounts and every "
      "ServiceAccount it runs as is made by some release or layer of the site (or provided outside it)")
def missing_objects(built: BuiltSite) -> Iterator[Finding]:
    claims = _claim_templates(built)
    for item, spec in workloads(built):
        for kind, name in sorted(set(_uses(spec))):
            if built.exists(kind, item.namespace, name) or (kind == "PersistentVolumeClaim"
                                                            and (item.namespace, name) in claims):
                continue
            file, line = built.where(item)
            yield report("build/missing-object", f"{item.key} uses {kind} {item.namespace}/{name}, which nothing "
                         "in the site makes", file=file, line=line, site=built.site,
                         hint="made outside Flux? list it in fleet.build.provided")


def _claim_templates(built: BuiltSite) -> set[tuple[str, str]]:
    """PVCs a StatefulSet makes for itself: <template>-<statefulset>-<ordinal>."""
    found = set()
    for item in built.build.objects():
        if item.kind == "StatefulSet":
            spec = item.body.get("spec") or {}
            for template in spec.get("volumeClaimTemplates") or []:
                for ordinal in range(int(spec.get("replicas") or 1)):
                    found.add((item.namespace, f"{(template.get('metadata') or {}).get('name')}-{item.name}-{ordinal}"))
    return found
