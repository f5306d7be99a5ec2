"""DNS messages made by hand, for what dnspython will not write itself."""

from __future__ import annotations

import dns.message


def compressed_axfr_query(qname: str = "ExAmPlE.CoM.", msg_id: int = 0x0042) -> bytes:
    """An AXFR query whose question name ends in a legal compression pointer (RFC 1035 4.1.4: to
    prior data): offset 0 holds the ID's high octet, 0x00, which reads as the root label."""
    q = dns.message.make_query(qname, "AXFR")
    q.id = msg_id
    wire = q.to_wire()
    name_end = wire.index(b"\x00\x00\xfc\x00\x01", 12)  # the root label, then type AXFR, class IN
    return wire[:name_end] + b"\xc0\x00" + wire[name_end + 1:]
