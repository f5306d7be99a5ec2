"""What every transfer renderer shares: the message size and the error of a stream that cannot be
rendered whole (`transfer.xfr` renders dnspython objects, `transfer.wire_axfr` compact versions)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from array import array
from collections.abc import Iterator, Sequence

from hiddenprimary.zone.limits import MAX_MESSAGE, TSIG_RESERVE

MESSAGE_SIZE = 16 * 1024  # per transfer message (RFC 5936 allows 65535); small keeps each render short
# A record too big for MESSAGE_SIZE gets a message of its own of up to MAX_MESSAGE (as BIND); the
# loader refuses records that would not fit even there (zone.limits).


SPILL_BYTES = 1 << 20  # a finished stream larger than this may be kept in a file (`spill`)


class SpilledMessages(Sequence):
    """Finished messages kept in an unlinked file instead of memory (a 1M-record zone's AXFR is
    ~40 MB): a read is one `pread` of the page cache. The file goes when this object does."""

    def __init__(self, messages: list[bytes], folder: str):
        self._file = tempfile.TemporaryFile(dir=folder)
        self._offsets = array("Q", [0])
        try:
            for message in messages:  # a message a write: one big copy would stall a core
                self._file.write(message)
                self._offsets.append(self._offsets[-1] + len(message))
            self._file.flush()
        except BaseException:
            self._file.close()
            raise

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start, end = self._offsets[index], self._offsets[index + 1]
        data = os.pread(self._file.fileno(), end - start, start)
        if len(data) != end - start:
            raise OSError(f"transfer message {index}: {len(data)} of {end - start} octets read back")
        return data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (list, SpilledMessages)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]


class RenderingFailed(ValueError):
    """A transfer cannot be rendered whole (a record that fits in no message). The rendering stays
    failed: every reader gets this error, none ever gets a stream without the record."""


class LazyMessages:
    """The messages of one transfer stream, rendered on demand (`_render_next` appends the next
    one, or sets `done`) and kept. `message(i)` is the i-th message (ID 0, no TSIG), or None past
    the end. A record too large for `max_size` gets a message of its own up to `max_single`.

    Two threads may read one rendering (`transfer.prerender` renders ahead on its own thread
    while a transfer on the reactor thread streams what is ready): then `lock` must be a
    threading.Lock, set before the second thread starts (the reactor thread alone reads it
    before). Rendering holds it, so a message is rendered once, by whichever reader needs it
    first; a message already rendered is read without it."""

    def __init__(self, origin, qtype: int, max_size: int = MESSAGE_SIZE, reserve: int = TSIG_RESERVE,
                 max_single: int = MAX_MESSAGE):
        self.origin = origin
        self.qtype = qtype
        self._max_size = max_size - reserve  # room for what each transfer adds (OPT, TSIG)
        self._max_single = max(max_single, max_size) - reserve
        self.messages: list[bytes] | SpilledMessages = []
        self.done = False
        self.records = 0
        self.error: str | None = None
        self.lock = contextlib.nullcontext()  # a threading.Lock once a second thread reads

    def message(self, index: int) -> bytes | None:
        messages = self.messages
        if index < len(messages):
            return messages[index]  # appended whole: no lock needed to read it
        with self.lock:
            while index >= len(messages) and not self.done:
                if self.error is not None:
                    raise RenderingFailed(self.error)
                try:
                    self._render_next()
                except Exception as e:
                    # Sticky, whatever went wrong: no later reader may go on past a record that
                    # was taken from the iterator but not rendered.
                    self.error = str(e) if isinstance(e, RenderingFailed) else f"{type(e).__name__}: {e}"
                    raise RenderingFailed(self.error) from e
        return messages[index] if index < len(messages) else None

    def render_all(self) -> list[bytes] | SpilledMessages:
        while self.message(len(self.messages)) is not None:
            pass
        return self.messages

    def spill(self, folder: str) -> bool:
        """Once done, keep the messages in a file in `folder` instead of memory when they are
        larger than SPILL_BYTES (from a worker thread: it writes them all). Readers that hold
        the list go on with it. False when kept in memory (small, not done, or not written)."""
        messages = self.messages
        if not self.done or not isinstance(messages, list) or sum(map(len, messages)) < SPILL_BYTES:
            return False
        try:
            self.messages = SpilledMessages(messages, folder)
        except OSError:
            return False
        return True

    def _render_next(self) -> None:
        raise NotImplementedError


def chain(first: list, rest: Iterator) -> Iterator:
    """`first`, then what `rest` still holds: an RRset split in halves goes back in front."""
    yield from first
    yield from rest
