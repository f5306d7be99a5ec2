"""What a parsed config is: the frozen dataclasses `parse_config` returns, the values they may
hold, and their defaults. No reading or checking here (see `reader` and the `sections*` modules)."""

from __future__ import annotations

import dataclasses
import ipaddress

import dns.name
import dns.tsig

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
# Under data_dir: the catalog zones' files, written from the config before each of their reloads.
CATALOGS_DIR = "catalogs"
# A catalog zone's serial: it has no file of its own to take one from.
CATALOG_SERIAL = "unixtime"


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
    catalog: dns.name.Name | None = None  # the catalog zone (RFC 9432) this zone is a member of


@dataclasses.dataclass(frozen=True)
class Catalog:
    """A catalog zone we produce (RFC 9432, schema version 2): a zone (in `Config.zones` too, its
    file under data_dir/catalogs) listing the zones that name it as their `catalog`."""

    name: dns.name.Name
    members: tuple[dns.name.Name, ...]  # in config order


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
    # NOTIFY datagrams sent per second, all zones together (BIND's notify-rate and
    # startup-notify-rate, 20): a start or reload of 10,000 zones does not fire 30,000 at once.
    notify_rate: int = 20

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
    catalogs: dict[dns.name.Name, Catalog] = dataclasses.field(default_factory=dict)
