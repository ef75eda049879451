"""Fixtures of the engine property tests live in ``harness`` (plain functions: the state
machine runs many examples on one store, outside pytest's per-test fixtures)."""
