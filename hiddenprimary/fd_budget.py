"""File descriptors: what the configured limits need, against RLIMIT_NOFILE.

When descriptors run out, accept() fails on every listener at once: DNS TCP (so AXFR), the
metrics port and the control socket. At start the soft limit is raised to the hard one when the
limits need more; when even that is short, the DNS TCP connection cap shrinks to what fits
(keeping the same share reserved for secondaries) and one warning line gives the numbers."""

from __future__ import annotations

import dataclasses
import logging
import resource

from hiddenprimary.config import Config
from hiddenprimary.logs import event

log = logging.getLogger("hiddenprimary.fd_budget")

# Descriptors other than DNS TCP connections, counted generously: being short costs an outage.
SQLITE_FDS = 3  # a database in WAL mode holds the file, its -wal and its -shm
BASE_FDS = 16  # stdio, the reactor (epoll, waker pipe), Twisted's spare EMFILE descriptor, NOTIFY sockets
CONTROL_FDS = 1 + 4  # the control socket and a few hpctl connections at once
WORKER_FDS = 4 * 2  # reload threads, each reading a zone file and an $INCLUDE
MARGIN_FDS = 32  # hpctl check and API sync connections, signing worker pipes, the unforeseen


@dataclasses.dataclass(frozen=True)
class FdBudget:
    needed: int  # descriptors the configured limits need
    soft: int  # RLIMIT_NOFILE soft limit in force (after any raise)
    hard: int
    raised_from: int | None  # the soft limit before we raised it; None: left as it was
    tcp_clients_total: int  # the DNS TCP caps to use: as configured, or what fits under `soft`
    tcp_clients_reserved: int  # 0 when no secondary has `allow` prefixes to reserve them for

    @property
    def short(self) -> bool:
        return self.soft < self.needed


def fds_besides_tcp_clients(config: Config) -> int:
    limits = config.limits
    metrics = 0 if config.metrics is None else 1 + limits.metrics_clients
    return (BASE_FDS + 2 * len(config.listen) + metrics + CONTROL_FDS
            + SQLITE_FDS * 4  # the journal of every zone, activity, API sync state, served serials
            + WORKER_FDS + MARGIN_FDS)


def fit(config: Config, soft: int, hard: int, raised_from: int | None = None) -> FdBudget:
    """The TCP caps that fit under a soft limit of `soft` descriptors."""
    limits = config.limits
    other = fds_besides_tcp_clients(config)
    needed = other + limits.tcp_clients_total
    total = limits.tcp_clients_total
    reserved = limits.tcp_clients_reserved if any(sec.allow for sec in config.secondaries.values()) else 0
    if soft < needed:
        # Past the limit accept() fails for everyone alike; below it our caps choose who waits.
        total = max(1, min(total, soft - other))
        if reserved:
            reserved = min(max(1, reserved * total // limits.tcp_clients_total), total - 1)
    return FdBudget(needed, soft, hard, raised_from, total, reserved)


def check(config: Config) -> FdBudget:
    """Raise the soft RLIMIT_NOFILE to the hard one if the limits need more, and log the outcome."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = fds_besides_tcp_clients(config) + config.limits.tcp_clients_total
    raised_from = None
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else hard
        if target > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                raised_from, soft = soft, target
            except (ValueError, OSError) as e:
                event(log, "fd_limit.raise_failed", logging.WARNING, soft=soft, hard=hard, error=e)
    if soft == resource.RLIM_INFINITY:
        soft = needed
    budget = fit(config, soft, hard, raised_from)
    if raised_from is not None:
        event(log, "fd_limit.raised", soft_from=raised_from, soft=soft, hard=hard, needed=needed)
    if budget.short:
        limits = config.limits
        event(log, "fd_limit.short", logging.WARNING, soft=soft, hard=hard, needed=needed,
              tcp_clients_total=f"{limits.tcp_clients_total}->{budget.tcp_clients_total}",
              tcp_clients_reserved=f"{limits.tcp_clients_reserved}->{budget.tcp_clients_reserved}",
              fix=f"allow {needed} open files (ulimit -n, systemd LimitNOFILE=) or lower limits.tcp_clients_total")
    return budget
