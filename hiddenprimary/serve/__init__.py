"""Answering queries: request parsing, routing and EDNS, the RFC 1034 algorithm, the answer cache."""
