"""Declarative table definitions (bronze, silver, gold), expectations, runner, event log."""
