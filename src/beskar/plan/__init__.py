"""Pure planners: cloud entities (desired vs observed -> steps) and the step protocol."""
