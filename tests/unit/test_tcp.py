"""The TCP protocol (RFC 7766) driven without sockets: framing, pipelining, idle timeout,
backpressure and connection caps."""

import struct

from twisted.internet import address, task
from twisted.internet.testing import StringTransport

from hiddenprimary.net.tcp import DnsStreamFactory


def echo_handler(wire, transport, peer):
    return b"R" + wire  # a stand-in DNS handler: the reply is tagged so tests can match it


def frame(payload: bytes) -> bytes:
    return struct.pack("!H", len(payload)) + payload


def connect(factory, host="127.0.0.2"):
    proto = factory.buildProtocol(address.IPv4Address("TCP", host, 40000))
    if proto is None:
        return None, None
    transport = StringTransport(peerAddress=address.IPv4Address("TCP", host, 40000))
    proto.makeConnection(transport)
    return proto, transport


def make_factory(clock, handler=echo_handler, **kw):
    opts = dict(idle_timeout_s=10.0, max_total=5, max_per_client=2)
    opts.update(kw)
    return DnsStreamFactory(handler, clock, **opts)


def replies(transport):
    data, out = transport.value(), []
    while data:
        (n,) = struct.unpack_from("!H", data)
        out.append(data[2 : 2 + n])
        data = data[2 + n :]
    return out


def test_pipelined_queries_in_one_write_are_all_answered():
    clock = task.Clock()
    proto, transport = connect(make_factory(clock))
    queries = [bytes([i]) * 12 for i in range(50)]
    proto.dataReceived(b"".join(frame(q) for q in queries))
    assert replies(transport) == [b"R" + q for q in queries]


def test_a_message_split_across_reads_is_reassembled():
    clock = task.Clock()
    proto, transport = connect(make_factory(clock))
    data = frame(b"x" * 40)
    for i in range(len(data)):
        proto.dataReceived(data[i : i + 1])
    assert replies(transport) == [b"R" + b"x" * 40]


def test_length_below_a_header_closes_the_connection():
    clock = task.Clock()
    proto, transport = connect(make_factory(clock))
    proto.dataReceived(b"\x00\x0b" + b"a" * 11)
    assert transport.disconnecting and replies(transport) == []


def test_idle_connection_is_closed_after_the_timeout():
    clock = task.Clock()
    proto, transport = connect(make_factory(clock))
    clock.advance(9.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting


def test_a_slow_drip_does_not_reset_the_idle_timer():
    clock = task.Clock()
    proto, transport = connect(make_factory(clock))
    proto.dataReceived(b"\xff\xff")  # announces 65535 bytes
    for _ in range(11):
        clock.advance(1)
        proto.dataReceived(b"a")
    assert transport.disconnecting


def test_complete_messages_reset_the_idle_timer():
    clock = task.Clock()
    proto, transport = connect(make_factory(clock))
    for _ in range(5):
        clock.advance(8)
        proto.dataReceived(frame(b"q" * 12))
    assert not transport.disconnecting


def test_a_client_that_does_not_read_is_not_read_and_is_dropped():
    clock = task.Clock()
    proto, transport = connect(make_factory(clock))
    proto.pauseProducing()  # what the transport does when its write buffer passes the high-water mark
    assert transport.producerState == "paused"  # we stopped reading from the socket
    clock.advance(10.1)
    assert transport.disconnecting


def test_a_response_sent_as_a_query_closes_the_connection():
    clock = task.Clock()
    proto, transport = connect(make_factory(clock, handler=lambda w, t, p: None))
    proto.dataReceived(frame(b"r" * 12))
    assert transport.disconnecting


def test_connection_caps_per_client_and_in_all():
    clock = task.Clock()
    factory = make_factory(clock)
    first, _ = connect(factory, "127.0.0.2")
    second, _ = connect(factory, "127.0.0.2")
    assert first and second
    assert connect(factory, "127.0.0.2") == (None, None)  # third from one client
    others = [connect(factory, f"127.0.0.{i}")[0] for i in (3, 4, 5)]
    assert all(others)
    assert connect(factory, "127.0.0.6") == (None, None)  # total of 5 reached
    first.connectionLost(None)
    assert connect(factory, "127.0.0.2")[0] is not None  # a slot came back


class FakeStream:
    """A transfer of `count` messages; records how it ended."""

    def __init__(self, count):
        self.left = count
        self.sent = 0
        self.ended = []

    def next_message(self):
        if self.left == 0:
            return None
        self.left -= 1
        self.sent += 1
        return b"M%03d" % self.sent + b"." * 12

    def finish(self, error=None):
        self.ended.append(error)


def run_reactor(clock, turns=5000):
    """Let the fake reactor run what is due now (the stream writes one message per turn)."""
    for _ in range(turns):
        if not any(call.getTime() <= clock.seconds() for call in clock.getDelayedCalls()):
            return
        clock.advance(0)


def stream_factory(clock, stream):
    def handler(wire, transport, peer):
        return stream if wire.startswith(b"X") else b"R" + wire
    return make_factory(clock, handler=handler, xfr_idle_timeout_s=30.0)


def test_a_stream_is_written_then_queued_queries_are_answered():
    clock = task.Clock()
    stream = FakeStream(5)
    proto, transport = connect(stream_factory(clock, stream))
    proto.dataReceived(frame(b"X" * 12) + frame(b"q" * 12))
    assert replies(transport) == []  # messages go out one per reactor turn: queries get turns too
    run_reactor(clock)
    out = replies(transport)
    assert [m[:4] for m in out[:5]] == [b"M001", b"M002", b"M003", b"M004", b"M005"]
    assert out[5] == b"R" + b"q" * 12  # the query pipelined behind the transfer
    assert stream.ended == [None]


def test_a_stream_waits_while_the_client_is_not_reading():
    clock = task.Clock()
    stream = FakeStream(1000)
    proto, transport = connect(stream_factory(clock, stream))
    original_write = transport.write
    writes = []

    def write(data):  # the transport's buffer fills after 3 messages
        original_write(data)
        writes.append(data)
        if len(writes) == 3:
            proto.pauseProducing()

    transport.write = write
    proto.dataReceived(frame(b"X" * 12))
    run_reactor(clock)
    assert stream.sent == 3  # nothing more is rendered while the client does not read
    clock.advance(29)  # a transfer is not cut by the 10 s query idle timeout
    assert not transport.disconnecting
    proto.resumeProducing()
    run_reactor(clock)
    assert stream.sent == 1000 and stream.ended == [None]


def test_a_stream_whose_client_stops_reading_is_cut_after_the_transfer_idle_timeout():
    clock = task.Clock()
    stream = FakeStream(1000)
    proto, transport = connect(stream_factory(clock, stream))
    transport.write = lambda data: proto.pauseProducing()
    proto.dataReceived(frame(b"X" * 12))
    run_reactor(clock)
    clock.advance(30.1)
    assert transport.disconnecting
    proto.connectionLost(None)
    assert stream.ended == ["connection lost"]


def test_the_last_slots_are_kept_for_secondaries():
    clock = task.Clock()
    factory = make_factory(clock, max_total=5, max_per_client=5, reserved=2,
                           is_reserved_peer=lambda host: host == "127.0.0.2")
    strangers = [connect(factory, "127.0.0.9")[0] for _ in range(3)]
    assert all(strangers)
    assert connect(factory, "127.0.0.9") == (None, None)  # only reserved slots are left
    assert connect(factory, "127.0.0.8") == (None, None)  # for any other stranger too
    secondary = [connect(factory, "127.0.0.2")[0] for _ in range(2)]
    assert all(secondary)
    assert connect(factory, "127.0.0.2") == (None, None)  # the total still holds
    strangers[0].connectionLost(None)
    assert connect(factory, "127.0.0.9")[0] is not None  # a stranger's slot came back


def test_a_secondary_may_use_unreserved_slots_too():
    clock = task.Clock()
    factory = make_factory(clock, max_total=3, max_per_client=3, reserved=1,
                           is_reserved_peer=lambda host: host == "127.0.0.2")
    assert all(connect(factory, "127.0.0.2")[0] for _ in range(3))
    assert connect(factory, "127.0.0.9") == (None, None)


def test_refused_connections_are_logged_once_per_interval_with_a_count(caplog):
    clock = task.Clock()
    factory = make_factory(clock, max_total=2, max_per_client=2, reserved=1,
                           is_reserved_peer=lambda host: False)
    caplog.set_level("DEBUG", logger="hiddenprimary.tcp")
    assert connect(factory, "127.0.0.9")[0] is not None
    for _ in range(50):
        assert connect(factory, "127.0.0.9") == (None, None)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("tcp.refused_connection")]
    assert lines == ["tcp.refused_connection peer=127.0.0.9 why=reserved_for_secondaries open_total=1 limit=2 "
                     "reserved=1 open_client=1"]
    assert caplog.records[-1].levelname == "WARNING"
    clock.advance(10)
    connect(factory, "127.0.0.9")
    assert caplog.records[-1].getMessage().endswith("suppressed=49")
