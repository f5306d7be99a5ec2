"""The sizes a zone's records must fit: RDLENGTH (RFC 1035 3.2.1) and one zone-transfer message
(RFC 5936 2.2: a message is at most 65,535 octets). The loader refuses a record that could never
be transferred, so a zone that loads is a zone every secondary can get."""

from __future__ import annotations

import dns.name

MAX_RDATA = 65535  # RDLENGTH is 16 bits
MAX_MESSAGE = 65535  # a DNS message over TCP (2-octet length)
TSIG_RESERVE = 512  # room left in every transfer message for the OPT and TSIG records added per transfer
_HEADER = 12
_QUESTION_FIXED = 4  # QTYPE, QCLASS
_RR_FIXED = 10  # TYPE, CLASS, TTL, RDLENGTH


def max_transferable_rdata(origin: dns.name.Name, owner: dns.name.Name) -> int:
    """The largest rdata a record at `owner` may have and still go in a transfer message of its
    own (question included; the owner counted uncompressed, so this never promises too much)."""
    overhead = _HEADER + len(origin.to_wire()) + _QUESTION_FIXED + len(owner.to_wire()) + _RR_FIXED
    return min(MAX_RDATA, MAX_MESSAGE - TSIG_RESERVE - overhead)
