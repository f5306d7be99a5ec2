"""The error tree. Every error a user can hit prints as one line; zone-file errors start with
`path:line:`, config errors name the key path. Tier 0: imports only the standard library."""

from __future__ import annotations

import dataclasses
import enum

EXIT_OK = 0
EXIT_FAILED = 1  # the operation failed (bad zone file, reload rejected, server unreachable)
EXIT_USAGE = 2  # bad usage or bad config


@dataclasses.dataclass(frozen=True, order=True)
class Location:
    """Where something came from: a file and a 1-based line (0 when the whole file is meant)."""

    path: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class HiddenPrimaryError(Exception):
    """Root of every error hiddenprimary raises on purpose."""

    exit_code = EXIT_FAILED


class ConfigRefused(HiddenPrimaryError):
    """A re-read config (hpctl reload, SIGHUP) has an error: none of it applies."""

    def __init__(self, error: HiddenPrimaryError):
        super().__init__(f"config not reloaded, nothing changed: {error}")


class ConfigError(HiddenPrimaryError):
    """The configuration is wrong. `key_path` is like `zones.example.com.secondaries[1]`."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, key_path: str = "", location: Location | None = None):
        self.message = message
        self.key_path = key_path
        self.location = location
        parts = []
        if location is not None:
            parts.append(f"{location}:")
        if key_path:
            parts.append(f"{key_path}:")
        parts.append(message)
        super().__init__(" ".join(parts))


class Severity(enum.Enum):
    ERROR = "error"  # blocks publishing
    WARNING = "warning"  # logged and shown by `hpctl reload`


@dataclasses.dataclass(frozen=True)
class ZoneProblem:
    """One problem found in a zone file. `code` is stable (e.g. `cname-and-other-data`)."""

    code: str
    severity: Severity
    message: str
    location: Location | None = None
    name: str | None = None  # owner name, as text, when the problem is about one

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location is not None else ""
        tag = "warning: " if self.severity is Severity.WARNING else ""
        return f"{prefix}{tag}{self.message}"


class ZoneRejected(HiddenPrimaryError):
    """A zone file has errors; every error found is in `problems` (warnings may be there too)."""

    def __init__(self, zone: str, problems: list[ZoneProblem]):
        self.zone = zone
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity is Severity.ERROR]
        shown = "; ".join(str(p) for p in errors) or "rejected"
        super().__init__(f"zone {zone} rejected: {shown}")

    @property
    def errors(self) -> list[ZoneProblem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]


class SerialError(HiddenPrimaryError):
    """The serial policy refuses a new version (RFC 1982). `kind` says which case."""

    UNCHANGED = "content changed without a serial increase"
    BACKWARDS = "serial went backwards"
    INCOMPARABLE = "serial is incomparable with the served one (RFC 1982 distance 2^31)"
    TOO_FAR = "serial increase is larger than 2^31-1 (RFC 1982 3.1)"

    def __init__(self, zone: str, kind: str, old: int, new: int, old_is: str = "served"):
        self.zone = zone
        self.kind = kind
        self.old = old
        self.new = new
        # old_is: what `old` is: the served serial, or for a signed zone (whose served serial also
        # moves on re-signs) the serial the zone file had at the last load.
        super().__init__(f"zone {zone}: {kind} ({old_is} {old}, file {new})")


class UsageError(HiddenPrimaryError):
    """The request names something that does not exist (an unknown zone, a bad argument)."""

    exit_code = EXIT_USAGE


class ControlError(HiddenPrimaryError):
    """The control socket could not be reached or answered badly."""
