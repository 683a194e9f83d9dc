"""Build rules over how objects meet: Services that select pods, Ingress backends, StorageClasses of claims."""

from __future__ import annotations

from typing import Iterator

from beskar.check.build import BuiltSite, pod_labels, pod_spec
from beskar.check.findings import Finding, Scope, Severity, report, rule


@rule("build/service-selector", Severity.WARNING, Scope.BUILD, "every Service with a selector selects the pods of "
      "some workload of its namespace")
def service_selectors(built: BuiltSite) -> Iterator[Finding]:
    pods = [(o.namespace, pod_labels(o.body)) for o in built.build.objects() if pod_spec(o.body) is not None]
    outside = [dict(labels) for labels in built.provided_pods]
    for item in built.build.objects():
        selector = (item.body.get("spec") or {}).get("selector") if item.kind == "Service" else None
        if not isinstance(selector, dict) or not selector:
            continue
        if not any(namespace == item.namespace and all(labels.get(k) == str(v) for k, v in selector.items())
                   for namespace, labels in pods) \
                and not any(all(selector.get(k) == v for k, v in labels.items()) for labels in outside):
            file, line = built.where(item)
            yield report("build/service-selector", f"{item.key} selects {selector}, which no pod of the site has",
                         file=file, line=line, site=built.site)


def _ports(service: dict) -> tuple[set[int], set[str]]:
    ports = (service.get("spec") or {}).get("ports") or []
    return {p.get("port") for p in ports if isinstance(p, dict)}, {p.get("name") for p in ports if isinstance(p, dict)}


@rule("build/ingress-backend", Severity.ERROR, Scope.BUILD, "every Ingress backend names a Service of the site and "
      "one of its ports")
def ingress_backends(built: BuiltSite) -> Iterator[Finding]:
    services = {(o.namespace, o.name): o.body for o in built.build.objects() if o.kind == "Service"}
    for item in built.build.objects():
        if item.kind != "Ingress":
            continue
        spec = item.body.get("spec") or {}
        backends = [spec.get("defaultBackend")] + [p.get("backend") for r in spec.get("rules") or []
                                                   for p in ((r.get("http") or {}).get("paths") or [])]
        for backend in backends:
            service = (backend or {}).get("service") if isinstance(backend, dict) else None
            if not isinstance(service, dict):
                continue
            name, port = service.get("name"), service.get("port") or {}
            file, line = built.where(item)
            target = services.get((item.namespace, name))
            if target is None:
                if not built.exists("Service", item.namespace, str(name)):
                    yield report("build/ingress-backend", f"{item.key} sends to Service {item.namespace}/{name}, "
                                 "which nothing in the site makes", file=file, line=line, site=built.site)
                continue
            numbers, names = _ports(target)
            if ("number" in port and port["number"] not in numbers) or ("name" in port and port["name"] not in names):
                yield report("build/ingress-backend", f"{item.key} sends to port {port} of Service "
                             f"{item.namespace}/{name}, which has ports {sorted(numbers)}", file=file, line=line,
                             site=built.site)


@rule("build/storage-class", Severity.ERROR, Scope.BUILD, "every StorageClass a PVC (or a StatefulSet's claim "
      "template) asks for exists in the site")
def storage_classes(built: BuiltSite) -> Iterator[Finding]:
    for item in built.build.objects():
        claims = []
        if item.kind == "PersistentVolumeClaim":
            claims = [item.body]
        elif item.kind == "StatefulSet":
            claims = (item.body.get("spec") or {}).get("volumeClaimTemplates") or []
        for claim in claims:
            wanted = (claim.get("spec") or {}).get("storageClassName")
            if wanted and not built.exists("StorageClass", "", str(wanted)):
                file, line = built.where(item)
                yield report("build/storage-class", f"{item.key} asks for StorageClass {wanted}, which the site "
                             "does not have", file=file, line=line, site=built.site)
