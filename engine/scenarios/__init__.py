"""Scenario fixtures: reading them, running them, JUnit, the pytest plugin."""
