"""The metrics port's connection cap and idle timeout, driven without sockets (issue 11 item 4:
idle metrics connections took the descriptors DNS TCP and the control socket needed)."""

from twisted.internet import address, task
from twisted.internet.testing import StringTransport

from hiddenprimary.metrics import Metrics
from hiddenprimary.metrics_http import site_factory


def connect(factory, host="127.0.0.7"):
    peer = address.IPv4Address("TCP", host, 40000)
    proto = factory.buildProtocol(peer)
    if proto is None:
        return None, None
    transport = StringTransport(peerAddress=peer)
    proto.makeConnection(transport)
    return proto, transport


def make(clock, **kw):
    return site_factory(Metrics(), clock, **{"max_clients": 3, "idle_timeout_s": 10.0, **kw})


def test_connections_over_the_cap_are_refused_and_a_slot_comes_back_when_one_closes(caplog):
    clock = task.Clock()
    factory = make(clock)
    caplog.set_level("DEBUG", logger="hiddenprimary.metrics")
    open_ = [connect(factory)[0] for _ in range(3)]
    assert all(open_)
    assert connect(factory) == (None, None)
    assert connect(factory, "127.0.0.8") == (None, None)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["metrics.refused_connection peer=127.0.0.7 open=3 limit=3"]  # the second: rate-limited
    open_[0].connectionLost(None)
    assert connect(factory)[0] is not None


def test_an_idle_connection_is_closed_after_the_idle_timeout():
    clock = task.Clock()
    factory = make(clock, idle_timeout_s=10.0)
    _, transport = connect(factory)
    clock.advance(9.5)
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.disconnecting


def test_a_scrape_is_still_answered():
    clock = task.Clock()
    proto, transport = connect(make(clock))
    proto.dataReceived(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = transport.value()
    assert reply.startswith(b"HTTP/1.1 200") and b"hiddenprimary_queries" in reply
