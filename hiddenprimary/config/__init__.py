"""YAML config -> frozen dataclasses, fully validated. Tier 1: stdlib, yaml, dns, errors.

Every problem is a ConfigError naming the key path (`zones.example.com.secondaries[1]`) and the
YAML line (`Location(path, line)`) of the offending key or value; the first problem found wins.
Relative paths (control socket, data dir, zone files) resolve against the config file's folder.
Zone files are not opened here: the daemon reports a missing zone file per zone.

The modules: `model` (what a parsed config is), `parse` (`load_config`, `parse_config`),
`yaml_lines` (YAML that remembers line numbers), `reader` (typed reading of one value, with the
error message), `sections`, `sections_secondaries`, `sections_zones` (one function per section).
"""

from hiddenprimary.config.model import (
    API_KINDS,
    DEFAULT_MAX_ZONE_FILE_BYTES,
    DEFAULT_MAX_ZONE_RECORDS,
    TSIG_ALGORITHMS,
    TSIG_DIGEST_SIZES,
    ApiSecondary,
    Config,
    Dnssec,
    IPNetwork,
    Limits,
    Secondary,
    TsigKey,
    ZoneConfig,
)
from hiddenprimary.config.parse import load_config, parse_config

__all__ = [
    "API_KINDS",
    "DEFAULT_MAX_ZONE_FILE_BYTES",
    "DEFAULT_MAX_ZONE_RECORDS",
    "TSIG_ALGORITHMS",
    "TSIG_DIGEST_SIZES",
    "ApiSecondary",
    "Config",
    "Dnssec",
    "IPNetwork",
    "Limits",
    "Secondary",
    "TsigKey",
    "ZoneConfig",
    "load_config",
    "parse_config",
]
