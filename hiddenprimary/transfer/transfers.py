"""Serving AXFR and IXFR requests: TSIG, the allowlist, the transfer quota, and the choice of
what to send (RFC 5936, RFC 1995). The result is either one reply (bytes) or a `TransferStream`
the TCP protocol pulls messages from at the pace the secondary reads.

Order (BIND xfrout.c): TSIG verdict -> ACL -> transport checks -> quota (only an allowed peer
can take a slot) -> IXFR decision. Every refusal and every transfer is logged with the peer,
zone and reason. Pure: no Twisted."""

from __future__ import annotations

import dataclasses
import logging
import struct
from collections.abc import Callable

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from hiddenprimary.clock import Clock
from hiddenprimary.config import Config
from hiddenprimary.logs import event
from hiddenprimary.serve.request import Request, reply_skeleton
from hiddenprimary.transfer import acl, tsig, xfr
from hiddenprimary.zone.store import Store
from hiddenprimary.zone.version import ZoneVersion

log = logging.getLogger("hiddenprimary.xfr")

_AXFR = dns.rdatatype.AXFR
_IXFR = dns.rdatatype.IXFR
_DO = int(dns.flags.DO)


@dataclasses.dataclass
class TransferRecord:
    """What one transfer did, for logs (and later for per-secondary status)."""

    zone: str
    peer: str
    secondary: str
    kind: str  # AXFR | IXFR | AXFR-style IXFR
    serial_from: int | None
    serial_to: int
    started: float
    messages: int = 0
    bytes: int = 0
    outcome: str = "running"  # ok | aborted: <why>
    duration_ms: float = 0.0


class TransferStream:
    """The messages of one transfer, stamped with the request's ID and question and signed when
    the request was. The TCP protocol calls `next_message()` until it returns None, then
    `finish()`; or `finish(error)` when the connection went away first."""

    def __init__(self, rendering: xfr.Rendering, msg_id: int, question: bytes, opt: bytes | None,
                 signer: tsig.StreamSigner | None, record: TransferRecord, clock: Clock,
                 on_finish: Callable[[TransferStream], None]):
        self._rendering = rendering
        self._id = msg_id
        self._question = question
        self._opt = opt
        self._signer = signer
        self._index = 0
        self._clock = clock
        self._on_finish = on_finish
        self.record = record
        self.finished = False

    def next_message(self) -> bytes | None:
        message = self._rendering.message(self._index)
        if message is None:
            return None
        wire = xfr.stamp(message, self._id, self._question if self._index == 0 else None)
        if self._opt is not None:
            wire = _with_opt(wire, self._opt)
        if self._signer is not None:
            wire = self._signer.sign(wire, now=self._clock.wall())  # each message its own time
        self._index += 1
        self.record.messages += 1
        self.record.bytes += len(wire)
        return wire

    def finish(self, error: str | None = None) -> None:
        if self.finished:
            return
        self.finished = True
        r = self.record
        r.outcome = "ok" if error is None else f"aborted: {error}"
        r.duration_ms = round((self._clock.monotonic() - r.started) * 1000, 1)
        event(log, "xfr.done" if error is None else "xfr.aborted",
              logging.INFO if error is None else logging.WARNING,
              zone=r.zone, peer=r.peer, secondary=r.secondary, kind=r.kind,
              serial=f"{'none' if r.serial_from is None else r.serial_from}->{r.serial_to}",
              messages=r.messages, bytes=r.bytes, ms=r.duration_ms,
              error=error)
        self._on_finish(self)


def _with_opt(wire: bytes, opt: bytes) -> bytes:
    """Append an OPT record (RFC 6891) and count it in ARCOUNT."""
    (arcount,) = struct.unpack_from("!H", wire, 10)
    return wire[:10] + struct.pack("!H", arcount + 1) + wire[12:] + opt


def _opt_for(request: dns.message.Message, payload: int) -> bytes | None:
    if request.edns < 0:
        return None
    # owner root, type OPT, class = payload, TTL = ext-rcode 0, version 0, DO echoed; no rdata
    return b"\x00" + struct.pack("!HHIH", 41, payload, int(request.ednsflags) & _DO, 0)


class Transfers:
    def __init__(self, config: Config, clock: Clock, store: Store):
        self.config = config
        self.clock = clock
        self.store = store  # the journal's diffs in memory, for IXFR
        self.keyring = tsig.keyring_from_config(config)
        self.active: set[TransferStream] = set()
        self.on_done: Callable[[TransferRecord], None] | None = None  # told of every finished transfer

    def reconfigure(self, config: Config) -> None:
        """Take a re-read config: transfers that start afterwards see its secondaries, keys,
        prefixes and limits; streams already running finish from their version. The keyring is
        updated in place (the NOTIFY sender and the responder hold it too)."""
        self.config = config
        keyring = tsig.keyring_from_config(config)
        self.keyring.clear()
        self.keyring.update(keyring)

    def handle(self, req: Request, zone: dns.name.Name, version: ZoneVersion, transport: str,
               peer: tuple[str, int]) -> bytes | TransferStream:
        """The responder's transfer hook: `version` is the zone's current one, which the store's
        history leads to (both read in this reactor turn)."""
        msg = req.message
        now = self.clock.wall()
        qtype = msg.question[0].rdtype
        kind = dns.rdatatype.to_text(qtype)
        zone_text = zone.to_text(omit_final_dot=True)
        zone_cfg = self.config.zones[zone]

        verdict = tsig.verify_request(msg, req.wire, self.keyring, now)
        # The ACL decides even for a malformed TSIG: strangers learn nothing about our keys.
        decision = acl.decide_transfer(self.config, zone_cfg, peer[0], verdict)
        if isinstance(decision, acl.Deny):
            self._refused(zone_text, peer, kind, decision.reason)
            if decision.tsig_error or decision.rcode == dns.rcode.FORMERR:
                return tsig.error_response(msg, verdict, now)
            return self._reply(msg, decision.rcode, decision.sign_with, verdict.request_mac, now)
        key = decision.key

        def signed(reply: dns.message.Message) -> bytes:
            return self._render(reply, msg, key, verdict.request_mac, now, transport)

        if qtype == _AXFR and transport == "udp":
            self._refused(zone_text, peer, kind, "AXFR over UDP")
            return signed(_error(msg, dns.rcode.FORMERR))

        rendering: xfr.Rendering
        serial_from: int | None = None
        if qtype == _IXFR:
            try:
                serial_from = xfr.client_serial(msg)
            except xfr.IxfrFormError as e:
                self._refused(zone_text, peer, kind, str(e))
                return signed(_error(msg, dns.rcode.FORMERR))
            if xfr.is_current(serial_from, version):
                event(log, "xfr.up_to_date", zone=zone_text, peer=peer[0], serial=serial_from,
                      ours=version.serial, transport=transport)
                return signed(xfr.soa_only(msg, version))
            diffs = xfr.diffs_since(self.store.history(zone), serial_from, version)
            incremental = diffs is not None and xfr.worth_incremental(diffs, version)
            if transport == "udp":
                # RFC 1995 2: the diff when it fits in one datagram, else a single SOA (TCP retry).
                if incremental:
                    limit = _udp_limit(msg, self.config.limits.udp_max_payload)
                    one = xfr.Rendering(version.origin, _IXFR, xfr.ixfr_items(version, diffs), max_size=limit,
                                        reserve=_added_size(key, msg), max_single=limit)
                    if _fits_one_message(one):
                        stream = self._stream(one, req, zone_text, peer, decision, "IXFR", serial_from,
                                              version, transport, now, verdict.request_mac)
                        wire = stream.next_message()
                        stream.finish()
                        return wire
                return signed(xfr.soa_only(msg, version))
            if incremental:
                rendering, kind = xfr.ixfr_rendering(version, serial_from, diffs), "IXFR"
            else:
                rendering, kind = xfr.axfr_rendering(version), "AXFR-style IXFR"
                why = "journal does not reach it" if diffs is None else "diffs larger than the zone"
                event(log, "xfr.ixfr_fallback", zone=zone_text, peer=peer[0], serial=serial_from, reason=why)
        else:
            rendering = xfr.axfr_rendering(version)

        if len(self.active) >= self.config.limits.transfers_out:
            self._refused(zone_text, peer, kind, f"transfers_out quota ({self.config.limits.transfers_out}) reached")
            return signed(_error(msg, dns.rcode.SERVFAIL))
        stream = self._stream(rendering, req, zone_text, peer, decision, kind, serial_from, version, transport, now,
                              verdict.request_mac)
        self.active.add(stream)
        return stream

    def _stream(self, rendering, req: Request, zone_text, peer, decision, kind, serial_from, version,
                transport, now, request_mac: bytes) -> TransferStream:
        msg = req.message
        signer = None
        if decision.key is not None:
            signer = tsig.StreamSigner(decision.key, request_mac, now, msg.id)
        record = TransferRecord(zone_text, peer[0], decision.secondary, kind, serial_from, version.serial,
                                self.clock.monotonic())
        event(log, "xfr.start", zone=zone_text, peer=peer[0], secondary=decision.secondary, kind=kind,
              serial=f"{'none' if serial_from is None else serial_from}->{version.serial}", transport=transport,
              signed=decision.key is not None)
        return TransferStream(rendering, msg.id, xfr.question_bytes(msg),
                              _opt_for(msg, self.config.limits.udp_max_payload), signer, record, self.clock,
                              self._finished)

    def _finished(self, stream: TransferStream) -> None:
        self.active.discard(stream)
        if self.on_done is not None:
            self.on_done(stream.record)

    def _refused(self, zone_text: str, peer, kind: str, reason: str) -> None:
        event(log, "xfr.refused", logging.WARNING, zone=zone_text, peer=peer[0], kind=kind, reason=reason)

    def _reply(self, msg, rcode: int, key, request_mac: bytes, now: float) -> bytes:
        return self._render(_error(msg, rcode), msg, key, request_mac, now, "tcp")

    def _render(self, reply: dns.message.Message, msg: dns.message.Message, key, request_mac: bytes,
                now: float, transport: str) -> bytes:
        if msg.edns >= 0:
            rcode = reply.rcode()
            reply.use_edns(0, int(msg.ednsflags) & _DO, self.config.limits.udp_max_payload)
            reply.set_rcode(rcode)
        if key is None:
            return reply.to_wire()
        return tsig.StreamSigner(key, request_mac, now, msg.id).sign_message(reply)


def _added_size(key, msg: dns.message.Message) -> int:
    """Bytes a transfer adds to a rendered message: OPT (11) and TSIG (names, fixed fields, MAC)."""
    size = 11 if msg.edns >= 0 else 0
    if key is not None:
        size += tsig.signature_size(key)
    return size


def _fits_one_message(rendering: xfr.Rendering) -> bool:
    try:
        return rendering.message(1) is None
    except xfr.RenderingFailed:  # a record larger than the datagram: the client retries over TCP
        return False


def _udp_limit(msg: dns.message.Message, max_payload: int) -> int:
    return 512 if msg.edns < 0 else max(512, min(msg.payload, max_payload))


def _error(request: dns.message.Message, rcode: int) -> dns.message.Message:
    reply = reply_skeleton(request)
    reply.set_rcode(rcode)
    return reply
