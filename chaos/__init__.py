"""Fault cases under load: each proves that nothing the ingest service acknowledged is lost.

`python -m chaos` (`make chaos`) runs them against the cluster topology; two of them also run
against the single stack in tests/integration/test_faults.py.
"""
