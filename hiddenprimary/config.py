"""YAML config -> frozen dataclasses, fully validated. Tier 1: stdlib, yaml, dns, errors.

Every problem is a ConfigError naming the key path (`zones.example.com.secondaries[1]`) and the
YAML line (`Location(path, line)`) of the offending key or value; the first problem found wins.
Relative paths (control socket, data dir, zone files) resolve against the config file's folder.
Zone files are not opened here: the daemon reports a missing zone file per zone.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import difflib
import ipaddress
import math
import os
import re
import sys
from typing import Any, Iterator, NoReturn

import dns.exception
import dns.name
import dns.tsig
import yaml

from hiddenprimary.errors import ConfigError, Location

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SERIAL_POLICIES = ("keep", "increment", "unixtime", "dateserial")
DNSSEC_ALGORITHMS = ("ECDSAP256SHA256", "ED25519")
DENIAL_METHODS = ("nsec", "nsec3")
LOG_LEVELS = ("debug", "info", "warning", "error")

# Accepted TSIG algorithm spellings (lower case, no final dot) -> dnspython's algorithm name.
TSIG_ALGORITHMS: dict[str, dns.name.Name] = {
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-md5": dns.tsig.HMAC_MD5,
    "hmac-md5.sig-alg.reg.int": dns.tsig.HMAC_MD5,
}
# Output sizes in octets of those HMACs. RFC 8945 6 recommends a secret at least this long.
TSIG_DIGEST_SIZES: dict[dns.name.Name, int] = {
    dns.tsig.HMAC_SHA256: 32,
    dns.tsig.HMAC_SHA384: 48,
    dns.tsig.HMAC_SHA512: 64,
    dns.tsig.HMAC_SHA224: 28,
    dns.tsig.HMAC_SHA1: 20,
    dns.tsig.HMAC_MD5: 16,
}
# Shorter secrets are refused: guessable offline from one signed message (BIND's tsig-keygen and
# Knot's keymgr make secrets as long as the HMAC's output).
MIN_TSIG_SECRET = 16

DEFAULT_CONTROL = "var/hpctl.sock"
DEFAULT_DATA_DIR = "var"
DEFAULT_SERIAL = "keep"
DEFAULT_JOURNAL_MAX_ENTRIES = 1000
DEFAULT_JOURNAL_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_SIGNATURE_VALIDITY = 14 * 86400
DEFAULT_REFRESH = 7 * 86400
# Time for a re-signed version to reach every secondary (NOTIFY, retries, transfer): Knot's
# propagation-delay default. `refresh` must cover it plus the zone's largest TTL.
DEFAULT_PROPAGATION_DELAY = 3600
# Zone-file input bounds (issue 11): the zone file plus its $INCLUDEs, and records per zone.
# Generous on purpose (a 10M-record zone is a few hundred MB of text): they stop runaway input.
DEFAULT_MAX_ZONE_FILE_BYTES = 1024**3
DEFAULT_MAX_ZONE_RECORDS = 10_000_000
NOTIFY_DEFAULT_PORT = 53
# sun_path is 108 bytes on Linux (104 on the BSDs and macOS), including the final NUL.
_MAX_UNIX_SOCKET_PATH = 107 if sys.platform.startswith("linux") else 103


# ---------------------------------------------------------------------------------------------
# The result


@dataclasses.dataclass(frozen=True)
class TsigKey:
    name: str  # the key's DNS name, lower case, no final dot ("xfr-key")
    algorithm: str  # dnspython's algorithm name as text, e.g. "hmac-sha256."
    secret: bytes


@dataclasses.dataclass(frozen=True)
class Secondary:
    name: str
    allow: tuple[IPNetwork, ...]  # source prefixes that may transfer
    key: str | None  # TsigKey.name transfers must be signed with; None: no TSIG required
    notify: tuple[tuple[str, int], ...]  # (IP address text, port)
    # Seconds between NOTIFY tries over UDP while unanswered (BIND: a few tries over ~16 s).
    notify_retries_s: tuple[float, ...] = (2.0, 4.0, 8.0)
    api: ApiSecondary | None = None  # set: fed through a provider's API (no transfers, no NOTIFY)


API_KINDS = ("route53",)


@dataclasses.dataclass(frozen=True)
class ApiSecondary:
    """A provider that takes no zone transfers (Route 53): we push every change over its API."""

    kind: str  # one of API_KINDS
    hosted_zones: tuple[tuple[dns.name.Name, str], ...] = ()  # zone -> hosted zone ID; others looked up by name
    endpoint_url: str | None = None  # another API endpoint (tests: a local moto server)
    region: str | None = None
    # Seconds to wait before retrying after a failed sync, one per consecutive failure; the last repeats.
    retry_s: tuple[float, ...] = (10.0, 30.0, 60.0, 300.0)

    def hosted_zone(self, zone: dns.name.Name) -> str | None:
        return dict(self.hosted_zones).get(zone)


@dataclasses.dataclass(frozen=True)
class Dnssec:
    algorithm: str = "ECDSAP256SHA256"  # ECDSAP256SHA256 | ED25519
    denial: str = "nsec"  # nsec | nsec3
    signature_validity: int = DEFAULT_SIGNATURE_VALIDITY  # seconds
    refresh: int = DEFAULT_REFRESH  # seconds; re-sign signatures expiring within this
    ksk_zsk: bool = False  # split KSK/ZSK instead of a single combined key
    nsec3_opt_out: bool = False
    propagation_delay: int = DEFAULT_PROPAGATION_DELAY  # seconds; see DEFAULT_PROPAGATION_DELAY


@dataclasses.dataclass(frozen=True)
class ZoneConfig:
    name: dns.name.Name  # absolute
    file: str  # absolute path
    secondaries: tuple[str, ...]  # Secondary.name values, in config order
    serial: str  # keep | increment | unixtime | dateserial
    dnssec: Dnssec | None  # None: unsigned
    journal_max_entries: int = DEFAULT_JOURNAL_MAX_ENTRIES
    journal_max_bytes: int = DEFAULT_JOURNAL_MAX_BYTES


@dataclasses.dataclass(frozen=True)
class Limits:
    tcp_idle_timeout_s: float = 10.0
    tcp_clients_total: int = 1000
    tcp_clients_per_ip: int = 100
    udp_max_payload: int = 1232
    reload_timeout_s: float = 600.0
    transfers_out: int = 20  # concurrent outgoing AXFR/IXFR streams (BIND: transfers-out 10)
    xfr_idle_timeout_s: float = 60.0  # drop a transfer whose client reads nothing for this long
    journal_lock_wait_s: float = 10.0  # at start, wait this long for another process's journal lock
    max_zone_file_bytes: int = DEFAULT_MAX_ZONE_FILE_BYTES  # a zone file and its $INCLUDEs together
    max_zone_records: int = DEFAULT_MAX_ZONE_RECORDS  # records one zone's files may hold
    # Of tcp_clients_total, the slots only sources in a secondary's `allow` may take, so a flood
    # from elsewhere cannot lock secondaries out. None: a tenth of tcp_clients_total.
    tcp_clients_reserved: int | None = None
    metrics_clients: int = 16  # open connections to the metrics port (scrapers keep one each)
    metrics_idle_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.tcp_clients_reserved is None:
            object.__setattr__(self, "tcp_clients_reserved", self.tcp_clients_total // 10)


@dataclasses.dataclass(frozen=True)
class Config:
    path: str  # absolute path of the config file
    listen: tuple[tuple[str, int], ...]  # (IP address text, port); port 0 = any free port
    control: str  # absolute path of the control socket
    data_dir: str  # absolute path
    tsig: dict[str, TsigKey]  # by TsigKey.name
    secondaries: dict[str, Secondary]  # by Secondary.name
    zones: dict[dns.name.Name, ZoneConfig]  # in file order
    limits: Limits
    log_level: str = "info"  # debug | info | warning | error
    notify_source: str | None = None  # source address of NOTIFY (secondaries check where it comes from)
    metrics: tuple[str, int] | None = None  # Prometheus endpoint (host, port); None: off
    # Problems that do not stop start-up, as `file:line: key.path: what`; the daemon logs each
    # (`config.warning`) and `--check-config` prints them.
    warnings: tuple[str, ...] = ()
    # Absolute folders $INCLUDE may read from besides the including zone file's own folder.
    include_roots: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Public entry points


def load_config(path: str) -> Config:
    """Read and validate the config file at `path`. Raises ConfigError."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        reason = e.strerror or str(e)
        raise ConfigError(f"cannot read config: {reason}", "", Location(path)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"cannot read config: not valid UTF-8 (byte offset {e.start})", "", Location(path, line)
        ) from None
    return parse_config(text, path)


def parse_config(text: str, path: str) -> Config:
    """Validate config `text`; `path` is used in messages and to resolve relative paths."""
    data = _load_yaml(text, path)
    return _Builder(path).build(data)


# ---------------------------------------------------------------------------------------------
# YAML with line numbers


class _Map(dict):
    """A YAML mapping that remembers the 1-based line of each key and value."""

    line: int
    key_lines: dict[Any, int]
    value_lines: dict[Any, int]
    duplicates: list[tuple[Any, int]]


class _Seq(list):
    """A YAML sequence that remembers the 1-based line of each item."""

    line: int
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Remember how many pairs came from merge keys (`<<: *defaults`), which may legitimately
        # be overridden, so that only duplicate keys written in this mapping itself are errors.
        if not hasattr(node, "_hp_merged"):
            own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
            super().flatten_mapping(node)
            node._hp_merged = len(node.value) - own  # type: ignore[attr-defined]


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[_Map]:
    data = _Map()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    data.value_lines = {}
    data.duplicates = []
    yield data
    loader.flatten_mapping(node)
    merged = getattr(node, "_hp_merged", 0)
    for i, (key_node, value_node) in enumerate(node.value):
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found a list or mapping used as a key",
                key_node.start_mark,
            )
        key = loader.construct_object(key_node, deep=True)
        value = loader.construct_object(value_node, deep=True)
        key_line = key_node.start_mark.line + 1
        if key in data and i >= merged and data.key_lines.get(key, 0) > 0:
            data.duplicates.append((key, key_line))  # reported by the validator, with its path
            continue
        data[key] = value
        # Keys coming from a merge are marked provisional (negative) until overridden.
        data.key_lines[key] = key_line if i >= merged else -key_line
        data.value_lines[key] = value_node.start_mark.line + 1
    for key, line in data.key_lines.items():
        data.key_lines[key] = abs(line)


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[_Seq]:
    data = _Seq()
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    yield data
    data.extend(loader.construct_object(child, deep=True) for child in node.value)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


class _Doc:
    """The top-level document: its value and the line it starts on."""

    def __init__(self, value: Any, line: int):
        self.value = value
        self.line = line


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _load_yaml(text: str, path: str) -> _Doc:
    loader = None
    try:
        loader = _LineLoader(text)
        node = loader.get_single_node()
        if node is None:
            return _Doc(None, 0)
        value = loader.construct_document(node)
        return _Doc(value, node.start_mark.line + 1)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = e.problem or e.context or "syntax error"
        if e.context and e.problem:
            problem = f"{e.problem} ({e.context})"
        raise ConfigError(f"invalid YAML: {_one_line(problem)}", "", Location(path, line)) from None
    except yaml.YAMLError as e:
        # ReaderError (control characters) and other unmarked errors.
        line = 0
        position = getattr(e, "position", None)
        if isinstance(position, int):
            line = text[:position].count("\n") + 1
        reason = getattr(e, "reason", None) or str(e)
        raise ConfigError(f"invalid YAML: {_one_line(reason)}", "", Location(path, line)) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", "", Location(path)) from None
    finally:
        if loader is not None:
            loader.dispose()


# ---------------------------------------------------------------------------------------------
# Validation


def _show(value: Any) -> str:
    """A value quoted for a one-line message, shortened if long."""
    text = repr(value) if isinstance(value, str) else _one_line(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({_show(value)})"
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
    return key if isinstance(key, str) else _show(key)


def _join(base: str, key: Any) -> str:
    key = _key_text(key)
    return f"{base}.{key}" if base else key


_LABEL_RE = re.compile(r"^[A-Za-z0-9_/-]+$")
_HOST_PORT_RE = re.compile(r"^(?P<host>[^:\[\]]+):(?P<port>[^:]*)$")
_BRACKETED_RE = re.compile(r"^\[(?P<host>[^\[\]]*)\](?::(?P<port>.*))?$")
_PORT_RE = re.compile(r"^[0-9]{1,5}$")
_HOSTED_ZONE_ID_RE = re.compile(r"^[A-Z0-9]{1,32}$")
_DURATION_PART_RE = re.compile(r"([0-9]+)([smhdw])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class _Builder:
    def __init__(self, path: str):
        self.path = path
        self.base_dir = os.path.dirname(os.path.abspath(path))
        self._hosted_zone_refs: dict[tuple[str, dns.name.Name], tuple[str, int, str]] = {}  # -> (key path, line, as written)
        self.warnings: list[str] = []

    # -- reporting -----------------------------------------------------------------------------

    def fail(self, key_path: str, line: int, message: str) -> NoReturn:
        raise ConfigError(message, key_path, Location(self.path, line))

    def warn(self, key_path: str, line: int, message: str) -> None:
        self.warnings.append(str(ConfigError(message, key_path, Location(self.path, line))))

    # -- generic shape checks --------------------------------------------------------------------

    def mapping(self, value: Any, key_path: str, line: int, what: str = "a mapping") -> _Map:
        if not isinstance(value, _Map):
            self.fail(key_path, line, f"must be {what}, not {_kind(value)}")
        return value

    def keys(
        self,
        m: _Map,
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
                    _join(key_path, key),
                    m.key_lines[key],
                    f"unknown key {_show(key)}{hint}; allowed keys: {', '.join(allowed)}",
                )
        for key in required:
            if key not in m:
                self.fail(key_path, owner_line or m.line, f"missing required key '{key}'")

    def free_keys(self, m: _Map, key_path: str, what: str) -> None:
        """Check a mapping whose keys are names: duplicates and non-strings are errors."""
        for key, line in m.duplicates:
            first = m.key_lines.get(key, 0)
            self.fail(
                _join(key_path, key), line, f"duplicate {what} {_show(key)} (first defined on line {first})"
            )
        for key in m:
            if not isinstance(key, str):
                self.fail(
                    _join(key_path, key),
                    m.key_lines[key],
                    f"{what} must be a string, not {_kind(key)} (put it in quotes)",
                )
            if not key.strip():
                self.fail(_join(key_path, key), m.key_lines[key], f"{what} must not be empty")

    def get(self, m: _Map, key: str) -> tuple[Any, int]:
        """(value, line of the value); (None, line of the mapping) when absent. An empty (null)
        value of an optional key means its default, so callers treat None as absent."""
        if key in m:
            return m[key], m.value_lines[key]
        return None, m.line

    def given(self, m: _Map, key: str) -> bool:
        return m.get(key) is not None

    def string(self, value: Any, key_path: str, line: int, what: str = "a string") -> str:
        if not isinstance(value, str):
            self.fail(key_path, line, f"must be {what}, not {_kind(value)}")
        if not value.strip():
            self.fail(key_path, line, "must not be empty")
        return value

    def seq(self, value: Any, key_path: str, line: int, what: str) -> _Seq:
        if not isinstance(value, _Seq):
            self.fail(key_path, line, f"must be a list of {what}, not {_kind(value)}")
        return value

    def integer(
        self, value: Any, key_path: str, line: int, minimum: int = 1, maximum: int | None = None
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key_path, line, f"must be a whole number, not {_kind(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            if maximum is None:
                self.fail(key_path, line, f"must be at least {minimum}, not {value}")
            self.fail(key_path, line, f"must be between {minimum} and {maximum}, not {value}")
        return value

    def number(self, value: Any, key_path: str, line: int) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key_path, line, f"must be a number of seconds, not {_kind(value)}")
        if not math.isfinite(value) or value <= 0:
            self.fail(key_path, line, f"must be a positive number of seconds, not {value!r}")
        return float(value)

    def boolean(self, value: Any, key_path: str, line: int) -> bool:
        if not isinstance(value, bool):
            self.fail(key_path, line, f"must be true or false, not {_kind(value)}")
        return value

    def choice(self, value: Any, key_path: str, line: int, choices: tuple[str, ...], fold: str) -> str:
        """One of `choices`, matched case-insensitively; returned as spelled in `choices`."""
        if not isinstance(value, str):
            self.fail(key_path, line, f"must be one of {', '.join(choices)}, not {_kind(value)}")
        for c in choices:
            if value.strip().lower() == c.lower():
                return c
        self.fail(key_path, line, f"unknown {fold} {_show(value)}; expected one of {', '.join(choices)}")

    def duration(self, value: Any, key_path: str, line: int, minimum: int = 1) -> int:
        """Seconds from 3600, "3600", "2h", "14d", "1d12h" (units s m h d w); at least `minimum`."""
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            self.fail(key_path, line, f"must be a duration like 3600, 2h or 14d, not {_kind(value)}")
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
                    f"invalid duration {_show(value)}; use seconds or a number with a unit s, m, h, d or w "
                    "(e.g. 3600, 2h, 14d)",
                )
        if seconds < minimum:
            what = "a positive duration" if minimum else "a duration"
            self.fail(key_path, line, f"must be {what}, not {_show(value)}")
        if seconds > 2**31 - 1:
            self.fail(key_path, line, f"duration {_show(value)} is too long (at most 68 years)")
        return seconds

    def file_path(self, value: Any, key_path: str, line: int) -> str:
        text = self.string(value, key_path, line, "a path (a string)")
        if "\x00" in text:
            self.fail(key_path, line, "path must not contain a NUL character")
        return os.path.normpath(os.path.join(self.base_dir, os.path.expanduser(text)))

    def dns_name(self, value: str, key_path: str, line: int, what: str) -> dns.name.Name:
        text = value.strip()
        if text != value or not text:
            self.fail(key_path, line, f"invalid {what} {_show(value)}: leading or trailing spaces")
        if text == ".":
            self.fail(key_path, line, f"invalid {what} '.': the root is not allowed here")
        try:
            name = dns.name.from_text(text, origin=dns.name.root)
        except dns.exception.DNSException as e:
            reason = _one_line(str(e)).rstrip(".")
            self.fail(key_path, line, f"invalid {what} {_show(value)}: {reason}")
        for label in name.labels[:-1]:
            try:
                label_text = label.decode("ascii")
            except UnicodeDecodeError:
                label_text = ""
            if not _LABEL_RE.match(label_text):
                self.fail(
                    key_path,
                    line,
                    f"invalid {what} {_show(value)}: use only letters, digits, '-', '_' and '/' in labels",
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
                f"invalid address {_show(entry)}: {_show(text)} is not an IP address (names are not resolved)",
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
            self.fail(key_path, line, f"must be an address like {example} (a string), not {_kind(value)}")
        entry = value.strip()
        port_text: str | None
        m_br = _BRACKETED_RE.match(entry)
        m_hp = _HOST_PORT_RE.match(entry)
        if m_br:
            host, port_text = m_br.group("host"), m_br.group("port")
            addr = self.ip(host, key_path, line, value)
            if addr.version != 6:
                self.fail(
                    key_path, line, f"invalid address {_show(value)}: brackets are only for IPv6 addresses"
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
                    key_path, line, f"invalid address {_show(value)}: a port is required, e.g. {example}"
                )
            port = default_port
        else:
            if not _PORT_RE.match(port_text):
                self.fail(
                    key_path, line, f"invalid address {_show(value)}: port {_show(port_text)} is not a number"
                )
            port = int(port_text)
            if not min_port <= port <= 65535:
                self.fail(
                    key_path,
                    line,
                    f"invalid address {_show(value)}: port must be {min_port}..65535, not {port}",
                )
        return str(addr), port

    # -- the sections ------------------------------------------------------------------------

    TOP_KEYS = ("listen", "control", "data_dir", "log_level", "limits", "tsig", "secondaries", "zones",
                "notify_source", "metrics", "include_roots")

    def build(self, doc: _Doc) -> Config:
        if doc.value is None:
            self.fail("", doc.line, "config is empty; expected a mapping with at least 'listen'")
        top = self.mapping(doc.value, "", doc.line, "a mapping of settings (listen, zones, ...)")
        self.keys(top, "", self.TOP_KEYS, required=("listen",), owner_line=top.line)

        listen = self.listen(*self.get(top, "listen"))
        control = self.control(top)
        value, line = self.get(top, "data_dir")
        data_dir = self.file_path(value if value is not None else DEFAULT_DATA_DIR, "data_dir", line)
        log_level = "info"
        value, line = self.get(top, "log_level")
        if value is not None:
            log_level = self.choice(value, "log_level", line, LOG_LEVELS, "log level")
        limits = self.limits(top)
        notify_source = None
        value, line = self.get(top, "notify_source")
        if value is not None:
            if not isinstance(value, str):
                self.fail("notify_source", line, f"must be an IP address like 192.0.2.1, not {_show(value)}")
            notify_source = str(self.ip(value, "notify_source", line, value))
        metrics = None
        value, line = self.get(top, "metrics")
        if value is not None:
            metrics = self.host_port(value, "metrics", line, None, 0)
        include_roots = self.include_roots(top)
        tsig = self.tsig_keys(top)
        secondaries = self.secondaries(top, tsig)
        zones = self.zones(top, secondaries)
        self.api_hosted_zones(secondaries, zones)
        return Config(
            path=os.path.abspath(self.path),
            listen=listen,
            control=control,
            data_dir=data_dir,
            tsig=tsig,
            secondaries=secondaries,
            zones=zones,
            limits=limits,
            log_level=log_level,
            notify_source=notify_source,
            metrics=metrics,
            warnings=tuple(self.warnings),
            include_roots=include_roots,
        )

    def listen(self, value: Any, line: int) -> tuple[tuple[str, int], ...]:
        items = self.seq(value, "listen", line, "addresses like 127.0.0.1:5300 or [::1]:5300")
        if not items:
            self.fail("listen", line, "must list at least one address like 127.0.0.1:5300")
        result: list[tuple[str, int]] = []
        for i, item in enumerate(items):
            key_path, item_line = f"listen[{i}]", items.item_lines[i]
            host, port = self.host_port(item, key_path, item_line, None, 0)
            addr = ipaddress.ip_address(host)
            for j, (other_host, other_port) in enumerate(result):
                if port != other_port or port == 0:
                    continue
                other = ipaddress.ip_address(other_host)
                if other == addr:
                    self.fail(
                        key_path, item_line, f"duplicate listen address {_show(item)} (same as listen[{j}])"
                    )
                if other.version == addr.version and (other.is_unspecified or addr.is_unspecified):
                    self.fail(
                        key_path,
                        item_line,
                        f"listen address {_show(item)} overlaps listen[{j}] {_show(items[j])} "
                        "(a wildcard address already covers it)",
                    )
            result.append((host, port))
        return tuple(result)

    def control(self, top: _Map) -> str:
        value, line = self.get(top, "control")
        path = self.file_path(value if value is not None else DEFAULT_CONTROL, "control", line)
        if len(os.fsencode(path)) > _MAX_UNIX_SOCKET_PATH:
            self.fail(
                "control",
                line,
                f"socket path {path} is too long for a Unix socket "
                f"({len(os.fsencode(path))} bytes, at most {_MAX_UNIX_SOCKET_PATH}); use a shorter path",
            )
        return path

    LIMIT_KEYS = (
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

    def limits(self, top: _Map) -> Limits:
        value, line = self.get(top, "limits")
        if value is None:
            return Limits()
        m = self.mapping(value, "limits", line)
        self.keys(m, "limits", self.LIMIT_KEYS)
        values: dict[str, Any] = {}
        for key in self.LIMIT_KEYS:
            if not self.given(m, key):
                continue
            v, vline = self.get(m, key)
            key_path = f"limits.{key}"
            if key.endswith("_s"):
                values[key] = self.number(v, key_path, vline)
            elif key == "udp_max_payload":
                values[key] = self.integer(v, key_path, vline, 512, 65535)
            elif key == "tcp_clients_reserved":
                values[key] = self.integer(v, key_path, vline, 0)
            else:
                values[key] = self.integer(v, key_path, vline, 1)
        limits = Limits(**values)
        if limits.tcp_clients_per_ip > limits.tcp_clients_total:
            where = "tcp_clients_per_ip" if self.given(m, "tcp_clients_per_ip") else "tcp_clients_total"
            self.fail(
                f"limits.{where}",
                m.value_lines[where],
                f"tcp_clients_per_ip ({limits.tcp_clients_per_ip}) must not exceed "
                f"tcp_clients_total ({limits.tcp_clients_total})",
            )
        if self.given(m, "tcp_clients_reserved") and limits.tcp_clients_reserved >= limits.tcp_clients_total:
            self.fail(
                "limits.tcp_clients_reserved",
                m.value_lines["tcp_clients_reserved"],
                f"tcp_clients_reserved ({limits.tcp_clients_reserved}) must be less than "
                f"tcp_clients_total ({limits.tcp_clients_total}), or no other client could connect",
            )
        return limits

    def include_roots(self, top: _Map) -> tuple[str, ...]:
        """Folders (resolved like every path here) that $INCLUDE may also read from."""
        value, line = self.get(top, "include_roots")
        if value is None:
            return ()
        items = self.seq(value, "include_roots", line, "folders like /etc/dns/common")
        result: list[str] = []
        for i, item in enumerate(items):
            path = self.file_path(item, f"include_roots[{i}]", items.item_lines[i])
            if path in result:
                self.fail(f"include_roots[{i}]", items.item_lines[i],
                          f"duplicate folder {_show(item)} (same as include_roots[{result.index(path)}])")
            result.append(path)
        return tuple(result)

    def tsig_keys(self, top: _Map) -> dict[str, TsigKey]:
        value, line = self.get(top, "tsig")
        if value is None:
            return {}
        keys = self.mapping(value, "tsig", line, "a mapping of key name to {algorithm, secret}")
        self.free_keys(keys, "tsig", "key name")
        result: dict[str, TsigKey] = {}
        first_seen: dict[str, str] = {}
        for raw_name, spec in keys.items():
            key_path = _join("tsig", raw_name)
            key_line = keys.key_lines[raw_name]
            name = self.dns_name(raw_name, key_path, key_line, "TSIG key name")
            canonical = name.to_text(omit_final_dot=True).lower()
            if canonical in result:
                self.fail(
                    key_path,
                    key_line,
                    f"TSIG key {_show(raw_name)} is the same name as {_show(first_seen[canonical])}",
                )
            m = self.mapping(
                spec, key_path, keys.value_lines[raw_name], "a mapping with algorithm and secret"
            )
            self.keys(
                m, key_path, ("algorithm", "secret"), required=("algorithm", "secret"), owner_line=key_line
            )

            alg_value, alg_line = self.get(m, "algorithm")
            alg_path = f"{key_path}.algorithm"
            if not isinstance(alg_value, str):
                self.fail(
                    alg_path,
                    alg_line,
                    f"must be a TSIG algorithm name like hmac-sha256, not {_kind(alg_value)}",
                )
            algorithm = TSIG_ALGORITHMS.get(alg_value.strip().lower().rstrip("."))
            if algorithm is None:
                self.fail(
                    alg_path,
                    alg_line,
                    f"unknown TSIG algorithm {_show(alg_value)}; expected one of "
                    "hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5",
                )

            secret_value, secret_line = self.get(m, "secret")
            secret_path = f"{key_path}.secret"
            if not isinstance(secret_value, str):
                self.fail(
                    secret_path,
                    secret_line,
                    f"must be a base64 string (in quotes), not {_kind(secret_value)}",
                )
            try:
                secret = base64.b64decode(secret_value.strip(), validate=True)
            except (binascii.Error, ValueError):
                self.fail(
                    secret_path,
                    secret_line,
                    "is not valid base64 (e.g. generate one with: openssl rand -base64 32)",
                )
            if not secret:
                self.fail(secret_path, secret_line, "must not be empty")
            self.check_secret_size(secret, algorithm, alg_value, secret_path, secret_line)

            result[canonical] = TsigKey(name=canonical, algorithm=algorithm.to_text(), secret=secret)
            first_seen[canonical] = raw_name
        return result

    def check_secret_size(self, secret: bytes, algorithm: dns.name.Name, alg_value: str, key_path: str,
                          line: int) -> None:
        """RFC 8945 6: a secret should be at least as long as the HMAC's output. Under
        MIN_TSIG_SECRET octets is refused, between that and the output size is a warning."""
        wanted = TSIG_DIGEST_SIZES[algorithm]
        alg_name = alg_value.strip().lower().rstrip(".")
        advice = f"make one with: openssl rand -base64 {wanted}"
        if len(secret) < MIN_TSIG_SECRET:
            self.fail(key_path, line, f"is {len(secret)} octets; a TSIG secret must be at least "
                      f"{MIN_TSIG_SECRET} (RFC 8945 6 recommends {wanted} for {alg_name}; {advice})")
        if len(secret) < wanted:
            self.warn(key_path, line, f"is {len(secret)} octets, shorter than the {wanted}-octet output of "
                      f"{alg_name} (RFC 8945 6 recommends at least that; {advice})")

    SECONDARY_KEYS = ("allow", "key", "notify", "notify_retries_s")

    def secondaries(self, top: _Map, tsig: dict[str, TsigKey]) -> dict[str, Secondary]:
        value, line = self.get(top, "secondaries")
        if value is None:
            return {}
        secs = self.mapping(value, "secondaries", line, "a mapping of secondary name to {allow, key, notify}")
        self.free_keys(secs, "secondaries", "secondary name")
        result: dict[str, Secondary] = {}
        for name, spec in secs.items():
            key_path = _join("secondaries", name)
            m = self.mapping(spec, key_path, secs.value_lines[name], "a mapping with allow, key and notify")
            if "api" in m:
                result[name] = Secondary(name=name, allow=(), key=None, notify=(), api=self.api(m, key_path, name))
                continue
            self.keys(m, key_path, self.SECONDARY_KEYS)
            allow = self.allow(m, key_path)
            notify = self.notify(m, key_path)
            if not allow and not notify:
                self.fail(
                    key_path,
                    secs.key_lines[name],
                    "a secondary needs 'allow' (who may transfer), 'notify' or both",
                )

            key: str | None = None
            key_value, key_line = self.get(m, "key")
            if key_value is not None:
                key_ref_path = f"{key_path}.key"
                text = self.string(key_value, key_ref_path, key_line, "a TSIG key name (a string)")
                try:
                    canonical = (
                        dns.name.from_text(text.strip(), origin=dns.name.root)
                        .to_text(omit_final_dot=True)
                        .lower()
                    )
                except dns.exception.DNSException:
                    canonical = None
                if canonical not in tsig:
                    defined = ", ".join(tsig) if tsig else "none"
                    self.fail(
                        key_ref_path,
                        key_line,
                        f"TSIG key {_show(key_value)} is not defined under 'tsig' (defined: {defined})",
                    )
                key = canonical
            retries = Secondary.notify_retries_s
            retries_value, retries_line = self.get(m, "notify_retries_s")
            if retries_value is not None:
                retries_path = f"{key_path}.notify_retries_s"
                items = self.seq(retries_value, retries_path, retries_line, "seconds between tries, like [2, 4, 8]")
                if len(items) > 20:
                    self.fail(retries_path, retries_line, "at most 20 retries")
                retries = tuple(self.number(v, f"{retries_path}[{i}]", items.item_lines[i])
                                for i, v in enumerate(items))
            result[name] = Secondary(name=name, allow=allow, key=key, notify=notify, notify_retries_s=retries)
        return result

    API_KEYS = ("api", "hosted_zones", "endpoint_url", "region", "retry_s")

    def api(self, m: _Map, key_path: str, name: str) -> ApiSecondary:
        """`api: route53` and its options. Such a secondary takes no transfers, so no allow/key/notify."""
        for key in self.SECONDARY_KEYS:
            if key in m:
                self.fail(f"{key_path}.{key}", m.key_lines[key],
                          f"an API secondary takes no '{key}': the provider gets our zone through its API, "
                          "not by zone transfer or NOTIFY")
        self.keys(m, key_path, self.API_KEYS)
        value, line = self.get(m, "api")
        kind = self.choice(value, f"{key_path}.api", line, API_KINDS, "API provider")
        hosted: list[tuple[dns.name.Name, str]] = []
        value, line = self.get(m, "hosted_zones")
        if value is not None:
            hz_path = f"{key_path}.hosted_zones"
            zones = self.mapping(value, hz_path, line, "a mapping of zone name to hosted zone ID")
            self.free_keys(zones, hz_path, "zone name")
            for raw, zone_id in zones.items():
                item_path, item_line = _join(hz_path, raw), zones.value_lines[raw]
                zone = self.dns_name(raw, item_path, zones.key_lines[raw], "zone name")
                if zone in dict(hosted):
                    self.fail(item_path, zones.key_lines[raw], f"zone {_show(raw)} is listed twice")
                text = self.string(zone_id, item_path, item_line, "a hosted zone ID like Z0123456789ABC (a string)")
                zid = text.strip().removeprefix("/hostedzone/")
                if not _HOSTED_ZONE_ID_RE.match(zid):
                    self.fail(item_path, item_line,
                              f"invalid hosted zone ID {_show(zone_id)}; expected e.g. Z0123456789ABC")
                hosted.append((zone, zid))
                self._hosted_zone_refs[(name, zone)] = (item_path, zones.key_lines[raw], raw)
        endpoint = None
        value, line = self.get(m, "endpoint_url")
        if value is not None:
            endpoint = self.string(value, f"{key_path}.endpoint_url", line, "a URL (a string)").strip()
            if not re.match(r"^https?://[^\s/]+(/\S*)?$", endpoint):
                self.fail(f"{key_path}.endpoint_url", line,
                          f"invalid URL {_show(value)}; expected e.g. https://route53.amazonaws.com")
        region = None
        value, line = self.get(m, "region")
        if value is not None:
            region = self.string(value, f"{key_path}.region", line, "a region name like us-east-1 (a string)").strip()
            if not re.match(r"^[a-z0-9-]+$", region):
                self.fail(f"{key_path}.region", line, f"invalid region {_show(value)}; expected e.g. us-east-1")
        retry = ApiSecondary.retry_s
        value, line = self.get(m, "retry_s")
        if value is not None:
            retry_path = f"{key_path}.retry_s"
            items = self.seq(value, retry_path, line, "seconds between retries, like [10, 30, 300]")
            if not items or len(items) > 20:
                self.fail(retry_path, line, "between 1 and 20 retry intervals")
            retry = tuple(self.number(v, f"{retry_path}[{i}]", items.item_lines[i]) for i, v in enumerate(items))
        return ApiSecondary(kind=kind, hosted_zones=tuple(hosted), endpoint_url=endpoint, region=region,
                            retry_s=retry)

    def api_hosted_zones(self, secondaries: dict[str, Secondary], zones: dict[dns.name.Name, ZoneConfig]) -> None:
        """A hosted zone named for a zone that does not feed this secondary is a typo, not a wish."""
        for (sec_name, zone), (item_path, line, raw) in self._hosted_zone_refs.items():
            if zone not in zones or sec_name not in zones[zone].secondaries:
                self.fail(item_path, line,
                          f"zone {_show(raw)} does not list secondary {_show(sec_name)} under its 'secondaries'")

    def allow(self, m: _Map, base: str) -> tuple[IPNetwork, ...]:
        value, line = self.get(m, "allow")
        if value is None:
            return ()
        key_path = f"{base}.allow"
        items = self.seq(value, key_path, line, "address prefixes like 192.0.2.1/32")
        result: list[IPNetwork] = []
        for i, item in enumerate(items):
            item_path, item_line = f"{key_path}[{i}]", items.item_lines[i]
            if not isinstance(item, str):
                self.fail(
                    item_path,
                    item_line,
                    f"must be an address prefix like 192.0.2.0/24 (a string), not {_kind(item)}",
                )
            text = item.strip()
            try:
                net = ipaddress.ip_network(text, strict=True)
            except ValueError as e:
                if "host bits set" in str(e):
                    fixed = ipaddress.ip_network(text, strict=False)
                    host = f"{text.split('/')[0]}/{fixed.max_prefixlen}"
                    self.fail(
                        item_path,
                        item_line,
                        f"prefix {_show(item)} has host bits set (did you mean {fixed} or {host}?)",
                    )
                self.fail(
                    item_path,
                    item_line,
                    f"invalid address prefix {_show(item)}; expected e.g. 192.0.2.0/24 or 2001:db8::/32",
                )
            if net in result:
                self.fail(
                    item_path,
                    item_line,
                    f"duplicate prefix {_show(item)} (same as {key_path}[{result.index(net)}])",
                )
            result.append(net)
        return tuple(result)

    def notify(self, m: _Map, base: str) -> tuple[tuple[str, int], ...]:
        value, line = self.get(m, "notify")
        if value is None:
            return ()
        key_path = f"{base}.notify"
        items = self.seq(value, key_path, line, "addresses like 192.0.2.1:53")
        result: list[tuple[str, int]] = []
        for i, item in enumerate(items):
            item_path, item_line = f"{key_path}[{i}]", items.item_lines[i]
            target = self.host_port(item, item_path, item_line, NOTIFY_DEFAULT_PORT, 1)
            if target in result:
                self.fail(
                    item_path,
                    item_line,
                    f"duplicate NOTIFY target {_show(item)} (same as {key_path}[{result.index(target)}])",
                )
            result.append(target)
        return tuple(result)

    ZONE_KEYS = ("file", "secondaries", "serial", "dnssec", "journal")

    def zones(self, top: _Map, secondaries: dict[str, Secondary]) -> dict[dns.name.Name, ZoneConfig]:
        value, line = self.get(top, "zones")
        if value is None:
            return {}
        zones = self.mapping(value, "zones", line, "a mapping of zone name to {file, secondaries, ...}")
        self.free_keys(zones, "zones", "zone name")
        result: dict[dns.name.Name, ZoneConfig] = {}
        first_seen: dict[dns.name.Name, str] = {}
        for raw_name, spec in zones.items():
            key_path = _join("zones", raw_name)
            key_line = zones.key_lines[raw_name]
            name = self.dns_name(raw_name, key_path, key_line, "zone name")
            if name in result:
                self.fail(
                    key_path,
                    key_line,
                    f"zone {_show(raw_name)} is the same zone as {_show(first_seen[name])}",
                )
            m = self.mapping(spec, key_path, zones.value_lines[raw_name], "a mapping with at least 'file'")
            self.keys(m, key_path, self.ZONE_KEYS, required=("file",), owner_line=key_line)

            file_value, file_line = self.get(m, "file")
            file = self.file_path(file_value, f"{key_path}.file", file_line)

            serial = DEFAULT_SERIAL
            serial_value, serial_line = self.get(m, "serial")
            if serial_value is not None:
                serial = self.choice(
                    serial_value, f"{key_path}.serial", serial_line, SERIAL_POLICIES, "serial policy"
                )

            refs = self.zone_secondaries(m, key_path, secondaries)
            dnssec = self.dnssec(m, key_path)
            api_refs = [r for r in refs if secondaries[r].api is not None]
            if dnssec is not None and api_refs:
                # Route 53 (and the like) cannot publish our DNSKEY and RRSIGs: with our DS at the
                # parent, its answers fail validation whether it serves the zone unsigned or signed.
                self.fail(f"{key_path}.dnssec", self.get(m, "dnssec")[1],
                          f"a zone we sign cannot go to API secondary {api_refs[0]!r}: it cannot serve our "
                          "DNSKEY and signatures (no multi-signer, RFC 8901), so validating resolvers would "
                          "reject its answers; remove dnssec: or that secondary")
            max_entries, max_bytes = self.journal(m, key_path)
            result[name] = ZoneConfig(
                name=name,
                file=file,
                secondaries=refs,
                serial=serial,
                dnssec=dnssec,
                journal_max_entries=max_entries,
                journal_max_bytes=max_bytes,
            )
            first_seen[name] = raw_name
        return result

    def zone_secondaries(self, m: _Map, base: str, secondaries: dict[str, Secondary]) -> tuple[str, ...]:
        value, line = self.get(m, "secondaries")
        if value is None:
            return ()
        key_path = f"{base}.secondaries"
        items = self.seq(value, key_path, line, "secondary names")
        result: list[str] = []
        for i, item in enumerate(items):
            item_path, item_line = f"{key_path}[{i}]", items.item_lines[i]
            if not isinstance(item, str):
                self.fail(item_path, item_line, f"must be a secondary name (a string), not {_kind(item)}")
            if item not in secondaries:
                defined = ", ".join(secondaries) if secondaries else "none"
                self.fail(
                    item_path,
                    item_line,
                    f"secondary {_show(item)} is not defined under 'secondaries' (defined: {defined})",
                )
            if item in result:
                self.fail(item_path, item_line, f"secondary {_show(item)} is listed twice")
            result.append(item)
        return tuple(result)

    DNSSEC_KEYS = ("algorithm", "denial", "signature_validity", "refresh", "propagation_delay", "ksk_zsk",
                   "nsec3_opt_out")

    def dnssec(self, m: _Map, base: str) -> Dnssec | None:
        value, line = self.get(m, "dnssec")
        if value is None:
            return None
        key_path = f"{base}.dnssec"
        d = self.mapping(value, key_path, line, "a mapping like {algorithm: ECDSAP256SHA256, denial: nsec}")
        self.keys(d, key_path, self.DNSSEC_KEYS)
        fields: dict[str, Any] = {}
        if self.given(d, "algorithm"):
            fields["algorithm"] = self.choice(
                d["algorithm"],
                f"{key_path}.algorithm",
                d.value_lines["algorithm"],
                DNSSEC_ALGORITHMS,
                "DNSSEC algorithm",
            )
        if self.given(d, "denial"):
            fields["denial"] = self.choice(
                d["denial"],
                f"{key_path}.denial",
                d.value_lines["denial"],
                DENIAL_METHODS,
                "denial of existence method",
            )
        for key in ("signature_validity", "refresh"):
            if self.given(d, key):
                fields[key] = self.duration(d[key], f"{key_path}.{key}", d.value_lines[key])
        if self.given(d, "propagation_delay"):
            fields["propagation_delay"] = self.duration(d["propagation_delay"], f"{key_path}.propagation_delay",
                                                        d.value_lines["propagation_delay"], minimum=0)
        for key in ("ksk_zsk", "nsec3_opt_out"):
            if self.given(d, key):
                fields[key] = self.boolean(d[key], f"{key_path}.{key}", d.value_lines[key])
        result = Dnssec(**fields)
        if result.refresh >= result.signature_validity:
            where = "refresh" if self.given(d, "refresh") else "signature_validity"
            self.fail(
                f"{key_path}.{where}",
                d.value_lines[where],
                f"refresh ({result.refresh}s) must be shorter than signature_validity ({result.signature_validity}s)",
            )
        if result.refresh < result.propagation_delay:
            # A signature is re-signed when `refresh` of its validity is left: that must let the
            # new version reach every secondary and cached copies age out (the zone's largest
            # TTL, checked at each load) before the old one expires (Knot: "rrsig-refresh too low").
            where = "refresh" if self.given(d, "refresh") else "propagation_delay"
            self.fail(
                f"{key_path}.{where}",
                d.value_lines[where],
                f"refresh ({result.refresh}s) must be at least propagation_delay ({result.propagation_delay}s) "
                "plus the zone's largest TTL: signatures are re-signed when refresh is left of their "
                "validity, and the new ones must reach secondaries and caches before the old ones expire",
            )
        if result.nsec3_opt_out and result.denial != "nsec3":
            self.fail(
                f"{key_path}.nsec3_opt_out",
                d.value_lines["nsec3_opt_out"],
                "nsec3_opt_out needs denial: nsec3",
            )
        return result

    def journal(self, m: _Map, base: str) -> tuple[int, int]:
        value, line = self.get(m, "journal")
        if value is None:
            return DEFAULT_JOURNAL_MAX_ENTRIES, DEFAULT_JOURNAL_MAX_BYTES
        key_path = f"{base}.journal"
        j = self.mapping(value, key_path, line, "a mapping like {max_entries: 1000, max_bytes: 67108864}")
        self.keys(j, key_path, ("max_entries", "max_bytes"))
        entries, nbytes = DEFAULT_JOURNAL_MAX_ENTRIES, DEFAULT_JOURNAL_MAX_BYTES
        if self.given(j, "max_entries"):
            entries = self.integer(
                j["max_entries"], f"{key_path}.max_entries", j.value_lines["max_entries"], 1
            )
        if self.given(j, "max_bytes"):
            nbytes = self.integer(j["max_bytes"], f"{key_path}.max_bytes", j.value_lines["max_bytes"], 1)
        return entries, nbytes
