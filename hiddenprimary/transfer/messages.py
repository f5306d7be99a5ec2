"""What every transfer renderer shares: the message size and the error of a stream that cannot be
rendered whole (`transfer.xfr` renders dnspython objects, `transfer.wire_axfr` compact versions)."""

from __future__ import annotations

MESSAGE_SIZE = 16 * 1024  # per transfer message (RFC 5936 allows 65535); small keeps each render short
# A record too big for MESSAGE_SIZE gets a message of its own of up to MAX_MESSAGE (as BIND); the
# loader refuses records that would not fit even there (zone.limits).


class RenderingFailed(ValueError):
    """A transfer cannot be rendered whole (a record that fits in no message). The rendering stays
    failed: every reader gets this error, none ever gets a stream without the record."""
