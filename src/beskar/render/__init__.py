"""Site + Catalog -> Tree: the pure compilation of a typed site into what the engines read."""

from beskar.render.site import RenderedSite, SecretNeed, deployed_components, render_site

__all__ = ["RenderedSite", "SecretNeed", "deployed_components", "render_site"]
