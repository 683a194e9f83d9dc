"""The typed OpenStack part of a site: release, and each openstack-helm chart the site runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from beskar.model.strict import Strict


def _as_text(value: Any) -> Any:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class Component(Strict):
    """An openstack-helm chart in the site: on or off, its size, its config and a raw values escape hatch."""

    enabled: bool = True
    replicas: int | None = Field(default=None, ge=1, le=15, description="replicas of every pod.replicas entry")
    conf: dict[str, Any] = Field(default={}, description="merged into the chart's values.conf")
    values: dict[str, Any] = Field(default={}, description="merged into the chart values last, as given")


class ApiService(Component):
    public_name: str | None = Field(default=None, description="public endpoint host under the site domain")


class OptionalService(ApiService):
    enabled: bool = False


class Nova(ApiService):
    cpu_allocation_ratio: float = Field(default=4.0, gt=0, le=64, description="for computes of no flavor family")
    ram_allocation_ratio: float = Field(default=1.0, gt=0, le=4)


class Neutron(ApiService):
    backend: Literal["openvswitch"] = "openvswitch"
    tunnel_type: Literal["vxlan", "geneve"] = "vxlan"


class Upgrade(Strict):
    """A site mid-upgrade: the target release and the stages already carried (`beskar upgrade next` edits it)."""

    to: Annotated[str, BeforeValidator(_as_text)] = Field(description="the release the site is moving to")
    done: list[str] = Field(default=[], description="stages whose services run the target's images")

    @field_validator("to")
    @classmethod
    def _known_target(cls, value: str, info: ValidationInfo) -> str:
        known = info.context["catalog"].releases
        if value not in known:
            raise ValueError(f"unknown OpenStack release {value!r}; supported: {', '.join(known)}")
        return value


class OpenStack(Strict):
    release: Annotated[str, BeforeValidator(_as_text)]
    distro: Literal["ubuntu_jammy", "ubuntu_noble"] = "ubuntu_noble"
    # A Kubernetes namespace is a DNS label; it also names files and directories of the tree.
    namespace: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")] = "openstack"
    upgrade: Upgrade | None = Field(default=None, description="set while `beskar upgrade` carries the site")
    # infrastructure charts
    mariadb: Component = Component()
    rabbitmq: Component = Component()
    memcached: Component = Component()
    openvswitch: Component = Component()
    libvirt: Component = Component()
    # services
    keystone: ApiService = ApiService()
    glance: ApiService = ApiService()
    cinder: ApiService = ApiService()
    placement: ApiService = ApiService()
    nova: Nova = Nova()
    neutron: Neutron = Neutron()
    horizon: ApiService = ApiService()
    heat: ApiService = ApiService()
    barbican: OptionalService = OptionalService()
    octavia: OptionalService = OptionalService()
    designate: OptionalService = OptionalService()

    @field_validator("release")
    @classmethod
    def _known_release(cls, value: str, info: ValidationInfo) -> str:
        known = info.context["catalog"].releases  # type_site validates with the catalog it is given
        if value not in known:
            raise ValueError(f"unknown OpenStack release {value!r}; supported: {', '.join(known)}")
        return value

    def component(self, name: str) -> Component:
        return getattr(self, name.replace("-", "_"))
