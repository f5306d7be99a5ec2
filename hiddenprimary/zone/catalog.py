"""Catalog zones we produce (RFC 9432, schema version 2): the zone text of a catalog, made from the
config's members, and its file under data_dir/catalogs. The catalog is then loaded, journaled,
transferred and NOTIFY'd like any zone file: a membership change is a new serial (IXFR).

    catalog.invalid.                    0 IN SOA invalid. invalid. 1 3600 600 2147483646 0
    catalog.invalid.                    0 IN NS invalid.
    version.catalog.invalid.            0 IN TXT "2"
    <id>.zones.catalog.invalid.         0 IN PTR example.com.

A member's <id> is the SHA-1 of its name's lower-cased wire form, in hex: the same for the member
across reloads and restarts (and when it leaves the catalog and comes back)."""

from __future__ import annotations

import hashlib
import os

import dns.name

# RFC 9432 4.1: the SOA's values do not matter to consumers, but its refresh decides how often a
# secondary asks when NOTIFYs are lost. Serials come from the zone's serial policy.
_HEAD = """\
$ORIGIN {origin}
$TTL 0
@ IN SOA invalid. invalid. 1 3600 600 2147483646 0
@ IN NS invalid.
version IN TXT "2"
"""


def member_id(member: dns.name.Name) -> str:
    return hashlib.sha1(member.canonicalize().to_wire()).hexdigest()


def catalog_text(name: dns.name.Name, members: tuple[dns.name.Name, ...]) -> str:
    lines = [_HEAD.format(origin=name.to_text())]
    lines.extend(f"{member_id(m)}.zones IN PTR {m.to_text()}\n" for m in members)
    return "".join(lines)


def write_catalog(path: str, name: dns.name.Name, members: tuple[dns.name.Name, ...]) -> None:
    """Write the catalog's zone file at `path` when its text changed (atomically: written aside,
    then renamed), so a reload reads either the old text or the new, and an unchanged catalog
    costs the reload a stat and a hash as any unchanged file."""
    text = catalog_text(name, members).encode()
    try:
        with open(path, "rb") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
