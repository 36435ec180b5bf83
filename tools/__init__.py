"""Tools beside the engine: the benchmark, generators of rule sets and populations, and the
printer of generated code. Run from the project root as ``python -m tools.NAME``."""
