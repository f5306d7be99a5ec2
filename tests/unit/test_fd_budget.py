"""RLIMIT_NOFILE against what the configured limits need (issue 11 item 4): raise the soft limit
to the hard one when short; when still short, shrink the DNS TCP cap to fit and say so once."""

import logging
import resource

import pytest

from hiddenprimary import fd_budget
from hiddenprimary.config import parse_config

CONFIG = """\
listen: ["127.0.0.1:5300"]
metrics: "127.0.0.1:9153"
secondaries:
  lab: {allow: ["127.0.0.2/32"]}
zones:
  example.com: {file: a.zone, secondaries: [lab]}
  example.net: {file: b.zone}
"""


@pytest.fixture
def config(tmp_path):
    return parse_config(CONFIG, str(tmp_path / "hp.yaml"))


def test_what_the_limits_need(config):
    other = fd_budget.fds_besides_tcp_clients(config)
    # listen (TCP+UDP), metrics listener + 16 clients, sqlite x3 for the journal of every zone +
    # activity + API state + served serials: as many for 2 zones as for 10,000
    assert other == (fd_budget.BASE_FDS + 2 + 1 + 16 + fd_budget.CONTROL_FDS + 3 * 4
                     + fd_budget.WORKER_FDS + fd_budget.MARGIN_FDS)
    budget = fd_budget.fit(config, 1_000_000, 1_000_000)
    assert not budget.short
    assert (budget.needed, budget.tcp_clients_total, budget.tcp_clients_reserved) == (other + 1000, 1000, 100)


def test_nothing_is_reserved_without_secondary_prefixes(tmp_path):
    config = parse_config('listen: ["127.0.0.1:5300"]\n', str(tmp_path / "hp.yaml"))
    assert fd_budget.fit(config, 100_000, 100_000).tcp_clients_reserved == 0
    assert fd_budget.fit(config, 256, 256).tcp_clients_reserved == 0


def test_a_short_limit_shrinks_the_tcp_cap_and_keeps_the_reserved_share(config):
    other = fd_budget.fds_besides_tcp_clients(config)
    budget = fd_budget.fit(config, 256, 256)
    assert budget.short
    assert budget.tcp_clients_total == 256 - other
    assert budget.tcp_clients_reserved == (256 - other) // 10
    tiny = fd_budget.fit(config, other, other)
    assert (tiny.tcp_clients_total, tiny.tcp_clients_reserved) == (1, 0)


class FakeRlimit:
    def __init__(self, soft, hard, refuse=False):
        self.limits, self.refuse, self.calls = (soft, hard), refuse, []

    def getrlimit(self, which):
        assert which == resource.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, which, limits):
        self.calls.append(limits)
        if self.refuse:
            raise ValueError("not allowed")
        self.limits = limits


def install(monkeypatch, fake):
    monkeypatch.setattr(fd_budget.resource, "getrlimit", fake.getrlimit)
    monkeypatch.setattr(fd_budget.resource, "setrlimit", fake.setrlimit)


def test_the_soft_limit_is_raised_to_the_hard_one_when_short(config, monkeypatch, caplog):
    fake = FakeRlimit(256, 65536)
    install(monkeypatch, fake)
    caplog.set_level(logging.INFO, logger="hiddenprimary.fd_budget")
    budget = fd_budget.check(config)
    assert fake.calls == [(65536, 65536)]
    assert (budget.soft, budget.raised_from, budget.tcp_clients_total, budget.short) == (65536, 256, 1000, False)
    assert [r.getMessage().split()[0] for r in caplog.records] == ["fd_limit.raised"]


def test_enough_already_changes_nothing_and_says_nothing(config, monkeypatch, caplog):
    fake = FakeRlimit(20000, 20000)
    install(monkeypatch, fake)
    caplog.set_level(logging.DEBUG, logger="hiddenprimary.fd_budget")
    budget = fd_budget.check(config)
    assert fake.calls == [] and budget.tcp_clients_total == 1000 and caplog.records == []


def test_still_short_after_raising_warns_once_with_the_numbers(config, monkeypatch, caplog):
    install(monkeypatch, FakeRlimit(256, 256))
    caplog.set_level(logging.INFO, logger="hiddenprimary.fd_budget")
    budget = fd_budget.check(config)
    other = fd_budget.fds_besides_tcp_clients(config)
    [record] = caplog.records
    assert record.levelname == "WARNING"
    assert record.getMessage() == (
        f"fd_limit.short soft=256 hard=256 needed={other + 1000} tcp_clients_total=1000->{256 - other} "
        f"tcp_clients_reserved=100->{(256 - other) // 10} fix=\"allow {other + 1000} open files "
        "(ulimit -n, systemd LimitNOFILE=) or lower limits.tcp_clients_total\"")
    assert budget.tcp_clients_total == 256 - other


def test_a_refused_raise_is_logged_and_the_cap_fits_the_old_limit(config, monkeypatch, caplog):
    install(monkeypatch, FakeRlimit(256, 4096, refuse=True))
    caplog.set_level(logging.INFO, logger="hiddenprimary.fd_budget")
    budget = fd_budget.check(config)
    assert [r.getMessage().split()[0] for r in caplog.records] == ["fd_limit.raise_failed", "fd_limit.short"]
    assert budget.soft == 256 and budget.tcp_clients_total < 256


def test_an_infinite_hard_limit_raises_to_what_is_needed(config, monkeypatch):
    fake = FakeRlimit(256, resource.RLIM_INFINITY)
    install(monkeypatch, fake)
    budget = fd_budget.check(config)
    assert fake.calls == [(budget.needed, resource.RLIM_INFINITY)] and not budget.short
