"""hiddenprimary.config: a valid config parses into the right values; every bad config is a
ConfigError naming the key path and the YAML line, with exit code 2."""

from __future__ import annotations

import base64
import ipaddress
import os
import textwrap
from pathlib import Path

import dns.name
import pytest

from hiddenprimary.config import (
    ApiSecondary,
    Config,
    Dnssec,
    Limits,
    Secondary,
    TsigKey,
    ZoneConfig,
    load_config,
    parse_config,
)
from hiddenprimary.errors import ConfigError, EXIT_USAGE, Location

SECRET = base64.b64encode(bytes(range(32))).decode()

FULL = f"""\
listen: ["127.0.0.1:5300", "[::1]:5300", "0.0.0.0:0"]
control: run/hpctl.sock
data_dir: state
log_level: DEBUG
limits:
  tcp_idle_timeout_s: 2.5
  tcp_clients_per_ip: 7
  udp_max_payload: 4096
tsig:
  xfr-key: {{algorithm: hmac-sha256, secret: "{SECRET}"}}
  Old.Key.: {{algorithm: hmac-md5.sig-alg.reg.int, secret: "{SECRET}"}}
secondaries:
  lab:
    allow: ["127.0.0.2/32", "10.0.0.0/8", "2001:db8::/32"]
    key: xfr-key
    notify: ["127.0.0.2:5301", "192.0.2.1", "[2001:db8::1]:5302", "2001:db8::2"]
  watcher:
    notify: ["192.0.2.9"]
zones:
  example.com:
    file: zones/example.com.zone
    secondaries: [lab, watcher]
    serial: keep
    dnssec: {{algorithm: ED25519, denial: nsec3, signature_validity: 3d, refresh: "36h",
              ksk_zsk: true, nsec3_opt_out: true}}
    journal: {{max_entries: 50, max_bytes: 1048576}}
  Example.NET.:
    file: /srv/zones/example.net.zone
    serial: increment
    dnssec: {{}}
  example.org:
    file: ../elsewhere/example.org.zone
"""


def write(tmp_path: Path, text: str, name: str = "hp.yaml") -> str:
    folder = tmp_path / "conf"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    return str(path)


def test_full_config(tmp_path):
    path = write(tmp_path, FULL)
    cfg = load_config(path)
    conf = str(tmp_path / "conf")
    secret = bytes(range(32))

    assert isinstance(cfg, Config)
    assert cfg.path == path
    assert cfg.listen == (("127.0.0.1", 5300), ("::1", 5300), ("0.0.0.0", 0))
    assert cfg.control == os.path.join(conf, "run", "hpctl.sock")
    assert cfg.data_dir == os.path.join(conf, "state")
    assert cfg.log_level == "debug"
    assert cfg.limits == Limits(tcp_idle_timeout_s=2.5, tcp_clients_per_ip=7, udp_max_payload=4096)
    assert cfg.limits.tcp_clients_total == 1000 and cfg.limits.reload_timeout_s == 600.0

    assert cfg.tsig == {
        "xfr-key": TsigKey("xfr-key", "hmac-sha256.", secret),
        "old.key": TsigKey("old.key", "HMAC-MD5.SIG-ALG.REG.INT.", secret),
    }
    assert cfg.secondaries["lab"] == Secondary(
        name="lab",
        allow=(
            ipaddress.ip_network("127.0.0.2/32"),
            ipaddress.ip_network("10.0.0.0/8"),
            ipaddress.ip_network("2001:db8::/32"),
        ),
        key="xfr-key",
        notify=(("127.0.0.2", 5301), ("192.0.2.1", 53), ("2001:db8::1", 5302), ("2001:db8::2", 53)),
    )
    assert cfg.secondaries["watcher"] == Secondary("watcher", (), None, (("192.0.2.9", 53),))

    com, net, org = (dns.name.from_text(n) for n in ("example.com.", "example.net.", "example.org."))
    assert list(cfg.zones) == [com, net, org]  # file order
    assert all(z.name.is_absolute() for z in cfg.zones.values())
    assert cfg.zones[com] == ZoneConfig(
        name=com,
        file=os.path.join(conf, "zones", "example.com.zone"),
        secondaries=("lab", "watcher"),
        serial="keep",
        dnssec=Dnssec("ED25519", "nsec3", 3 * 86400, 36 * 3600, True, True),
        journal_max_entries=50,
        journal_max_bytes=1048576,
    )
    assert cfg.zones[net] == ZoneConfig(
        name=net,
        file="/srv/zones/example.net.zone",
        secondaries=(),
        serial="increment",
        dnssec=Dnssec("ECDSAP256SHA256", "nsec", 14 * 86400, 7 * 86400, False, False),
        journal_max_entries=1000,
        journal_max_bytes=64 * 1024 * 1024,
    )
    org_zone = cfg.zones[org]
    assert org_zone.file == str(tmp_path / "elsewhere" / "example.org.zone")
    assert org_zone.serial == "keep" and org_zone.dnssec is None and org_zone.secondaries == ()

    # Frozen.
    with pytest.raises(AttributeError):
        cfg.log_level = "info"  # type: ignore[misc]


def test_defaults(tmp_path):
    path = write(tmp_path, 'listen: ["127.0.0.1:53"]\n')
    cfg = load_config(path)
    conf = str(tmp_path / "conf")
    assert cfg.control == os.path.join(conf, "var", "hpctl.sock")
    assert cfg.data_dir == os.path.join(conf, "var")
    assert cfg.log_level == "info"
    assert cfg.limits == Limits()
    assert cfg.tsig == {} and cfg.secondaries == {} and cfg.zones == {}


def test_connection_limits_default_and_reserved_slots_follow_the_total(tmp_path):
    limits = parse_config('listen: ["127.0.0.1:53"]\n', str(tmp_path / "hp.yaml")).limits
    assert (limits.tcp_clients_reserved, limits.metrics_clients, limits.metrics_idle_timeout_s) == (100, 16, 10.0)
    text = 'listen: ["127.0.0.1:53"]\nlimits: {tcp_clients_total: 50, tcp_clients_per_ip: 50}\n'
    assert parse_config(text, str(tmp_path / "hp.yaml")).limits.tcp_clients_reserved == 5
    text = 'listen: ["127.0.0.1:53"]\nlimits: {tcp_clients_reserved: 0, metrics_clients: 4, metrics_idle_timeout_s: 2}\n'
    limits = parse_config(text, str(tmp_path / "hp.yaml")).limits
    assert (limits.tcp_clients_reserved, limits.metrics_clients, limits.metrics_idle_timeout_s) == (0, 4, 2.0)


def test_empty_values_mean_defaults(tmp_path):
    text = (
        'listen: ["127.0.0.1:53"]\ncontrol:\nlimits:\nzones:\n  example.com:\n    file: a.zone\n    dnssec:\n'
    )
    cfg = parse_config(text, str(tmp_path / "hp.yaml"))
    zone = cfg.zones[dns.name.from_text("example.com.")]
    assert zone.dnssec is None and cfg.limits == Limits()
    assert cfg.control == str(tmp_path / "var" / "hpctl.sock")


def test_dnssec_propagation_delay(tmp_path):
    def dnssec(spec: str) -> Dnssec:
        text = f'listen: ["127.0.0.1:53"]\nzones:\n  example.com: {{file: a, dnssec: {spec}}}\n'
        return parse_config(text, str(tmp_path / "hp.yaml")).zones[dns.name.from_text("example.com.")].dnssec

    assert dnssec("{}").propagation_delay == 3600  # Knot's default
    short = dnssec("{signature_validity: 40, refresh: 20, propagation_delay: 0}")  # a loopback lab
    assert (short.signature_validity, short.refresh, short.propagation_delay) == (40, 20, 0)
    assert dnssec("{refresh: 2h, signature_validity: 3h, propagation_delay: 2h}").propagation_delay == 7200


def test_zone_input_limits_and_include_roots(tmp_path):
    text = ('listen: ["127.0.0.1:53"]\ninclude_roots: [common, /etc/dns/shared/]\n'
            "limits: {max_zone_file_bytes: 1048576, max_zone_records: 5000}\n")
    cfg = parse_config(text, str(tmp_path / "hp.yaml"))
    assert cfg.include_roots == (str(tmp_path / "common"), "/etc/dns/shared")  # resolved like every path
    assert (cfg.limits.max_zone_file_bytes, cfg.limits.max_zone_records) == (1048576, 5000)
    default = parse_config('listen: ["127.0.0.1:53"]\n', str(tmp_path / "hp.yaml"))
    assert default.include_roots == ()
    assert (default.limits.max_zone_file_bytes, default.limits.max_zone_records) == (1024**3, 10_000_000)


def test_parse_config_resolves_against_given_path(tmp_path):
    cfg = parse_config('listen: ["127.0.0.1:53"]\ndata_dir: d\n', str(tmp_path / "x" / "hp.yaml"))
    assert cfg.data_dir == str(tmp_path / "x" / "d")


def test_merge_keys_share_settings(tmp_path):
    text = textwrap.dedent("""\
        listen: ["127.0.0.1:53"]
        defaults: &defaults {serial: increment}
        """)
    # Unknown top-level keys are rejected even when they only hold an anchor...
    with pytest.raises(ConfigError) as e:
        parse_config(text, "hp.yaml")
    assert e.value.key_path == "defaults"
    # ...but merges inside a zone work, and a key may override a merged one.
    text = textwrap.dedent("""\
        listen: ["127.0.0.1:53"]
        zones:
          a.example: &z {file: a.zone, serial: increment}
          b.example: {<<: *z, file: b.zone}
        """)
    cfg = parse_config(text, str(tmp_path / "hp.yaml"))
    b = cfg.zones[dns.name.from_text("b.example.")]
    assert b.serial == "increment" and b.file == str(tmp_path / "b.zone")


def test_shipped_example_config(repo_root):
    cfg = load_config(str(repo_root / "conf" / "hiddenprimary.yaml"))
    assert cfg.listen == (("127.0.0.1", 5300),)
    assert cfg.control == str(repo_root / "var" / "hpctl.sock")
    assert cfg.data_dir == str(repo_root / "var")
    assert len(cfg.tsig["xfr-key"].secret) == 32
    assert cfg.secondaries["lab"].key == "xfr-key"
    assert cfg.secondaries["lab"].notify == (("127.0.0.2", 5301),)
    com, net = dns.name.from_text("example.com."), dns.name.from_text("example.net.")
    assert list(cfg.zones) == [com, net]
    assert cfg.zones[com].file == str(repo_root / "zones" / "example.com.zone")
    assert cfg.zones[com].secondaries == ("lab",) and cfg.zones[com].serial == "keep"
    assert cfg.zones[net].serial == "increment"
    assert cfg.zones[com].dnssec.algorithm == "ECDSAP256SHA256" and cfg.zones[com].dnssec.denial == "nsec"
    assert cfg.zones[net].dnssec is None


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert "cannot read config:" in str(e.value)
    assert e.value.location == Location(path, 0)
    assert e.value.exit_code == EXIT_USAGE


def test_not_utf8(tmp_path):
    path = tmp_path / "hp.yaml"
    path.write_bytes(b'listen: ["127.0.0.1:53"]\ncontrol: "\xff"\n')
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert "not valid UTF-8" in str(e.value) and e.value.location == Location(str(path), 2)


# Each bad config marks the line the error must point at with `# <-`.
L = 'listen: ["127.0.0.1:53"]\n'
K = f'tsig:\n  k1: {{algorithm: hmac-sha256, secret: "{SECRET}"}}\n'
S = "secondaries:\n  lab:\n    allow: [127.0.0.2/32]\n"
BAD = [
    # (id, yaml, key path, phrase)
    ("yaml-syntax", L + "zones:\n  a.example: {file: x\n  b.example: y  # <-\n", "", "invalid YAML"),
    ("yaml-tab", L + "zones:\n\ta.example: {}  # <-\n", "", "invalid YAML"),
    ("not-a-mapping", "- listen  # <-\n", "", "must be a mapping"),
    ("empty-file", "", "", "config is empty"),
    (
        "unknown-top-key",
        L + "zone:  # <-\n  a.example: {file: a}\n",
        "zone",
        "unknown key 'zone' (did you mean 'zones'?)",
    ),
    (
        "unknown-zone-key",
        L + "zones:\n  a.example:\n    file: a\n    serail: keep  # <-\n",
        "zones.a.example.serail",
        "allowed keys: file, secondaries, serial, dnssec, journal",
    ),
    (
        "unknown-dnssec-key",
        L + "zones:\n  a.example:\n    file: a\n    dnssec:\n      nsec3param: x  # <-\n",
        "zones.a.example.dnssec.nsec3param",
        "unknown key 'nsec3param'",
    ),
    (
        "unknown-secondary-key",
        L + "secondaries:\n  lab:\n    allow: [127.0.0.2/32]\n    alow: []  # <-\n",
        "secondaries.lab.alow",
        "unknown key 'alow' (did you mean 'allow'?)",
    ),
    (
        "duplicate-key",
        L + "control: a  # \ncontrol: b  # <-\n",
        "control",
        "duplicate key 'control' (first defined on line 2)",
    ),
    ("missing-listen", "control: x  # <-\n", "", "missing required key 'listen'"),
    ("listen-string", 'listen: "127.0.0.1:53"  # <-\n', "listen", "must be a list of addresses"),
    ("listen-empty", "listen: []  # <-\n", "listen", "at least one address"),
    (
        "listen-no-port",
        'listen:\n  - "127.0.0.1:53"\n  - "127.0.0.2"  # <-\n',
        "listen[1]",
        "a port is required",
    ),
    ("listen-hostname", 'listen: ["localhost:53"]  # <-\n', "listen[0]", "is not an IP address"),
    ("listen-bad-port", 'listen: ["127.0.0.1:65536"]  # <-\n', "listen[0]", "port must be 0..65535"),
    (
        "listen-duplicate",
        'listen:\n  - "127.0.0.1:53"\n  - "[::1]:53"\n  - "127.0.0.1:53"  # <-\n',
        "listen[2]",
        "duplicate listen address '127.0.0.1:53' (same as listen[0])",
    ),
    (
        "listen-duplicate-v6-normalised",
        'listen:\n  - "[::1]:53"\n  - "[0:0::0:1]:53"  # <-\n',
        "listen[1]",
        "duplicate listen address",
    ),
    (
        "listen-v4-in-brackets",
        'listen: ["[127.0.0.1]:53"]  # <-\n',
        "listen[0]",
        "brackets are only for IPv6",
    ),
    ("log-level", L + "log_level: loud  # <-\n", "log_level", "unknown log level 'loud'"),
    (
        "limits-type",
        L + "limits:\n  tcp_clients_total: lots  # <-\n",
        "limits.tcp_clients_total",
        "must be a whole number",
    ),
    (
        "limits-per-ip",
        L + "limits:\n  tcp_clients_total: 10\n  tcp_clients_per_ip: 20  # <-\n",
        "limits.tcp_clients_per_ip",
        "must not exceed tcp_clients_total",
    ),
    (
        "limits-reserved-all",
        L + "limits:\n  tcp_clients_total: 10\n  tcp_clients_per_ip: 5\n  tcp_clients_reserved: 10  # <-\n",
        "limits.tcp_clients_reserved",
        "must be less than tcp_clients_total (10), or no other client could connect",
    ),
    (
        "limits-metrics-clients",
        L + "limits:\n  metrics_clients: 0  # <-\n",
        "limits.metrics_clients",
        "must be at least 1",
    ),
    (
        "limits-payload",
        L + "limits: {udp_max_payload: 100}  # <-\n",
        "limits.udp_max_payload",
        "between 512 and 65535",
    ),
    (
        "tsig-bad-base64",
        L + "tsig:\n  k1:\n    algorithm: hmac-sha256\n    secret: 'not base64!'  # <-\n",
        "tsig.k1.secret",
        "not valid base64",
    ),
    (
        "tsig-empty-secret",
        L + "tsig:\n  k1: {algorithm: hmac-sha256, secret: ''}  # <-\n",
        "tsig.k1.secret",
        "must not be empty",
    ),
    (
        "tsig-one-octet-secret",
        L + "tsig:\n  k1: {algorithm: hmac-sha256, secret: 'AQ=='}  # <-\n",
        "tsig.k1.secret",
        "is 1 octets; a TSIG secret must be at least 16",
    ),
    (
        "tsig-15-octet-secret",
        L + f"tsig:\n  k1:\n    algorithm: hmac-md5\n    secret: '{base64.b64encode(b'x' * 15).decode()}'  # <-\n",
        "tsig.k1.secret",
        "is 15 octets; a TSIG secret must be at least 16 (RFC 8945 6 recommends 16 for hmac-md5",
    ),
    (
        "tsig-secret-number",
        L + "tsig:\n  k1:\n    algorithm: hmac-sha256\n    secret: 1234  # <-\n",
        "tsig.k1.secret",
        "must be a base64 string",
    ),
    (
        "tsig-unknown-algorithm",
        L + f'tsig:\n  k1:\n    algorithm: hmac-sha3  # <-\n    secret: "{SECRET}"\n',
        "tsig.k1.algorithm",
        "unknown TSIG algorithm 'hmac-sha3'",
    ),
    (
        "tsig-missing-secret",
        L + "tsig:\n  k1:  # <-\n    algorithm: hmac-sha256\n",
        "tsig.k1",
        "missing required key 'secret'",
    ),
    (
        "tsig-bad-name",
        L + f'tsig:\n  "bad..name": {{algorithm: hmac-sha256, secret: "{SECRET}"}}  # <-\n',
        "tsig.bad..name",
        "invalid TSIG key name",
    ),
    (
        "allow-not-list",
        L + "secondaries:\n  lab:\n    allow: 127.0.0.2/32  # <-\n",
        "secondaries.lab.allow",
        "must be a list of address prefixes",
    ),
    (
        "allow-host-bits",
        L + "secondaries:\n  lab:\n    allow:\n      - 10.0.0.0/8\n      - 127.0.0.1/24  # <-\n",
        "secondaries.lab.allow[1]",
        "has host bits set (did you mean 127.0.0.0/24 or 127.0.0.1/32?)",
    ),
    (
        "allow-bad-prefix",
        L + "secondaries:\n  lab:\n    allow: [10.0.0.0/33]  # <-\n",
        "secondaries.lab.allow[0]",
        "invalid address prefix",
    ),
    (
        "secondary-undefined-key",
        L + K + "secondaries:\n  lab:\n    allow: [127.0.0.2/32]\n    key: k2  # <-\n",
        "secondaries.lab.key",
        "TSIG key 'k2' is not defined under 'tsig' (defined: k1)",
    ),
    ("secondary-useless", L + "secondaries:\n  lab: {key: null}  # <-\n", "secondaries.lab", "needs 'allow'"),
    (
        "notify-hostname",
        L + "secondaries:\n  lab:\n    notify: [ns1.example.net]  # <-\n",
        "secondaries.lab.notify[0]",
        "is not an IP address",
    ),
    (
        "notify-port-0",
        L + 'secondaries:\n  lab:\n    notify: ["192.0.2.1:0"]  # <-\n',
        "secondaries.lab.notify[0]",
        "port must be 1..65535",
    ),
    (
        "zone-undefined-secondary",
        L + S + "zones:\n  example.com:\n    file: a\n    secondaries:\n      - lab\n      - lbb  # <-\n",
        "zones.example.com.secondaries[1]",
        "secondary 'lbb' is not defined under 'secondaries' (defined: lab)",
    ),
    (
        "zone-secondaries-string",
        L + S + "zones:\n  example.com:\n    file: a\n    secondaries: lab  # <-\n",
        "zones.example.com.secondaries",
        "must be a list of secondary names",
    ),
    (
        "zone-missing-file",
        L + "zones:\n  example.com:  # <-\n    serial: keep\n",
        "zones.example.com",
        "missing required key 'file'",
    ),
    (
        "zone-file-not-string",
        L + "zones:\n  example.com:\n    file: [a, b]  # <-\n",
        "zones.example.com.file",
        "must be a path (a string)",
    ),
    (
        "zone-file-empty",
        L + "zones:\n  example.com: {file: ''}  # <-\n",
        "zones.example.com.file",
        "must not be empty",
    ),
    (
        "zone-bad-name",
        L + "zones:\n  exa mple.com:  # <-\n    file: a\n",
        "zones.exa mple.com",
        "invalid zone name",
    ),
    (
        "zone-empty-label",
        L + "zones:\n  example..com:  # <-\n    file: a\n",
        "zones.example..com",
        "invalid zone name",
    ),
    (
        "zone-name-not-string",
        L + "zones:\n  yes:  # <-\n    file: a\n",
        "zones.True",
        "zone name must be a string",
    ),
    (
        "zone-same-name",
        L + "zones:\n  example.com: {file: a}\n  EXAMPLE.com.: {file: b}  # <-\n",
        "zones.EXAMPLE.com.",
        "same zone as 'example.com'",
    ),
    (
        "zone-not-mapping",
        L + "zones:\n  example.com: a.zone  # <-\n",
        "zones.example.com",
        "must be a mapping",
    ),
    (
        "bad-serial",
        L + "zones:\n  example.com:\n    file: a\n    serial: bump  # <-\n",
        "zones.example.com.serial",
        "unknown serial policy 'bump'; expected one of keep, increment, unixtime, dateserial",
    ),
    (
        "dnssec-bad-algorithm",
        L + "zones:\n  example.com:\n    file: a\n    dnssec:\n      algorithm: RSASHA1  # <-\n",
        "zones.example.com.dnssec.algorithm",
        "unknown DNSSEC algorithm 'RSASHA1'",
    ),
    (
        "dnssec-bad-denial",
        L + "zones:\n  example.com:\n    file: a\n    dnssec: {denial: nsec5}  # <-\n",
        "zones.example.com.dnssec.denial",
        "expected one of nsec, nsec3",
    ),
    (
        "dnssec-not-mapping",
        L + "zones:\n  example.com:\n    file: a\n    dnssec: yes  # <-\n",
        "zones.example.com.dnssec",
        "must be a mapping",
    ),
    (
        "dnssec-bad-duration",
        L + "zones:\n  example.com:\n    file: a\n    dnssec: {signature_validity: 2 weeks}  # <-\n",
        "zones.example.com.dnssec.signature_validity",
        "invalid duration",
    ),
    (
        "dnssec-refresh-too-long",
        L
        + "zones:\n  example.com:\n    file: a\n    dnssec:\n      signature_validity: 7d\n      refresh: 1w  # <-\n",
        "zones.example.com.dnssec.refresh",
        "must be shorter than signature_validity",
    ),
    (
        "dnssec-validity-under-default-refresh",
        L + "zones:\n  example.com:\n    file: a\n    dnssec:\n      signature_validity: 3d  # <-\n",
        "zones.example.com.dnssec.signature_validity",
        "must be shorter than signature_validity",
    ),
    (
        "dnssec-refresh-under-propagation-delay",
        L + "zones:\n  example.com:\n    file: a\n    dnssec:\n      signature_validity: 2h\n"
        "      refresh: 30m  # <-\n",
        "zones.example.com.dnssec.refresh",
        "refresh (1800s) must be at least propagation_delay (3600s) plus the zone's largest TTL",
    ),
    (
        "dnssec-propagation-delay-over-default-refresh",
        L + "zones:\n  example.com:\n    file: a\n    dnssec:\n      propagation_delay: 8d  # <-\n",
        "zones.example.com.dnssec.propagation_delay",
        "refresh (604800s) must be at least propagation_delay (691200s)",
    ),
    (
        "dnssec-propagation-delay-negative",
        L + "zones:\n  example.com:\n    file: a\n    dnssec:\n      propagation_delay: -5  # <-\n",
        "zones.example.com.dnssec.propagation_delay",
        "must be a duration, not -5",
    ),
    (
        "dnssec-opt-out-needs-nsec3",
        L + "zones:\n  example.com:\n    file: a\n    dnssec:\n      nsec3_opt_out: true  # <-\n",
        "zones.example.com.dnssec.nsec3_opt_out",
        "needs denial: nsec3",
    ),
    (
        "dnssec-bool",
        L + "zones:\n  example.com:\n    file: a\n    dnssec:\n      ksk_zsk: 1  # <-\n",
        "zones.example.com.dnssec.ksk_zsk",
        "must be true or false",
    ),
    (
        "journal-zero",
        L + "zones:\n  example.com:\n    file: a\n    journal:\n      max_entries: 0  # <-\n",
        "zones.example.com.journal.max_entries",
        "must be at least 1",
    ),
    (
        "control-too-long",
        L + "control: " + "s" * 120 + ".sock  # <-\n",
        "control",
        "too long for a Unix socket",
    ),
    ("yaml-two-documents", L + "---  # <-\nlisten: []\n", "", "expected a single document"),
    (
        "yaml-python-tag",
        "listen: !!python/object:os.system x  # <-\n",
        "",
        "could not determine a constructor",
    ),
    ("yaml-control-char", L + 'control: "a\x07"  # <-\n', "", "characters are not allowed"),
    ("yaml-recursive-alias", "listen: &a [*a]  # <-\n", "", "recursive"),
    ("top-key-not-string", L + "1: x  # <-\n", "1", "key must be a string, not a number (1)"),
    (
        "listen-wildcard-overlap",
        'listen:\n  - "0.0.0.0:53"\n  - "127.0.0.1:53"  # <-\n',
        "listen[1]",
        "overlaps listen[0]",
    ),
    ("listen-number", "listen: [5300]  # <-\n", "listen[0]", "must be an address like"),
    (
        "allow-duplicate",
        L + "secondaries:\n  s: {allow: [10.0.0.0/8, 10.0.0.0/8]}  # <-\n",
        "secondaries.s.allow[1]",
        "duplicate prefix '10.0.0.0/8' (same as secondaries.s.allow[0])",
    ),
    (
        "notify-duplicate-after-default-port",
        L + 'secondaries:\n  s:\n    notify:\n      - 192.0.2.1\n      - "192.0.2.1:53"  # <-\n',
        "secondaries.s.notify[1]",
        "duplicate NOTIFY target",
    ),
    (
        "zone-secondary-twice",
        L
        + "secondaries: {s: {notify: [192.0.2.1]}}\nzones:\n  a.example: {file: a, secondaries: [s, s]}  # <-\n",
        "zones.a.example.secondaries[1]",
        "listed twice",
    ),
    (
        "tsig-same-name",
        L + f'tsig:\n  K1: {{algorithm: hmac-sha1, secret: "{SECRET}"}}\n'
        f'  k1.: {{algorithm: hmac-sha1, secret: "{SECRET}"}}  # <-\n',
        "tsig.k1.",
        "same name as 'K1'",
    ),
    (
        "zone-duplicate-key-after-merge",
        L
        + "zones:\n  a.example: {file: a, <<: {serial: keep}, serial: keep,\n              serial: increment}  # <-\n",
        "zones.a.example.serial",
        "duplicate key 'serial' (first defined on line 3)",
    ),
    ("zone-null", L + "zones:\n  a.example:  # <-\n", "zones.a.example", "not empty (null)"),
    (
        "zone-wildcard-name",
        L + "zones:\n  '*.example': {file: a}  # <-\n",
        "zones.*.example",
        "invalid zone name",
    ),
    (
        "api-unknown-kind",
        L + "secondaries:\n  r53:\n    api: route54  # <-\n",
        "secondaries.r53.api",
        "unknown API provider 'route54'; expected one of route53",
    ),
    (
        "api-with-allow",
        L + "secondaries:\n  r53:\n    api: route53\n    allow: [10.0.0.0/8]  # <-\n",
        "secondaries.r53.allow",
        "an API secondary takes no 'allow'",
    ),
    (
        "api-with-notify",
        L + "secondaries:\n  r53:\n    notify: [192.0.2.1]  # <-\n    api: route53\n",
        "secondaries.r53.notify",
        "an API secondary takes no 'notify'",
    ),
    (
        "api-unknown-key",
        L + "secondaries:\n  r53:\n    api: route53\n    hosted_zone: {}  # <-\n",
        "secondaries.r53.hosted_zone",
        "(did you mean 'hosted_zones'?)",
    ),
    (
        "api-bad-zone-id",
        L + "secondaries:\n  r53:\n    api: route53\n    hosted_zones:\n      example.com: z-12  # <-\n",
        "secondaries.r53.hosted_zones.example.com",
        "invalid hosted zone ID 'z-12'",
    ),
    (
        "api-zone-id-not-string",
        L + "secondaries:\n  r53:\n    api: route53\n    hosted_zones:\n      example.com: [Z1]  # <-\n",
        "secondaries.r53.hosted_zones.example.com",
        "must be a hosted zone ID like Z0123456789ABC (a string)",
    ),
    (
        "api-secondary-of-a-signed-zone",
        L + "secondaries:\n  r53: {api: route53}\nzones:\n  example.com:\n    file: a\n    secondaries: [r53]\n"
            "    dnssec: {}  # <-\n",
        "zones.example.com.dnssec",
        "a zone we sign cannot go to API secondary 'r53'",
    ),
    (
        "api-hosted-zone-not-fed",
        L + "secondaries:\n  r53:\n    api: route53\n    hosted_zones:\n      example.org: Z1  # <-\n"
        "zones:\n  example.com: {file: a, secondaries: [r53]}\n",
        "secondaries.r53.hosted_zones.example.org",
        "zone 'example.org' does not list secondary 'r53' under its 'secondaries'",
    ),
    (
        "api-bad-endpoint",
        L + "secondaries:\n  r53:\n    api: route53\n    endpoint_url: localhost:5000  # <-\n",
        "secondaries.r53.endpoint_url",
        "invalid URL 'localhost:5000'",
    ),
    (
        "api-bad-region",
        L + "secondaries:\n  r53:\n    api: route53\n    region: US East  # <-\n",
        "secondaries.r53.region",
        "invalid region 'US East'",
    ),
    (
        "api-bad-retry",
        L + "secondaries:\n  r53:\n    api: route53\n    retry_s: [5, -1]  # <-\n",
        "secondaries.r53.retry_s[1]",
        "positive number of seconds",
    ),
    (
        "limits-nan",
        L + "limits: {reload_timeout_s: .nan}  # <-\n",
        "limits.reload_timeout_s",
        "positive number",
    ),
    (
        "limits-zone-file-bytes-zero",
        L + "limits:\n  max_zone_file_bytes: 0  # <-\n",
        "limits.max_zone_file_bytes",
        "must be at least 1",
    ),
    (
        "limits-zone-records-text",
        L + "limits:\n  max_zone_records: lots  # <-\n",
        "limits.max_zone_records",
        "must be a whole number",
    ),
    (
        "include-roots-not-list",
        L + "include_roots: /etc/dns  # <-\n",
        "include_roots",
        "must be a list of folders",
    ),
    (
        "include-roots-not-string",
        L + "include_roots:\n  - 5  # <-\n",
        "include_roots[0]",
        "must be a path (a string)",
    ),
    (
        "catalog-not-defined",
        L + "catalogs:\n  cat.invalid:\nzones:\n  example.com:\n    file: z\n    catalog: other.invalid  # <-\n",
        "zones.example.com.catalog",
        "catalog 'other.invalid' is not defined under 'catalogs' (defined: cat.invalid)",
    ),
    (
        "catalog-is-also-a-zone",
        L + "catalogs:\n  cat.invalid:\nzones:\n  Cat.Invalid.:  # <-\n    file: z\n",
        "zones.Cat.Invalid.",
        "is also a catalog (catalogs.cat.invalid, line 3)",
    ),
    (
        "catalog-unknown-key",
        L + "catalogs:\n  cat.invalid:\n    file: x  # <-\n",
        "catalogs.cat.invalid.file",
        "unknown key",
    ),
    (
        "catalog-api-secondary",
        L + "secondaries:\n  r53: {api: route53}\ncatalogs:\n  cat.invalid:\n    secondaries: [r53]  # <-\n",
        "catalogs.cat.invalid.secondaries",
        "not to API secondary 'r53'",
    ),
    (
        "include-roots-duplicate",
        L + "include_roots: [common, ./common]  # <-\n",
        "include_roots[1]",
        "duplicate folder './common' (same as include_roots[0])",
    ),
]


@pytest.mark.parametrize("text, key_path, phrase", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_config(tmp_path, text, key_path, phrase):
    lines = text.splitlines()
    marked = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith("# <-")]
    assert len(marked) <= 1
    expected_line = marked[0] if marked else 0
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as e:
        load_config(path)
    err = e.value
    message = str(err)
    assert err.key_path == key_path
    assert err.location == Location(path, expected_line)
    assert phrase in message
    assert "\n" not in message
    assert message.startswith(f"{path}:{expected_line}:" if expected_line else f"{path}:")
    if key_path:
        assert f" {key_path}: " in message
    assert err.exit_code == 2


@pytest.mark.parametrize("algorithm,size,warned", [
    ("hmac-sha256", 16, True), ("hmac-sha256", 31, True), ("hmac-sha256", 32, False),
    ("HMAC-SHA512", 32, True), ("hmac-sha512", 64, False), ("hmac-md5", 16, False), ("hmac-sha1", 20, False),
])
def test_tsig_secret_shorter_than_the_hmac_output_is_a_warning(tmp_path, algorithm, size, warned):
    # RFC 8945 6: at least the HMAC's output size. Issue 11 item 13: before, any length was silent.
    secret = base64.b64encode(b"s" * size).decode()
    path = write(tmp_path, L + f'tsig:\n  k1:\n    algorithm: {algorithm}\n    secret: "{secret}"\n')
    cfg = load_config(path)
    assert len(cfg.tsig["k1"].secret) == size
    if not warned:
        assert cfg.warnings == ()
        return
    (warning,) = cfg.warnings
    wanted = {"hmac-sha256": 32, "hmac-sha512": 64}[algorithm.lower()]
    assert warning == (f"{path}:5: tsig.k1.secret: is {size} octets, shorter than the {wanted}-octet output of "
                       f"{algorithm.lower()} (RFC 8945 6 recommends at least that; "
                       f"make one with: openssl rand -base64 {wanted})")


def test_shipped_configs_have_no_warnings(repo_root):
    root = repo_root / "conf"
    for path in [root / "hiddenprimary.yaml", *sorted((root / "examples").glob("*.yaml"))]:
        try:
            cfg = load_config(str(path))
        except ConfigError as e:  # examples may name files that are not there; never a TSIG error
            assert "tsig" not in e.key_path, e
            continue
        assert cfg.warnings == (), path


def test_error_message_shape(tmp_path):
    path = write(tmp_path, L + "zones:\n  example.com:\n    file: a\n    secondaries: [lab]\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value) == (
        f"{path}:5: zones.example.com.secondaries[0]: "
        "secondary 'lab' is not defined under 'secondaries' (defined: none)"
    )


def test_api_secondary(tmp_path):
    path = write(tmp_path, L + (
        "secondaries:\n"
        "  lab: {allow: [127.0.0.2/32]}\n"
        "  r53:\n"
        "    api: Route53\n"
        "    hosted_zones: {Example.COM.: /hostedzone/Z0123456789ABC}\n"
        "    endpoint_url: http://127.0.0.1:5000\n"
        "    region: eu-west-1\n"
        "    retry_s: [1, 2.5]\n"
        "  r53b: {api: route53}\n"
        "zones:\n"
        "  example.com: {file: a, secondaries: [lab, r53, r53b]}\n"
        "  example.net: {file: b, secondaries: [r53]}\n"))
    cfg = load_config(path)
    com, net = dns.name.from_text("example.com"), dns.name.from_text("example.net")
    r53 = cfg.secondaries["r53"]
    assert (r53.allow, r53.key, r53.notify) == ((), None, ())
    assert r53.api == ApiSecondary("route53", ((com, "Z0123456789ABC"),), "http://127.0.0.1:5000", "eu-west-1",
                                   (1.0, 2.5))
    assert r53.api.hosted_zone(com) == "Z0123456789ABC" and r53.api.hosted_zone(net) is None  # looked up by name
    assert cfg.secondaries["r53b"].api == ApiSecondary("route53")
    assert cfg.secondaries["lab"].api is None
    assert cfg.zones[com].secondaries == ("lab", "r53", "r53b")


def test_hpctl_reads_only_the_control_socket_and_the_reload_timeout(tmp_path):
    """`load_control`: what hpctl needs, checked as load_config checks it; an error elsewhere in
    the file is the daemon's to find (a reload refuses the file whole, with file:line)."""
    from hiddenprimary.config.parse import load_control

    path = write(tmp_path, 'listen: ["127.0.0.1:53"]\ncontrol: run/x.sock\nlimits: {reload_timeout_s: 30}\n'
                           "zones:\n  example.com:\n    file: z\n    serial: sometimes\n")
    assert load_control(path) == (os.path.join(os.path.dirname(path), "run", "x.sock"), 30.0)
    with pytest.raises(ConfigError, match="serial policy"):
        load_config(path)
    bad = write(tmp_path, 'listen: ["127.0.0.1:53"]\nlimits: {reload_timeout_s: -1}\n')
    with pytest.raises(ConfigError, match="limits.reload_timeout_s"):
        load_control(bad)
    default = write(tmp_path, 'listen: ["127.0.0.1:53"]\n')
    assert load_control(default)[0] == os.path.join(os.path.dirname(default), "var", "hpctl.sock")
