"""Thread pools of the reactor's edges, started on first use and stopped with the reactor: work
that waits on slow peers (hpctl check, API providers) gets threads of its own, so reloads never
queue behind it in the reactor's default pool."""

from __future__ import annotations

from twisted.python.threadpool import ThreadPool


class LazyPool:
    def __init__(self, reactor, name: str, max_threads: int):
        self._reactor = reactor
        self._name = name
        self._max = max_threads
        self._pool: ThreadPool | None = None

    def get(self) -> ThreadPool:
        if self._pool is None:
            self._pool = ThreadPool(0, self._max, name=self._name)
            self._pool.start()
            self._reactor.addSystemEventTrigger("during", "shutdown", self._pool.stop)
        return self._pool
