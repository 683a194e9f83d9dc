"""Beskar: a typed fleet of OpenStack clouds compiled into what Flux, Kubespray, Ansible and MAAS consume."""

__version__ = "0.1.0"
