"""Small zone versions built in memory (example.com: SOA, NS, then the given RRsets), and a
hypothesis strategy of their contents, for the diff, journal, transfer and provider-plan tests.

    make_version(7, {("www", "A"): (300, ("192.0.2.1",))})
"""

import dns.name
import dns.rdataset
from hypothesis import strategies as st

from hiddenprimary.zone.version import ZoneVersion

ORIGIN = dns.name.from_text("example.com.")


def rdataset(rdtype: str, ttl: int, *texts: str) -> dns.rdataset.Rdataset:
    return dns.rdataset.from_text("IN", rdtype, ttl, *texts)


def make_version(serial: int, records: dict) -> ZoneVersion:
    nodes = {ORIGIN: {(6, 0): rdataset("SOA", 3600, f"ns1.example.com. h.example.com. {serial} 1 2 3 4"),
                      (2, 0): rdataset("NS", 3600, "ns1.example.com.")}}
    for (label, rdtype), (ttl, texts) in records.items():
        name = dns.name.from_text(label, ORIGIN)
        rds = rdataset(rdtype, ttl, *texts)
        nodes.setdefault(name, {})[(rds.rdtype, rds.covers)] = rds
    return ZoneVersion(ORIGIN, nodes)


labels = st.sampled_from(["www", "mail", "a.b", "b", "x.y.z", "ns1", "*.wild"])
a_values = st.sets(st.sampled_from([f"192.0.2.{i}" for i in range(1, 6)]), min_size=1, max_size=3)
txt_values = st.sets(st.sampled_from(['"a"', '"b"', '"c d"']), min_size=1, max_size=2)
ttls = st.sampled_from([60, 300, 3600])
records = st.dictionaries(
    st.tuples(labels, st.sampled_from(["A", "TXT"])),
    st.tuples(ttls, st.one_of(a_values, txt_values)),
    max_size=8,
).map(lambda d: {k: (ttl, tuple(v)) for k, (ttl, v) in d.items()
                 if (k[1] == "A") == all(not x.startswith('"') for x in v)})
