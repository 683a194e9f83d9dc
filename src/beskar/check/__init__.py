"""Rules over a Site and/or a rendered tree: schemas, chart values paths, and (later) policy."""

from beskar.check import rules_entities  # noqa: E402,F401  (registers the entity rules)
