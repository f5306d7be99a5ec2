"""Signing a big batch of RRsets on every core: `zone_signer.sign_zone` hands its list of signing
jobs to `ParallelSigner`, which splits it over worker processes (Python threads would share one
core: signing is pure Python glue around `cryptography`). Small batches (a reload that changed a
few records) are signed in the calling thread, where a process pool would only add start-up time.

Workers are started with `spawn` (never `fork`: the daemon has a reactor and threads running) for
one batch and stopped after it, so no process outlives a full sign. The keys go to the workers as
PKCS#8 through the pool's pipe, never through a file or the command line."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from cryptography.hazmat.primitives import serialization

from hiddenprimary.dnssec import signature
from hiddenprimary.dnssec.keys import SigningKey
from hiddenprimary.dnssec.sign import canonical_name_wire, prepare_keys, sign_jobs, sign_prepared

MIN_PARALLEL_JOBS = 20000  # below this, starting the processes (~1 s) costs more than it saves
# The parent pickles every job and unpickles every result: ~40% of the work of signing in-process
# (measured: 10k A RRsets, 1.5 s to sign, 0.6 s to pickle out and back). Two workers then gain
# nothing on 2 cores (6.2k vs 6.6k signatures/s measured); with more cores they do.
MIN_CPUS = 4
MIN_PARALLEL_SIGNATURES = 4000  # the wire signer's: below this a worker's start (~0.2 s) is not won back
CHUNK_JOBS = 500  # jobs per message to a worker: pickling one holds the GIL, so the reactor waits that long

_worker_keys: dict = {}  # in a worker: key tag/algorithm -> prepared key


def _key_blob(key: SigningKey) -> tuple:
    pem = key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    return key.zone, key.dnskey, pem, key.signs_keys, key.signs_zone


def _init_worker(blobs: list[tuple]) -> None:
    for zone, dnskey, pem, signs_keys, signs_zone in blobs:
        private = serialization.load_pem_private_key(pem, password=None)
        [prepared] = prepare_keys([SigningKey(zone, dnskey, private, signs_keys, signs_zone)])
        _worker_keys[(prepared.key_tag, prepared.algorithm)] = prepared


def _sign_chunk(chunk: list[tuple]) -> list:
    out = []
    for name, rds, tags, inception, expiration in chunk:
        signers = [_worker_keys[t] for t in tags]
        out.append(sign_prepared(name, rds, signers, inception, expiration, canonical_name_wire(name)))
    return out


class ParallelSigner:
    """A `sign_batch` for `zone_signer.sign_zone`: jobs (owner, rdataset, prepared signers,
    inception, expiration) in, RRSIG rdatasets out, in the same order."""

    def __init__(self, keys: Sequence[SigningKey], workers: int | None = None,
                 min_jobs: int = MIN_PARALLEL_JOBS, min_signatures: int = MIN_PARALLEL_SIGNATURES):
        self.keys = list(keys)
        cpus = os.cpu_count() or 1
        # One core stays with the parent (it feeds the workers) and the reactor.
        self.workers = workers if workers is not None else (cpus - 1 if cpus >= MIN_CPUS else 1)
        self.min_jobs = min_jobs
        self.min_signatures = min_signatures

    def batch(self, keys: Sequence, estimate: int):
        """The wire signer's batch (`wire_signer.InThread` is the plain one): for an estimate of
        MIN_PARALLEL_SIGNATURES or more on 2+ cores, worker processes sign chunks as the run
        hands them on, and this thread signs what no worker has taken yet once the run is done."""
        from hiddenprimary.dnssec.wire_signer import InThread

        cpus = os.cpu_count() or 1
        if cpus < 2 or estimate < self.min_signatures:
            return InThread(keys, estimate)
        return _PoolBatch(keys, self.workers if self.workers >= 2 else max(1, cpus - 1))

    def __call__(self, jobs: list[tuple]) -> list:
        if self.workers < 2 or len(jobs) < self.min_jobs:
            return sign_jobs(jobs)
        work = [(name, rds, tuple((k.key_tag, k.algorithm) for k in signers), inception, expiration)
                for name, rds, signers, inception, expiration in jobs]
        chunks = [work[i:i + CHUNK_JOBS] for i in range(0, len(work), CHUNK_JOBS)]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker,
                                 initargs=([_key_blob(k) for k in self.keys],)) as pool:
            results = []
            for part in pool.map(_sign_chunk, chunks):
                results.extend(part)
        return results


class _PoolBatch:
    """Chunks of (prepared key, data) to worker processes as they come; `finish` signs from the
    back whatever is still queued (a pending future is cancelled first, so a chunk is signed
    once), then collects the rest in order. Jobs are bytes: cheap to send, so two cores pay."""

    def __init__(self, keys: Sequence, workers: int):
        self._index = {id(key): i for i, key in enumerate(keys)}
        blobs = [signature.key_blob(key.algorithm, key.key.private_key) for key in keys]
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=signature.init, initargs=(blobs,))
        self._chunks: list[list] = []
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
            self._pool.shutdown(wait=True, cancel_futures=True)
