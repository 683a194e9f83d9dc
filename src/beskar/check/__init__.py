"""Rules over a Site and/or a rendered tree: schemas, chart values paths, references, layout, secrets, policy.

Each rule module registers its rules when imported; findings.RULE_MODULES lists them by scope, and findings.RULES
imports them as they are asked for (a run only its scopes', a reader of every rule all of them).
"""
