"""Pure planners (desired vs observed -> steps: cloud entities, MAAS machines) and the step protocol."""
