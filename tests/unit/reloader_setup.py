"""A Reloader on Twisted's task.Clock with one zone in a temp dir, its worker step run on the
test's thread: what the reload-runner and load-mark tests drive."""

from __future__ import annotations

import dns.name
from twisted.internet import defer, task

from hiddenprimary import data_dir
from hiddenprimary.clock import FixedClock
from hiddenprimary.config import parse_config
from hiddenprimary.reload.runner import Reloader
from hiddenprimary.zone.store import Store

ZONE = dns.name.from_text("example.com.")


def zone_file(serial: int, hosts: int = 2, bad: bool = False) -> str:
    lines = ["$TTL 300", "$ORIGIN example.com.",
             f"@ IN SOA ns1 hostmaster {serial} 3600 600 86400 300", "@ IN NS ns1", "ns1 IN A 192.0.2.1"]
    lines += [f"h{i} IN A 192.0.2.{10 + i}" for i in range(hosts)]
    if bad:
        lines.append("broken IN A 300.1.2.3")
    return "\n".join(lines) + "\n"


class Setup:
    """A config with one zone in tmp_path and a Reloader on a task.Clock."""

    def __init__(self, tmp_path, dnssec: str = "", now: float = 1_700_000_000.0, serial: str = "keep"):
        self.tmp_path = tmp_path
        self.zone_path = tmp_path / "example.com.zone"
        self.zone_path.write_text(zone_file(2024010101))
        self.config = parse_config(
            f"listen: ['127.0.0.1:0']\ndata_dir: {tmp_path / 'state'}\ncontrol: {tmp_path / 'ctl.sock'}\n"
            f"zones:\n  example.com:\n    file: {self.zone_path}\n    serial: {serial}\n{dnssec}",
            str(tmp_path / "hp.yaml"))
        data_dir.prepare(self.config.data_dir)  # as the daemon does before anything else
        self.clock = FixedClock(wall=now)
        self.reactor = task.Clock()
        self.reactor.advance(now)
        self.published = []
        self.timings = []
        self.reloader = self.make()

    def make(self, in_thread=None) -> Reloader:
        store = Store(self.config.zones)
        reloader = Reloader(self.config, self.reactor, self.clock, store, lambda z, s: self.timings.append(z),
                            in_thread=in_thread or (lambda work: defer.maybeDeferred(work)))
        reloader.listeners.append(lambda zone, version: self.published.append((zone, version.serial)))
        reloader.open()
        return reloader

    def start(self) -> list:
        return self.result(self.reloader.start())

    def reload(self) -> list:
        return self.result(self.reloader.reload([ZONE]))

    @staticmethod
    def result(d: defer.Deferred):
        out = []
        d.addBoth(out.append)
        assert out, "the Deferred did not fire"
        if isinstance(out[0], Exception) or hasattr(out[0], "raiseException"):
            out[0].raiseException()
        return out[0]
