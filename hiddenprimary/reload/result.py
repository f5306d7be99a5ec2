"""What one reload did, as a value: the zone, whether it changed, the serials, the record counts,
the problems. `hpctl reload` prints it, the log line says it, the tests read it. A rejected
reload is a result too (ok False): the zone keeps serving what it served."""

from __future__ import annotations

import dataclasses

from hiddenprimary.errors import HiddenPrimaryError, Severity, ZoneRejected
from hiddenprimary.reload.plan import ReloadPlan


@dataclasses.dataclass(frozen=True)
class ReloadResult:
    zone: str
    ok: bool
    changed: bool
    old_serial: int | None
    new_serial: int | None
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    added: int = 0
    removed: int = 0
    duration_ms: float = 0.0
    signatures_made: int | None = None  # None: the zone is not signed
    signatures_kept: int | None = None
    crash: str | None = None  # the traceback of an unexpected failure (logged, never sent)

    @classmethod
    def published(cls, plan: ReloadPlan, duration_ms: float) -> ReloadResult:
        signed = plan.signed
        return cls(
            zone=plan.zone, ok=True, changed=plan.changed, old_serial=plan.old_serial, new_serial=plan.new_serial,
            warnings=tuple(str(w) for w in plan.warnings),
            added=plan.diff.added_count if plan.diff else (plan.new.rr_count if plan.new else 0),
            removed=plan.diff.removed_count if plan.diff else 0, duration_ms=duration_ms,
            signatures_made=None if signed is None else signed.signed,
            signatures_kept=None if signed is None else signed.reused)

    @classmethod
    def rejected(cls, zone: str, serving: int | None, failure=None, message: str | None = None) -> ReloadResult:
        """From the Failure of a reload (or a plain `message`): a zone's problems split into
        errors and warnings; any other HiddenPrimaryError is one error; anything else is a crash."""
        crash = None
        if message is not None:
            errors, warnings = [message], []
        elif failure.check(ZoneRejected):
            problems = failure.value.problems
            errors = [str(p) for p in problems if p.severity is Severity.ERROR]
            warnings = [str(p) for p in problems if p.severity is Severity.WARNING]
        elif failure.check(HiddenPrimaryError):
            errors, warnings = [str(failure.value)], []
        else:
            errors, warnings = [f"internal error: {failure.getErrorMessage()}"], []
            crash = failure.getTraceback()
        return cls(zone=zone, ok=False, changed=False, old_serial=serving, new_serial=serving,
                   warnings=tuple(warnings), errors=tuple(errors), crash=crash)

    def as_dict(self) -> dict:
        """The JSON `hpctl reload` receives (its keys are the control protocol's)."""
        if not self.ok:
            return {"zone": self.zone, "ok": False, "changed": False, "old_serial": self.old_serial,
                    "new_serial": self.new_serial, "errors": list(self.errors), "warnings": list(self.warnings)}
        out = {"zone": self.zone, "ok": True, "changed": self.changed, "old_serial": self.old_serial,
               "new_serial": self.new_serial, "added": self.added, "removed": self.removed,
               "warnings": list(self.warnings), "duration_ms": self.duration_ms}
        if self.signatures_made is not None:
            out["signatures_made"] = self.signatures_made
            out["signatures_kept"] = self.signatures_kept
        return out
