"""Helpers every test folder uses: where the repository is, a free loopback port, a tool that must
be installed, and waiting for a condition with a deadline (never a fixed sleep)."""

from __future__ import annotations

import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypeVar

ROOT = pathlib.Path(__file__).resolve().parents[1]   # the repository
BIN = pathlib.Path(sys.executable).parent             # the venv's bin: python, hpctl, hiddenprimary

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP on `host` (any 127.0.0.0/8 address)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind((host, 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def require_tool(name: str) -> str:
    """The path of an installed program; named, knotd, rndc and knotc live in sbin, which a
    non-root PATH may lack."""
    path = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/sbin:/sbin")
    if path is None:
        raise RuntimeError(f"{name} is not installed (scripts/test installs it)")
    return path


def wait_for(probe: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
             explain: Callable[[], str] | None = None, *, until: Callable[[T], object] = bool) -> T:
    """Call `probe` every `interval` seconds until `until(value)` holds (by default: until the value
    is true), and return that value. After `timeout` seconds, fail with an AssertionError naming
    the last value and `explain()` (e.g. the daemon's log tail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            detail = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"not met in {timeout}s (last: {value!r}){detail}")
        time.sleep(interval)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """Stop a process this run started, by its PID: SIGTERM, wait `timeout`, then SIGKILL.
    Returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode
