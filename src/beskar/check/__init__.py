"""Rules over a Site and/or a rendered tree: schemas, chart values paths, and (later) policy."""
from beskar.check import rules_secrets  # noqa: F401  (registers the secrets rules)
