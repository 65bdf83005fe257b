"""A player simulator for "Build a Nation": deterministic events sent over HTTP."""
