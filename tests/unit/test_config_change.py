"""Issue 15: what a re-read config changes (`config.change`), the `catalogs` section, and the
catalog zone's text (`zone.catalog`, RFC 9432 schema version 2)."""

from __future__ import annotations

import hashlib
import os

import dns.name
import dns.rdatatype
import dns.zone

from hiddenprimary.config import parse_config
from hiddenprimary.config.change import config_change
from hiddenprimary.zone.catalog import catalog_text, member_id, write_catalog

BASE = """\
listen: ["127.0.0.1:5300"]
data_dir: state
secondaries:
  lab: {allow: [127.0.0.2/32]}
catalogs:
  catalog.invalid:
    secondaries: [lab]
  empty.invalid:
zones:
  example.com:
    file: zones/example.com.zone
    secondaries: [lab]
    catalog: catalog.invalid
  example.net:
    file: zones/example.net.zone
  Example.ORG.:
    file: zones/example.org.zone
    catalog: Catalog.Invalid.
"""

N = dns.name.from_text


def parse(text: str, tmp_path):
    return parse_config(text, str(tmp_path / "hp.yaml"))


def test_catalogs_are_zones_made_from_the_config(tmp_path):
    config = parse(BASE, tmp_path)
    assert list(config.zones) == [N("example.com"), N("example.net"), N("example.org"), N("catalog.invalid"),
                                  N("empty.invalid")]
    assert config.catalogs[N("catalog.invalid")].members == (N("example.com"), N("example.org"))
    assert config.catalogs[N("empty.invalid")].members == ()
    catalog = config.zones[N("catalog.invalid")]
    assert catalog.file == os.path.join(str(tmp_path), "state", "catalogs", "catalog.invalid.zone")
    assert catalog.secondaries == ("lab",) and catalog.serial == "unixtime" and catalog.dnssec is None
    assert config.zones[N("example.com")].catalog == N("catalog.invalid")
    assert config.zones[N("example.net")].catalog is None


def test_catalog_text_is_rfc9432_version_2(tmp_path):
    members = (N("example.com"), N("Example.ORG"))
    zone = dns.zone.from_text(catalog_text(N("catalog.invalid"), members), N("catalog.invalid"), relativize=False)
    assert zone.find_rdataset("catalog.invalid.", "NS")[0].target == N("invalid")
    assert zone.find_rdataset("version.catalog.invalid.", "TXT")[0].strings == (b"2",)
    ptrs = {name: rds[0].target for name, node in zone.nodes.items()
            for rds in node.rdatasets if rds.rdtype == dns.rdatatype.PTR}
    expected_id = hashlib.sha1(b"\x07example\x03org\x00").hexdigest()
    assert ptrs == {N(f"{member_id(N('example.com'))}.zones.catalog.invalid"): N("example.com"),
                    N(f"{expected_id}.zones.catalog.invalid"): N("Example.ORG")}
    assert member_id(N("EXAMPLE.org.")) == expected_id  # the same id whatever the spelling


def test_write_catalog_leaves_an_unchanged_file_alone(tmp_path):
    path = str(tmp_path / "catalogs" / "c.zone")
    write_catalog(path, N("c.invalid"), (N("a.example"),))
    first = os.stat(path)
    write_catalog(path, N("c.invalid"), (N("a.example"),))
    assert os.stat(path).st_mtime_ns == first.st_mtime_ns and os.stat(path).st_ino == first.st_ino
    write_catalog(path, N("c.invalid"), (N("a.example"), N("b.example")))
    assert "b.example." in open(path).read()
    assert not os.path.exists(path + ".tmp")


def test_change_names_zones_added_removed_and_reconfigured(tmp_path):
    old = parse(BASE, tmp_path)
    new_text = (BASE.replace("  example.net:\n    file: zones/example.net.zone\n", "")
                .replace("    catalog: Catalog.Invalid.\n", "    serial: increment\n")
                + "  new.example:\n    file: zones/new.example.zone\n    catalog: empty.invalid\n")
    change = config_change(old, parse(new_text, tmp_path))
    assert change.added == (N("new.example"),)
    assert change.removed == (N("example.net"),)
    # example.org's settings changed; both catalogs' members did.
    assert set(change.reconfigured) == {N("example.org"), N("catalog.invalid"), N("empty.invalid")}
    assert change.restart_needed == ()


def test_settings_bound_at_start_keep_their_running_values(tmp_path):
    old = parse(BASE, tmp_path)
    new = parse(BASE.replace("127.0.0.1:5300", "127.0.0.1:5301").replace("data_dir: state", "data_dir: other")
                + "log_level: debug\n", tmp_path)
    change = config_change(old, new)
    assert change.config.listen == old.listen and change.config.data_dir == old.data_dir
    assert change.config.log_level == "debug"
    assert change.restart_needed == (
        "listen: changed in the file; needs a restart (still 127.0.0.1:5300)",
        f"data_dir: changed in the file; needs a restart (still {os.path.join(str(tmp_path), 'state')})")


def test_the_same_file_changes_nothing(tmp_path):
    change = config_change(parse(BASE, tmp_path), parse(BASE, tmp_path))
    assert (change.added, change.removed, change.reconfigured, change.restart_needed) == ((), (), (), ())
