"""Outbound zone transfers as wire messages: AXFR (RFC 5936) and IXFR (RFC 1995).

A zone version is immutable, so its transfer messages are rendered once and shared by every
secondary: `Rendering` renders lazily, one message at a time as the slowest-so-far reader asks for
it, and keeps what it rendered. Per transfer only the message ID, the question bytes (same length:
the request's qname equals the zone name up to case) and the TSIG differ (`stamp`).

Pure: no Twisted, no I/O."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.renderer
import dns.rrset

from hiddenprimary.serve.request import reply_skeleton
from hiddenprimary.transfer import wire_axfr
from hiddenprimary.transfer.messages import MESSAGE_SIZE, LazyMessages, RenderingFailed, chain
from hiddenprimary.zone import serial as serials
from hiddenprimary.zone.diff import Diff
from hiddenprimary.zone.limits import MAX_MESSAGE, TSIG_RESERVE
from hiddenprimary.zone.version import ZoneVersion
from hiddenprimary.zone.wire_version import WireVersion

__all__ = ["MESSAGE_SIZE", "Rendering", "RenderingFailed", "axfr_rendering", "ixfr_rendering"]

_FLAGS = dns.flags.QR | dns.flags.AA
_ANSWER = dns.renderer.ANSWER

Item = tuple[dns.name.Name, dns.rdataset.Rdataset]


class Rendering(LazyMessages):
    """The messages of one transfer stream of dnspython rdatasets (see LazyMessages)."""

    def __init__(self, origin: dns.name.Name, qtype: int, items: Iterator[Item],
                 max_size: int = MESSAGE_SIZE, reserve: int = TSIG_RESERVE, max_single: int = MAX_MESSAGE):
        super().__init__(origin, qtype, max_size, reserve, max_single)
        self._items = items
        self._pending: Item | None = None

    def _render_next(self) -> None:
        r = dns.renderer.Renderer(id=0, flags=_FLAGS, max_size=self._max_size)
        if not self.messages:
            r.add_question(self.origin, self.qtype, dns.rdataclass.IN)
        count = 0
        while True:
            item = self._pending or next(self._items, None)
            self._pending = None
            if item is None:
                self.done = True
                break
            name, rds = item
            try:
                r.add_rdataset(_ANSWER, name, rds, want_shuffle=False)
                count += len(rds)
            except dns.exception.TooBig:
                if count == 0:
                    # Does not fit even alone: split the RRset (RFC 5936 2.2 allows it), down to
                    # one record, which then gets a larger message of its own.
                    if len(rds) == 1:
                        self._pending = item  # never consumed unless rendered
                        r = self._alone(name, rds)
                        self._pending = None
                        count = 1
                        break
                    first, rest = _split(rds)
                    self._items = chain([(name, first), (name, rest)], self._items)
                    continue
                self._pending = item
                break
        r.write_header()
        self.messages.append(r.get_wire())
        self.records += count

    def _alone(self, name: dns.name.Name, rds: dns.rdataset.Rdataset) -> dns.renderer.Renderer:
        r = dns.renderer.Renderer(id=0, flags=_FLAGS, max_size=self._max_single)
        if not self.messages:
            r.add_question(self.origin, self.qtype, dns.rdataclass.IN)
        try:
            r.add_rdataset(_ANSWER, name, rds, want_shuffle=False)
        except dns.exception.TooBig:
            raise RenderingFailed(f"record {name} {dns.rdatatype.to_text(rds.rdtype)} is too large for a "
                                  f"transfer message ({self._max_single} octets)") from None
        return r


def _split(rds: dns.rdataset.Rdataset) -> tuple[dns.rdataset.Rdataset, dns.rdataset.Rdataset]:
    items = list(rds)
    half = len(items) // 2
    parts = []
    for chunk in (items[:half], items[half:]):
        part = dns.rdataset.Rdataset(rds.rdclass, rds.rdtype, rds.covers)
        part.update_ttl(rds.ttl)
        for rdata in chunk:
            part.add(rdata)
        parts.append(part)
    return parts[0], parts[1]



# -- what the streams hold ------------------------------------------------------------------------


def axfr_items(version: ZoneVersion) -> Iterator[Item]:
    """RFC 5936 2.2: SOA, every other RRset, SOA."""
    yield from version.iter_rdatasets()  # SOA first
    yield version.origin, version.soa


def ixfr_items(version: ZoneVersion, diffs: list[Diff]) -> Iterator[Item]:
    """RFC 1995 4: new SOA, then per step old SOA, deletions, new SOA, additions; new SOA."""
    origin = version.origin
    yield origin, version.soa
    for d in diffs:
        yield origin, d.soa_from
        yield from d.removed
        yield origin, d.soa_to
        yield from d.added
    yield origin, version.soa


def axfr_rendering(version: ZoneVersion | WireVersion) -> Rendering | wire_axfr.WireRendering:
    """The version's one shared AXFR rendering (also used for IXFR's AXFR-style fallback): a
    compact version's is written from its wire bytes (`transfer.wire_axfr`, the same bytes)."""
    rendering = version.cache.get("axfr")
    if rendering is None or rendering.error is not None:  # a failed rendering is never reused
        rendering = version.cache["axfr"] = new_axfr_rendering(version)
    return rendering


def new_axfr_rendering(version: ZoneVersion | WireVersion) -> Rendering | wire_axfr.WireRendering:
    """A fresh AXFR rendering of `version`, not shared (see axfr_rendering)."""
    if isinstance(version, WireVersion):
        return wire_axfr.WireRendering(version)
    return Rendering(version.origin, dns.rdatatype.AXFR, axfr_items(version))


def ixfr_rendering(version: ZoneVersion, client_serial: int, diffs: list[Diff]) -> Rendering:
    key = ("ixfr", client_serial)
    rendering = version.cache.get(key)
    if rendering is None or rendering.error is not None:
        rendering = version.cache[key] = Rendering(version.origin, dns.rdatatype.IXFR,
                                                   ixfr_items(version, diffs))
    return rendering


# -- deciding what an IXFR gets --------------------------------------------------------------------


class IxfrFormError(ValueError):
    """RFC 1995 3: an IXFR query carries the client's SOA in the authority section."""


def client_serial(request: dns.message.Message) -> int:
    qname = request.question[0].name
    for rrset in request.authority:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == qname and len(rrset) == 1:
            return rrset[0].serial
    raise IxfrFormError("IXFR request without the client's SOA in the authority section")


def diffs_since(history: tuple[Diff, ...], serial: int, version: ZoneVersion) -> list[Diff] | None:
    """The diffs leading from `serial` to `version`, or None when the history does not reach."""
    for i, d in enumerate(history):
        if d.serial_from == serial:
            steps = list(history[i:])
            return steps if steps[-1].serial_to == version.serial else None
    return None


def worth_incremental(diffs: list[Diff], version: ZoneVersion) -> bool:
    """As BIND's max-ixfr-ratio 100%: an IXFR larger than the zone itself is sent as AXFR."""
    changed = sum(d.removed_count + d.added_count + 2 for d in diffs)
    return changed <= version.rr_count


def is_current(client: int, version: ZoneVersion) -> bool:
    """RFC 1995 2: the client has our serial or a newer one -> a single SOA."""
    return serials.compare(client, version.serial) in (serials.Order.EQUAL, serials.Order.GREATER)


def soa_only(request: dns.message.Message, version: ZoneVersion) -> dns.message.Message:
    reply = reply_skeleton(request)
    reply.flags |= dns.flags.AA
    reply.answer.append(dns.rrset.from_rdata_list(version.origin, version.soa.ttl, list(version.soa)))
    return reply


# -- per transfer -----------------------------------------------------------------------------------


def stamp(message: bytes, msg_id: int, question: bytes | None) -> bytes:
    """`message` with the request's ID, and on the first message the request's question bytes
    (same length as the rendered one: same name up to case, same type)."""
    head = struct.pack("!H", msg_id) + message[2:12]
    if question is None:
        return head + message[12:]
    return head + question + message[12 + len(question):]


def question_bytes(request: dns.message.Message) -> bytes:
    """The request's question (name + type + class) as uncompressed wire, in the client's case,
    to copy into the first message: a legal compression pointer in the request's question (RFC
    1035 4.1.4) is resolved by the parser, so the copy never depends on how the client wrote it."""
    q = request.question[0]
    return q.name.to_wire() + struct.pack("!HH", q.rdtype, q.rdclass)
