"""The server-wide config sections: `listen`, `control`, `data_dir`, `log_level`, `limits`,
`notify_source`, `metrics` and `include_roots`. One function per section, reading through a
`Reader`. Secondaries and zones have their own modules (`sections_secondaries`,
`sections_zones`)."""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import Any

from hiddenprimary.config.model import DEFAULT_CONTROL, DEFAULT_DATA_DIR, LOG_LEVELS, Limits
from hiddenprimary.config.reader import Reader, show
from hiddenprimary.config.yaml_lines import Map

# sun_path is 108 bytes on Linux (104 on the BSDs and macOS), including the final NUL.
_MAX_UNIX_SOCKET_PATH = 107 if sys.platform.startswith("linux") else 103

LIMIT_KEYS = (
    "notify_rate",
    "tcp_idle_timeout_s",
    "tcp_clients_total",
    "tcp_clients_per_ip",
    "udp_max_payload",
    "reload_timeout_s",
    "transfers_out",
    "xfr_idle_timeout_s",
    "journal_lock_wait_s",
    "tcp_clients_reserved",
    "metrics_clients",
    "metrics_idle_timeout_s",
    "max_zone_file_bytes",
    "max_zone_records",
)


def listen(r: Reader, value: Any, line: int) -> tuple[tuple[str, int], ...]:
    items = r.seq(value, "listen", line, "addresses like 127.0.0.1:5300 or [::1]:5300")
    if not items:
        r.fail("listen", line, "must list at least one address like 127.0.0.1:5300")
    result: list[tuple[str, int]] = []
    for i, item in enumerate(items):
        key_path, item_line = f"listen[{i}]", items.item_lines[i]
        host, port = r.host_port(item, key_path, item_line, None, 0)
        addr = ipaddress.ip_address(host)
        for j, (other_host, other_port) in enumerate(result):
            if port != other_port or port == 0:
                continue
            other = ipaddress.ip_address(other_host)
            if other == addr:
                r.fail(key_path, item_line, f"duplicate listen address {show(item)} (same as listen[{j}])")
            if other.version == addr.version and (other.is_unspecified or addr.is_unspecified):
                r.fail(
                    key_path,
                    item_line,
                    f"listen address {show(item)} overlaps listen[{j}] {show(items[j])} "
                    "(a wildcard address already covers it)",
                )
        result.append((host, port))
    return tuple(result)


def control(r: Reader, top: Map) -> str:
    value, line = r.get(top, "control")
    path = r.file_path(value if value is not None else DEFAULT_CONTROL, "control", line)
    if len(os.fsencode(path)) > _MAX_UNIX_SOCKET_PATH:
        r.fail(
            "control",
            line,
            f"socket path {path} is too long for a Unix socket "
            f"({len(os.fsencode(path))} bytes, at most {_MAX_UNIX_SOCKET_PATH}); use a shorter path",
        )
    return path


def data_dir(r: Reader, top: Map) -> str:
    value, line = r.get(top, "data_dir")
    return r.file_path(value if value is not None else DEFAULT_DATA_DIR, "data_dir", line)


def log_level(r: Reader, top: Map) -> str:
    value, line = r.get(top, "log_level")
    if value is None:
        return "info"
    return r.choice(value, "log_level", line, LOG_LEVELS, "log level")


def limits(r: Reader, top: Map) -> Limits:
    value, line = r.get(top, "limits")
    if value is None:
        return Limits()
    m = r.mapping(value, "limits", line)
    r.keys(m, "limits", LIMIT_KEYS)
    values: dict[str, Any] = {}
    for key in LIMIT_KEYS:
        if not r.given(m, key):
            continue
        v, vline = r.get(m, key)
        key_path = f"limits.{key}"
        if key.endswith("_s"):
            values[key] = r.number(v, key_path, vline)
        elif key == "udp_max_payload":
            values[key] = r.integer(v, key_path, vline, 512, 65535)
        elif key == "tcp_clients_reserved":
            values[key] = r.integer(v, key_path, vline, 0)
        else:
            values[key] = r.integer(v, key_path, vline, 1)
    result = Limits(**values)
    if result.tcp_clients_per_ip > result.tcp_clients_total:
        where = "tcp_clients_per_ip" if r.given(m, "tcp_clients_per_ip") else "tcp_clients_total"
        r.fail(
            f"limits.{where}",
            m.value_lines[where],
            f"tcp_clients_per_ip ({result.tcp_clients_per_ip}) must not exceed "
            f"tcp_clients_total ({result.tcp_clients_total})",
        )
    if r.given(m, "tcp_clients_reserved") and result.tcp_clients_reserved >= result.tcp_clients_total:
        r.fail(
            "limits.tcp_clients_reserved",
            m.value_lines["tcp_clients_reserved"],
            f"tcp_clients_reserved ({result.tcp_clients_reserved}) must be less than "
            f"tcp_clients_total ({result.tcp_clients_total}), or no other client could connect",
        )
    return result


def notify_source(r: Reader, top: Map) -> str | None:
    value, line = r.get(top, "notify_source")
    if value is None:
        return None
    if not isinstance(value, str):
        r.fail("notify_source", line, f"must be an IP address like 192.0.2.1, not {show(value)}")
    return str(r.ip(value, "notify_source", line, value))


def metrics(r: Reader, top: Map) -> tuple[str, int] | None:
    value, line = r.get(top, "metrics")
    if value is None:
        return None
    return r.host_port(value, "metrics", line, None, 0)


def include_roots(r: Reader, top: Map) -> tuple[str, ...]:
    """Folders (resolved like every path here) that $INCLUDE may also read from."""
    value, line = r.get(top, "include_roots")
    if value is None:
        return ()
    items = r.seq(value, "include_roots", line, "folders like /etc/dns/common")
    result: list[str] = []
    for i, item in enumerate(items):
        path = r.file_path(item, f"include_roots[{i}]", items.item_lines[i])
        if path in result:
            r.fail(f"include_roots[{i}]", items.item_lines[i],
                   f"duplicate folder {show(item)} (same as include_roots[{result.index(path)}])")
        result.append(path)
    return tuple(result)
