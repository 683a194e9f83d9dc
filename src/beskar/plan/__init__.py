"""Pure planners: desired state and observed state in, steps out."""
