"""The problems one zone load finds: every error and warning at its file:line, up to MAX_PROBLEMS
of each severity, and the words a problem uses for what dnspython's exceptions say."""

from __future__ import annotations

import dns.exception

from hiddenprimary.errors import Location, Severity, ZoneProblem
from hiddenprimary.zone.source import LimitCrossed, clip

MAX_PROBLEMS = 1000  # per severity; past this, one `too-many-problems` entry says how many more

_MALFORMED = str(dns.exception.SyntaxError())  # dnspython's "Text input is malformed."


class Problems:
    """The problems of one load, in the order found."""

    __slots__ = ("listed", "_counts")

    def __init__(self) -> None:
        self.listed: list[ZoneProblem] = []
        self._counts = {Severity.ERROR: 0, Severity.WARNING: 0}

    def report(self, problem: ZoneProblem) -> None:
        self._counts[problem.severity] += 1
        if self._counts[problem.severity] <= MAX_PROBLEMS:
            self.listed.append(problem)

    def error(
        self, code: str, message: str, path: str, line: int = 0, name: str | None = None
    ) -> None:
        self.report(ZoneProblem(code, Severity.ERROR, message, Location(path, line), name))

    def warning(
        self, code: str, message: str, path: str, line: int = 0, name: str | None = None
    ) -> None:
        self.report(ZoneProblem(code, Severity.WARNING, message, Location(path, line), name))

    def finish(self) -> list[ZoneProblem]:
        """The problems listed, then per severity one `too-many-problems` for those not listed."""
        problems = list(self.listed)
        for severity, count in self._counts.items():
            if count > MAX_PROBLEMS:
                problems.append(
                    ZoneProblem(
                        "too-many-problems",
                        severity,
                        f"{count - MAX_PROBLEMS} more {severity.value}s not listed",
                    )
                )
        return problems


def detail(exc: BaseException, hint: str | None = None) -> str:
    """What went wrong, in words: dnspython's message, or, when it is only the generic
    "Text input is malformed.", `hint` or the message of the exception underneath."""
    text = str(exc).strip()
    if text in ("", _MALFORMED, "None"):
        if hint is not None:
            return hint
        context = exc.__cause__ or exc.__context__
        if context is not None and str(context) and str(context) != _MALFORMED:
            return str(context)
        return "malformed"
    return clip(text)  # dnspython may repeat the token it choked on


def located(exc: LimitCrossed, where: Location) -> LimitCrossed:
    """Give `exc` the place it happened, unless a deeper include already did."""
    if exc.where is None:
        exc.where = where
    return exc
