"""decree: a policy-as-data engine.

Rules are versioned YAML files with validity windows; conditions are written in a small,
checked language; a dependency graph ties rules to the facts and rules they use.
"""
