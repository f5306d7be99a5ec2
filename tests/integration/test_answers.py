"""What dig and dnspython get from the real daemon: each answer type of RFC 1034 4.3.2."""

import re
import socket
import struct
import time

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype

from tests.zones import BIG_TXT


def section_text(message, section):
    return [rrset.to_text() for rrset in getattr(message, section)]


def test_dig_gets_an_authoritative_answer(daemon):
    out = daemon.dig("www.example.com", "A")
    assert "status: NOERROR" in out.stdout
    assert " aa" in out.stdout.split("flags:")[1].split(";")[0]
    assert "www.example.com.\t3600\tIN\tA\t192.0.2.10" in out.stdout


def test_short_answer_for_aaaa(daemon):
    out = daemon.dig("+short", "www.example.com", "AAAA")
    assert out.stdout.strip() == "2001:db8::10"


def test_cname_chain_is_followed_inside_the_zone(daemon):
    r = daemon.query("chain.example.com", "A")
    assert r.flags & dns.flags.AA
    names = [(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)) for rrset in r.answer]
    assert names == [("chain.example.com.", "CNAME"), ("ftp.example.com.", "CNAME"), ("www.example.com.", "A")]


def test_wildcard_synthesises_the_query_name(daemon):
    out = daemon.dig("+noall", "+answer", "host7.apps.example.com", "A")
    assert out.stdout.split() == ["host7.apps.example.com.", "3600", "IN", "A", "192.0.2.80"]


def test_referral_at_a_delegation(daemon):
    r = daemon.query("deep.host.lab.example.com", "A")
    assert r.rcode() == dns.rcode.NOERROR
    assert not r.flags & dns.flags.AA
    assert r.answer == []
    assert section_text(r, "authority") == ["lab.example.com. 3600 IN NS ns.lab.example.com."]
    assert section_text(r, "additional") == ["ns.lab.example.com. 3600 IN A 192.0.2.53"]


def test_nxdomain_with_soa_and_negative_ttl(daemon):
    r = daemon.query("nope.example.com", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN and r.flags & dns.flags.AA
    [soa] = r.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.ttl == 300  # RFC 2308 3: min(SOA TTL 3600, SOA MINIMUM 300)


def test_nodata_with_soa(daemon):
    r = daemon.query("www.example.com", "MX")
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    assert [rrset.rdtype for rrset in r.authority] == [dns.rdatatype.SOA]


def test_empty_non_terminal_is_nodata_not_nxdomain(daemon):
    r = daemon.query("lab.example.com", "A")  # a delegation point: referral, not NXDOMAIN
    assert r.rcode() == dns.rcode.NOERROR
    r = daemon.query("apps.example.com", "A")  # exists only because of *.apps
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []


def test_refused_outside_served_zones(daemon):
    out = daemon.dig("www.example.org", "A")
    assert "status: REFUSED" in out.stdout
    assert " aa" not in out.stdout.split("flags:")[1].split(";")[0]


def test_unknown_opcode_is_notimp(daemon):
    q = dns.message.make_query("www.example.com", "A")
    q.set_opcode(dns.opcode.STATUS)
    r = dns.query.udp(q, "127.0.0.1", port=daemon.port, timeout=2)
    assert r.rcode() == dns.rcode.NOTIMP and r.id == q.id


def test_malformed_request_gets_formerr(daemon):
    q = dns.message.make_query("www.example.com", "A").to_wire() + b"junk"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(q, ("127.0.0.1", daemon.port))
        reply = s.recv(4096)
    assert reply[:2] == q[:2]
    assert reply[3] & 0x0F == dns.rcode.FORMERR


def test_garbage_datagrams_are_dropped_and_the_server_keeps_answering(daemon):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        for n in range(17):
            s.sendto(b"\0" * n, ("127.0.0.1", daemon.port))
        answered = 0
        for _ in range(17):
            try:
                s.recv(4096)
                answered += 1
            except socket.timeout:
                break
    # n >= 12 zero bytes is a header with QDCOUNT=0: FORMERR. Shorter ones are dropped.
    assert answered == 5
    assert daemon.query("example.com", "SOA").rcode() == dns.rcode.NOERROR


def test_edns_is_echoed_and_unknown_version_gets_badvers(daemon):
    out = daemon.dig("+edns=0", "www.example.com", "A")
    assert "OPT PSEUDOSECTION" in out.stdout and "EDNS: version: 0" in out.stdout
    out = daemon.dig("+edns=1", "+noednsneg", "www.example.com", "A")
    assert "status: BADVERS" in out.stdout and "EDNS: version: 0" in out.stdout


def test_truncated_over_udp_without_edns_then_full_over_tcp(daemon):
    out = daemon.dig("+noedns", "+ignore", "big.example.com", "TXT")
    assert " tc" in out.stdout.split("flags:")[1].split(";")[0]
    assert "ANSWER: 0" in out.stdout
    out = daemon.dig("+noedns", "big.example.com", "TXT")  # dig retries over TCP on TC
    assert "ANSWER: 1" in out.stdout and "Truncated, retrying in TCP mode" in out.stdout
    r = daemon.query("big.example.com", "TXT", use_edns=0, payload=4096)
    assert not r.flags & dns.flags.TC
    assert r.answer[0][0].to_text() == BIG_TXT


def test_pipelined_tcp_queries_are_all_answered(daemon):
    names = [f"host{i}.apps.example.com" for i in range(30)]
    queries = [dns.message.make_query(n, "A") for n in names]
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as s:
        s.sendall(b"".join(struct.pack("!H", len(w)) + w for w in (q.to_wire() for q in queries)))
        got = {}
        buf = b""
        while len(got) < len(queries):
            chunk = s.recv(65536)
            assert chunk, "server closed before answering everything"
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                r = dns.message.from_wire(buf[2 : 2 + n])
                buf = buf[2 + n :]
                got[r.id] = r
    for q in queries:
        r = got[q.id]
        assert r.question[0].name == q.question[0].name
        assert r.answer[0][0].to_text() == "192.0.2.80"


def test_idle_tcp_connection_is_closed(daemon):
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as s:
        started = time.monotonic()
        assert s.recv(10) == b""  # EOF: the server closed on us
        waited = time.monotonic() - started
    assert 1.0 < waited < 4.5  # limits.tcp_idle_timeout_s is 1.5 in this config
    assert daemon.query("example.com", "SOA", tcp=True).rcode() == dns.rcode.NOERROR


def test_idle_connections_do_not_block_answers_and_are_closed(daemon):
    # Slowloris (checklist B1): connections that never send a query.
    idle = []
    for i in range(60):
        s = socket.socket()
        s.bind((f"127.0.0.{10 + i % 5}", 0))
        s.connect(("127.0.0.1", daemon.port))
        idle.append(s)
    try:
        assert daemon.query("example.com", "SOA").rcode() == dns.rcode.NOERROR
        assert daemon.query("example.com", "SOA", tcp=True).rcode() == dns.rcode.NOERROR
        time.sleep(2.5)  # past limits.tcp_idle_timeout_s (1.5 s)
        for s in idle:
            s.settimeout(2)
            assert s.recv(10) == b""  # closed by the server
    finally:
        for s in idle:
            s.close()


# -- ANY (RFC 8482; issue 11 item 14) -------------------------------------------------------------


def answer_types(out: str) -> list[str]:
    """The types of the answer lines of `dig +noall +answer`."""
    return [line.split()[3] for line in out.splitlines() if line.strip() and not line.startswith(";")]


def test_any_over_udp_is_one_rrset_and_over_tcp_all(daemon):
    # Before: every RRset over UDP as well (27x amplification with DO on a signed zone).
    for qname, udp_types, tcp_types in (("www.example.com", ["A"], ["A", "AAAA"]),
                                        ("example.com", ["NS", "NS"], ["MX", "NS", "NS", "SOA"])):
        # dig sends ANY over TCP unless told +notcp.
        udp = daemon.dig("+notcp", "+noall", "+answer", "+comments", "+stats", qname, "ANY")
        assert "(UDP)" in udp.stdout and "status: NOERROR" in udp.stdout
        assert " tc" not in udp.stdout.split("flags:")[1].split(";")[0]
        assert answer_types(udp.stdout) == udp_types, udp.stdout
        tcp = daemon.dig("+tcp", "+noall", "+answer", "+stats", qname, "ANY")
        assert "(TCP)" in tcp.stdout and sorted(answer_types(tcp.stdout)) == tcp_types, tcp.stdout


def test_any_with_do_over_udp_from_a_signed_zone_is_one_rrset_and_its_rrsig(tmp_path):
    from tests.integration.harness import Daemon
    from tests.zones import example_com

    d = Daemon(tmp_path, {"example.com": example_com()},
               extra_zone_config={"example.com": {"dnssec": "{algorithm: ECDSAP256SHA256}"}})
    d.start(wait_zones=["example.com"])
    try:
        udp = d.dig("+notcp", "+dnssec", "+bufsize=4096", "+noall", "+answer", "+stats", "example.com", "ANY")
        assert "(UDP)" in udp.stdout and answer_types(udp.stdout) == ["NS", "NS", "RRSIG"], udp.stdout
        assert re.search(r"\tRRSIG\tNS 13 ", udp.stdout), udp.stdout
        tcp = d.dig("+tcp", "+dnssec", "+noall", "+answer", "+stats", "example.com", "ANY")
        assert "(TCP)" in tcp.stdout
        types = set(answer_types(tcp.stdout))
        assert {"SOA", "NS", "MX", "DNSKEY", "NSEC", "RRSIG"} <= types, tcp.stdout
        size = {name: int(re.search(r"MSG SIZE\s+rcvd: (\d+)", out.stdout).group(1))
                for name, out in (("udp", udp), ("tcp", tcp))}
        # The query is ~50 octets: ~30x before, now what an A query with DO costs (NS, glue, RRSIGs).
        assert size["udp"] <= 500 and size["tcp"] > 3 * size["udp"], size
    finally:
        d.stop()
