"""Reading a fleet repository: files with positions, layering, provenance."""

from beskar.fleet.layering import Provenance, Setting, merge_layers
from beskar.fleet.repository import Fleet, FleetHead, LayeredSite, load_fleet, open_fleet

__all__ = ["Fleet", "FleetHead", "LayeredSite", "Provenance", "Setting", "load_fleet", "merge_layers", "open_fleet"]
