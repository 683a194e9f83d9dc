"""Reading a fleet repository: files with positions, layering, provenance."""

from beskar.fleet.layering import Provenance, Setting, merge_layers
from beskar.fleet.repository import Fleet, LayeredSite, load_fleet

__all__ = ["Fleet", "LayeredSite", "Provenance", "Setting", "load_fleet", "merge_layers"]
