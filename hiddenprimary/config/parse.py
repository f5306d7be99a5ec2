"""The entry points: `load_config` reads a config file, `parse_config` checks its text and
builds the Config, reading the sections in a fixed order (the first problem found wins, and a
later section may refer to an earlier one: zones name secondaries, secondaries name TSIG keys)."""

from __future__ import annotations

import os

from hiddenprimary.config import sections, sections_secondaries, sections_zones
from hiddenprimary.config.model import Config
from hiddenprimary.config.reader import Reader
from hiddenprimary.config.yaml_lines import Doc, load_yaml
from hiddenprimary.errors import ConfigError, Location

TOP_KEYS = ("listen", "control", "data_dir", "log_level", "limits", "tsig", "secondaries", "catalogs", "zones",
            "notify_source", "metrics", "include_roots")


def load_config(path: str) -> Config:
    """Read and validate the config file at `path`. Raises ConfigError."""
    return parse_config(_read(path), path)


def load_config_bytes(path: str, unless: bytes | None = None) -> tuple[Config | None, bytes]:
    """As `load_config`, and the bytes it was read from (the daemon parses the file again only
    when they change): (None, bytes) without parsing when they are `unless`."""
    raw = _read_bytes(path)
    if unless is not None and raw == unless:
        return None, raw
    return parse_config(_decode(raw, path), path), raw


def load_control(path: str) -> tuple[str, float]:
    """What hpctl needs of the config file at `path`, checked as `load_config` checks it: the
    control socket and limits.reload_timeout_s. The rest is not read into objects (hpctl runs at
    every command; a config of 10,000 zones took it a quarter of a second). Raises ConfigError."""
    r = Reader(path)
    doc = load_yaml(_read(path), path, only=("control", "limits"))
    if doc.value is None:
        r.fail("", doc.line, "config is empty; expected a mapping with at least 'listen'")
    top = r.mapping(doc.value, "", doc.line, "a mapping of settings (listen, zones, ...)")
    return sections.control(r, top), sections.limits(r, top).reload_timeout_s


def _read(path: str) -> str:
    return _decode(_read_bytes(path), path)


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        reason = e.strerror or str(e)
        raise ConfigError(f"cannot read config: {reason}", "", Location(path)) from None


def _decode(raw: bytes, path: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"cannot read config: not valid UTF-8 (byte offset {e.start})", "", Location(path, line)
        ) from None
    return text


def parse_config(text: str, path: str) -> Config:
    """Validate config `text`; `path` is used in messages and to resolve relative paths."""
    return _build(Reader(path), load_yaml(text, path))


def _build(r: Reader, doc: Doc) -> Config:
    if doc.value is None:
        r.fail("", doc.line, "config is empty; expected a mapping with at least 'listen'")
    top = r.mapping(doc.value, "", doc.line, "a mapping of settings (listen, zones, ...)")
    r.keys(top, "", TOP_KEYS, required=("listen",), owner_line=top.line)

    listen = sections.listen(r, *r.get(top, "listen"))
    control = sections.control(r, top)
    data_dir = sections.data_dir(r, top)
    log_level = sections.log_level(r, top)
    limits = sections.limits(r, top)
    notify_source = sections.notify_source(r, top)
    metrics = sections.metrics(r, top)
    include_roots = sections.include_roots(r, top)
    tsig = sections_secondaries.tsig_keys(r, top)
    secondaries, hosted_zone_refs = sections_secondaries.secondaries(r, top, tsig)
    catalog_specs = sections_zones.catalogs(r, top, secondaries, data_dir)
    zones = sections_zones.zones(r, top, secondaries, catalog_specs)
    zones, catalogs = sections_zones.with_catalogs(zones, catalog_specs)
    sections_secondaries.check_hosted_zones(r, hosted_zone_refs, zones)
    return Config(
        path=os.path.abspath(r.path),
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
        warnings=tuple(r.warnings),
        include_roots=include_roots,
        catalogs=catalogs,
    )
