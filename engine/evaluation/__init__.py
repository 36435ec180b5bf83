"""Evaluating a consolidated rule set: :mod:`~engine.evaluation.plan` (the contract every
backend executes), :mod:`~engine.evaluation.outcomes` (possible outcomes, decisions),
:mod:`~engine.evaluation.general` (the general path, the oracle for unknowns),
:mod:`~engine.evaluation.codegen` and :mod:`~engine.evaluation.inline` (the generated
code), :mod:`~engine.evaluation.runtime` (what generated code may use)."""
