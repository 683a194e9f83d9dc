"""Any YAML a repository may hold, however malformed its objects, gives findings with places, never a crash."""
from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from beskar.check.engine import Subject, run_rules
from beskar.check.repository import load_repository

KINDS = [("helm.toolkit.fluxcd.io/v2", "HelmRelease"), ("helm.toolkit.fluxcd.io/v2beta1", "HelmRelease"),
         ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"), ("source.toolkit.fluxcd.io/v1", "GitRepository"),
         ("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "Namespace"), ("apps/v1", "Deployment"),
         ("kustomize.config.k8s.io/v1beta1", "Kustomization"), ("example.org/v1", "Widget")]
KEYS = st.sampled_from(["spec", "metadata", "name", "namespace", "path", "dependsOn", "valuesFrom", "values",
                        "chart", "sourceRef", "chartRef", "kind", "image", "images", "tags", "data", "stringData",
                        "resources", "patches", "target", "patch", "password", "sops", "age", "recipient",
                        "targetNamespace", "configMapGenerator", "literals", "files"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.sampled_from(
    ["", "a", "../x", "./apps", "apps", "x.yaml", "latest", "nginx", "nginx:latest", "ENC[x]", "a=b", "*", "[",
     "2024.1-ubuntu_jammy", "HelmRepository", "GitRepository", "flux-system", "- op: remove\n  path: /spec"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(KEYS, inner, max_size=4)), max_leaves=20)


@st.composite
def documents(draw):
    api_version, kind = draw(st.sampled_from(KINDS))
    document = {"apiVersion": api_version, "kind": kind}
    document.update(draw(st.dictionaries(KEYS, VALUES, max_size=5)))
    return document


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["clusters/a/x.yaml", "clusters/a/kustomization.yaml", "apps/x.yaml",
                                        "apps/kustomization.yaml", "apps/sub/y.yaml", "x.yaml"]),
                       st.lists(documents(), min_size=1, max_size=3), min_size=1))
def test_malformed_objects_never_crash_the_rules(files):
    contents = {path: yaml.safe_dump_all(docs) for path, docs in files.items()}
    repository = load_repository(contents)
    for finding in run_rules(Subject(repository=repository, texts=contents)):
        assert finding.file in contents and finding.line >= 1, finding


KUSTOMIZATION_KEYS = st.sampled_from(["resources", "components", "patches", "patchesStrategicMerge",
                                      "patchesJson6902", "namespace", "namePrefix", "nameSuffix", "commonLabels",
                                      "labels", "commonAnnotations", "images", "replicas", "configMapGenerator",
                                      "secretGenerator", "generatorOptions", "bases", "crds", "kind", "pairs",
                                      "includeSelectors", "behavior", "name", "path", "target", "patch", "op",
                                      "newTag", "count", "options", "literals", "envs", "files"])
KUSTOMIZATION_VALUES = st.recursive(SCALARS | st.sampled_from(["../apps", "sub", "c", "Component", "merge"]),
                                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                            st.dictionaries(KUSTOMIZATION_KEYS, inner, max_size=4)),
                                    max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["apps/kustomization.yaml", "apps/sub/kustomization.yaml",
                                        "c/kustomization.yaml", "kustomization.yaml"]),
                       st.one_of(st.dictionaries(KUSTOMIZATION_KEYS, KUSTOMIZATION_VALUES, max_size=6),
                                 KUSTOMIZATION_VALUES), min_size=1),
       st.lists(documents(), max_size=3))
def test_malformed_kustomizations_never_crash_the_build(kustomizations, objects):
    """Any shape of kustomization file (and of the objects beside it) gives findings, never an exception."""
    contents = {path: yaml.safe_dump(spec) for path, spec in kustomizations.items()}
    contents["apps/x.yaml"] = yaml.safe_dump_all(objects)
    repository = load_repository(contents)
    for finding in run_rules(Subject(repository=repository, texts=contents)):
        assert finding.file and finding.line
