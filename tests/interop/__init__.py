"""Interoperability tests: real BIND and Knot secondaries on loopback (see peers.py)."""
