"""ZoneMemo: what one successful load of a zone keeps for the next load of the same zone, so that
a reload parses only the records whose text changed."""

from __future__ import annotations

import dns.name

from hiddenprimary.zone.rdata_parser import RdataCaches
from hiddenprimary.zone.record_tokens import NameCaches
from hiddenprimary.zone.rrsets import Node


class ZoneMemo:
    """What one successful load remembers so the next load of the same zone parses only what
    changed (DESIGN.md "Reloads are driven by the difference"). Opaque to callers.

    - `rdata[origin labels]["rdtype token token ..."]`: the rdata parsed from that text under
      that $ORIGIN (records without quotes or escapes only). Parsing is a pure function of these,
      so a record whose text repeats is given the previous object instead of being parsed.
    - `names[origin labels][text]`: likewise for owner names and names in rdata.
    - `rdatasets`: the previous load's RRsets. A new RRset built from the same rdata objects,
      in the same order, with the same TTL, is that previous Rdataset object itself.

    A load reads a memo and never changes it (a failed load leaves it usable again); the memo
    it returns holds only what that load met. Everything it holds is shared with the zone."""

    __slots__ = ("origin", "rdata", "names", "rdatasets")

    def __init__(
        self,
        origin: dns.name.Name,
        rdata: RdataCaches,
        names: NameCaches,
        rdatasets: dict[dns.name.Name, Node],
    ):
        self.origin = origin
        self.rdata = rdata
        self.names = names
        self.rdatasets = rdatasets
