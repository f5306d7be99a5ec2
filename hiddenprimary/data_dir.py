"""The daemon's data_dir at start: created 0700, or tightened to 0700 when group or others may
enter it (it holds DNSSEC private keys, journals and what each secondary did). Files under it are
created 0600 by the daemon's umask (`PRIVATE_UMASK`, set in `daemon.run`), which also covers the
-wal/-shm files sqlite makes beside each database. Errors are one line naming the path."""

from __future__ import annotations

import os
import stat

import dns.name

from hiddenprimary.errors import HiddenPrimaryError

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
ZONES_DIR = "zones"  # per zone: the text memo, journals moved aside (and imported ones of schema 1)
JOURNAL_DB = "journal.sqlite"  # every zone's journal
KEYS_DIR = "keys"  # a folder of DNSSEC keys per zone
SERVED_SERIALS = "served_serials.sqlite"


class DataDirError(HiddenPrimaryError):
    """The data_dir cannot be created or used (not a directory, permission denied)."""


def prepare(path: str) -> tuple[int | None, str | None]:
    """Create `path` (0700) if absent; make it 0700 if group or others have any access.
    Returns (the mode it had when it was tightened, else None; why it could not be tightened,
    else None): a directory we do not own stays as it is, with a warning, rather than stopping a
    server that ran with it before. Raises DataDirError when `path` cannot be a directory."""
    try:
        os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    except FileExistsError:
        raise DataDirError(f"data_dir {path} exists and is not a directory") from None
    except OSError as e:
        raise DataDirError(f"cannot create data_dir {path}: {e.strerror or e}") from None
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as e:
        raise DataDirError(f"cannot use data_dir {path}: {e.strerror or e}") from None
    if not mode & 0o077:
        return None, None
    try:
        os.chmod(path, DIR_MODE)
    except OSError as e:
        return None, f"data_dir {path} is mode {mode:04o} and could not be made {DIR_MODE:04o}: {e.strerror or e}"
    return mode, None


# -- one zone -> file-name rule ------------------------------------------------------------------


def zone_filename(zone: dns.name.Name) -> str:
    """The zone's name as a file name: lower case with its final dot (`root-zone` for `.`), with
    `/`, `%` and control characters escaped as `%XX`, so no zone name can leave its folder or
    collide with another's. Every per-zone path under data_dir is made from this."""
    if not zone.is_absolute():
        raise ValueError(f"zone name must be absolute: {zone}")
    if zone == dns.name.root:
        return "root-zone"  # every other name ends in ".", so this cannot collide
    text = zone.to_text().lower()
    return "".join(f"%{ord(c):02X}" if (c in "/%" or ord(c) < 0x20 or ord(c) == 0x7F) else c for c in text)


def journal_path(data: str, zone: dns.name.Name) -> str:
    """`data_dir/zones/<zone>.journal` (`example.com.journal`, `root-zone.journal`): a zone's
    journal file of schema 1 (imported into `JOURNAL_DB`), and the name a zone's journal takes
    when it is moved aside (`.corrupt-<time>`, `.behind-<time>`)."""
    return os.path.join(data, ZONES_DIR, zone_filename(zone).rstrip(".") + ".journal")


def text_memo_path(data: str, zone: dns.name.Name) -> str:
    """`data_dir/zones/<zone>.text`: the zone file's bytes as last loaded, kept for the next
    reload to compare with (`zone.wire_load.TextMemo`), a cache: losing it costs one full read."""
    return os.path.join(data, ZONES_DIR, zone_filename(zone).rstrip(".") + ".text")


def key_directory(data: str, zone: dns.name.Name) -> str:
    """`data_dir/keys/<zone>/` (`keys/example.com./`, `keys/root-zone/`)."""
    return os.path.join(data, KEYS_DIR, zone_filename(zone))


def adopt_legacy_journal(data: str, zone: dns.name.Name) -> str | None:
    """Before one rule, a journal was named `<zone without final dot>.journal` unescaped (`..journal`
    for the root zone): move such a file (and its sqlite side files) to today's name when that
    does not exist yet. Returns the old path when it moved one."""
    legacy = os.path.join(data, ZONES_DIR, (zone.to_text(omit_final_dot=True).lower() or "root") + ".journal")
    path = journal_path(data, zone)
    if legacy == path or not os.path.isfile(legacy) or os.path.exists(path):
        return None
    if os.path.dirname(os.path.realpath(legacy)) != os.path.realpath(os.path.join(data, ZONES_DIR)):
        return None  # an unescaped name that led elsewhere: leave it alone
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(legacy + suffix):
            os.replace(legacy + suffix, path + suffix)
    return legacy
