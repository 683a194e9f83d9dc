"""Rules over a Site and/or a rendered tree: schemas, chart values paths, and policy."""

# Importing a rules module registers its rules.
from beskar.check import rules_hosts, rules_secrets  # noqa: F401
