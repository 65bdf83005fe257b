"""Helpers the tests share: fakes for unit tests, the real stack's clients for integration."""
