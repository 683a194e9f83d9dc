"""Rules over a Site and/or a rendered tree: schemas, chart values paths, references, layout, secrets, policy.

Importing this package registers every rule; a rule module plugs in by being imported here (one line each).
"""

from beskar.check import rules_build_images  # noqa: F401
from beskar.check import rules_build_objects  # noqa: F401
from beskar.check import rules_build_pods  # noqa: F401
from beskar.check import rules_build_services  # noqa: F401
from beskar.check import rules_entities  # noqa: F401
from beskar.check import rules_hosts  # noqa: F401
from beskar.check import rules_image_lock  # noqa: F401
from beskar.check import rules_model_addresses  # noqa: F401
from beskar.check import rules_model_consistency  # noqa: F401
from beskar.check import rules_model_hosts  # noqa: F401
from beskar.check import rules_secrets  # noqa: F401
from beskar.check import rules_tree_images  # noqa: F401
from beskar.check import rules_tree_layout  # noqa: F401
from beskar.check import rules_tree_refs  # noqa: F401
from beskar.check import rules_tree_schema  # noqa: F401
from beskar.check import rules_tree_secrets  # noqa: F401
from beskar.check import rules_tree_values  # noqa: F401
