"""Rules over a Site and/or a rendered tree: schemas, chart values paths, and (later) policy."""
