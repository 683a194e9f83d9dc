"""Derive Beskar's vendored catalog (image tags, values skeletons, Flux CRD schemas) from reference data."""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import yaml

RELEASES = [("2024.1", "ubuntu_jammy"), ("2024.2", "ubuntu_jammy"), ("2025.1", "ubuntu_jammy"),
            ("2025.1", "ubuntu_noble"), ("2025.2", "ubuntu_noble"), ("2026.1", "ubuntu_noble")]
SKIP_CHARTS = {"helm-toolkit"}
# Beskar's rewrite rule: an OpenStack-release tag on a quay.io/airshipit image follows the site release.
RELEASE_TAG = re.compile(r"^(quay\.io/airshipit/[^:@\s]+):\d{4}\.\d-ubuntu_[a-z]+$")
COMMIT = re.compile(r"[0-9a-f]{40}")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "beskar" / "catalog" / "data"


def load(path: Path):
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=yaml.CSafeLoader)


def load_all(path: Path):
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.load_all(fh, Loader=yaml.CSafeLoader) if doc]


def dump_json(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True) + "\n"


def charts(osh: Path) -> list[str]:
    return sorted(p.name for p in osh.iterdir() if (p / "values.yaml").is_file() and p.name not in SKIP_CHARTS)


def osh_commit(osh: Path) -> str:
    for line in (osh / "SOURCE.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("- Commit:"):
            return COMMIT.search(line).group(0)
    raise SystemExit("openstack-helm/SOURCE.md: no '- Commit:' line")


def find_override(osh: Path, chart: str, release: str, distro: str) -> Path | None:
    """Release override <release>-<distro>.yaml (current, then historical); openvswitch-style distro-only fallback."""
    vo = osh / chart / "values_overrides"
    for name in (f"{release}-{distro}.yaml", f"{distro}.yaml"):
        for cand in (vo / name, vo / "historical" / name):
            if cand.is_file():
                return cand
    return None


def derive_images(osh: Path, release: str, distro: str):
    """Return ({chart: {key: image}}, {chart: override path or None}, {chart: [rewritten keys]})."""
    result, sources, rewritten = {}, {}, {}
    target = f"{release}-{distro}"
    for chart in charts(osh):
        defaults = (load(osh / chart / "values.yaml").get("images") or {}).get("tags") or {}
        path = find_override(osh, chart, release, distro)
        pinned = ((load(path).get("images") or {}).get("tags") or {}) if path else {}
        tags, changed = {}, []
        for key in sorted(set(defaults) | set(pinned)):
            image = pinned[key] if key in pinned else defaults.get(key)
            if not image:
                continue
            if key not in pinned:
                match = RELEASE_TAG.match(image)
                if match and image != f"{match.group(1)}:{target}":
                    image = f"{match.group(1)}:{target}"
                    changed.append(key)
            tags[key] = image
        result[chart], sources[chart], rewritten[chart] = tags, path, changed
    return result, sources, rewritten


def images_file(osh: Path, commit: str, release: str, distro: str) -> str:
    tags, sources, rewritten = derive_images(osh, release, distro)
    by_file = [c for c in tags if sources[c] and sources[c].stem == f"{release}-{distro}"]
    by_distro = [c for c in tags if sources[c] and sources[c].stem == distro]
    unpinned = [c for c in tags if not sources[c]]
    lines = [
        f"# Derived by tools/derive_catalog.py from openstack-helm {commit} (Apache-2.0); see ../SOURCE.md",
        f"# Pinned by upstream override {release}-{distro}.yaml: {', '.join(by_file) or 'none'}",
        f"# Pinned by upstream distro-only override {distro}.yaml: {', '.join(by_distro) or 'none'}",
        "# No upstream override; values.yaml defaults + Beskar rewrite rule "
        f"(quay.io/airshipit/<x>:<YYYY.N>-ubuntu_<d> -> {release}-{distro}): {', '.join(unpinned) or 'none'}",
        "# Keys taken from values.yaml defaults and rewritten by the rule:"
        + ("" if any(rewritten.values()) else " none"),
    ]
    lines += [f"#   {c}: {', '.join(keys)}" for c, keys in rewritten.items() if keys]
    body = "".join(yaml.safe_dump({k: v}, sort_keys=True, default_flow_style=False, width=1000)
                   for k, v in (("release", release), ("distro", distro), ("charts", tags)))
    return "\n".join(lines) + "\n" + body


def skeleton(node):
    """Mapping -> object of its keys (sorted later by json); every non-mapping leaf -> None."""
    if isinstance(node, dict):
        return {str(k): skeleton(v) for k, v in node.items()}
    return None


def node_selectors(node, path=()):
    """Every `labels.<group...>` block with node_selector_key/value: dotted group -> "key=value"."""
    if not isinstance(node, dict):
        return {}
    if "node_selector_key" in node:
        return {".".join(path): f"{node['node_selector_key']}={node.get('node_selector_value', '')}"}
    found = {}
    for key, child in node.items():
        found.update(node_selectors(child, path + (str(key),)))
    return found


def derive_values(osh: Path) -> dict[str, str]:
    out, meta, labels = {}, {}, {}
    for chart in charts(osh):
        values = load(osh / chart / "values.yaml") or {}
        out[f"{chart}.json"] = dump_json(skeleton(values))
        labels[chart] = node_selectors(values.get("labels") or {})
        chart_yaml = load(osh / chart / "Chart.yaml")
        meta[chart] = {"version": str(chart_yaml["version"]), "appVersion": str(chart_yaml["appVersion"])}
    out["charts.json"] = dump_json(meta)
    out["labels.json"] = dump_json(labels)
    return out


def derive_crds(flux: Path) -> dict[str, str]:
    """Merge every version of every CRD; the top-level (current) files win on conflicts."""
    found = {}
    for path in sorted((flux / "flux-v2.6-multiversion").glob("*.yaml")) + sorted(flux.glob("*.yaml")):
        for crd in load_all(path):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for ver in spec["versions"]:
                found[(spec["group"], spec["names"]["kind"], ver["name"])] = ver
    out, index = {}, []
    for (group, kind, version), ver in sorted(found.items()):
        name = f"{group}_{kind}_{version}.json"
        out[name] = dump_json(ver["schema"]["openAPIV3Schema"])
        index.append({"group": group, "kind": kind, "version": version, "served": bool(ver.get("served")),
                      "storage": bool(ver.get("storage")), "deprecated": bool(ver.get("deprecated")),
                      "deprecationWarning": ver.get("deprecationWarning"), "file": name})
    out["index.json"] = json.dumps(index, indent=1, sort_keys=True) + "\n"
    return out


def flux_sources(flux: Path) -> list[str]:
    """Unique '(repo, tag/branch, commit)' rows from flux-crds/SOURCE.md tables."""
    rows, last = set(), {}
    for line in (flux / "SOURCE.md").read_text(encoding="utf-8").splitlines():
        repo = re.search(r"(fluxcd/[\w-]+)", line)
        if not line.startswith("|") or not repo:
            continue
        commit = COMMIT.search(line)
        commit = commit.group(0) if commit else last.get(repo.group(1))
        tag = re.search(r"\| (v\d+\.\d+\.\d+) \|", line)
        last[repo.group(1)] = commit
        rows.add((repo.group(1), tag.group(1) if tag else "main", commit))
    return [f"  - github.com/{r} @ {t}: `{c}`" for r, t, c in sorted(rows)]


def source_md(ref: Path, commit: str) -> str:
    osh = ref / "openstack-helm"
    used = {}
    for release, distro in RELEASES:
        for chart, path in derive_images(osh, release, distro)[1].items():
            if path:
                used.setdefault(path.relative_to(osh).parent.name + "/" + path.name, set()).add(chart)
    notes = {}
    for line in (osh / "SOURCE.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and "/values_overrides/" in cells[0]:
            folder, name = cells[0].split("/values_overrides/")[1].rpartition("/")[::2]
            notes.setdefault(f"{folder or 'values_overrides'}/{name}", set()).add(f"{cells[2]} ({cells[3]})")
    override_rows = [f"| `{k}` | {', '.join(sorted(v))} | {'; '.join(sorted(notes.get(k, {'?'})))} |"
                     for k, v in sorted(used.items())]
    return "\n".join([
        "# Beskar catalog data — provenance and license",
        "",
        "Every file under `images/`, `values/` and `crds/` (and this file) is generated by",
        "`tools/derive_catalog.py --reference <reference dir>`; do not edit by hand. The output is",
        "deterministic; `tests/test_catalog_reference.py` re-derives it and fails on any drift.",
        "",
        "## openstack-helm (Apache-2.0)",
        "",
        f"- Upstream: https://github.com/openstack/openstack-helm, commit `{commit}`",
        "  (former openstack-helm-infra charts included; the `ingress` chart was removed upstream in 2024 and",
        "  comes from openstack-helm-infra commit `d31027cfb4c686e23790ed50a024e8ee976549d7`).",
        "- License: Apache License 2.0. The data here are facts extracted from the charts' `values.yaml`,",
        "  `Chart.yaml` and `values_overrides/` files (image references, key names, chart versions).",
        "- `values/<chart>.json`: key skeleton of the chart's `values.yaml` (mappings kept, leaves -> null).",
        "  Non-string YAML keys are stringified (rabbitmq `conf.rabbitmq.listeners.tcp.1`).",
        "  `values/charts.json`: `version` and `appVersion` of each `Chart.yaml`.",
        "  `values/labels.json`: each chart's default node selectors (`labels.<group>` -> `key=value`).",
        "- `images/<release>-<distro>.yaml`: every `images.tags` key of every chart (helm-toolkit excluded).",
        "  Value = upstream release override `<release>-<distro>.yaml` (LOCI `loci-*` files never used;",
        "  openvswitch uses its distro-only override), otherwise the `values.yaml` default.",
        "- **Beskar's own derivation (not upstream data):** where a value comes from a `values.yaml`",
        "  default (charts without a release override such as designate, ceph-*, memcached, ingress, and",
        "  keys a pinned override does not set) and that default is `quay.io/airshipit/<x>:<YYYY.N>-ubuntu_<d>`,",
        "  its tag is rewritten to `<release>-<distro>` so one site does not mix OpenStack releases. All",
        "  other defaults are kept. Each images file's header lists the charts and keys affected.",
        "- All images files assume the charts at the commit above (chart `version` 2026.1.0); non-pinned",
        "  defaults (dep_check, rabbit_init, ...) are HEAD's, also for the 2024.x releases.",
        "",
        "Release override files used (2024.x files were removed upstream; copied from the listed commit):",
        "",
        "| Override file | Charts | Upstream commit (note) |",
        "|---|---|---|",
        *override_rows,
        "",
        "## Flux CRDs (Apache-2.0)",
        "",
        "- `crds/<group>_<kind>_<version>.json`: `spec.versions[].schema.openAPIV3Schema` of every version of",
        "  every Flux CRD in the current upstream `main` files and in the Flux v2.6 multi-version files",
        "  (beta APIs); the current schema wins when both have the same version. `crds/index.json` records",
        "  served/storage/deprecated/deprecationWarning as declared by the CRD that supplied the schema",
        "  (beta versions: as served by Flux v2.6; current Flux `main` no longer serves them at all).",
        "- Upstream files: `config/crd/bases/*.yaml` of:",
        *flux_sources(ref / "flux-crds"),
        "- License: Apache License 2.0.",
        "",
    ])


def derive(ref: Path) -> dict[str, str]:
    osh = ref / "openstack-helm"
    commit = osh_commit(osh)
    out = {f"images/{r}-{d}.yaml": images_file(osh, commit, r, d) for r, d in RELEASES}
    out.update({f"values/{k}": v for k, v in derive_values(osh).items()})
    out.update({f"crds/{k}": v for k, v in derive_crds(ref / "flux-crds").items()})
    out["SOURCE.md"] = source_md(ref, commit)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference", type=Path, required=True, help="reference data directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="catalog data directory")
    args = parser.parse_args()
    files = derive(args.reference)
    for sub in ("images", "values", "crds"):  # drop stale generated files
        for old in sorted((args.out / sub).glob("*")) if (args.out / sub).is_dir() else []:
            if old.is_file() and f"{sub}/{old.name}" not in files:
                old.unlink()
    for rel, text in sorted(files.items()):
        target = args.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    print(f"wrote {len(files)} files to {args.out}")


if __name__ == "__main__":
    main()
