"""decree: a policy-as-data engine.

Rules are versioned YAML files with validity windows; conditions are written in a small,
checked language; a dependency graph ties rules to the facts and rules they use.

    from engine import RuleSet
    rules = RuleSet.load("rules")
    result = rules.evaluate(facts, on=date(2024, 3, 1))
"""

from engine.errors import ConflictError, InputError, PolicyError, PolicyErrors, RuleFileError
from engine.evaluation.outcomes import Decision
from engine.ruleset import Result, RuleSet

__all__ = ["ConflictError", "Decision", "InputError", "PolicyError", "PolicyErrors", "Result", "RuleFileError",
           "RuleSet"]
