"""accept() failing for want of descriptors is logged (rate-limited) as `accept.failed`,
through Twisted's own accept loop (which otherwise tells only its own, unprinted, log)."""

import errno

from twisted.internet import protocol, task, tcp

from hiddenprimary.net import accept_errors


class FailingListener:
    """A listening socket whose accept() fails with `code` once per call to `fail()`."""

    def __init__(self):
        self.failures = []

    def fail(self, code):
        self.failures.append(code)

    def accept(self):
        raise OSError(self.failures.pop(0) if self.failures else errno.EAGAIN, "test")

    def fileno(self):
        return -1


def port_with(listener):
    port = tcp.Port(0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1")
    port.socket, port.connected, port.numberAccepts = listener, True, 10
    return port


def test_emfile_on_accept_is_logged_once_per_interval_with_a_count(caplog):
    clock = task.Clock()
    listener = FailingListener()
    port = port_with(listener)
    accept_errors.watch(port, "dns", "127.0.0.1:5300", clock.seconds)
    caplog.set_level("DEBUG", logger="hiddenprimary.accept")
    for _ in range(5):
        listener.fail(errno.EMFILE)
        port.doRead()  # Twisted's own accept loop
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ['accept.failed listener=dns address=127.0.0.1:5300 error=EMFILE '
                     'reason="Too many open files"']
    assert caplog.records[0].levelname == "ERROR"
    clock.advance(10)
    listener.fail(errno.ENFILE)
    port.doRead()
    assert caplog.records[-1].getMessage().startswith("accept.failed listener=dns")
    assert "error=ENFILE" in caplog.records[-1].getMessage()
    assert caplog.records[-1].getMessage().endswith("suppressed=4")


def test_other_attributes_pass_through_and_no_connection_no_log(caplog):
    clock = task.Clock()
    listener = FailingListener()
    port = port_with(listener)
    accept_errors.watch(port, "metrics", "127.0.0.1:9153", clock.seconds)
    assert port.socket.fileno() == -1
    port.doRead()  # EAGAIN: nothing waiting, nothing to say
    assert not [r for r in caplog.records if "accept.failed" in r.getMessage()]
