"""Batch jobs: marts computed from the landed events."""
