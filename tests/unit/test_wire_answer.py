"""serve.wire_answer, the fast twin of the full query path for compact versions: whatever it
answers is byte for byte the full path's reply (dnspython parse, serve.query, render), for any
case of the qname, ID, RD/CD bits, EDNS size and transport; and it does answer what it is for
(else it would be a stub): positive answers, CNAME chains, wildcards, NXDOMAIN and NODATA, for
every name not at or below a zone cut."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiddenprimary.serve import answer_cache, wire_answer
from hiddenprimary.serve.responder import answer_plain, respond
from hiddenprimary.zone.store import Store
from hiddenprimary.zone.wire_version import WireVersion
from tests.unit.test_responder import BIG_TEXT, ORIGIN, UNLOADED
from tests.zones import QUERY_ZONE, version_from_text

NAMES = ["www.example.com.", "ns1.example.com.", "mail.example.com.", "example.com.", "alias.example.com.",
         "a.b.ent.example.com.", "b.ent.example.com.", "x.wild.example.com.", "*.wild.example.com.",
         "exists.wild.example.com.", "sub.example.com.", "host.sub.example.com.", "ns.sub.example.com.",
         "big.example.com.", "mx.example.com.", "mx3.example.com.", "ns0.mixcut.example.com.",
         "_sip._tcp.example.com.", "nothere.example.com.", "www.example.net.", "ptr.example.com.",
         "many.example.com.", "chain1.example.com.", "loop1.example.com.", "selfloop.example.com.",
         "out.example.com.", "dangling.example.com.", "tocut.example.com.", "a.ent2.wild.example.com.",
         "ent2.wild.example.com.", "y.cn.example.com.", "x.y.cnloop.example.com.", "z.e.example.com.",
         "e.example.com.", "a.*.entwild.example.com.", "*.entwild.example.com.", "b.*.entwild.example.com.",
         "b.entwild.example.com.", "ent.example.com.", "deleg.wild.example.com.", "x.deleg.wild.example.com.",
         "_tcp.example.com.", "sip.example.com.", "WWW.alias2.example.com.", "alias2.example.com.",
         "chainmx.example.com.", "deep.x.y.z.example.com.", "a" * 32 + ".example.com.",
         "b." + "a" * 32 + ".example.com.", "c" * 32 + ".example.com."]
TYPES = ["A", "AAAA", "TXT", "MX", "MX", "NS", "SOA", "CNAME", "CNAME", "SRV", "DS", "ANY", "PTR", "CAA", "TYPE999"]
EXTRA = ("ptr PTR www.example.com.\nptr PTR mail.Example.COM.\nptr PTR other.example.net.\n"
         + 'www CAA 0 issue "ca.example"\n'
         + "".join(f"many A 10.1.{i // 256}.{i % 256}\n" for i in range(40)))  # 40 A: over 512 octets


# No delegations: MX answers (with their targets' addresses) are written here too.
FLAT_TEXT = """$TTL 3600
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
@ NS ns2.example.net.
@ MX 10 mail
@ MX 20 mail.example.net.
ns1 A 192.0.2.1
ns1 AAAA 2001:db8::1
mail A 192.0.2.2
mail A 192.0.2.4
www A 192.0.2.3
www AAAA 2001:db8::3
www TXT "hello"
www MX 10 WWW
www MX 20 Mail
www MX 30 mail
www MX 40 v6only
www MX 50 nothere
www MX 60 alias
alias CNAME www
v6only AAAA 2001:db8::6
mx MX 10 ptr
ptr PTR www.example.com.
ptr PTR mail.Example.COM.
ptr PTR other.example.net.
"""


# QUERY_ZONE (CNAME chains and loops, wildcards, empty non-terminals) without its cuts, plus a
# chain to MX, a name that looks like an NSEC3 owner and one that only holds NSEC3 (and RRSIG).
NOCUT_TEXT = "".join(line + "\n" for line in QUERY_ZONE.splitlines()
                     if not line.startswith(("sub ", "insecure ", "deleg.wild ", "ns.sub", "ns.insecure"))) + (
    "alias2 CNAME chainmx\nchainmx CNAME www\n" + "a" * 32 + " A 192.0.2.50\n"
    + "c" * 32 + " NSEC3 1 0 0 - " + "c" * 32 + " A\n")
# The NS/DS types are in the cut tests; the answers fast path leaves them out.
ANSWERED_TYPES = ("A", "AAAA", "TXT", "MX", "CNAME", "PTR", "CAA", "TYPE999")


def wire_store(text: str) -> Store:
    store = Store([ORIGIN, UNLOADED])
    plain = version_from_text(text)
    store.publish(ORIGIN, WireVersion.from_nodes(plain.origin, plain.nodes()))
    return store


STORES = {"cuts": wire_store(BIG_TEXT + EXTRA), "flat": wire_store(FLAT_TEXT), "nocut": wire_store(NOCUT_TEXT)}


@pytest.fixture(scope="module")
def store() -> Store:
    return STORES["cuts"]


def _fast(store: Store, pre: answer_cache.Preparsed, wire: bytes) -> bytes | None:
    """The fast path as the responder takes it: the version of the zone holding the name."""
    version = answer_cache.version_of(store, pre)
    return None if version is None else wire_answer.answer(version, pre, wire)


def _case(text: str, mask: int) -> str:
    return "".join(c.upper() if (mask >> (i % 60)) & 1 else c for i, c in enumerate(text))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(sorted(STORES)), qname=st.sampled_from(NAMES), qtype=st.sampled_from(TYPES),
       edns=st.sampled_from([None, 0]),
       payload=st.sampled_from([0, 512, 600, 1232, 4096]), do=st.booleans(),
       transport=st.sampled_from(["udp", "tcp"]), mask=st.integers(0, 2**60), msg_id=st.integers(0, 0xFFFF),
       bits=st.integers(0, 3), max_udp=st.sampled_from([512, 1232, 4096]))
def test_the_fast_answer_is_the_full_paths_reply(which, qname, qtype, edns, payload, do, transport, mask, msg_id,
                                                 bits, max_udp):
    store = STORES[which]
    q = dns.message.make_query(_case(qname, mask), qtype)
    if edns is not None:
        q.use_edns(0, dns.flags.DO if do else 0, payload)
    q.id = msg_id
    q.flags = dns.flags.Flag((dns.flags.RD if bits & 1 else 0) | (dns.flags.CD if bits & 2 else 0))
    wire = q.to_wire()
    pre = answer_cache.preparse(wire, transport, max_udp)
    assert pre is not None
    fast = _fast(store, pre, wire)
    full = respond(wire, transport=transport, store=store, max_udp_payload=max_udp, use_cache=False)
    if fast is not None:
        assert fast == full
    held = {"www.example.com.": ("A", "AAAA", "TXT"), "ns1.example.com.": ("A", "AAAA"), "mail.example.com.": ("A",),
            "ptr.example.com.": ("PTR",), "alias.example.com.": ("CNAME",)}
    if which == "flat":
        held = {**held, "www.example.com.": ("A", "AAAA", "TXT", "MX"), "mx.example.com.": ("MX",)}
    plain = not (edns is not None and do) and (transport == "tcp" or len(full) <= 512)
    if qtype in held.get(qname, ()) and plain:
        assert fast is not None  # the common query takes the fast path
    nsec3_like = any(len(label) == 32 for label in qname.split("."))  # the full path decides
    if which == "nocut" and qtype in ANSWERED_TYPES and plain and not nsec3_like and qname.endswith("example.com."):
        if qtype != "MX" or dns.message.from_wire(full).answer == [] or "chain" in qname or "alias2" in qname:
            assert fast is not None  # chains, wildcards and denials too


@pytest.mark.parametrize("which", sorted(STORES))
def test_every_name_and_type_gets_the_full_paths_reply(which):
    """Every name and type of the lists, in each zone, over UDP with EDNS: the same bytes."""
    store = STORES[which]
    answered = 0
    for qname in NAMES:
        for qtype in TYPES:
            wire = dns.message.make_query(qname, qtype, use_edns=0, payload=1232).to_wire()
            fast = _fast(store, answer_cache.preparse(wire, "udp", 1232), wire)
            full = respond(wire, transport="udp", store=store, use_cache=False)
            if fast is not None:
                assert fast == full, (qname, qtype)
                answered += 1
            # The daemon's UDP fast path: the wire path, else the cache (filled by `respond`).
            plain = answer_plain(wire, "udp", store, 1232)
            assert plain in (None, full) and (plain is not None) >= (fast is not None and qtype != "SOA")
            respond(wire, transport="udp", store=store)  # may fill the cache
            plain = answer_plain(wire, "udp", store, 1232)
            assert plain in (None, full) and (plain is None) == (qtype == "SOA" or qname.endswith(".net."))
    assert answered >= {"cuts": 390, "flat": 460, "nocut": 450}[which]  # about 3 in 5 of them


def test_a_positive_answer_is_what_a_client_reads(store):
    q = dns.message.make_query("PTR.example.com.", "PTR", use_edns=0, payload=1232)
    wire = q.to_wire()
    fast = _fast(store, answer_cache.preparse(wire, "udp", 1232), wire)
    reply = dns.message.from_wire(fast)
    assert reply.id == q.id and reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    # Compressed names take the spelling of the suffix written first (as dnspython writes them).
    assert [r.to_text() for r in reply.answer[0]] == ["www.example.com.", "mail.example.com.", "other.example.net."]
    assert reply.answer[0].name == dns.name.from_text("ptr.example.com.") and reply.edns == 0


def test_a_truncated_answer_is_left_to_the_full_path(store):
    wire = dns.message.make_query("many.example.com.", "A").to_wire()
    assert _fast(store, answer_cache.preparse(wire, "udp", 1232), wire) is None
    reply = dns.message.from_wire(respond(wire, transport="udp", store=store))
    assert reply.flags & dns.flags.TC


def test_an_soa_query_takes_the_fast_path_and_is_counted_for_its_secondary(store):
    """The daemon's UDP port answers SOA queries (secondaries' refresh checks, and probes) on the
    fast path too, telling the secondary's hook as `respond` does; the bytes are the full path's."""
    wire = dns.message.make_query("Example.COM.", "SOA", use_edns=0, payload=1232).to_wire()
    seen = []
    fast = answer_plain(wire, "udp", store, 1232, lambda: lambda qname, key: seen.append((qname, key)))
    assert fast == respond(wire, transport="udp", store=store, use_cache=False)
    assert seen == [(b"\x07example\x03com\x00", None)]
    assert answer_plain(wire, "udp", store, 1232, lambda: None) == fast  # not a secondary: not counted
    assert answer_plain(wire, "udp", store, 1232) is None and len(seen) == 1  # no hook: the full path's work


@pytest.mark.parametrize("edns,rd,cd,case", [(True, True, False, str), (False, False, True, str.upper),
                                             (True, False, False, str.title)])
def test_a_zone_not_loaded_yet_answers_servfail_on_the_fast_path_until_it_is(edns, rd, cd, case):
    """The SERVFAIL of a configured zone with no version yet, cached per query shape as any
    answer: byte for byte the full path's; once the zone is published it is never served again,
    nor once the zone is removed (then the name is no zone's: REFUSED)."""
    store = wire_store(FLAT_TEXT)
    assert store.current(UNLOADED) is None
    q = dns.message.make_query(case("www.broken.test."), "A", use_edns=0 if edns else None, payload=1232)
    q.flags = (dns.flags.RD if rd else 0) | (dns.flags.CD if cd else 0)
    wire = q.to_wire()
    assert answer_plain(wire, "udp", store, 1232) is None  # nothing cached yet
    full = respond(wire, transport="udp", store=store)
    assert dns.message.from_wire(full).rcode() == dns.rcode.SERVFAIL
    other = dns.message.make_query(case("www.broken.test."), "A", use_edns=0 if edns else None, payload=1232)
    other.flags, other.id = q.flags, (q.id + 1) % 65536
    assert answer_plain(other.to_wire(), "udp", store, 1232) == respond(other.to_wire(), transport="udp", store=store,
                                                                        use_cache=False)
    plain = version_from_text(QUERY_ZONE, "broken.test.")
    store.publish(UNLOADED, WireVersion.from_nodes(plain.origin, plain.nodes()))
    assert dns.message.from_wire(respond(wire, transport="udp", store=store)).rcode() != dns.rcode.SERVFAIL
    fast = answer_plain(wire, "udp", store, 1232)
    assert fast is None or dns.message.from_wire(fast).rcode() != dns.rcode.SERVFAIL
    removed = wire_store(FLAT_TEXT)
    respond(wire, transport="udp", store=removed)
    removed.remove(UNLOADED)
    assert answer_plain(wire, "udp", removed, 1232) is None
    assert dns.message.from_wire(respond(wire, transport="udp", store=removed)).rcode() == dns.rcode.REFUSED
