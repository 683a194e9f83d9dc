"""Site + Catalog -> Tree: the pure compilation of a typed site into what the engines read (render.site).

Nothing is re-exported here: importing a pure helper such as render.images (image names through a mirror, which
`beskar lint` reads) must not load the site model that render.site needs.
"""
