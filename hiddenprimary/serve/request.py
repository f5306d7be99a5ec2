"""Turning the bytes of one DNS message into exactly one of three outcomes (RFC 1035 4.1):

- `Request`: a parsed query/NOTIFY/UPDATE for the responder to answer;
- `Reply`: ready error-response bytes (FORMERR, NOTIMP, BADVERS), built without answering;
- `Drop`: nothing may be sent back (a short header, or a response arriving as a query).

`parse_request` never raises and never allocates by a count taken from the header: dnspython reads
records one at a time and fails at the first missing byte. TSIG records are kept but not verified
(`keyring=False`); verifying them is `tsig.py`'s job, with our clock, in RFC 8945 order.

Checked against BIND's `formerr` system test: error replies echo the ID, opcode, RD and CD (RFC 1035
4.1.1, RFC 4035 3.1.6), set QR, echo the question when it parsed and carry no other records.
"""

from __future__ import annotations

import dataclasses
import enum
import struct

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode

HEADER_SIZE = 12
DEFAULT_EDNS_PAYLOAD = 1232  # what we advertise when the caller does not say (DNS flag day 2020)

# Flag bits in the 16-bit header word (RFC 1035 4.1.1).
_QR = int(dns.flags.QR)
_RD = int(dns.flags.RD)
_CD = int(dns.flags.CD)
_OPCODE_MASK = 0x7800
_ECHOED_FLAGS = _RD | _CD  # copied from query to every reply

# Opcodes whose body we parse. Everything else is NOTIMP without looking at the body, whose
# format we cannot know (e.g. DSO, RFC 8490, has no question).
PARSED_OPCODES = frozenset({dns.opcode.QUERY, dns.opcode.NOTIFY, dns.opcode.UPDATE})


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """A message that parsed: `message` (dnspython, TSIG kept unverified) and its raw `wire`."""

    message: dns.message.Message
    wire: bytes

    @property
    def opcode(self) -> int:
        return self.message.opcode()


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """Ready reply bytes for a message we refuse to process. `reason` is a short tag for logs
    (`formerr:BadPointer`, `notimp:opcode=6`, `badvers:1`)."""

    wire: bytes
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Drop:
    """Send nothing. `reason` is a short tag for logs and counters (`short-header`, `qr-set`)."""

    reason: str


Outcome = Request | Reply | Drop


class ParseAction(enum.Enum):
    DROP = "drop"
    FORMERR = "formerr"


# The single table mapping dnspython's parse exceptions to what we do (first match wins). Anything
# not listed, including non-dnspython exceptions raised from inside rdata parsers, is FORMERR:
# whatever the cause, the message was not something we can answer.
PARSE_ERRORS: tuple[tuple[type[BaseException], ParseAction], ...] = (
    (dns.message.ShortHeader, ParseAction.DROP),  # < 12 octets: no ID to echo (RFC 1035 4.1.1)
    (dns.name.BadPointer, ParseAction.FORMERR),  # pointer not to prior data (RFC 1035 4.1.4)
    (dns.name.PointerChainTooLong, ParseAction.FORMERR),
    (dns.name.BadLabelType, ParseAction.FORMERR),  # 0x40/0x80 label types (RFC 1035 2.3.4)
    (dns.name.NameTooLong, ParseAction.FORMERR),  # > 255 octets (RFC 1035 2.3.4)
    (dns.message.TrailingJunk, ParseAction.FORMERR),
    (dns.message.BadEDNS, ParseAction.FORMERR),  # two OPTs, OPT owner not root, OPT not in AR
    (dns.message.BadTSIG, ParseAction.FORMERR),  # TSIG not last, or class not ANY (RFC 8945 5.2)
    (dns.exception.FormError, ParseAction.FORMERR),  # short question/record, bad rdata, ...
    (dns.exception.DNSException, ParseAction.FORMERR),
    (Exception, ParseAction.FORMERR),
)


def parse_action(exc: BaseException) -> ParseAction:
    for exc_type, action in PARSE_ERRORS:
        if isinstance(exc, exc_type):
            return action
    return ParseAction.FORMERR


def parse_request(wire: bytes, *, edns_payload: int = DEFAULT_EDNS_PAYLOAD) -> Outcome:
    """Parse one DNS message received as a query. Never raises.

    `edns_payload` is the UDP payload size we advertise in the OPT of a BADVERS reply.
    """
    try:
        return _parse(wire, edns_payload)
    except Exception as exc:  # pragma: no cover - _parse already maps every parse error
        if len(wire) < HEADER_SIZE:
            return Drop(f"internal:{type(exc).__name__}")
        return _formerr(wire, None, f"internal:{type(exc).__name__}")


def _parse(wire: bytes, edns_payload: int) -> Outcome:
    if len(wire) < HEADER_SIZE:
        return Drop("short-header")
    _, flags, qdcount = struct.unpack_from("!HHH", wire)
    if flags & _QR:
        # A response sent to us as a query: answering could start a reflection loop (RFC 1035
        # 4.1.1; BIND and Knot drop, and on TCP the caller closes).
        return Drop("qr-set")
    opcode = (flags & _OPCODE_MASK) >> 11
    if opcode not in PARSED_OPCODES:
        return Reply(header_reply(wire, dns.rcode.NOTIMP), f"notimp:opcode={opcode}")
    if qdcount != 1:
        # RFC 9619: QUERY (and NOTIFY, and UPDATE's zone section, RFC 2136 3.1.1) has exactly one.
        return Reply(header_reply(wire, dns.rcode.FORMERR), f"formerr:qdcount={qdcount}")
    try:
        message = dns.message.from_wire(wire, keyring=False)
    except Exception as exc:
        if parse_action(exc) is ParseAction.DROP:
            return Drop(f"parse:{type(exc).__name__}")
        return _formerr(wire, _question_of(wire), f"formerr:{type(exc).__name__}")
    if message.edns > 0:
        # RFC 6891 6.1.3: BADVERS, with an OPT of the highest version we implement (0).
        return Reply(_badvers(message, edns_payload), f"badvers:{message.edns}")
    return Request(message, wire)


def reply_skeleton(request: dns.message.Message) -> dns.message.Message:
    """An empty reply to `request`: same ID and opcode, QR set, RD and CD copied, question copied.
    No EDNS and no TSIG: the responder adds those."""
    opcode = request.opcode()
    factory = dns.message.QueryMessage if opcode == dns.opcode.QUERY else dns.message.Message
    reply = factory(id=request.id)
    reply.flags = dns.flags.Flag(_QR | (int(request.flags) & (_ECHOED_FLAGS | _OPCODE_MASK)))
    reply.question = list(request.question)
    return reply


def header_reply(wire: bytes, rcode: int, question: bytes = b"") -> bytes:
    """Reply bytes built from a query's header alone: ID, opcode, RD and CD echoed, QR set,
    `rcode` (must fit in 4 bits), QDCOUNT 1 when `question` (wire form) is given, else 0."""
    msg_id, flags = struct.unpack_from("!HH", wire)
    out_flags = _QR | (flags & (_OPCODE_MASK | _ECHOED_FLAGS)) | (int(rcode) & 0xF)
    return struct.pack("!HHHHHH", msg_id, out_flags, 1 if question else 0, 0, 0, 0) + question


def _formerr(wire: bytes, question: bytes | None, reason: str) -> Reply:
    return Reply(header_reply(wire, dns.rcode.FORMERR, question or b""), reason)


def _question_of(wire: bytes) -> bytes | None:
    """The question of a message whose full parse failed, in uncompressed wire form, when the
    question itself parses (so FORMERR can echo it, as BIND does); else None."""
    try:
        message = dns.message.from_wire(wire, keyring=False, question_only=True)
    except Exception:
        return None
    if len(message.question) != 1:
        return None
    q = message.question[0]
    return q.name.to_wire() + struct.pack("!HH", q.rdtype, q.rdclass)


def _badvers(message: dns.message.Message, edns_payload: int) -> bytes:
    reply = reply_skeleton(message)
    reply.use_edns(0, int(message.ednsflags) & int(dns.flags.DO), edns_payload)
    reply.set_rcode(dns.rcode.BADVERS)
    return reply.to_wire()
