"""One DNSSEC signature: data -> signature bytes in the wire form of the key's algorithm, with
`cryptography` alone, and the entry points of a signing worker process (`init`, `sign_chunk`).

Kept apart from the rest of the signer so a worker process imports `cryptography` and this
module only (no dnspython, no hiddenprimary beyond it): it starts in a fraction of a second."""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def signer(algorithm: int, private_key) -> Callable[[bytes], bytes]:
    """A function data -> signature bytes in the DNSSEC wire form of `algorithm`."""
    pk = private_key
    if algorithm == 13 or algorithm == 14:  # ECDSAP256SHA256 / ECDSAP384SHA384 (RFC 6605 4): r || s
        size = 32 if algorithm == 13 else 48
        scheme = ec.ECDSA(hashes.SHA256() if algorithm == 13 else hashes.SHA384())

        def sign(data: bytes) -> bytes:
            r, s = decode_dss_signature(pk.sign(data, scheme))
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")

        return sign
    if algorithm == 15 or algorithm == 16:  # ED25519 / ED448 (RFC 8080): the raw signature
        return pk.sign
    if algorithm == 8 or algorithm == 10:  # RSASHA256 / RSASHA512 (RFC 5702): PKCS#1 v1.5
        digest = hashes.SHA256() if algorithm == 8 else hashes.SHA512()
        pad = padding.PKCS1v15()
        return lambda data: pk.sign(data, pad, digest)
    raise ValueError(f"unsupported DNSSEC algorithm {algorithm}")


def key_blob(algorithm: int, private_key) -> tuple[int, bytes]:
    """What a worker needs of a key: its algorithm and its PKCS#8 PEM (sent through the pool's
    pipe, never a file or the command line)."""
    return algorithm, private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption())


_worker_signers: list[Callable[[bytes], bytes]] = []  # in a worker: by the index the parent gave


WORKER_NICE = 10  # a worker yields the CPU to the daemon's own threads (the reactor answers first)


def init(blobs: list[tuple[int, bytes]]) -> None:
    """A worker's initializer: the keys, in the parent's order; a lower CPU priority."""
    os.nice(WORKER_NICE)
    for algorithm, pem in blobs:
        _worker_signers.append(signer(algorithm, serialization.load_pem_private_key(pem, password=None)))


def sign_chunk(chunk: list[tuple[int, bytes]]) -> list[bytes]:
    """In a worker: the signatures of (key index, data) pairs, in order."""
    signers = _worker_signers
    return [signers[index](data) for index, data in chunk]
