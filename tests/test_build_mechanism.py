"""The build's parts on small charts the tests write: Flux's values composition, Helm rendering (hooks, notes,
CRDs, Capabilities), chart sources (git refs, a Helm repository over HTTP, an OCI registry) and postRenderers."""
from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import helm_python
import pytest

from beskar.build import manifests, payloads, values
from beskar.build.objects import FailureKind
from beskar.build.versions import best_version, parse_constraint
from beskar.check import schemas
from beskar.clients import charts, helm, kustomize
from beskar.operations.renders import RenderJob, render_job
from build_sources import serve

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: small\nversion: {version}\n",
    "values.yaml": "replicas: 1\nimage: mirror.example.org/cache/app:1.0\n",
    "templates/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-app
  annotations:
    kube: {{ .Capabilities.KubeVersion.Version | quote }}
    monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: small}}
  template:
    metadata: {labels: {app: small}}
    spec:
      containers: [{name: app, image: {{ .Values.image | quote }}}]
""",
    "templates/test.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations: {helm.sh/hook: test}\n"
                           "spec: {containers: [{name: t, image: t}]}\n",
    "templates/NOTES.txt": "Thanks for installing.\n",
    "crds/widget.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n"
                        "  name: widgets.example.org\nspec:\n  group: example.org\n  names: {kind: Widget, plural: widgets}\n"
                        "  scope: Namespaced\n  versions: [{name: v1, served: true, storage: true}]\n",
}


def write_chart(directory: Path, version: str = "1.0.0") -> Path:
    for name, text in CHART.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("{version}", version) if name == "Chart.yaml" else text)
    return directory


def test_values_from_entries_in_order_then_inline_values_with_flux_target_paths():
    secret = values.ValuesSource("Secret", "ns", "common", {"pw": "s3cret", "n": "007", "q": "'42'", "tree": "a: {b: 1}\n"})
    config = values.ValuesSource("ConfigMap", "ns", "cm", {"values.yaml": "a: {b: 2, c: 3}\nlist: [1]\n"})
    sources = {("Secret", "ns", "common"): secret, ("ConfigMap", "ns", "cm"): config}
    spec = {"valuesFrom": [
        {"kind": "Secret", "name": "common", "valuesKey": "tree"},
        {"kind": "ConfigMap", "name": "cm"},
        {"kind": "Secret", "name": "common", "valuesKey": "pw", "targetPath": "auth.users[1].password"},
        {"kind": "Secret", "name": "common", "valuesKey": "n", "targetPath": "port"},
        {"kind": "Secret", "name": "common", "valuesKey": "q", "targetPath": "dotted\\.key.quoted"},
        {"kind": "Secret", "name": "absent", "optional": True}],
        "values": {"a": {"c": 4}, "list": [2]}}
    composed = values.compose_values(spec, "ns", sources)
    assert composed == {"a": {"b": 2, "c": 4}, "list": [2], "auth": {"users": [None, {"password": "s3cret"}]},
                        "port": "007", "dotted.key": {"quoted": "42"}}
    assert values.compose_values({"valuesFrom": [{"kind": "Secret", "name": "common", "valuesKey": "n",
                                                  "targetPath": "n"}]}, "ns", {("Secret", "ns", "common"):
                                  values.ValuesSource("Secret", "ns", "common", {"n": "8080"})}) == {"n": 8080}
    with pytest.raises(values.ValuesError) as missing:
        values.compose_values({"valuesFrom": [{"kind": "Secret", "name": "common", "valuesKey": "nope"}]}, "ns", sources)
    assert missing.value.where == ("spec", "valuesFrom", 0, "valuesKey") and "has no key 'nope'" in missing.value.message
    with pytest.raises(values.ValuesError, match="is not created by this site"):
        values.compose_values({"valuesFrom": [{"kind": "Secret", "name": "absent"}]}, "ns", sources)


@pytest.mark.parametrize("constraint, best", [("4.12.*", "4.12.8"), (">=1.0 <2", "1.5.0"), ("~1.2", "1.2.9"),
                                              ("^0.3", "0.3.9"), ("*", "4.13.1"), ("", "4.13.1"), ("=9.9.9", None),
                                              ("1.x || 4.13.*", "4.13.1"), (">=1.0.0-0 <1.1", "1.0.0")])
def test_version_constraints_resolve_as_flux_does(constraint, best):
    candidates = ["4.12.0", "4.12.8", "4.13.1", "1.0.0", "1.0.0-rc1", "1.2.3", "1.2.9", "1.5.0", "2.0.0", "0.3.1",
                  "0.3.9", "0.4.0", "5.0.0-beta"]
    assert best_version(parse_constraint(constraint), candidates) == best


def test_render_leaves_out_test_hooks_and_notes_and_follows_crd_policy_and_capabilities(tmp_path):
    chart = write_chart(tmp_path / "small")
    capabilities = helm.Capabilities("v1.31.4", ("monitoring.coreos.com/v1",))
    placement = manifests.Placement("site", "layer", "small", "apps")
    for include_crds in (True, False):
        rendered = helm.render(chart, {"replicas": 3}, name="rel", namespace="apps", capabilities=capabilities,
                               include_crds=include_crds)
        objects = manifests.release_objects(rendered.manifests, rendered.crds, placement, schemas.namespaced)
        assert [(o.kind, o.namespace, o.name) for o in objects] == (
            [("CustomResourceDefinition", "", "widgets.example.org")] if include_crds else []) + [
            ("Deployment", "apps", "rel-app")]
    deployment = objects[-1].body
    assert deployment["spec"]["replicas"] == 3 and deployment["metadata"]["namespace"] == "apps"
    assert deployment["metadata"]["annotations"] == {"kube": "v1.31.4", "monitoring": "true"}
    with pytest.raises(helm.HelmError, match="replicas"):
        (chart / "templates/bad.yaml").write_text("{{ .Values.replicas.count }}\n")
        helm.render(chart, {"replicas": 3}, name="rel", namespace="apps", capabilities=capabilities, include_crds=False)


def test_post_renderers_apply_kustomize_patches():
    objects = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "ns"},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "docker.io/app:1"}]}}}}]
    patched = manifests.parse_documents("postRenderers[0]", kustomize.post_render(objects, {
        "patches": [{"target": {"kind": "Deployment"}, "patch": '[{"op": "add", "path": "/metadata/labels", '
                                                                '"value": {"patched": "yes"}}]'}],
        "images": [{"name": "docker.io/app", "newName": "mirror.example.org/cache/docker.io__app"}]}))
    assert patched[0]["metadata"]["labels"] == {"patched": "yes"}
    assert patched[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "mirror.example.org/cache/docker.io__app:1"
    with pytest.raises(kustomize.KustomizeError):
        kustomize.post_render(objects, {"patches": [{"patch": "[{\"op\": \"remove\", \"path\": \"/nope\"}]",
                                                     "target": {"kind": "Deployment"}}]})


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_git_sources_at_tag_semver_branch_and_commit(tmp_path):
    repository = tmp_path / "charts"
    write_chart(repository / "small")
    _git(tmp_path, "init", "-q", "-b", "main", str(repository))
    _git(repository, "add", "-A")
    _git(repository, "commit", "-q", "-m", "1.0.0")
    _git(repository, "tag", "v1.0.0")
    first = _git(repository, "rev-parse", "HEAD")
    write_chart(repository / "small", "1.1.0")
    _git(repository, "commit", "-q", "-am", "1.1.0")
    _git(repository, "tag", "v1.1.0")
    cache = charts.ChartCache(tmp_path / "cache")

    def fetch(ref):
        return cache.chart(charts.Source("GitRepository", "flux-system", "charts", str(repository), ref), "./small", None)

    assert fetch({"tag": "v1.0.0"}).version == "1.0.0"
    assert fetch({"semver": "~1.1"}).version == "1.1.0"
    assert fetch({"branch": "main"}).version == "1.1.0"
    assert fetch({"commit": first}).revision == first
    with pytest.raises(charts.SourceError, match="has no tag v9"):
        fetch({"tag": "v9"})
    with pytest.raises(charts.SourceError, match="chart ./other is not in GitRepository flux-system/charts"):
        cache.chart(charts.Source("GitRepository", "flux-system", "charts", str(repository), {"tag": "v1.0.0"}),
                    "./other", None)


def test_helm_repository_over_http_with_digest_check(tmp_path):
    folder = tmp_path / "repository"
    folder.mkdir()
    for version in ("1.0.0", "1.5.0", "2.0.0"):
        helm.package(write_chart(tmp_path / f"src-{version}" / "small", version), folder)
    helm_python.repo_index_generate(folder)
    for served in serve(folder):
        source = charts.Source("HelmRepository", "flux-system", "small", served.url)
        fetched = charts.ChartCache(tmp_path / "cache").chart(source, "small", ">=1.0 <2")
        assert fetched.version == "1.5.0" and (fetched.path / "Chart.yaml").is_file()
        archive = folder / "small-1.0.0.tgz"
        archive.write_bytes(archive.read_bytes()[:-10] + b"0123456789")
        with pytest.raises(charts.SourceError, match="corrupt archive small-1.0.0"):
            charts.ChartCache(tmp_path / "cache").chart(source, "small", "1.0.0")
        with pytest.raises(charts.SourceError, match="satisfies '>=3'"):
            charts.ChartCache(tmp_path / "cache").chart(source, "small", ">=3")


def test_oci_repository_from_a_registry(oci_registry, tmp_path):
    for version in ("1.0.0", "1.2.0"):
        archive = helm.package(write_chart(tmp_path / f"src-{version}" / "small", version), tmp_path)
        helm.push(archive, f"oci://{oci_registry}/charts", plain_http=True)
    cache = charts.ChartCache(tmp_path / "cache")
    fetched = cache.chart(charts.Source("OCIRepository", "flux-system", "small", f"oci://{oci_registry}/charts/small",
                                        {"semver": ">=1.0"}), "", None)
    assert fetched.version == "1.2.0" and fetched.revision.startswith("sha256:")
    assert "version: 1.2.0" in (fetched.path / "Chart.yaml").read_text()
    pinned = cache.chart(charts.Source("HelmRepository", "flux-system", "oci", f"oci://{oci_registry}/charts",
                                       oci=True), "small", "1.0.*")
    assert pinned.version == "1.0.0"
    with pytest.raises(charts.SourceError, match="satisfies"):
        cache.chart(charts.Source("OCIRepository", "flux-system", "small", f"oci://{oci_registry}/charts/small",
                                  {"semver": ">=2"}), "", None)


YAML_CASES = [
    "a: &x {b: 1}\nc:\n  <<: *x\n  d: 2\n",  # a merge key: PyYAML's own reading
    "a: !!binary aGVsbG8=\nb: 2020-01-01\nc: =\nd: yes\ne: 0755\nf: 1.5\ng: ~\nh: 12:30\ni: '3'\nj: \"x\"\n",
    "---\n---\na: 1\n...\n---\n# only a comment\n",
    "a: &y [1, {b: 2}]\nc: *y\nd: !!str 3\ne: !!int '7'\nf: !!float '1'\n",
    "key: |+\n  text\n\n\nother: >-\n  folded\n  text\n",
    "- a\n- [b, {c: d}]\n",
    "k: {}\nl: []\n? complex\n: value\n",
]


@pytest.mark.parametrize("text", YAML_CASES)
def test_rendered_yaml_reads_as_pyyaml_reads_it(text):
    import yaml
    expected = list(yaml.load_all(text, Loader=manifests._Loader))
    found = manifests._load_all(text)
    assert found == expected
    assert [type(v) for d in found if isinstance(d, dict) for v in d.values()] == \
        [type(v) for d in expected if isinstance(d, dict) for v in d.values()]


@pytest.mark.parametrize("text", ["a: [1, 2\n", "? [a]\n: 1\n", "a: *nowhere\n"])
def test_unreadable_yaml_is_pyyamls_error(text):
    import yaml
    with pytest.raises(yaml.YAMLError):
        list(yaml.load_all(text, Loader=manifests._Loader))
    with pytest.raises(manifests.ManifestError):
        manifests.parse_documents("t.yaml", text)


def test_a_release_s_post_renderers_patch_its_objects_and_a_patch_that_fails_is_the_release_s_failure(tmp_path):
    chart = write_chart(tmp_path / "small")
    patch = {"kustomize": {"patches": [{"target": {"kind": "Deployment"}, "patch": '[{"op": "add", "path": '
                                        '"/metadata/labels", "value": {"patched": "yes"}}]'}]}}
    job = RenderJob("c" * 64, str(chart), {}, "rel", "apps", "v1.31.4", (), False, (patch,), (), False)
    result = render_job(job)
    assert result.error is None
    [(template, deployment)] = [(t, b) for t, b in result.objects if b["kind"] == "Deployment"]
    assert deployment["metadata"]["labels"] == {"patched": "yes"}
    assert template == "small/templates/deployment.yaml"  # the object keeps the template it came from
    failing = replace(job, post_renderers=({"kustomize": {"patches": [
        {"patch": '[{"op": "remove", "path": "/nope"}]', "target": {"kind": "Deployment"}}]}},))
    failed = render_job(failing)
    assert failed.kind is FailureKind.POSTRENDER and failed.error.startswith("postRenderers[0]: ") and not failed.objects


def test_a_chart_s_crds_are_read_once_and_the_release_built_from_them_is_the_release_helm_gives(tmp_path):
    chart = write_chart(tmp_path / "small")
    fetched = charts.FetchedChart(chart, "file://small", "1.0.0", "r1", "sha256:" + "d" * 64)
    rows = charts.ChartCache(tmp_path / "cache").crd_rows(fetched)
    assert [name for name, _ in payloads.decode(rows)] == ["small/crds/widget.yaml"]
    memo = next((tmp_path / "cache" / "apis").glob("*.crds.json"))
    assert charts.ChartCache(tmp_path / "cache").crd_rows(fetched) == rows  # read back, not read anew
    job = RenderJob("e" * 64, str(chart), {}, "rel", "apps", "v1.31.4", (), True, (), (), False)
    from_helm, from_rows = render_job(job), render_job(replace(job, crd_rows=rows))
    assert from_rows.objects == from_helm.objects
    assert [b["kind"] for _, b in from_rows.objects] == ["CustomResourceDefinition", "Deployment"]
    memo.write_bytes(memo.read_bytes().replace(b"widgets", b"gadgets"))  # corrupt: read anew from the chart
    assert charts.ChartCache(tmp_path / "cache").crd_rows(fetched) == rows
    (chart / "crds" / "widget.yaml").write_text("kind: [unclosed\n")
    assert charts.ChartCache(tmp_path / "other").crd_rows(fetched) is None  # the render reads them and says why
