"""Evaluating a consolidated rule set: the plan, the general path (the oracle for unknowns) and the generated code."""
