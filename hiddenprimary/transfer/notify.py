"""NOTIFY sender (RFC 1996): on every serial change of a zone, tell each notify target of the
zone's secondaries, TSIG-signed with that secondary's key, right after the version is published.

Unanswered NOTIFYs are retried over UDP with growing intervals (the secondary's
`notify_retries_s`, by default 2, 4 and 8 s: like BIND's few tries over ~16 s), then tried once
over TCP (as BIND does); retries stop at the first reply that matches (source, ID, opcode, QR,
question) and, when signed, verifies with the key: an unsigned or badly signed answer is not an
acknowledgement. A newer serial supersedes a pending one. Nothing here blocks a reload."""

from __future__ import annotations

import collections
import dataclasses
import ipaddress
import logging
import random
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
import dns.tsig
from twisted.internet import protocol

from hiddenprimary.clock import Clock
from hiddenprimary.config import Config
from hiddenprimary.logs import event
from hiddenprimary.zone.version import ZoneVersion

log = logging.getLogger("hiddenprimary.notify")

@dataclasses.dataclass
class NotifyState:
    """Where one target stands for one zone (for logs and status)."""

    zone: str
    target: tuple[str, int]
    secondary: str
    serial: int
    sent: int = 0  # datagrams sent for this serial
    acked_at: float | None = None
    failed: bool = False
    error: str | None = None


class _Job:
    def __init__(self, state: NotifyState, zone: dns.name.Name, question: list, unsigned: bytes,
                 message: dns.message.Message | None, key: dns.tsig.Key | None, retries_s: tuple[float, ...]):
        self.state = state
        self.zone = zone
        self.question = question  # what a reply must echo
        self.unsigned = unsigned  # the NOTIFY with ID 0 (used when there is no key)
        self.message = message  # with a key: the NOTIFY to sign at each try
        self.msg_id = 0
        self.retries_s = retries_s
        self.key = key
        self.wire = b""
        self.mac = b""
        self.call = None


def notify_wire(zone: dns.name.Name, soa_ttl: int, soa_rdata: bytes) -> bytes:
    """An unsigned NOTIFY with ID 0 (RFC 1996 3.7: opcode NOTIFY, AA, the zone's SOA in the
    answer), written straight: a start of 10,000 zones sends one per zone and target, and
    dnspython's message builder took more time than everything else a restored zone costs."""
    header = struct.pack("!HHHHHH", 0, (dns.opcode.NOTIFY << 11) | dns.flags.AA, 1, 1, 0, 0)
    question = zone.to_wire() + struct.pack("!HH", dns.rdatatype.SOA, dns.rdataclass.IN)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", dns.rdatatype.SOA, dns.rdataclass.IN, soa_ttl, len(soa_rdata))
    return header + question + answer + soa_rdata


def _soa_record(version: ZoneVersion) -> tuple[int, bytes]:
    """(TTL, rdata wire) of the version's SOA: from a compact version's bytes, else rendered."""
    from_bytes = getattr(version, "soa_wire", None)
    if from_bytes is not None:
        return from_bytes()
    return version.soa.ttl, version.soa[0].to_wire()


class _Socket(protocol.DatagramProtocol):
    def __init__(self, notifier: Notifier):
        self._notifier = notifier

    def datagramReceived(self, data: bytes, addr) -> None:
        self._notifier.reply_received(data, (addr[0], addr[1]))


class _TcpNotify(protocol.Protocol):
    """One NOTIFY over TCP (length-framed), its one reply handed to the notifier."""

    def __init__(self, notifier: Notifier, job: _Job):
        self._notifier = notifier
        self._job = job
        self._buffer = b""

    def connectionMade(self) -> None:
        self.transport.write(len(self._job.wire).to_bytes(2, "big") + self._job.wire)

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= 2:
            size = int.from_bytes(self._buffer[:2], "big")
            if len(self._buffer) >= 2 + size:
                self._notifier.reply_received(self._buffer[2 : 2 + size], self._job.state.target)
                self.transport.loseConnection()


class _TcpNotifyFactory(protocol.ClientFactory):
    def __init__(self, notifier: Notifier, job: _Job):
        self._notifier = notifier
        self._job = job

    def buildProtocol(self, addr):
        return _TcpNotify(self._notifier, self._job)

    def clientConnectionFailed(self, connector, reason) -> None:
        self._job.state.error = f"TCP: {reason.getErrorMessage()}"


class Notifier:
    def __init__(self, config: Config, reactor, clock: Clock, keyring: dict):
        self.config = config
        self.reactor = reactor
        self.clock = clock
        self.keyring = keyring
        self._jobs: dict[tuple[dns.name.Name, tuple[str, int]], _Job] = {}
        self._by_id: dict[tuple[int, tuple[str, int]], _Job] = {}
        self._ports: dict[int, object] = {}  # address family -> listening UDP port
        self.states: dict[tuple[str, tuple[str, int]], NotifyState] = {}
        self.on_change: Callable[[NotifyState], None] | None = None  # told when a target's state moves
        # Pacing (limits.notify_rate): a token bucket as deep as a second's worth, and the jobs
        # whose next datagram waits for a token, oldest first.
        self._tokens = float(config.limits.notify_rate)
        self._refilled = reactor.seconds()
        self._waiting: collections.deque[_Job] = collections.deque()
        self._drain_call = None

    def _port(self, host: str):
        family = ipaddress.ip_address(host).version
        if family not in self._ports:
            source = self.config.notify_source if family == 4 else None
            interface = source or ("::" if family == 6 else "0.0.0.0")
            self._ports[family] = self.reactor.listenUDP(0, _Socket(self), interface=interface)
        return self._ports[family]

    def reconfigure(self, config: Config) -> None:
        """Take a re-read config: NOTIFYs of zones it dropped stop; the rest go on as they were
        (the next serial goes to the targets the new config names)."""
        self.config = config
        for (zone, _), job in list(self._jobs.items()):
            if zone not in config.zones:
                self._cancel(job)
        kept = {zone.to_text(omit_final_dot=True) for zone in config.zones}
        for key in [k for k in self.states if k[0] not in kept]:
            del self.states[key]

    def stop(self) -> None:
        if self._drain_call is not None and self._drain_call.active():
            self._drain_call.cancel()
        self._waiting.clear()
        for job in list(self._jobs.values()):
            self._cancel(job)
        for port in self._ports.values():
            port.stopListening()
        self._ports.clear()

    # -- sending -------------------------------------------------------------------------------

    def zone_changed(self, zone: dns.name.Name, version: ZoneVersion) -> int:
        """Notify every target of the zone about `version`; returns how many targets."""
        zone_cfg = self.config.zones[zone]
        targets = [(name, target) for name in zone_cfg.secondaries for target in self.config.secondaries[name].notify]
        if not targets:
            return 0
        ttl, rdata = _soa_record(version)
        unsigned = notify_wire(zone, ttl, rdata)
        question = dns.message.make_query(zone, dns.rdatatype.SOA).question
        for name, target in targets:
            secondary = self.config.secondaries[name]
            key = message = None
            if secondary.key is not None:
                key = self.keyring.get(dns.name.from_text(self.config.tsig[secondary.key].name))
                message = dns.message.from_wire(unsigned)  # each try signs it anew
            self._start(zone, version.serial, name, target, question, unsigned, message, key,
                        secondary.notify_retries_s)
        return len(targets)

    def _start(self, zone, serial, secondary, target, question, unsigned, message, key, retries_s) -> None:
        old = self._jobs.get((zone, target))
        if old is not None:
            self._cancel(old)  # a newer serial supersedes what was pending
        zone_text = zone.to_text(omit_final_dot=True)
        state = NotifyState(zone_text, target, secondary, serial)
        self.states[(zone_text, target)] = state
        job = _Job(state, zone, question, unsigned, message, key, retries_s)
        self._jobs[(zone, target)] = job
        self._due(job)

    def _prepare(self, job: _Job) -> None:
        """A fresh ID (and TSIG) per try; replies to the previous try no longer count."""
        self._by_id.pop((job.msg_id, job.state.target), None)
        job.msg_id = random.randrange(65536)
        if job.key is None:
            job.wire = job.msg_id.to_bytes(2, "big") + job.unsigned[2:]
            job.mac = b""
        else:
            job.message.id = job.msg_id
            job.message.use_tsig({job.key.name: job.key}, job.key.name)
            job.wire = job.message.to_wire()
            job.mac = job.message.mac
        self._by_id[(job.msg_id, job.state.target)] = job

    def _sent(self, job: _Job, transport: str) -> None:
        state = job.state
        state.sent += 1
        event(log, "notify.sent", zone=state.zone, target=f"{state.target[0]}:{state.target[1]}",
              secondary=state.secondary, serial=state.serial, attempt=state.sent, transport=transport,
              signed=job.key is not None)
        self._changed(state)

    # -- pacing ----------------------------------------------------------------------------------

    def _due(self, job: _Job) -> None:
        """`job`'s next UDP datagram: now if the rate allows and nobody waits, else in turn."""
        job.call = None
        if not self._waiting and self._take_token():
            self._send(job)
            return
        self._waiting.append(job)
        self._arm_drain()

    def _take_token(self) -> bool:
        rate = self.config.limits.notify_rate
        now = self.reactor.seconds()
        self._tokens = min(float(rate), self._tokens + max(0.0, now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def _arm_drain(self) -> None:
        if self._drain_call is None or not self._drain_call.active():
            self._drain_call = self.reactor.callLater(1 / self.config.limits.notify_rate, self._drain)

    def _drain(self) -> None:
        self._drain_call = None
        while self._waiting:
            job = self._waiting[0]
            if self._jobs.get((job.zone, job.state.target)) is not job:
                self._waiting.popleft()  # acked, superseded or cancelled meanwhile
                continue
            if not self._take_token():
                break
            self._waiting.popleft()
            self._send(job)
        if self._waiting:
            self._arm_drain()

    def _send(self, job: _Job) -> None:
        job.call = None
        state = job.state
        self._prepare(job)
        try:
            self._port(state.target[0]).write(job.wire, state.target)
        except OSError as e:
            state.error = str(e)
        self._sent(job, "udp")
        wait = job.retries_s[-1] if job.retries_s else 2.0
        if state.sent <= len(job.retries_s):
            job.call = self.reactor.callLater(job.retries_s[state.sent - 1], self._due, job)
        else:  # UDP went unanswered: one last try over TCP
            job.call = self.reactor.callLater(wait, self._send_tcp, job)

    def _send_tcp(self, job: _Job) -> None:
        job.call = None
        self._prepare(job)
        host, port = job.state.target
        bind = (self.config.notify_source, 0) if self.config.notify_source and ":" not in host else None
        wait = job.retries_s[-1] if job.retries_s else 2.0
        self.reactor.connectTCP(host, port, _TcpNotifyFactory(self, job), timeout=wait, bindAddress=bind)
        self._sent(job, "tcp")
        job.call = self.reactor.callLater(wait, self._give_up, job)

    def _give_up(self, job: _Job) -> None:
        job.call = None
        state = job.state
        state.failed = True
        self._forget(job)
        self._changed(state)
        event(log, "notify.failed", logging.WARNING, zone=state.zone,
              target=f"{state.target[0]}:{state.target[1]}", secondary=state.secondary, serial=state.serial,
              tries=state.sent, error=state.error or "no answer")

    def _cancel(self, job: _Job) -> None:
        if job.call is not None and job.call.active():
            job.call.cancel()
        job.call = None
        self._forget(job)

    def _forget(self, job: _Job) -> None:
        self._by_id.pop((job.msg_id, job.state.target), None)
        if self._jobs.get((job.zone, job.state.target)) is job:
            del self._jobs[(job.zone, job.state.target)]

    def _changed(self, state: NotifyState) -> None:
        if self.on_change is not None:
            self.on_change(state)

    # -- replies ---------------------------------------------------------------------------------

    def reply_received(self, data: bytes, source: tuple[str, int]) -> None:
        if len(data) < 12:
            return
        msg_id = int.from_bytes(data[:2], "big")
        job = self._by_id.get((msg_id, source))
        if job is None:
            return  # wrong ID or wrong source: not ours (RFC 1996 4.7 spoofing)
        state = job.state
        try:
            keyring = {job.key.name: job.key} if job.key is not None else None
            reply = dns.message.from_wire(data, keyring=keyring, request_mac=job.mac)
        except (dns.exception.DNSException, ValueError) as e:
            state.error = f"bad reply: {e}"
            event(log, "notify.bad_reply", logging.WARNING, zone=state.zone, target=f"{source[0]}:{source[1]}",
                  error=e)
            return
        if not reply.flags & dns.flags.QR or reply.opcode() != dns.opcode.NOTIFY \
                or reply.question != job.question:
            state.error = "reply does not match the NOTIFY"
            return
        if job.key is not None and not reply.had_tsig:
            state.error = "unsigned reply to a signed NOTIFY"
            return
        if reply.rcode() != dns.rcode.NOERROR:
            state.error = f"answered {dns.rcode.to_text(reply.rcode())}"
            event(log, "notify.refused", logging.WARNING, zone=state.zone, target=f"{source[0]}:{source[1]}",
                  rcode=dns.rcode.to_text(reply.rcode()))
            return  # keep retrying: the secondary may be reconfigured meanwhile
        state.acked_at = self.clock.wall()
        state.error = None
        self._cancel(job)
        self._changed(state)
        event(log, "notify.acked", zone=state.zone, target=f"{source[0]}:{source[1]}", secondary=state.secondary,
              serial=state.serial, tries=state.sent)
