"""Zone texts the tests share, and the record lists they compare transferred zones with.

- `zone_text`: a small example.com (SOA, two NS, www, a TXT, a delegation with glue) with numbered
  hosts h0, h1, ... to make it as big as a test needs; what our secondaries and `hpctl check` get.
- `example_com`, `NET_ZONE`: the zones of the integration tests' daemon (MX, CNAME chain,
  wildcard, a delegation and a TXT too big for 512 octets).
- `dnssec_zone_text`: example.com with what signing must handle (wildcard, empty non-terminals,
  a delegation with DS and glue, one without DS).
- `QUERY_ZONE`: every case of RFC 1034 4.3.2 answers; `DENIAL_ZONE`: every case of NSEC/NSEC3
  denial, as BIND's dnssec-signzone signs it (tests/bind_signer.py).
- `records_of_text`, `records_of_zone`: a zone as a sorted (name, ttl, type, rdata) list, to
  compare what a secondary holds with the text it came from.
"""

from __future__ import annotations

import textwrap

import dns.name
import dns.rdatatype
import dns.zone

from hiddenprimary.zone.version import ZoneVersion

Record = tuple[str, int, str, str]  # (absolute owner name, ttl, type, rdata text with absolute names)


# -- the small example.com -----------------------------------------------------------------------


def zone_text(serial: int = 1, *, www: str = "192.0.2.10", hosts: int = 0, changed: dict[int, str] | None = None,
              extra: str = "", minimal: bool = False) -> str:
    """example.com at `serial`: SOA, NS ns1 and ns.other.test, ns1 A, www A (`www`) and AAAA, a TXT
    and the delegation sub with its glue; then `hosts` names h0, h1, ... with one A record each
    (10.0.i/250.i%250, or `changed[i]`); then the `extra` lines. `minimal`: SOA, NS ns1, ns1 A,
    the hosts and `extra` only."""
    changed = changed or {}
    text = (
        "$ORIGIN example.com.\n$TTL 300\n"
        f"@ SOA ns1.example.com. hostmaster.example.com. {serial} 3600 600 86400 300\n"
        "  NS ns1.example.com.\n"
    )
    if minimal:
        text += "ns1 A 192.0.2.1\n"
    else:
        text += (
            "  NS ns.other.test.\n"
            f"ns1 A 192.0.2.1\nwww A {www}\n  AAAA 2001:db8::10\n"
            'txt TXT "hello world"\n'
            "sub NS ns.sub.example.com.\nns.sub A 192.0.2.53\n"
        )
    text += "".join(f"h{i} A {changed.get(i, f'10.0.{i // 250}.{i % 250}')}\n" for i in range(hosts))
    return text + extra


def huge_txt(octets: int) -> str:
    """One TXT rdata of about `octets` octets (strings of 250 characters)."""
    strings, rest = divmod(octets, 251)  # 250 characters and a length octet each
    parts = [f'"{chr(97 + i % 26) * 250}"' for i in range(strings)]
    if rest > 1:
        parts.append('"' + "z" * (rest - 1) + '"')
    return " ".join(parts)


# -- the integration tests' daemon -----------------------------------------------------------------

BASE_ZONE = """\
$ORIGIN example.com.
$TTL 3600
@       IN SOA  ns1.example.com. hostmaster.example.com. 2026112701 7200 3600 1209600 300
        NS      ns1.example.com.
        NS      ns2.example.com.
        MX      10 mail.example.com.
ns1     A       192.0.2.1
ns2     A       198.51.100.1
www     A       192.0.2.10
        AAAA    2001:db8::10
mail    A       192.0.2.25
ftp     CNAME   www
chain   CNAME   ftp
*.apps  A       192.0.2.80
lab     NS      ns.lab.example.com.
ns.lab  A       192.0.2.53
big     TXT     {big_txt}
"""

# Enough text that the answer cannot fit in 512 bytes but fits in 4096.
BIG_TXT = " ".join(f'"{i:02d}-{"x" * 60}"' for i in range(12))

NET_ZONE = """\
$ORIGIN example.net.
$TTL 300
@       SOA     ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
        NS      ns1.example.com.
www     A       203.0.113.7
"""


def example_com(serial: int = 2026112701, www: str = "192.0.2.10", extra: str = "") -> str:
    """BASE_ZONE at `serial`, with www at `www` and the `extra` lines."""
    return BASE_ZONE.replace("2026112701", str(serial)).replace("192.0.2.10", www).format(big_txt=BIG_TXT) + extra


# -- a zone to sign --------------------------------------------------------------------------------

DNSSEC_ZONE = """$ORIGIN example.com.
$TTL 300
@ 3600 SOA ns1 hostmaster {serial} 7200 3600 1209600 300
@ 3600 NS ns1
@ 3600 NS ns2.example.net.
@ MX 10 mail
ns1 A 192.0.2.53
www A 192.0.2.10
www AAAA 2001:db8::10
mail A 192.0.2.25
alias CNAME www
*.wild TXT "wildcard"
host.deep.ent A 192.0.2.99
sub NS ns.sub
sub DS 12345 13 2 {ds}
ns.sub A 192.0.2.200
nods NS ns1.example.net.
{extra}
"""


def dnssec_zone_text(serial: int = 1, extra: str = "", ds: str = "ab" * 32, www: str = "192.0.2.10",
                     ttl: int | None = None) -> str:
    """DNSSEC_ZONE at `serial` with the `extra` lines, the DS digest `ds`, www at `www`; with `ttl`,
    every TTL is that one (a zone re-signed every few seconds needs TTLs shorter than its refresh:
    a cache could otherwise outlive the signatures)."""
    zone = DNSSEC_ZONE.format(serial=serial, extra=extra, ds=ds).replace("www A 192.0.2.10", f"www A {www}")
    return zone if ttl is None else zone.replace("$TTL 300", f"$TTL {ttl}").replace(" 3600 ", f" {ttl} ")


# -- zones for the answer logic ----------------------------------------------------------------------

QUERY_ZONE = """
$TTL 3600
@            3600 IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
@                 NS    ns1
@                 NS    ns2.example.net.
@                 MX    10 mail
@                 MX    20 mail.example.net.
@                 MX    30 host.sub
ns1               A     192.0.2.1
ns1               AAAA  2001:db8::1
mail              A     192.0.2.2
www               A     192.0.2.3
www               AAAA  2001:db8::3
www               TXT   "hello"
alias             CNAME www
chain1            CNAME chain2
chain2            CNAME alias
loop1             CNAME loop2
loop2             CNAME loop1
selfloop          CNAME selfloop
out               CNAME www.example.net.
dangling          CNAME nothere
tocut             CNAME host.sub
_sip._tcp         SRV   0 5 5060 sip
sip               A     192.0.2.20
a.b.ent           A     192.0.2.21
*.wild            A     192.0.2.10
*.wild            TXT   "synthesized"
exists.wild       MX    10 mail
a.ent2.wild       A     192.0.2.12
deleg.wild        NS    ns.example.net.
*.cn              CNAME www
*.cnloop          CNAME x.y.cnloop
*.e               TXT   "only-below"
a.*.entwild       A     192.0.2.13
sub               NS    ns.sub
sub               NS    ns1
sub               NS    ns.example.net.
sub               DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.sub            A     192.0.2.30
ns.sub            AAAA  2001:db8::30
host.sub          A     192.0.2.31
insecure          NS    ns.insecure
ns.insecure       A     192.0.2.40
"""


# Delegations with and without DS (and glue), empty non-terminals (ent, b.ent; ent2 only above an
# insecure delegation), wildcards (one a CNAME to a missing name, one, *.ew, an empty non-terminal),
# and a CNAME to a missing name.
DENIAL_ZONE = """\
$ORIGIN example.
$TTL 3600
@           SOA   ns1 hostmaster 2026010101 7200 3600 1209600 300
@           NS    ns1
ns1         A     192.0.2.1
www         A     192.0.2.2
www         AAAA  2001:db8::2
alias       CNAME www
dangling    CNAME nothere
secure      NS    ns.secure
secure      DS    12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.secure   A     192.0.2.3
insecure    NS    ns.insecure
ns.insecure A     192.0.2.4
ins.ent2    NS    ns.example.net.
a.b.ent     A     192.0.2.5
*.wild      A     192.0.2.6
*.wild      TXT   "wild"
*.cn        CNAME gone
a.*.ew      A     192.0.2.7
"""


def version_from_text(text: str, origin: str = "example.com.", *, check_origin: bool = True) -> ZoneVersion:
    """A ZoneVersion built from zone text (absolute names), independent of the zone loader."""
    zone = dns.zone.from_text(text, origin, relativize=False, check_origin=check_origin)
    nodes = {name: {(rds.rdtype, rds.covers): rds for rds in node.rdatasets} for name, node in zone.nodes.items()}
    return ZoneVersion(dns.name.from_text(origin), nodes)


# -- comparing zones ------------------------------------------------------------------------------


def records_of_zone(zone: dns.zone.Zone) -> list[Record]:
    """The sorted (name, ttl, type, rdata) list of a dnspython zone (relativize=False)."""
    return sorted((name.to_text(), ttl, dns.rdatatype.to_text(rdata.rdtype), rdata.to_text())
                  for name, ttl, rdata in zone.iterate_rdatas())


def records_of_text(text: str, origin: str) -> list[Record]:
    """The sorted (name, ttl, type, rdata) list of a zone file's text, in the same form as
    `records_of_zone`, so a transferred zone can be compared with the text it came from."""
    zone = dns.zone.from_text(textwrap.dedent(text), origin=origin, relativize=False, check_origin=False)
    return records_of_zone(zone)
