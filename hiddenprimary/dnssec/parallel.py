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

from cryptography.hazmat.primitives import serialization

from hiddenprimary.dnssec.keys import SigningKey
from hiddenprimary.dnssec.sign import canonical_name_wire, prepare_keys, sign_jobs, sign_prepared

MIN_PARALLEL_JOBS = 20000  # below this, starting the processes (~1 s) costs more than it saves
# The parent pickles every job and unpickles every result: ~40% of the work of signing in-process
# (measured: 10k A RRsets, 1.5 s to sign, 0.6 s to pickle out and back). Two workers then gain
# nothing on 2 cores (6.2k vs 6.6k signatures/s measured); with more cores they do.
MIN_CPUS = 4
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
                 min_jobs: int = MIN_PARALLEL_JOBS):
        self.keys = list(keys)
        cpus = os.cpu_count() or 1
        # One core stays with the parent (it feeds the workers) and the reactor.
        self.workers = workers if workers is not None else (cpus - 1 if cpus >= MIN_CPUS else 1)
        self.min_jobs = min_jobs

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
