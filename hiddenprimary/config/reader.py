"""Typed reading of YAML values: each `Reader` method checks that one value has the expected
shape (a mapping with known keys, a whole number, a duration, an address...) and returns it
converted, or raises the ConfigError `file:line: key.path: what is wrong`. It knows nothing of
the config's sections; the `sections*` modules use it."""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import math
import os
import re
from typing import Any, NoReturn

import dns.exception
import dns.name

from hiddenprimary.config.yaml_lines import Map, Seq, one_line
from hiddenprimary.errors import ConfigError, Location


def show(value: Any) -> str:
    """A value quoted for a one-line message, shortened if long."""
    text = repr(value) if isinstance(value, str) else one_line(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def kind(value: Any) -> str:
    """What a value is, for `must be X, not <kind>`."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({show(value)})"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return f"a date ({value.isoformat()})"
    if isinstance(value, bytes):
        return "binary data"
    return type(value).__name__


def _key_text(key: Any) -> str:
    return key if isinstance(key, str) else show(key)


def join_key(base: str, key: Any) -> str:
    """The key path of `key` inside `base` (`zones.example.com`); at the top, the key alone."""
    key = _key_text(key)
    return f"{base}.{key}" if base else key


_LABEL_RE = re.compile(r"^[A-Za-z0-9_/-]+$")
_HOST_PORT_RE = re.compile(r"^(?P<host>[^:\[\]]+):(?P<port>[^:]*)$")
_BRACKETED_RE = re.compile(r"^\[(?P<host>[^\[\]]*)\](?::(?P<port>.*))?$")
_PORT_RE = re.compile(r"^[0-9]{1,5}$")
_DURATION_PART_RE = re.compile(r"([0-9]+)([smhdw])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Reader:
    """Reads the YAML values of one config file; `path` names it in messages, and relative paths
    resolve against its folder. Problems that do not stop start-up collect in `warnings`."""

    def __init__(self, path: str):
        self.path = path
        self.base_dir = os.path.dirname(os.path.abspath(path))
        self.warnings: list[str] = []

    # -- reporting -----------------------------------------------------------------------------

    def fail(self, key_path: str, line: int, message: str) -> NoReturn:
        raise ConfigError(message, key_path, Location(self.path, line))

    def warn(self, key_path: str, line: int, message: str) -> None:
        self.warnings.append(str(ConfigError(message, key_path, Location(self.path, line))))

    # -- generic shape checks --------------------------------------------------------------------

    def mapping(self, value: Any, key_path: str, line: int, what: str = "a mapping") -> Map:
        if not isinstance(value, Map):
            self.fail(key_path, line, f"must be {what}, not {kind(value)}")
        return value

    def keys(
        self,
        m: Map,
        key_path: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...] = (),
        owner_line: int = 0,
    ) -> None:
        """Check a fixed-shape mapping: no duplicate, non-string or unknown keys; required present.
        A missing key is reported on `owner_line` (the line of the key that holds this mapping)."""
        self.free_keys(m, key_path, "key")
        for key in m:
            if key not in allowed:
                hint = ""
                close = difflib.get_close_matches(key, allowed, n=1)
                if close:
                    hint = f" (did you mean '{close[0]}'?)"
                self.fail(
                    join_key(key_path, key),
                    m.key_lines[key],
                    f"unknown key {show(key)}{hint}; allowed keys: {', '.join(allowed)}",
                )
        for key in required:
            if key not in m:
                self.fail(key_path, owner_line or m.line, f"missing required key '{key}'")

    def free_keys(self, m: Map, key_path: str, what: str) -> None:
        """Check a mapping whose keys are names: duplicates and non-strings are errors."""
        for key, line in m.duplicates:
            first = m.key_lines.get(key, 0)
            self.fail(
                join_key(key_path, key), line, f"duplicate {what} {show(key)} (first defined on line {first})"
            )
        for key in m:
            if not isinstance(key, str):
                self.fail(
                    join_key(key_path, key),
                    m.key_lines[key],
                    f"{what} must be a string, not {kind(key)} (put it in quotes)",
                )
            if not key.strip():
                self.fail(join_key(key_path, key), m.key_lines[key], f"{what} must not be empty")

    def get(self, m: Map, key: str) -> tuple[Any, int]:
        """(value, line of the value); (None, line of the mapping) when absent. An empty (null)
        value of an optional key means its default, so callers treat None as absent."""
        if key in m:
            return m[key], m.value_lines[key]
        return None, m.line

    def given(self, m: Map, key: str) -> bool:
        return m.get(key) is not None

    def string(self, value: Any, key_path: str, line: int, what: str = "a string") -> str:
        if not isinstance(value, str):
            self.fail(key_path, line, f"must be {what}, not {kind(value)}")
        if not value.strip():
            self.fail(key_path, line, "must not be empty")
        return value

    def seq(self, value: Any, key_path: str, line: int, what: str) -> Seq:
        if not isinstance(value, Seq):
            self.fail(key_path, line, f"must be a list of {what}, not {kind(value)}")
        return value

    def integer(
        self, value: Any, key_path: str, line: int, minimum: int = 1, maximum: int | None = None
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key_path, line, f"must be a whole number, not {kind(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            if maximum is None:
                self.fail(key_path, line, f"must be at least {minimum}, not {value}")
            self.fail(key_path, line, f"must be between {minimum} and {maximum}, not {value}")
        return value

    def number(self, value: Any, key_path: str, line: int) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key_path, line, f"must be a number of seconds, not {kind(value)}")
        if not math.isfinite(value) or value <= 0:
            self.fail(key_path, line, f"must be a positive number of seconds, not {value!r}")
        return float(value)

    def seconds_list(self, value: Any, key_path: str, line: int, what: str, counts: range,
                     count_problem: str) -> tuple[float, ...]:
        """A list of positive numbers of seconds (retry intervals), as many as `counts` allows."""
        items = self.seq(value, key_path, line, what)
        if len(items) not in counts:
            self.fail(key_path, line, count_problem)
        return tuple(self.number(v, f"{key_path}[{i}]", items.item_lines[i]) for i, v in enumerate(items))

    def boolean(self, value: Any, key_path: str, line: int) -> bool:
        if not isinstance(value, bool):
            self.fail(key_path, line, f"must be true or false, not {kind(value)}")
        return value

    def choice(self, value: Any, key_path: str, line: int, choices: tuple[str, ...], fold: str) -> str:
        """One of `choices`, matched case-insensitively; returned as spelled in `choices`."""
        if not isinstance(value, str):
            self.fail(key_path, line, f"must be one of {', '.join(choices)}, not {kind(value)}")
        for c in choices:
            if value.strip().lower() == c.lower():
                return c
        self.fail(key_path, line, f"unknown {fold} {show(value)}; expected one of {', '.join(choices)}")

    def duration(self, value: Any, key_path: str, line: int, minimum: int = 1) -> int:
        """Seconds from 3600, "3600", "2h", "14d", "1d12h" (units s m h d w); at least `minimum`."""
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            self.fail(key_path, line, f"must be a duration like 3600, 2h or 14d, not {kind(value)}")
        if isinstance(value, int):
            seconds = value
        else:
            text = value.strip().lower()
            if text.isdigit():
                seconds = int(text)
            elif text and _DURATION_PART_RE.sub("", text) == "":
                seconds = sum(int(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART_RE.findall(text))
            else:
                self.fail(
                    key_path,
                    line,
                    f"invalid duration {show(value)}; use seconds or a number with a unit s, m, h, d or w "
                    "(e.g. 3600, 2h, 14d)",
                )
        if seconds < minimum:
            what = "a positive duration" if minimum else "a duration"
            self.fail(key_path, line, f"must be {what}, not {show(value)}")
        if seconds > 2**31 - 1:
            self.fail(key_path, line, f"duration {show(value)} is too long (at most 68 years)")
        return seconds

    def file_path(self, value: Any, key_path: str, line: int) -> str:
        text = self.string(value, key_path, line, "a path (a string)")
        if "\x00" in text:
            self.fail(key_path, line, "path must not contain a NUL character")
        return os.path.normpath(os.path.join(self.base_dir, os.path.expanduser(text)))

    def dns_name(self, value: str, key_path: str, line: int, what: str) -> dns.name.Name:
        text = value.strip()
        if text != value or not text:
            self.fail(key_path, line, f"invalid {what} {show(value)}: leading or trailing spaces")
        if text == ".":
            self.fail(key_path, line, f"invalid {what} '.': the root is not allowed here")
        try:
            name = dns.name.from_text(text, origin=dns.name.root)
        except dns.exception.DNSException as e:
            reason = one_line(str(e)).rstrip(".")
            self.fail(key_path, line, f"invalid {what} {show(value)}: {reason}")
        for label in name.labels[:-1]:
            try:
                label_text = label.decode("ascii")
            except UnicodeDecodeError:
                label_text = ""
            if not _LABEL_RE.match(label_text):
                self.fail(
                    key_path,
                    line,
                    f"invalid {what} {show(value)}: use only letters, digits, '-', '_' and '/' in labels",
                )
        return name

    def ip(
        self, text: str, key_path: str, line: int, entry: str
    ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            self.fail(
                key_path,
                line,
                f"invalid address {show(entry)}: {show(text)} is not an IP address (names are not resolved)",
            )

    def host_port(
        self, value: Any, key_path: str, line: int, default_port: int | None, min_port: int
    ) -> tuple[str, int]:
        """Parse "1.2.3.4:53", "[::1]:53" and, with a default port, "1.2.3.4", "::1", "[::1]"."""
        example = (
            "127.0.0.1:5300 or [::1]:5300"
            if default_port is None
            else "192.0.2.1:53, 192.0.2.1 or [2001:db8::1]:53"
        )
        if not isinstance(value, str):
            self.fail(key_path, line, f"must be an address like {example} (a string), not {kind(value)}")
        entry = value.strip()
        port_text: str | None
        m_br = _BRACKETED_RE.match(entry)
        m_hp = _HOST_PORT_RE.match(entry)
        if m_br:
            host, port_text = m_br.group("host"), m_br.group("port")
            addr = self.ip(host, key_path, line, value)
            if addr.version != 6:
                self.fail(
                    key_path, line, f"invalid address {show(value)}: brackets are only for IPv6 addresses"
                )
        elif m_hp:
            host, port_text = m_hp.group("host"), m_hp.group("port")
            addr = self.ip(host, key_path, line, value)
        elif ":" in entry:
            # Bare IPv6 without a port.
            addr = self.ip(entry, key_path, line, value)
            port_text = None
        else:
            addr = self.ip(entry, key_path, line, value)
            port_text = None
        if port_text is None:
            if default_port is None:
                self.fail(
                    key_path, line, f"invalid address {show(value)}: a port is required, e.g. {example}"
                )
            port = default_port
        else:
            if not _PORT_RE.match(port_text):
                self.fail(
                    key_path, line, f"invalid address {show(value)}: port {show(port_text)} is not a number"
                )
            port = int(port_text)
            if not min_port <= port <= 65535:
                self.fail(
                    key_path,
                    line,
                    f"invalid address {show(value)}: port must be {min_port}..65535, not {port}",
                )
        return str(addr), port
