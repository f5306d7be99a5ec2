"""What the daemon keeps of one zone between its events, in one object rather than a dict per
field: the journal and what it says, the last reload's outcome (for `hpctl status`), the zone
file's serial and load memo (for the next reload), the signing keys (or why there are none) and
the re-sign timer. The version being served is not here: the store holds it."""

from __future__ import annotations

import dataclasses

from hiddenprimary.reload.journal import Journal, JournalInfo


@dataclasses.dataclass
class ZoneState:
    last: dict = dataclasses.field(default_factory=dict)  # the last reload: {when, ok, error}
    journal: Journal | None = None  # None until restored (or while it cannot be opened)
    journal_info: JournalInfo | None = None
    served_floor: int | None = None  # the served-serial floor read at restore, for a first version
    file_serial: int | None = None  # the zone file's serial at the last commit
    load_memo: object | None = None  # zone.load's memo of the last good load of its file
    load_mark: object | None = None  # reload.load_mark.LoadMark of that load (or the restored one)
    # (files, their os.stat facts before that load read them): the same facts now mean the same
    # bytes, so a reload of an untouched zone costs a stat per file (None: read and hash them).
    file_stats: tuple | None = None
    text: str | None = None  # the zone's name as results and logs spell it, once worked out
    keys: tuple | None = None  # signing keys of a signed zone
    key_error: Exception | None = None  # why a signed zone has no keys (DnssecKeyError)
    resign_at: int | None = None  # when the re-sign timer fires (POSIX time)
    resign_call: object | None = None  # the timer's IDelayedCall
