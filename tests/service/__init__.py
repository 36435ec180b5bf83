"""Tests of decree serve."""
