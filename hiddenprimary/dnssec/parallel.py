"""Signing a big run on every core: `wire_signer` hands its (prepared key, data) jobs to a batch
as it makes them (Python threads would share one core: the signing is `cryptography` called from
Python). From MIN_PARALLEL_SIGNATURES signatures on 2+ cores, a worker process per other core
signs chunks while the run goes on building the rest, and the reload thread signs from the back
whatever no worker has taken yet once the run is done; smaller runs (a reload that changed a few
records) sign in the calling thread, where a process would only add its start-up.

Workers are started with `spawn` (never `fork`: the daemon has a reactor and threads running) for
one run and stopped after it, so no process outlives a sign; they import `dnssec.signature` and
`cryptography` only, run at a lower CPU priority (the reactor answers first), and get the keys
as PKCS#8 through the pool's pipe, never through a file or the command line. Jobs are bytes, so
sending them costs little (the plain signer's dnspython jobs cost as much to pickle as the second
core saved)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from hiddenprimary.dnssec import signature

MIN_PARALLEL_SIGNATURES = 4000  # below this a worker's start (~0.2 s) is not won back


class ParallelSigner:
    """`batch(keys, estimate)` for `wire_signer.sign_wire` (as `Signing.sign_data`)."""

    def __init__(self, workers: int | None = None, min_signatures: int = MIN_PARALLEL_SIGNATURES):
        cpus = os.cpu_count() or 1
        self.workers = workers if workers is not None else cpus - 1  # one core stays with the daemon
        self.min_signatures = min_signatures

    def batch(self, keys: Sequence, estimate: int):
        from hiddenprimary.dnssec.wire_signer import InThread

        if self.workers < 1 or estimate < self.min_signatures:
            return InThread(keys, estimate)
        return _PoolBatch(keys, self.workers)


class _PoolBatch:
    """Chunks of (prepared key, data) to worker processes as they come; `finish` signs from the
    back whatever is still queued (a pending future is cancelled first, so a chunk is signed
    once), then collects the rest in order."""

    def __init__(self, keys: Sequence, workers: int):
        self._index = {id(key): i for i, key in enumerate(keys)}
        blobs = [signature.key_blob(key.algorithm, key.key.private_key) for key in keys]
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=signature.init, initargs=(blobs,))
        self._chunks: list = []
        self._futures: list = []

    def add(self, jobs: list) -> None:
        if not jobs:
            return
        index = self._index
        self._chunks.append(jobs)
        self._futures.append(self._pool.submit(signature.sign_chunk, [(index[id(k)], d) for k, d in jobs]))

    def finish(self) -> list[bytes]:
        try:
            results: list = [None] * len(self._chunks)
            for i in range(len(self._chunks) - 1, -1, -1):
                if self._futures[i].cancel():
                    results[i] = [key.sign(data) for key, data in self._chunks[i]]
            out: list[bytes] = []
            for i, future in enumerate(self._futures):
                if results[i] is None:
                    try:
                        results[i] = future.result()
                    except BrokenProcessPool:  # a worker died (killed, out of memory): sign here
                        results[i] = [key.sign(data) for key, data in self._chunks[i]]
                out.extend(results[i])
                results[i] = self._chunks[i] = None  # freed a chunk at a time, not all at the end
            self._futures = []
            return out
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers (a run that failed midway too): queued chunks are dropped."""
        self._pool.shutdown(wait=True, cancel_futures=True)
