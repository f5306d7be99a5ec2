"""One DNS message in, the bytes to send back (or None) out: the pure core behind the UDP and TCP
protocols. No Twisted here; `net/` calls `respond` and sends what it returns.

Routing (each decision is pinned by tests/unit/test_responder.py):

- Malformed input: `request.parse_request` decides (drop, FORMERR, NOTIMP, BADVERS).
- QUERY for a name in no served zone: REFUSED, AA clear, question echoed (BIND, Knot).
- QUERY for a configured zone that has no version yet: SERVFAIL (NSD `zone_notloaded`).
- AXFR/IXFR (`route_transfer`): a class other than IN, or a zone we do not serve (the qname must
  be a zone apex) -> NOTAUTH (BIND `xfrout.c` "non-authoritative zone", Knot); configured but not
  loaded -> SERVFAIL; these replies are signed when the request's TSIG verifies (BIND), and a bad
  TSIG gets its RFC 8945 5.3.2 error instead;
  otherwise the `transfer` hook decides, AXFR over UDP included (FORMERR after the ACL, as
  BIND "attempted AXFR over UDP"; Knot says NOTIMP) (the daemon passes `transfers.Transfers.handle`: TSIG, ACL,
  quota, AXFR/IXFR); without a hook, `refuse_transfer`: closed by default.
- NOTIFY: NOTAUTH for a zone we do not serve (BIND `notify.c`), REFUSED for ours: we are the
  primary, nobody notifies us, and a NOTIFY never triggers a load. Each is logged at debug
  (`notify.received`, with the source), at most once per source per `notify_log` interval.
- UPDATE: NOTIMP (we do not implement dynamic update).
- qtype ANY (RFC 8482): over UDP one RRset (`query.answer(minimal_any=True)`), over TCP all.
- EDNS (RFC 6891): a request with OPT gets an OPT back (version 0, our payload `max_udp_payload`,
  DO echoed, no options). UDP replies are limited to max(512, min(request payload,
  max_udp_payload)), or 512 without EDNS; TCP replies to 65535.
- Truncation (RFC 2181 9, RFC 9471, BIND): when the answer or authority section does not fit, the
  reply is TC=1 with only the question (and OPT). When only additional data does not fit, it is
  left out without TC, except the glue of a referral for name servers below the cut (RFC 9471
  "in-domain glue"): if that does not fit, TC=1 as for the answer section.
- Anything unexpected while answering: SERVFAIL, reported through `on_error` (default: logged).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from hiddenprimary import logs
from hiddenprimary.serve import answer_cache, wire_answer
from hiddenprimary.serve.query import answer
from hiddenprimary.transfer import tsig
from hiddenprimary.serve.request import (
    Drop,
    Reply,
    Request,
    header_reply,
    parse_request,
    reply_skeleton,
)
from hiddenprimary.zone.store import Store
from hiddenprimary.zone.version import ZoneVersion

log = logging.getLogger(__name__)

NOTIFY_LOG_INTERVAL_S = 60.0  # at most one `notify.received` line per source this often

UDP = "udp"
TCP = "tcp"
MIN_UDP_SIZE = 512  # RFC 1035 4.2.1, and the floor for any EDNS payload (RFC 6891 6.2.5)
MAX_TCP_SIZE = 65535  # RFC 1035 4.2.2

_DO = int(dns.flags.DO)
_AA = dns.flags.AA
_TC = dns.flags.TC
_AXFR = dns.rdatatype.AXFR
_IXFR = dns.rdatatype.IXFR
_DS = dns.rdatatype.DS
_NS = dns.rdatatype.NS
_A = dns.rdatatype.A
_AAAA = dns.rdatatype.AAAA
_IN = dns.rdataclass.IN
_QR_OPCODE_BITS = 0xF8  # QR and opcode, in the third header octet
_NOTIFY_BITS = dns.opcode.NOTIFY << 3  # a NOTIFY request (QR clear)
_SOA = dns.rdatatype.SOA

ErrorHook = Callable[[BaseException, bytes], None]
# transfer(request, zone, version, transport, peer) -> reply bytes, or a stream for TCP
TransferHook = Callable[[Request, dns.name.Name, ZoneVersion, str, "tuple[str, int] | None"], object]
# soa_seen(qname in lowercase wire form, name of the key that verified the query's TSIG or None)
SoaHook = Callable[[bytes, "dns.name.Name | None"], None]


def respond(
    wire: bytes,
    *,
    transport: str,
    store: Store,
    max_udp_payload: int = 1232,
    on_error: ErrorHook | None = None,
    use_cache: bool = True,
    peer: tuple[str, int] | None = None,
    transfer: TransferHook | None = None,
    keyring: dict | None = None,
    now: Callable[[], float] | None = None,
    notify_log: logs.Throttle | None = None,
    soa_seen: SoaHook | None = None,
) -> object:
    """The reply to the DNS message `wire` received over `transport` ("udp" or "tcp"), or None
    when nothing may be sent (on TCP the caller then closes the connection). Never raises,
    whatever the bytes (only a `transport` other than "udp"/"tcp" is refused, as a caller bug).

    `on_error(exc, wire)` is called for an unexpected exception turned into SERVFAIL (default: a
    `query.servfail` log line). `use_cache=False` forces the full path (tests, benchmarks).
    `transfer` serves AXFR/IXFR of a served, loaded zone (default: `refuse_transfer`); what
    it returns (bytes, or a stream for the TCP protocol) is returned as is.
    With `keyring` (and `now`, the wall clock), a TSIG-signed query is verified (RFC 8945 5.2)
    and its reply signed; a failed TSIG gets NOTAUTH with the TSIG error (5.3.2). Secondaries
    such as BIND sign their SOA refresh queries and reject an unsigned answer.
    With `notify_log`, each incoming NOTIFY is logged at debug (`notify.received`), as that
    throttle allows per source address.
    `soa_seen(qname, key_name)` is called for each SOA query that is unsigned (key_name None) or
    whose TSIG verified, never for one whose TSIG failed, with the qname in lowercase wire form
    (no dnspython Name to build on a cache hit): the daemon counts secondaries' refresh checks
    with it. It must be cheap and must not raise.
    """
    if transport != UDP and transport != TCP:
        raise ValueError(f"transport must be 'udp' or 'tcp', not {transport!r}")
    try:
        pre = answer_cache.preparse(wire, transport, max_udp_payload) if use_cache else None
        if pre is not None:
            hit = _answered_fast(store, pre, wire)
            if hit is not None:
                if soa_seen is not None and pre.key[1] == _SOA:  # a cached answer: an unsigned query
                    soa_seen(pre.key[0], None)
                return hit
        out = _respond(wire, transport, store, max_udp_payload, pre, on_error, peer, transfer, keyring, now,
                       soa_seen)
        if notify_log is not None and len(wire) >= 12 and wire[2] & _QR_OPCODE_BITS == _NOTIFY_BITS:
            _log_notify(notify_log, wire, out, peer, transport)
        return out
    except Exception as exc:  # the last line of defence: a reply, never an exception
        _report(on_error, exc, wire)
        return _last_resort_servfail(wire)


def answer_plain(wire: bytes, transport: str, store: Store, max_udp_payload: int = 1232,
                 soa_seen_from: Callable[[], SoaHook | None] | None = None) -> bytes | None:
    """The reply `respond` would give a plain query (what `answer_cache.preparse` accepts) that
    the wire path or the answer cache answers, or None: then call `respond`. The daemon's UDP
    port asks this first (no per-query keyword arguments or peer tuple to build). An SOA query
    answered here is told to the hook `soa_seen_from()` returns (the secondaries' refresh checks,
    as `respond` does); without `soa_seen_from`, SOA queries go to `respond`."""
    pre = answer_cache.preparse(wire, transport, max_udp_payload)
    if pre is None:
        return None
    if pre.key[1] == _SOA:
        if soa_seen_from is None:
            return None
        reply = _answered_fast(store, pre, wire)
        if reply is not None:
            soa_seen = soa_seen_from()
            if soa_seen is not None:
                soa_seen(pre.key[0], None)
        return reply
    return _answered_fast(store, pre, wire)


def _answered_fast(store: Store, pre: answer_cache.Preparsed, wire: bytes) -> bytes | None:
    """The reply from the wire path or the answer cache, or None (the full path's work)."""
    version = answer_cache.version_of(store, pre)
    if version is None:
        unloaded = store.unloaded_of_wire(pre.key[0], pre.label_starts)
        return None if unloaded is None else answer_cache.lookup(unloaded, pre, wire)
    # The cache holds only what the wire path declines: ask the wire path first.
    return wire_answer.answer(version, pre, wire) or answer_cache.lookup(version, pre, wire)


def _log_notify(throttle: logs.Throttle, wire: bytes, out: object, peer: tuple[str, int] | None,
                transport: str) -> None:
    """`notify.received` at debug: a NOTIFY to us (the primary) is refused, but says a peer thinks
    it has something to tell; rate-limited per source, since anyone can send them."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    source = peer[0] if peer is not None else "unknown"
    held_back = throttle.admit(source)
    if held_back is None:
        return
    try:
        question = dns.message.from_wire(wire, keyring=False, question_only=True).question
        zone = question[0].name.to_text(omit_final_dot=True) if question else None
    except Exception:  # malformed: the reply (FORMERR) says enough
        zone = None
    answer_text = dns.rcode.to_text(out[3] & 0x0F) if isinstance(out, bytes) and len(out) >= 4 else "none"
    logs.event(log, "notify.received", logging.DEBUG, peer=source, zone=zone, transport=transport,
               answer=answer_text, suppressed=held_back or None)


def _respond(
    wire: bytes,
    transport: str,
    store: Store,
    max_udp_payload: int,
    pre: answer_cache.Preparsed | None,
    on_error: ErrorHook | None,
    peer: tuple[str, int] | None = None,
    transfer: TransferHook | None = None,
    keyring: dict | None = None,
    now: Callable[[], float] | None = None,
    soa_seen: SoaHook | None = None,
) -> object:
    """The full path: dnspython parse, route, answer, render; the reply is cached when `pre` says
    the query may be and it was answered from a zone version."""
    outcome = parse_request(wire, edns_payload=max_udp_payload)
    if isinstance(outcome, Drop):
        return None
    if isinstance(outcome, Reply):
        return outcome.wire
    assert isinstance(outcome, Request)
    request = outcome.message
    limit = size_limit(request, transport, max_udp_payload)
    signer = None
    check_tsig = request.tsig is not None and keyring is not None
    is_transfer = _is_transfer(request)
    if check_tsig and not is_transfer:  # a transfer's TSIG is checked after its ACL, by the hook
        signer = _tsig_signer(request, wire, keyring, now)
        if isinstance(signer, bytes):
            return signer  # the RFC 8945 5.3.2 error reply
    if soa_seen is not None and request.question[0].rdtype == _SOA and request.opcode() == dns.opcode.QUERY:
        if request.tsig is None or signer is not None:  # a TSIG nobody verified counts for nobody
            soa_seen(request.question[0].name.to_digestable(), None if signer is None else signer.key.name)
    routed = True
    try:
        response, version = _route(outcome, transport, store, peer, transfer)
    except Exception as exc:
        _report(on_error, exc, wire)
        response, version, routed = _error(request, dns.rcode.SERVFAIL), None, False
    if not isinstance(response, dns.message.Message):
        return response  # a transfer's own reply bytes or stream
    if check_tsig and is_transfer:
        # Refused before the hook (a zone we do not serve, not loaded, a class other than IN):
        # verified and signed as any query, as BIND signs its NOTAUTH, or the TSIG error reply.
        signer = _tsig_signer(request, wire, keyring, now)
        if isinstance(signer, bytes):
            return signer
    if signer is not None:
        limit -= tsig.signature_size(signer.key)
    out = render(response, request, limit, max_udp_payload)
    if signer is not None:
        return signer.sign(out)  # never cached: the signature is per request
    if version is not None and pre is not None:
        answer_cache.insert(version, pre, wire, out)
    elif routed and pre is not None and response.rcode() == dns.rcode.SERVFAIL:
        unloaded = store.unloaded_of_wire(pre.key[0], pre.label_starts)  # configured, not loaded yet
        if unloaded is not None:
            answer_cache.insert(unloaded, pre, wire, out)
    return out


def _tsig_signer(request: dns.message.Message, wire: bytes, keyring: dict,
                 now: Callable[[], float] | None) -> tsig.StreamSigner | bytes:
    """The signer of the reply to a signed request whose TSIG verifies (RFC 8945 5.2), else the
    reply bytes for its TSIG error (5.3.2: BADKEY/BADSIG unsigned, BADTIME/BADTRUNC signed)."""
    when = now() if now is not None else 0.0
    verdict = tsig.verify_request(request, wire, keyring, when)
    if not verdict.ok:
        return tsig.error_response(request, verdict, when)
    return tsig.StreamSigner(verdict.key, verdict.request_mac, when, request.id)


def _is_transfer(request: dns.message.Message) -> bool:
    return request.opcode() == dns.opcode.QUERY and request.question[0].rdtype in (_AXFR, _IXFR)


def _route(
    outcome: Request, transport: str, store: Store, peer, transfer: TransferHook | None
) -> tuple[object, ZoneVersion | None]:
    """The unrendered reply, and the version it was answered from when it may be cached."""
    request = outcome.message
    opcode = request.opcode()
    question = request.question[0]  # parse_request guarantees exactly one
    if opcode == dns.opcode.NOTIFY:
        return route_notify(request, store), None
    if opcode != dns.opcode.QUERY:
        return _error(request, dns.rcode.NOTIMP), None  # UPDATE: no dynamic update
    if question.rdtype == _AXFR or question.rdtype == _IXFR:
        return route_transfer(outcome, transport, store, peer, transfer), None
    found = store.find(question.name)
    if found is None:
        return _error(request, dns.rcode.REFUSED), None
    zone, version = found
    if version is None:
        return _error(request, dns.rcode.SERVFAIL), None
    if question.rdtype == _DS and zone == question.name:
        # RFC 4035 3.1.4.1: DS lives in the parent; answer from it when we serve it too.
        parent = _parent_version(store, zone)
        if parent is not None:
            return answer(parent, request), None  # not cached: the cache is looked up by qname
    # RFC 8482: ANY over UDP gets one RRset (no amplification), over TCP all of them. The answer
    # cache keys on the transport, so neither is served for the other.
    return answer(version, request, minimal_any=transport == UDP), version


def route_notify(request: dns.message.Message, store: Store) -> dns.message.Message:
    """RFC 1996: NOTAUTH for a zone we do not serve (BIND); REFUSED for ours (we are the primary:
    nothing should notify us, and a NOTIFY never triggers a load)."""
    qname = request.question[0].name
    found = store.find(qname)
    if found is None or found[0] != qname:
        return _error(request, dns.rcode.NOTAUTH)
    return _error(request, dns.rcode.REFUSED)


def route_transfer(outcome: Request, transport: str, store: Store, peer=None,
                   transfer: TransferHook | None = None) -> object:
    """AXFR/IXFR before any data is sent. The qname must be the apex of a served zone."""
    request = outcome.message
    question = request.question[0]
    if question.rdclass != _IN:
        return _error(request, dns.rcode.NOTAUTH)  # we serve IN zones only: none of this class (BIND)
    found = store.find(question.name)
    if found is None or found[0] != question.name:
        return _error(request, dns.rcode.NOTAUTH)  # BIND xfrout.c "non-authoritative zone"
    zone, version = found
    if version is None:
        return _error(request, dns.rcode.SERVFAIL)  # configured, never loaded (NSD zone_notloaded)
    if transfer is not None:
        return transfer(outcome, zone, version, transport, peer)  # ACL first, then the UDP check
    if question.rdtype == _AXFR and transport == UDP:
        return _error(request, dns.rcode.FORMERR)  # BIND xfrout.c "attempted AXFR over UDP"
    return refuse_transfer(request, version, transport)


def refuse_transfer(
    request: dns.message.Message, version: ZoneVersion, transport: str
) -> dns.message.Message:
    """Without a transfer service (`respond(..., transfer=None)`), transfers are closed: REFUSED
    (as hickory-dns's default AxfrPolicy::Deny)."""
    return _error(request, dns.rcode.REFUSED)


def _parent_version(store: Store, zone: dns.name.Name) -> ZoneVersion | None:
    if zone == dns.name.root:
        return None
    found = store.find(zone.parent())
    return None if found is None else found[1]


def _error(request: dns.message.Message, rcode: int) -> dns.message.Message:
    """A reply with only the question and `rcode`; AA clear."""
    reply = reply_skeleton(request)
    reply.set_rcode(rcode)
    return reply


# -- EDNS, size limits and truncation ------------------------------------------------------------


def size_limit(request: dns.message.Message, transport: str, max_udp_payload: int) -> int:
    """RFC 6891 6.2.3-6.2.5 and RFC 1035 4.2: the largest reply we may send."""
    if transport == TCP:
        return MAX_TCP_SIZE
    if request.edns < 0:
        return MIN_UDP_SIZE
    return max(MIN_UDP_SIZE, min(request.payload, max_udp_payload))


def render(
    response: dns.message.Message, request: dns.message.Message, limit: int, max_udp_payload: int
) -> bytes:
    """Add EDNS to `response` when `request` had it, and render it within `limit` octets,
    truncating as the module docstring says. RRsets are rendered in order (no shuffle)."""
    if request.edns >= 0:
        rcode = response.rcode()
        response.use_edns(0, int(request.ednsflags) & _DO, max_udp_payload)
        response.set_rcode(rcode)  # again: an extended rcode lives in the OPT
    try:
        return response.to_wire(max_size=limit, want_shuffle=False)
    except dns.exception.TooBig:
        pass
    additional = response.additional
    if additional:
        required = _required_glue(response)
        response.additional = [rrset for rrset in additional if _key(rrset) in required]
        try:
            return response.to_wire(max_size=limit, want_shuffle=False)
        except dns.exception.TooBig:
            pass
    # RFC 2181 9: the answer or authority (or required glue) does not fit: TC, question only.
    response.answer = []
    response.authority = []
    response.additional = []
    response.flags |= _TC
    return response.to_wire(max_size=limit, want_shuffle=False)


def _key(rrset) -> tuple[dns.name.Name, int]:
    return rrset.name, rrset.rdtype


def _required_glue(response: dns.message.Message) -> set[tuple[dns.name.Name, int]]:
    """For a referral, the A/AAAA of NS targets at or below the cut (RFC 9471 in-domain glue)."""
    if response.flags & _AA and response.answer:
        return set()  # not a plain referral (a CNAME chain into a cut: the glue is optional)
    required = set()
    for rrset in response.authority:
        if rrset.rdtype != _NS:
            continue
        for rdata in rrset:
            if rdata.target.is_subdomain(rrset.name):
                required.add((rdata.target, _A))
                required.add((rdata.target, _AAAA))
    return required


# -- failure -------------------------------------------------------------------------------------


def _report(on_error: ErrorHook | None, exc: BaseException, wire: bytes) -> None:
    try:
        if on_error is not None:
            on_error(exc, wire)
        else:
            logs.event(
                log,
                "query.servfail",
                logging.ERROR,
                error=type(exc).__name__,
                detail=str(exc),
                query=wire[:64].hex(),
            )
    except Exception:
        pass


def _last_resort_servfail(wire: bytes) -> bytes | None:
    """SERVFAIL from the header alone, for when even building a reply failed."""
    if len(wire) < 12 or struct.unpack_from("!H", wire, 2)[0] & int(dns.flags.QR):
        return None
    return header_reply(wire, dns.rcode.SERVFAIL)
