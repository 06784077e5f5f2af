"""Reproducible performance and accuracy runs; results go into docs/benchmarks.md."""
