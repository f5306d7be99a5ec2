"""What the last good load of a zone file read, so that a reload of an unchanged file costs
reading and hashing its bytes, not a parse (issue 13): the files (the zone file, then each
$INCLUDE as written), one digest of their bytes together with everything else the loaded zone
depends on (origin, the zone's config, the keys, the read limits), the file's serial and the
load's warnings. Committed with the version it describes (journal meta, same transaction), so
it survives a restart; an unchanged file after a restart is then not parsed at all."""

from __future__ import annotations

import dataclasses
import json

from hiddenprimary.config import ZoneConfig
from hiddenprimary.zone.source import ReadLimits


@dataclasses.dataclass(frozen=True)
class LoadMark:
    files: tuple[str, ...]
    digest: bytes
    file_serial: int
    warnings: tuple[str, ...] = ()

    def to_text(self) -> str:
        return json.dumps({"files": list(self.files), "digest": self.digest.hex(),
                           "file_serial": self.file_serial, "warnings": list(self.warnings)})

    @classmethod
    def from_text(cls, text: str | None) -> LoadMark | None:
        """The mark, or None for none or for text this version cannot read (a load is then done)."""
        if not text:
            return None
        try:
            d = json.loads(text)
            return cls(tuple(d["files"]), bytes.fromhex(d["digest"]), int(d["file_serial"]), tuple(d["warnings"]))
        except (ValueError, KeyError, TypeError):
            return None


def load_context(zone_cfg: ZoneConfig, keys, limits: ReadLimits | None) -> bytes:
    """Everything besides the files' bytes that decides what a reload of them gives: a change to
    any of it makes the next reload load the file again. The secondaries do not count."""
    limits = limits or ReadLimits()
    key_texts = sorted(k.dnskey.to_text() for k in keys or ())
    return repr((zone_cfg.name.to_text(), zone_cfg.file, zone_cfg.serial, zone_cfg.dnssec,
                 zone_cfg.journal_max_entries, zone_cfg.journal_max_bytes, limits.max_bytes,
                 limits.max_records, limits.include_roots, key_texts)).encode()
