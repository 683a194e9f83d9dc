"""The catalog's own data is consistent: components, layers, dependencies, images and credentials."""

from __future__ import annotations

from beskar.catalog import catalog, chart_credentials
from beskar.check.values import first_unknown
from beskar.render.images import mirror_image, split_image


def test_every_dependency_and_layer_is_known():
    knowledge = catalog()
    layers = {layer.name for layer in knowledge.layers}
    for spec in knowledge.components.values():
        assert spec.layer in layers, spec.name
        assert set(spec.depends_on) <= set(knowledge.components), spec.name
        if not spec.from_openstack_helm:
            assert spec.source in knowledge.helm_repositories, spec.name
    numbers = [(s.layer, s.order) for s in knowledge.components.values()]
    assert len(numbers) == len(set(numbers)), "two components share a file number in one layer"


def test_dependencies_have_no_cycle():
    components = catalog().components
    state: dict[str, str] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert state.get(name) != "open", f"cycle: {' -> '.join(trail + (name,))}"
        if state.get(name) == "done":
            return
        state[name] = "open"
        for dependency in components[name].depends_on:
            visit(dependency, trail + (name,))
        state[name] = "done"

    for name in components:
        visit(name, ())


def test_every_release_distro_pins_every_openstack_helm_chart():
    knowledge = catalog()
    charts = {s.chart for s in knowledge.components.values() if s.from_openstack_helm}
    for release in knowledge.releases.values():
        for distro in release.distros:
            pins = knowledge.images(release.name, distro)
            for chart in charts:
                tags = set(knowledge.values_skeleton(chart)["images"]["tags"])
                assert tags <= set(pins[chart]), (release.name, distro, chart, tags - set(pins[chart]))


def test_credential_targets_exist_in_their_charts():
    knowledge = catalog()
    everything = frozenset(knowledge.components)
    for spec in knowledge.components.values():
        if not spec.from_openstack_helm:
            continue
        for credential in chart_credentials(knowledge, spec.name, everything):
            missing = first_unknown(knowledge.values_skeleton(spec.chart), tuple(credential.target.split(".")))
            assert missing is None or any(p.matches(missing) for p in knowledge.open_values), credential


def test_public_endpoints_exist_in_their_charts():
    knowledge = catalog()
    for spec in knowledge.components.values():
        if spec.endpoint:
            assert spec.endpoint in knowledge.values_skeleton(spec.chart)["endpoints"], spec.name


def test_mirror_flattens_registry_and_path():
    assert mirror_image("quay.io/airshipit/nova:2025.1-ubuntu_noble", "mirror.example.org/cache") == \
        "mirror.example.org/cache/quay.io__airshipit__nova:2025.1-ubuntu_noble"
    assert mirror_image("docker.io/openstackhelm/heat:2023.1-ubuntu_jammy", "m.example/c/") == \
        "m.example/c/docker.io__openstackhelm__heat:2023.1-ubuntu_jammy"
    assert mirror_image("rabbitmq:3.13-management", "m.example") == "m.example/docker.io__library__rabbitmq:3.13-management"
    assert mirror_image("localhost:5000/a/b:1", "m") == "m/localhost:5000__a__b:1"
    assert mirror_image("quay.io/airshipit/nova:x", None) == "quay.io/airshipit/nova:x"
    assert split_image("registry.k8s.io/pause") == ("registry.k8s.io", "pause", "latest")
