"""OpenStack knowledge as data: releases, components, image pins, chart values, credentials."""

from functools import lru_cache

from beskar.catalog.credentials import Credential, SecretKind, chart_credentials
from beskar.catalog.knowledge import BondOptions, Catalog, ComponentSpec, Layer, OpenPattern, Release


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The packaged catalog, loaded once."""
    return Catalog.load()


__all__ = ["BondOptions", "Catalog", "ComponentSpec", "Credential", "Layer", "OpenPattern", "Release", "SecretKind",
           "catalog", "chart_credentials"]
