"""Helpers for end-to-end tests that run real ``flowrt run`` processes and brokers."""
