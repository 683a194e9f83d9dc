"""Rules over a Site and/or a rendered tree: schemas, chart values paths, references, layout, secrets, policy.

Importing this package registers every rule; a rule module plugs in by being imported here.
"""

from beskar.check import (rules_model_addresses, rules_model_consistency, rules_model_hosts,  # noqa: F401
                          rules_tree_images, rules_tree_layout, rules_tree_refs, rules_tree_schema,
                          rules_tree_secrets, rules_tree_values)
