"""TSIG (RFC 8945) for the server side: verify a request with our clock, in the RFC's order, and
sign responses, including the multi-message responses of AXFR/IXFR. Tier 3: stdlib, dns,
hiddenprimary tiers 0-2. Pure: the time is always an argument (`now`), never read here.

Why not `dns.message.from_wire(wire, keyring)`: it verifies with `time.time()`, and its MAC check
compares the full digest, so it cannot accept a truncated MAC (RFC 8945 5.2.2.1). Requests are
parsed with `keyring=False` (request.py) and verified here; dnspython's `dns.tsig.sign` computes
every MAC (it digests exactly what RFC 8945 4.3 lists), so no HMAC input is assembled by hand.

Order of checks (RFC 8945 5.2; BIND `dns_tsig_verify`):

1. key: the key name is in our keyring and its algorithm is the request's, else BADKEY;
2. MAC length: longer than the digest, or shorter than 10 octets -> FORMERR (5.2.2.1);
3. MAC: the (possibly truncated) MAC must equal the same-length prefix of ours, else BADSIG;
4. time: |time signed - now| <= the request's fudge, else BADTIME (only after the MAC verified);
5. truncation: a MAC shorter than max(10, digest/2) octets -> BADTRUNC (our local policy, 5.2.4).

Replies to TSIG errors (5.3.2): BADKEY and BADSIG are NOTAUTH with an unsigned TSIG (MAC size 0)
that names the request's key and algorithm; BADTIME and BADTRUNC are signed with the key. BADTIME
carries the request's Time Signed (so the client's own window check passes, as in BIND) and our
time as 6-octet Other Data; dnspython's `make_response(tsig_error=BADTIME)` leaves it empty.

Responses are signed on wire bytes (`StreamSigner`): a message rendered once without TSIG can be
sent to every secondary, with only the ID and the TSIG record added per transfer.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import struct
from collections.abc import Mapping

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.tsig
import dns.wire

from hiddenprimary.config import Config, TSIG_DIGEST_SIZES
from hiddenprimary.logs import event
from hiddenprimary.serve.request import reply_skeleton

log = logging.getLogger("hiddenprimary.tsig")

FUDGE = 300  # seconds, in every TSIG we write (RFC 8945 10: 300 recommended; BIND, Knot)
MIN_MAC_SIZE = 10  # octets; shorter is FORMERR (RFC 8945 5.2.2.1)

# Digest sizes in octets of the algorithms we accept (config.TSIG_ALGORITHMS).
DIGEST_SIZES: dict[dns.name.Name, int] = TSIG_DIGEST_SIZES
WEAK_ALGORITHMS = frozenset({dns.tsig.HMAC_SHA1, dns.tsig.HMAC_MD5})

TSIG_ERRORS = (dns.rcode.BADSIG, dns.rcode.BADKEY, dns.rcode.BADTIME, dns.rcode.BADTRUNC)
_SIGNED_ERRORS = (dns.rcode.BADTIME, dns.rcode.BADTRUNC)  # the MAC verified: reply signed

_TSIG_RR_FIXED = struct.pack("!HHI", dns.rdatatype.TSIG, dns.rdataclass.ANY, 0)

Keyring = Mapping[dns.name.Name, dns.tsig.Key]


def minimum_mac_size(digest_size: int) -> int:
    """Shortest truncated MAC we accept, in octets: max(10, half the digest) (RFC 8945 5.2.2.1).
    Between 10 and this is BADTRUNC; below 10 is FORMERR."""
    return max(MIN_MAC_SIZE, (digest_size + 1) // 2)


def keyring_from_config(config: Config) -> dict[dns.name.Name, dns.tsig.Key]:
    """The keys of `config.tsig` by absolute DNS name (lookups ignore case, like dns.name)."""
    keyring: dict[dns.name.Name, dns.tsig.Key] = {}
    for tk in config.tsig.values():
        name = dns.name.from_text(tk.name, origin=dns.name.root)
        algorithm = dns.name.from_text(tk.algorithm, origin=dns.name.root)
        keyring[name] = dns.tsig.Key(name, tk.secret, algorithm)
    return keyring


# ---------------------------------------------------------------------------------------------
# Verifying a request


@dataclasses.dataclass(frozen=True)
class TsigVerdict:
    """What the TSIG of one request amounts to.

    - unsigned: `signed=False`, everything else empty;
    - `ok`: signed, verified, in time, long enough; `key` is the key that verified it;
    - `error` (BADKEY/BADSIG/BADTIME/BADTRUNC): answer with `error_response`; `key` is set only
      for BADTIME and BADTRUNC (the MAC verified with it, so the reply is signed with it);
    - `formerr`: the TSIG is malformed (MAC size out of range); answer FORMERR, unsigned.

    `request_mac` is the MAC the request carried (as received, possibly truncated): the first
    response MAC covers it. `reason` is a short text for logs. The repr leaves out `key`.
    """

    signed: bool
    key: dns.tsig.Key | None = dataclasses.field(repr=False)  # repr would show the secret
    key_name: dns.name.Name | None
    error: int
    formerr: bool
    request_mac: bytes
    reason: str

    @property
    def ok(self) -> bool:
        return self.signed and self.error == 0 and not self.formerr

    @property
    def error_text(self) -> str:
        """BADSIG/BADKEY/BADTIME/BADTRUNC, FORMERR, or NOERROR."""
        if self.formerr:
            return "FORMERR"
        return dns.rcode.to_text(self.error, tsig=True) if self.error else "NOERROR"


UNSIGNED = TsigVerdict(False, None, None, 0, False, b"", "unsigned")


def verify_request(
    message: dns.message.Message, wire: bytes, keyring: Keyring, now: float
) -> TsigVerdict:
    """Check the TSIG of a request parsed with `keyring=False` from `wire`, at time `now`
    (seconds since the epoch), in RFC 8945 5.2 order. Never raises."""
    if not message.tsig:
        return UNSIGNED
    try:
        return _verify(message, wire, keyring, int(now))
    except Exception as exc:  # hostile input must never escape as an exception
        name = message.tsig.name if message.tsig else None
        return TsigVerdict(True, None, name, 0, True, b"", f"malformed TSIG ({type(exc).__name__})")


def _verify(message: dns.message.Message, wire: bytes, keyring: Keyring, now: int) -> TsigVerdict:
    assert message.tsig is not None
    owner = message.tsig.name
    rdata = message.tsig[0]
    mac = rdata.mac

    def verdict(error: int, reason: str, key: dns.tsig.Key | None = None, formerr: bool = False):
        return TsigVerdict(True, key, owner, int(error), formerr, mac, reason)

    # 1. key (5.2.1)
    key = keyring.get(owner)
    if key is None:
        return verdict(dns.rcode.BADKEY, f"unknown key {owner}")
    if key.algorithm != rdata.algorithm:
        return verdict(
            dns.rcode.BADKEY, f"key {owner} is {key.algorithm}, request used {rdata.algorithm}"
        )
    digest_size = DIGEST_SIZES.get(key.algorithm)
    if digest_size is None:  # only with a hand-made keyring: config accepts no other algorithm
        return verdict(dns.rcode.BADKEY, f"unsupported algorithm {key.algorithm}")

    # 2. MAC size (5.2.2.1)
    if len(mac) > digest_size:
        return verdict(0, f"MAC size {len(mac)} larger than the {digest_size}-octet digest", formerr=True)
    if len(mac) < MIN_MAC_SIZE:
        return verdict(0, f"MAC size {len(mac)} below {MIN_MAC_SIZE} octets", formerr=True)

    # 3. MAC (5.2.2): over the request without its TSIG, ARCOUNT decremented, ID = Original ID
    ours = _request_mac(wire, key, rdata)
    if not hmac.compare_digest(ours[: len(mac)], mac):
        return verdict(dns.rcode.BADSIG, "bad MAC")
    _warn_if_weak(key)

    # 4. time (5.2.3), only now that the MAC verified
    skew = now - rdata.time_signed
    if abs(skew) > rdata.fudge:
        side = "behind" if skew > 0 else "ahead of"
        return verdict(
            dns.rcode.BADTIME,
            f"time {abs(skew)}s off ({side} our clock), fudge {rdata.fudge}",
            key=key,
        )

    # 5. truncation policy (5.2.4)
    minimum = minimum_mac_size(digest_size)
    if len(mac) < minimum:
        return verdict(
            dns.rcode.BADTRUNC,
            f"MAC truncated to {len(mac)} of {digest_size} octets (minimum {minimum})",
            key=key,
        )
    return verdict(0, "ok", key=key)


def _request_mac(wire: bytes, key: dns.tsig.Key, rdata) -> bytes:
    """The full-length MAC of a request as RFC 8945 4.3.3 defines it."""
    start = tsig_start(wire)
    (arcount,) = struct.unpack_from("!H", wire, 10)
    unsigned = wire[:10] + struct.pack("!H", arcount - 1) + wire[12:start]
    signed, _ = dns.tsig.sign(unsigned, key, rdata, rdata.time_signed)
    return signed.mac


def tsig_start(wire: bytes) -> int:
    """Offset of the TSIG record in a message that parsed (it is the last record, RFC 8945 5.1).
    dnspython knows it while parsing but does not keep it with `keyring=False`, so walk the
    records: names (compression allowed) and fixed fields only, rdata skipped by its length."""
    p = dns.wire.Parser(wire)
    _, _, qdcount, ancount, nscount, arcount = p.get_struct("!HHHHHH")
    if arcount == 0:
        raise dns.exception.FormError("no additional record")
    for _ in range(qdcount):
        p.get_name(decompress=True)
        p.get_struct("!HH")
    for _ in range(ancount + nscount + arcount - 1):
        p.get_name(decompress=True)
        rdlen = p.get_struct("!HHIH")[3]
        p.seek(p.current + rdlen)
    start = p.current
    p.get_name(decompress=True)
    (rdtype,) = p.get_struct("!H")
    if rdtype != dns.rdatatype.TSIG:
        raise dns.exception.FormError("last record is not TSIG")
    return start


_weak_warned: set[tuple[dns.name.Name, dns.name.Name]] = set()


def _warn_if_weak(key: dns.tsig.Key) -> None:
    """Warn once per key that hmac-sha1 / hmac-md5 is in use (RFC 8945 6: MD5 and SHA-1 are
    deprecated for new use)."""
    if key.algorithm not in WEAK_ALGORITHMS:
        return
    marker = (key.name, key.algorithm)
    if marker in _weak_warned:
        return
    _weak_warned.add(marker)
    event(
        log,
        "tsig.weak_algorithm",
        logging.WARNING,
        key=key.name.to_text(omit_final_dot=True),
        algorithm=key.algorithm.to_text(omit_final_dot=True).lower(),
        advice="switch to hmac-sha256",
    )


# ---------------------------------------------------------------------------------------------
# Signing responses


def _tsig_rdata(algorithm, time_signed: int, fudge: int, mac: bytes, original_id: int, error: int,
                other: bytes) -> dns.rdtypes.ANY.TSIG.TSIG:
    return dns.rdtypes.ANY.TSIG.TSIG(
        dns.rdataclass.ANY, dns.rdatatype.TSIG, algorithm, time_signed, fudge, mac, original_id,
        error, other,
    )


def _with_tsig(wire: bytes, owner: dns.name.Name, rdata) -> bytes:
    """`wire` with the TSIG record appended (owner and algorithm uncompressed) and counted."""
    (arcount,) = struct.unpack_from("!H", wire, 10)
    if arcount == 0xFFFF:
        raise ValueError("ARCOUNT is full")
    rd = rdata.to_wire()
    return b"".join((
        wire[:10],
        struct.pack("!H", arcount + 1),
        wire[12:],
        owner.to_wire(),
        _TSIG_RR_FIXED,
        struct.pack("!H", len(rd)),
        rd,
    ))


def signature_size(key: dns.tsig.Key) -> int:
    """The most a TSIG record made with `key` adds to a message (owner, fixed fields, MAC)."""
    return len(key.name.to_wire()) + 10 + len(key.algorithm.to_wire()) + 16 + DIGEST_SIZES[key.algorithm]


class StreamSigner:
    """Signs the messages of one response, given as wire bytes without TSIG, in order.

    The first MAC covers `request_mac`, each later one the previous MAC, the message and only the
    timers (RFC 8945 5.3.1; dnspython's `multi=True`). Every message is signed. Each message's ID
    is set to `original_id` (the request's ID), which is also the TSIG Original ID. The time
    signed is `now` from the constructor unless `sign(..., now=)` gives a fresher one (a transfer
    running longer than the fudge should pass the current time)."""

    def __init__(self, key: dns.tsig.Key, request_mac: bytes, now: float, original_id: int,
                 fudge: int = FUDGE):
        if key.algorithm not in DIGEST_SIZES:
            raise ValueError(f"unsupported TSIG algorithm {key.algorithm}")
        self.key = key
        self.request_mac = bytes(request_mac)
        self.now = now
        self.original_id = original_id & 0xFFFF
        self.fudge = fudge
        self.messages = 0
        self._ctx = None
        _warn_if_weak(key)

    def sign(self, wire: bytes, now: float | None = None) -> bytes:
        """`wire` (a whole DNS message without TSIG) with its TSIG appended and ARCOUNT + 1."""
        return self._sign(wire, now, error=0, other=b"", time_signed=None)

    def sign_message(self, message: dns.message.Message, now: float | None = None) -> bytes:
        """Render `message` (which must not carry a TSIG itself) and sign it as the next message."""
        if message.tsig is not None:
            raise ValueError("message already has a TSIG; give it to StreamSigner without one")
        return self.sign(message.to_wire(), now)

    def _sign(self, wire: bytes, now: float | None, error: int, other: bytes,
              time_signed: int | None) -> bytes:
        if len(wire) < 12:
            raise ValueError("not a DNS message: shorter than the header")
        when = int(self.now if now is None else now) if time_signed is None else time_signed
        wire = struct.pack("!H", self.original_id) + bytes(wire[2:])
        template = _tsig_rdata(self.key.algorithm, when, self.fudge, b"", self.original_id, error, other)
        rdata, self._ctx = dns.tsig.sign(
            wire, self.key, template, when, self.request_mac, self._ctx, True
        )
        self.messages += 1
        return _with_tsig(wire, self.key.name, rdata)


def error_response(request: dns.message.Message, verdict: TsigVerdict, now: float) -> bytes:
    """The reply to a request whose TSIG failed (RFC 8945 5.3.2): NOTAUTH with the TSIG error,
    ID and question echoed. BADKEY and BADSIG: unsigned (MAC size 0) with the request's key name
    and algorithm and our time. BADTIME: signed, the request's Time Signed, our time as 6-octet
    Other Data. BADTRUNC: signed, our time. A `formerr` verdict gets a plain FORMERR."""
    reply = reply_skeleton(request)
    if verdict.formerr:
        reply.set_rcode(dns.rcode.FORMERR)
        return reply.to_wire()
    if verdict.error not in TSIG_ERRORS or not request.tsig:
        raise ValueError(f"no TSIG error to answer ({verdict.error_text}, {verdict.reason})")
    reply.set_rcode(dns.rcode.NOTAUTH)
    wire = reply.to_wire()
    req_rdata = request.tsig[0]
    if verdict.error in _SIGNED_ERRORS:
        if verdict.key is None:
            raise ValueError(f"{verdict.error_text} reply needs the key that verified the MAC")
        signer = StreamSigner(verdict.key, verdict.request_mac, now, request.id)
        if verdict.error == dns.rcode.BADTIME:
            other = struct.pack("!Q", int(now) & 0xFFFFFFFFFFFF)[2:]  # uint48, RFC 8945 5.2.3
            return signer._sign(wire, None, verdict.error, other, time_signed=req_rdata.time_signed)
        return signer._sign(wire, None, verdict.error, b"", time_signed=None)
    rdata = _tsig_rdata(req_rdata.algorithm, int(now), FUDGE, b"", request.id, verdict.error, b"")
    return _with_tsig(wire, request.tsig.name, rdata)
