"""Benchmarks (run as modules from the repo root: `PYTHONPATH=. python3 -m benchmarks.<name>`)."""
