"""Benchmarks of the pipeline against the real stack: `make bench` (full) or `make bench-quick`."""
