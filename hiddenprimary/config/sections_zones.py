"""The `zones` section: per zone its file, secondaries, serial policy, `dnssec` and `journal`
options. One function per key, reading through a `Reader`."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import dns.name

from hiddenprimary.config.model import (
    CATALOG_SERIAL,
    CATALOGS_DIR,
    DEFAULT_JOURNAL_MAX_BYTES,
    DEFAULT_JOURNAL_MAX_ENTRIES,
    DEFAULT_SERIAL,
    DENIAL_METHODS,
    DNSSEC_ALGORITHMS,
    SERIAL_POLICIES,
    Catalog,
    Dnssec,
    Secondary,
    ZoneConfig,
)
from hiddenprimary.config.reader import Reader, join_key, kind, show
from hiddenprimary.config.yaml_lines import Map

ZONE_KEYS = ("file", "secondaries", "serial", "dnssec", "journal", "catalog")
CATALOG_KEYS = ("secondaries", "journal")
DNSSEC_KEYS = ("algorithm", "denial", "signature_validity", "refresh", "propagation_delay", "ksk_zsk",
               "nsec3_opt_out")


def catalogs(r: Reader, top: Map, secondaries: dict[str, Secondary],
             data_dir: str) -> dict[dns.name.Name, tuple[ZoneConfig, str, int]]:
    """The `catalogs` section: per catalog zone the ZoneConfig it is served with (its file is
    written under data_dir from the members), its spelling and line (for errors about it)."""
    value, line = r.get(top, "catalogs")
    if value is None:
        return {}
    catalog_map = r.mapping(value, "catalogs", line, "a mapping of catalog zone name to {secondaries: [...]}")
    r.free_keys(catalog_map, "catalogs", "catalog zone name")
    result: dict[dns.name.Name, tuple[ZoneConfig, str, int]] = {}
    for raw_name, spec in catalog_map.items():
        key_path = join_key("catalogs", raw_name)
        key_line = catalog_map.key_lines[raw_name]
        name = r.dns_name(raw_name, key_path, key_line, "catalog zone name")
        if name in result:
            r.fail(key_path, key_line, f"catalog {show(raw_name)} is the same zone as {show(result[name][1])}")
        m = r.mapping(spec if spec is not None else _empty_map(key_line), key_path,
                      catalog_map.value_lines[raw_name], "a mapping like {secondaries: [lab]}")
        r.keys(m, key_path, CATALOG_KEYS, owner_line=key_line)
        refs = _zone_secondaries(r, m, key_path, secondaries)
        api_refs = [ref for ref in refs if secondaries[ref].api is not None]
        if api_refs:
            r.fail(f"{key_path}.secondaries", r.get(m, "secondaries")[1],
                   f"a catalog zone goes to secondaries that transfer zones, not to API secondary {api_refs[0]!r}")
        max_entries, max_bytes = _journal(r, m, key_path)
        file_name = name.to_text(omit_final_dot=True).lower() or "root-zone"
        zone_cfg = ZoneConfig(name=name, file=os.path.join(data_dir, CATALOGS_DIR, f"{file_name}.zone"),
                              secondaries=refs, serial=CATALOG_SERIAL, dnssec=None,
                              journal_max_entries=max_entries, journal_max_bytes=max_bytes)
        result[name] = (zone_cfg, raw_name, key_line)
    return result


def _empty_map(line: int) -> Map:
    """`name:` with nothing after it: the same as `name: {}`."""
    m = Map()
    m.line, m.key_lines, m.value_lines, m.duplicates = line, {}, {}, []
    return m


def with_catalogs(zones: dict[dns.name.Name, ZoneConfig], specs: dict[dns.name.Name, tuple[ZoneConfig, str, int]]
                  ) -> tuple[dict[dns.name.Name, ZoneConfig], dict[dns.name.Name, Catalog]]:
    """The zones with the catalog zones after them, and each catalog's members."""
    members: dict[dns.name.Name, list[dns.name.Name]] = {name: [] for name in specs}
    for zone_cfg in zones.values():
        if zone_cfg.catalog is not None:
            members[zone_cfg.catalog].append(zone_cfg.name)
    all_zones = {**zones, **{name: spec[0] for name, spec in specs.items()}}
    return all_zones, {name: Catalog(name, tuple(found)) for name, found in members.items()}


def zones(r: Reader, top: Map, secondaries: dict[str, Secondary],
          catalog_specs: dict[dns.name.Name, tuple[ZoneConfig, str, int]] | None = None,
          ) -> dict[dns.name.Name, ZoneConfig]:
    value, line = r.get(top, "zones")
    if value is None:
        return {}
    zone_map = r.mapping(value, "zones", line, "a mapping of zone name to {file, secondaries, ...}")
    r.free_keys(zone_map, "zones", "zone name")
    result: dict[dns.name.Name, ZoneConfig] = {}
    first_seen: dict[dns.name.Name, str] = {}
    for raw_name, spec in zone_map.items():
        key_path = join_key("zones", raw_name)
        key_line = zone_map.key_lines[raw_name]
        name = r.dns_name(raw_name, key_path, key_line, "zone name")
        if name in result:
            r.fail(
                key_path,
                key_line,
                f"zone {show(raw_name)} is the same zone as {show(first_seen[name])}",
            )
        if name in (catalog_specs or {}):
            r.fail(key_path, key_line, f"zone {show(raw_name)} is also a catalog (catalogs.{catalog_specs[name][1]}, "
                                       f"line {catalog_specs[name][2]}): a catalog zone is made from the config, "
                                       "not from a file")
        m = r.mapping(spec, key_path, zone_map.value_lines[raw_name], "a mapping with at least 'file'")
        r.keys(m, key_path, ZONE_KEYS, required=("file",), owner_line=key_line)
        zone_cfg = _zone(r, m, key_path, name, secondaries)
        result[name] = _with_catalog(r, m, key_path, zone_cfg, catalog_specs or {})
        first_seen[name] = raw_name
    return result


def _zone(r: Reader, m: Map, key_path: str, name: dns.name.Name,
          secondaries: dict[str, Secondary]) -> ZoneConfig:
    file_value, file_line = r.get(m, "file")
    file = r.file_path(file_value, f"{key_path}.file", file_line)

    serial = DEFAULT_SERIAL
    serial_value, serial_line = r.get(m, "serial")
    if serial_value is not None:
        serial = r.choice(serial_value, f"{key_path}.serial", serial_line, SERIAL_POLICIES, "serial policy")

    refs = _zone_secondaries(r, m, key_path, secondaries)
    dnssec = _dnssec(r, m, key_path)
    api_refs = [ref for ref in refs if secondaries[ref].api is not None]
    if dnssec is not None and api_refs:
        # Route 53 (and the like) cannot publish our DNSKEY and RRSIGs: with our DS at the
        # parent, its answers fail validation whether it serves the zone unsigned or signed.
        r.fail(f"{key_path}.dnssec", r.get(m, "dnssec")[1],
               f"a zone we sign cannot go to API secondary {api_refs[0]!r}: it cannot serve our "
               "DNSKEY and signatures (no multi-signer, RFC 8901), so validating resolvers would "
               "reject its answers; remove dnssec: or that secondary")
    max_entries, max_bytes = _journal(r, m, key_path)
    return ZoneConfig(
        name=name,
        file=file,
        secondaries=refs,
        serial=serial,
        dnssec=dnssec,
        journal_max_entries=max_entries,
        journal_max_bytes=max_bytes,
    )


def _with_catalog(r: Reader, m: Map, key_path: str, zone_cfg: ZoneConfig,
                  catalog_specs: dict[dns.name.Name, tuple[ZoneConfig, str, int]]) -> ZoneConfig:
    value, line = r.get(m, "catalog")
    if value is None:
        return zone_cfg
    if not isinstance(value, str):
        r.fail(f"{key_path}.catalog", line, f"must be a catalog zone name, not {kind(value)}")
    name = r.dns_name(value, f"{key_path}.catalog", line, "catalog zone name")
    if name not in catalog_specs:
        defined = ", ".join(spec[1] for spec in catalog_specs.values()) or "none"
        r.fail(f"{key_path}.catalog", line,
               f"catalog {show(value)} is not defined under 'catalogs' (defined: {defined})")
    return dataclasses.replace(zone_cfg, catalog=name)


def _zone_secondaries(r: Reader, m: Map, base: str, secondaries: dict[str, Secondary]) -> tuple[str, ...]:
    value, line = r.get(m, "secondaries")
    if value is None:
        return ()
    key_path = f"{base}.secondaries"
    items = r.seq(value, key_path, line, "secondary names")
    result: list[str] = []
    for i, item in enumerate(items):
        item_path, item_line = f"{key_path}[{i}]", items.item_lines[i]
        if not isinstance(item, str):
            r.fail(item_path, item_line, f"must be a secondary name (a string), not {kind(item)}")
        if item not in secondaries:
            defined = ", ".join(secondaries) if secondaries else "none"
            r.fail(
                item_path,
                item_line,
                f"secondary {show(item)} is not defined under 'secondaries' (defined: {defined})",
            )
        if item in result:
            r.fail(item_path, item_line, f"secondary {show(item)} is listed twice")
        result.append(item)
    return tuple(result)


def _dnssec(r: Reader, m: Map, base: str) -> Dnssec | None:
    value, line = r.get(m, "dnssec")
    if value is None:
        return None
    key_path = f"{base}.dnssec"
    d = r.mapping(value, key_path, line, "a mapping like {algorithm: ECDSAP256SHA256, denial: nsec}")
    r.keys(d, key_path, DNSSEC_KEYS)
    result = Dnssec(**_dnssec_fields(r, d, key_path))
    _check_dnssec_timing(r, d, key_path, result)
    if result.nsec3_opt_out and result.denial != "nsec3":
        r.fail(
            f"{key_path}.nsec3_opt_out",
            d.value_lines["nsec3_opt_out"],
            "nsec3_opt_out needs denial: nsec3",
        )
    return result


def _dnssec_fields(r: Reader, d: Map, key_path: str) -> dict[str, Any]:
    """The Dnssec fields `d` gives, each read on its own; the others keep their defaults."""
    fields: dict[str, Any] = {}
    for key, choices, what in (("algorithm", DNSSEC_ALGORITHMS, "DNSSEC algorithm"),
                               ("denial", DENIAL_METHODS, "denial of existence method")):
        if r.given(d, key):
            fields[key] = r.choice(d[key], f"{key_path}.{key}", d.value_lines[key], choices, what)
    for key in ("signature_validity", "refresh"):
        if r.given(d, key):
            fields[key] = r.duration(d[key], f"{key_path}.{key}", d.value_lines[key])
    if r.given(d, "propagation_delay"):
        fields["propagation_delay"] = r.duration(d["propagation_delay"], f"{key_path}.propagation_delay",
                                                 d.value_lines["propagation_delay"], minimum=0)
    for key in ("ksk_zsk", "nsec3_opt_out"):
        if r.given(d, key):
            fields[key] = r.boolean(d[key], f"{key_path}.{key}", d.value_lines[key])
    return fields


def _check_dnssec_timing(r: Reader, d: Map, key_path: str, result: Dnssec) -> None:
    """`refresh` against `signature_validity` and `propagation_delay`; an error names the key
    that was given (`refresh` if both were)."""
    if result.refresh >= result.signature_validity:
        where = "refresh" if r.given(d, "refresh") else "signature_validity"
        r.fail(
            f"{key_path}.{where}",
            d.value_lines[where],
            f"refresh ({result.refresh}s) must be shorter than signature_validity ({result.signature_validity}s)",
        )
    if result.refresh < result.propagation_delay:
        # A signature is re-signed when `refresh` of its validity is left: that must let the
        # new version reach every secondary and cached copies age out (the zone's largest
        # TTL, checked at each load) before the old one expires (Knot: "rrsig-refresh too low").
        where = "refresh" if r.given(d, "refresh") else "propagation_delay"
        r.fail(
            f"{key_path}.{where}",
            d.value_lines[where],
            f"refresh ({result.refresh}s) must be at least propagation_delay ({result.propagation_delay}s) "
            "plus the zone's largest TTL: signatures are re-signed when refresh is left of their "
            "validity, and the new ones must reach secondaries and caches before the old ones expire",
        )


def _journal(r: Reader, m: Map, base: str) -> tuple[int, int]:
    value, line = r.get(m, "journal")
    if value is None:
        return DEFAULT_JOURNAL_MAX_ENTRIES, DEFAULT_JOURNAL_MAX_BYTES
    key_path = f"{base}.journal"
    j = r.mapping(value, key_path, line, "a mapping like {max_entries: 1000, max_bytes: 67108864}")
    r.keys(j, key_path, ("max_entries", "max_bytes"))
    entries, nbytes = DEFAULT_JOURNAL_MAX_ENTRIES, DEFAULT_JOURNAL_MAX_BYTES
    if r.given(j, "max_entries"):
        entries = r.integer(j["max_entries"], f"{key_path}.max_entries", j.value_lines["max_entries"], 1)
    if r.given(j, "max_bytes"):
        nbytes = r.integer(j["max_bytes"], f"{key_path}.max_bytes", j.value_lines["max_bytes"], 1)
    return entries, nbytes
