"""transfer.notify.Notifier on a MemoryReactorClock: what a NOTIFY holds, the retry schedule (UDP,
then one TCP try, then failed), which replies count as an acknowledgement, a newer serial
superseding a pending one, stop(), and the states `on_change` is told. Time moves only when the
test advances the reactor's clock; datagrams go to a fake UDP port that records them."""

from __future__ import annotations

import dataclasses

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from hiddenprimary.clock import FixedClock
from hiddenprimary.transfer import tsig
from hiddenprimary.transfer.notify import Notifier, NotifyState
from tests.unit.transfer_setup import HOSTS, ORIGIN, TSIG_CONFIG, XFR_KEY, load_versions, make_config

KEYED = ("127.0.0.2", 5301)  # secondary `keyed`: signed NOTIFY, default retries (2, 4, 8 s)
PLAIN = ("127.0.0.3", 53)  # secondary `plain`: unsigned, retries after 1 and 3 s
PLAIN_6 = ("::1", 5302)
CONFIG = TSIG_CONFIG + """
secondaries:
  keyed: {notify: ["127.0.0.2:5301"], key: xfr-key}
  plain: {notify: ["127.0.0.3", "[::1]:5302"], notify_retries_s: [1, 3]}
zones:
  example.com: {file: example.com.zone, secondaries: [keyed, plain]}
"""


class FakeUDPPort:
    def __init__(self, protocol, interface: str):
        self.protocol = protocol
        self.interface = interface
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.listening = True

    def write(self, data: bytes, addr) -> None:
        self.sent.append((data, addr))

    def stopListening(self) -> None:
        self.listening = False


class Reactor(MemoryReactorClock):
    """MemoryReactorClock (callLater on a task.Clock, connectTCP recorded) with the listenUDP it lacks."""

    def __init__(self):
        super().__init__()
        self.udp: list[FakeUDPPort] = []

    def listenUDP(self, port, protocol, interface="", maxPacketSize=8192):
        assert port == 0  # an ephemeral source port
        self.udp.append(FakeUDPPort(protocol, interface))
        return self.udp[-1]


class Net:
    """One Notifier, its fake reactor and what it told `on_change` (copies of each state)."""

    def __init__(self, tmp_path, config_text: str = CONFIG):
        config = make_config(tmp_path, config_text)
        self.reactor = Reactor()
        self.clock = FixedClock()
        self.notifier = Notifier(config, self.reactor, self.clock, tsig.keyring_from_config(config))
        self.changes: list[NotifyState] = []
        self.notifier.on_change = lambda st: self.changes.append(dataclasses.replace(st))
        self.v1, self.v2 = load_versions(tmp_path, HOSTS, {**HOSTS, "h0": "192.0.2.200"})

    def datagrams(self, target) -> list[bytes]:
        return [data for port in self.reactor.udp for data, addr in port.sent if addr == target]

    def notifies(self, target) -> list[dns.message.Message]:
        """The NOTIFYs sent to `target`, parsed (and their TSIG verified: KEYED's must be signed)."""
        keyring = {XFR_KEY.name: XFR_KEY} if target == KEYED else None
        return [dns.message.from_wire(w, keyring=keyring) for w in self.datagrams(target)]

    def deliver(self, data: bytes, source) -> None:
        port = next(p for p in self.reactor.udp if (":" in p.interface) == (":" in source[0]))  # its family's
        port.protocol.datagramReceived(data, source)

    def advance_to(self, when: float) -> None:
        """Move the reactor's clock to `when` in 0.5 s steps (so every timer fires at its time)."""
        while self.reactor.seconds() < when:
            self.reactor.advance(0.5)

    def state(self, target) -> NotifyState:
        return self.notifier.states[("example.com", target)]

    def pending(self) -> int:
        return len(self.reactor.getDelayedCalls())


@pytest.fixture
def net(tmp_path) -> Net:
    return Net(tmp_path)


def answer(notify: dns.message.Message, *, key: dns.tsig.Key | None = None, rcode: int = dns.rcode.NOERROR,
           msg_id: int | None = None, qr: bool = True) -> bytes:
    """The reply a secondary sends to `notify` (signed with `key` when given, over the NOTIFY's MAC)."""
    r = dns.message.Message(id=notify.id if msg_id is None else msg_id)
    r.flags = dns.flags.AA | (dns.flags.QR if qr else 0)
    r.set_opcode(dns.opcode.NOTIFY)
    r.set_rcode(rcode)
    r.question = list(notify.question)
    if key is not None:
        r.use_tsig({key.name: key}, key.name)
        r.request_mac = notify.mac
    return r.to_wire()


# -- what is sent ---------------------------------------------------------------------------------


def test_a_change_notifies_every_target_once_with_the_soa(net):
    assert net.notifier.zone_changed(ORIGIN, net.v1) == 3
    for target in (KEYED, PLAIN, PLAIN_6):
        (m,) = net.notifies(target)
        assert m.opcode() == dns.opcode.NOTIFY
        assert m.flags & dns.flags.AA and not m.flags & (dns.flags.QR | dns.flags.RD)
        assert [(q.name, q.rdtype, q.rdclass) for q in m.question] == [(ORIGIN, dns.rdatatype.SOA,
                                                                         dns.rdataclass.IN)]
        (soa,) = m.answer
        assert soa.name == ORIGIN and soa[0].serial == net.v1.serial
    assert net.notifies(KEYED)[0].keyname == XFR_KEY.name  # from_wire verified the MAC
    assert not net.notifies(PLAIN)[0].had_tsig and not net.notifies(PLAIN_6)[0].had_tsig
    assert sorted(port.interface for port in net.reactor.udp) == ["0.0.0.0", "::"]  # one socket a family


def test_a_bad_key_would_be_caught_by_the_reader(net):
    # The check above means something: the KEYED NOTIFY does not verify with another secret.
    net.notifier.zone_changed(ORIGIN, net.v1)
    wrong = dns.tsig.Key(XFR_KEY.name, "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=", XFR_KEY.algorithm)
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(net.datagrams(KEYED)[0], keyring={wrong.name: wrong})


def test_notify_source_is_where_udp_and_tcp_come_from(tmp_path):
    net = Net(tmp_path, 'notify_source: 127.0.0.1\n' + CONFIG)
    net.notifier.zone_changed(ORIGIN, net.v1)
    assert sorted(port.interface for port in net.reactor.udp) == ["127.0.0.1", "::"]
    net.advance_to(10)  # PLAIN's UDP tries are over: the TCP try
    (host, port, _, _, bind), = [c for c in net.reactor.tcpClients if c[:2] == PLAIN]
    assert bind == ("127.0.0.1", 0)


# -- retries ---------------------------------------------------------------------------------------


def timeline(net: Net, target, until: float) -> list[tuple[float, str]]:
    """When each try to `target` went out, and how (udp/tcp), up to `until` seconds."""
    out, seen_udp, seen_tcp = [], 0, 0
    while True:
        udp = len(net.datagrams(target))
        tcp = sum(1 for c in net.reactor.tcpClients if c[:2] == target)
        out += [(net.reactor.seconds(), "udp")] * (udp - seen_udp) + [(net.reactor.seconds(), "tcp")] * (tcp - seen_tcp)
        seen_udp, seen_tcp = udp, tcp
        if net.reactor.seconds() >= until:
            return out
        net.reactor.advance(0.5)


@pytest.mark.parametrize("target,tries,failed_at", [
    (KEYED, [(0, "udp"), (2, "udp"), (6, "udp"), (14, "udp"), (22, "tcp")], 30),  # default 2, 4, 8 s
    (PLAIN, [(0, "udp"), (1, "udp"), (4, "udp"), (7, "tcp")], 10),  # notify_retries_s: [1, 3]
])
def test_an_unanswered_notify_is_retried_on_schedule_then_over_tcp_then_failed(net, target, tries, failed_at):
    net.notifier.zone_changed(ORIGIN, net.v1)
    assert timeline(net, target, failed_at - 0.5) == tries
    assert not net.state(target).failed
    net.advance_to(failed_at)
    state = net.state(target)
    assert state.failed and state.sent == len(tries) and state.acked_at is None
    assert len({m.id for m in net.notifies(target)}) == len(net.notifies(target))  # a fresh ID a try
    assert timeline(net, target, 120)[len(tries):] == []  # nothing after the failure
    mine = [s for s in net.changes if s.target == target]
    assert [s.sent for s in mine] == list(range(1, len(tries) + 1)) + [len(tries)]
    assert [s.failed for s in mine] == [False] * len(tries) + [True]


def test_tcp_fallback_writes_a_framed_notify_and_takes_its_reply(net):
    net.notifier.zone_changed(ORIGIN, net.v1)
    net.advance_to(22)
    ((host, port, factory, timeout, bind),) = [c for c in net.reactor.tcpClients if c[:2] == KEYED]
    assert (timeout, bind) == (8, None)
    transport = StringTransport()
    protocol = factory.buildProtocol(None)
    protocol.makeConnection(transport)
    data = transport.value()
    assert int.from_bytes(data[:2], "big") == len(data) - 2
    notify = dns.message.from_wire(data[2:], keyring={XFR_KEY.name: XFR_KEY})
    assert notify.opcode() == dns.opcode.NOTIFY and notify.answer[0][0].serial == net.v1.serial
    assert notify.id not in {m.id for m in net.notifies(KEYED)}
    wire = answer(notify, key=XFR_KEY)
    protocol.dataReceived(len(wire).to_bytes(2, "big") + wire[:5])  # a reply may come in pieces
    assert net.state(KEYED).acked_at is None
    protocol.dataReceived(wire[5:])
    assert net.state(KEYED).acked_at == net.clock.wall() and transport.disconnecting
    net.advance_to(60)
    assert not net.state(KEYED).failed


def test_a_failed_tcp_connection_is_the_error_the_failure_reports(net):
    net.notifier.zone_changed(ORIGIN, net.v1)
    net.advance_to(7)
    ((_, _, factory, _, _),) = [c for c in net.reactor.tcpClients if c[:2] == PLAIN]
    factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))
    net.advance_to(10)
    state = net.state(PLAIN)
    assert state.failed and state.error.startswith("TCP: ") and "refused" in state.error.lower()


# -- acknowledgements ----------------------------------------------------------------------------------


def test_an_ack_stops_the_retries(net):
    net.notifier.zone_changed(ORIGIN, net.v1)
    net.advance_to(2)  # one retry: the reply answers the second try
    assert len(net.datagrams(KEYED)) == 2
    net.clock.advance(42)
    net.deliver(answer(net.notifies(KEYED)[-1], key=XFR_KEY), KEYED)
    state = net.state(KEYED)
    assert state.acked_at == net.clock.wall() and state.error is None and not state.failed
    told = [(s.sent, s.acked_at, s.failed) for s in net.changes if s.target == KEYED]
    assert told == [(1, None, False), (2, None, False), (2, net.clock.wall(), False)]
    net.advance_to(60)
    assert len(net.datagrams(KEYED)) == 2 and not [c for c in net.reactor.tcpClients if c[:2] == KEYED]
    assert not net.state(KEYED).failed and net.state(PLAIN).failed  # the others went on alone


def test_an_unsigned_target_acks_with_an_unsigned_reply(net):
    net.notifier.zone_changed(ORIGIN, net.v1)
    net.deliver(answer(net.notifies(PLAIN_6)[0]), PLAIN_6)
    assert net.state(PLAIN_6).acked_at is not None and net.state(PLAIN).acked_at is None
    assert net.pending() == 2  # KEYED's and PLAIN's retries only


WRONG_SECRET = dns.tsig.Key(XFR_KEY.name, "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=", XFR_KEY.algorithm)
NOT_ACKS = {  # (reply to the NOTIFY, from where) -> the error the state shows (None: silently dropped)
    "wrong-id": (lambda n: answer(n, key=XFR_KEY, msg_id=(n.id + 1) % 65536), KEYED, None),
    "wrong-address": (lambda n: answer(n, key=XFR_KEY), ("127.0.0.9", KEYED[1]), None),
    "wrong-port": (lambda n: answer(n, key=XFR_KEY), (KEYED[0], 53), None),
    "unsigned": (lambda n: answer(n), KEYED, "bad reply"),  # dnspython: "response requires a TSIG"
    "wrong-secret": (lambda n: answer(n, key=WRONG_SECRET), KEYED, "bad reply"),
    "not-a-response": (lambda n: answer(n, key=XFR_KEY, qr=False), KEYED, "reply does not match the NOTIFY"),
    "refused": (lambda n: answer(n, key=XFR_KEY, rcode=dns.rcode.REFUSED), KEYED, "answered REFUSED"),
    "short": (lambda n: b"\x00" * 11, KEYED, None),
}


@pytest.mark.parametrize("case", sorted(NOT_ACKS))
def test_a_reply_that_is_not_an_ack_changes_nothing(net, case):
    make, source, error = NOT_ACKS[case]
    net.notifier.zone_changed(ORIGIN, net.v1)
    notify = net.notifies(KEYED)[0]
    net.deliver(make(notify), source)
    state = net.state(KEYED)
    assert state.acked_at is None and (state.error or "").startswith(error or "")
    assert bool(state.error) == (error is not None)
    net.advance_to(2)
    assert len(net.datagrams(KEYED)) == 2  # still retrying
    net.deliver(answer(net.notifies(KEYED)[-1], key=XFR_KEY), KEYED)  # a good reply still acks
    assert net.state(KEYED).acked_at is not None


def test_a_reply_to_an_earlier_try_is_not_an_ack(net):
    net.notifier.zone_changed(ORIGIN, net.v1)
    net.advance_to(2)
    first, second = net.notifies(KEYED)
    net.deliver(answer(first, key=XFR_KEY), KEYED)
    assert net.state(KEYED).acked_at is None
    net.deliver(answer(second, key=XFR_KEY), KEYED)
    assert net.state(KEYED).acked_at is not None


# -- a newer serial, stop() --------------------------------------------------------------------------


def test_a_newer_serial_supersedes_a_pending_notify(net):
    net.notifier.zone_changed(ORIGIN, net.v1)
    net.advance_to(1.5)
    old = net.notifies(KEYED)[0]
    net.notifier.zone_changed(ORIGIN, net.v2)
    assert net.pending() == 3  # one timer a target: the old ones are cancelled
    assert net.state(KEYED).serial == net.v2.serial and net.state(KEYED).sent == 1
    net.deliver(answer(old, key=XFR_KEY), KEYED)  # the old serial's ack no longer counts
    assert net.state(KEYED).acked_at is None
    assert timeline(net, KEYED, 40)[1:] == [(1.5, "udp"), (3.5, "udp"), (7.5, "udp"), (15.5, "udp"), (23.5, "tcp")]
    assert {m.answer[0][0].serial for m in net.notifies(KEYED)[1:]} == {net.v2.serial}


def test_stop_cancels_every_pending_call_and_closes_the_sockets(net):
    net.notifier.zone_changed(ORIGIN, net.v1)
    net.advance_to(2)
    assert net.pending() == 3
    net.notifier.stop()
    assert net.reactor.getDelayedCalls() == []
    assert all(not port.listening for port in net.reactor.udp)
    sent = sum(len(port.sent) for port in net.reactor.udp)
    net.reactor.advance(120)
    assert sum(len(port.sent) for port in net.reactor.udp) == sent and net.reactor.tcpClients == []


def test_notifies_are_paced_at_the_notify_rate(tmp_path):
    # 3 targets per zone, 12 zones = 36 first datagrams, then retries; at limits.notify_rate 10/s:
    # 10 at once (a second's worth), then never more than one per 0.1 s; none lost.
    zones = "".join(f"  z{i}.example: {{file: example.com.zone, secondaries: [keyed, plain]}}\n" for i in range(12))
    net = Net(tmp_path, CONFIG.replace("zones:\n  example.com: {file: example.com.zone, secondaries: [keyed, plain]}\n",
                                       "limits: {notify_rate: 10}\nzones:\n" + zones))
    for zone in net.notifier.config.zones:
        net.notifier.zone_changed(zone, net.v1)

    def sent() -> list[tuple[str, tuple[str, int]]]:
        return [(dns.message.from_wire(data, keyring=False).question[0].name.to_text(), addr)
                for port in net.reactor.udp for data, addr in port.sent]

    assert len(sent()) == 10
    for step in range(1, 41):
        net.reactor.advance(0.1)
        assert len(sent()) <= 10 + step, step
    firsts = set(sent())
    assert len(firsts) == 36  # every (zone, target) had its NOTIFY within 4 s
    assert len(sent()) == 50  # and the rest of the 4 s went to retries, at the rate


def test_the_notify_written_straight_is_the_one_dnspython_would_send(tmp_path):
    from hiddenprimary.transfer.notify import notify_wire
    from hiddenprimary.zone.wire_version import WireVersion

    net = Net(tmp_path)
    wire_version = WireVersion.from_nodes(net.v1.origin, net.v1.nodes())
    ttl, rdata = wire_version.soa_wire()
    assert (ttl, rdata) == (net.v1.soa.ttl, net.v1.soa[0].to_wire()) and wire_version.serial == net.v1.serial
    expected = dns.message.make_query(ORIGIN, "SOA")
    expected.flags = dns.flags.AA
    expected.set_opcode(dns.opcode.NOTIFY)
    expected.answer.append(dns.rrset.from_rdata_list(ORIGIN, net.v1.soa.ttl, list(net.v1.soa)))
    ours = dns.message.from_wire(notify_wire(ORIGIN, ttl, rdata))
    assert ours.flags == expected.flags and ours.opcode() == dns.opcode.NOTIFY and ours.id == 0
    assert ours.question == expected.question and ours.answer == expected.answer
    assert not ours.additional and ours.edns < 0
