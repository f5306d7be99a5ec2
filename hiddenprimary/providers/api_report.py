"""What `hpctl check`, `hpctl plan` and `hpctl status` say about API secondaries (Route 53).

Tier 4, no Twisted: the daemon runs `check_row` and `plan_result` in worker threads (they call
the provider's API), and hpctl formats their results with the functions here.

A provider serves its own SOA, so there is no serial to ask it for: `check` reads the hosted
zone and compares its RRsets with ours (what the provider owns or refuses left out). The serial
shown is the last one we applied there. States as in consistency.py: in-sync (same RRsets),
behind (differs, and our last applied serial is older than ours: a sync is pending or failing),
drifted (differs although we applied our serial: someone changed the hosted zone), unreachable
(the API call failed), unknown (no version of the zone here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dns.name

from hiddenprimary.clock import Clock
from hiddenprimary.transfer.consistency import BEHIND, DRIFTED, IN_SYNC, MAX_DIFFERENCES, STATE_EXIT, UNKNOWN, UNREACHABLE
from hiddenprimary.providers.base import Plan, Provider, RRsetKey, RRsets, RRsetValue, name_text
from hiddenprimary.zone import serial as serials
from hiddenprimary.zone.version import ZoneVersion

MAX_PLAN_LINES = 5000  # per plan sent over the control socket; the counts are always whole
SKIPPED_EXAMPLES = 20


def error_text(e: BaseException) -> str:
    """One line: Route 53's code and message when there is one, else the exception's."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return text or type(e).__name__


def skipped_summary(skipped: Mapping[RRsetKey, str]) -> dict:
    """{"counts": {reason: n}, "examples": [[name, type, reason], ...]} for status."""
    counts: dict[str, int] = {}
    for reason in skipped.values():
        counts[reason] = counts.get(reason, 0) + 1
    examples = [[name, rdtype, reason] for (name, rdtype), reason in sorted(skipped.items())[:SKIPPED_EXAMPLES]]
    return {"counts": dict(sorted(counts.items())), "examples": examples}


# -- check --------------------------------------------------------------------------------------


def check_row(provider: Provider, secondary: str, target: str, zone: dns.name.Name, version: ZoneVersion | None,
              applied: int | None, clock: Clock) -> dict:
    """One `hpctl check` row for an API secondary (a row of consistency.py's shape, always deep)."""
    row: dict[str, Any] = {"secondary": secondary, "target": target, "serial": applied, "lag": None,
                           "time_ms": None, "tcp": False, "signed": False, "state": UNREACHABLE, "error": None,
                           "api": True}
    started = clock.monotonic()
    try:
        current = provider.read(name_text(zone))
    except Exception as e:  # noqa: BLE001 - any failure to read is "unreachable", with its text
        row["error"] = error_text(e)
        return row
    row["time_ms"] = round((clock.monotonic() - started) * 1000, 1)
    if version is None:
        row["state"] = UNKNOWN
        return row
    ours, skipped = provider.desired(version)
    owned = {key for key in current if provider.skip_reason(name_text(zone), *key) is not None}
    owned.update(getattr(provider, "unmanaged", {}).get(name_text(zone), ()))
    deep = compare(ours, current, owned)
    deep["skipped"] = 0
    row["deep"] = deep
    lag = None if applied is None else serials.lag(version.serial, applied)
    if not deep["differing"]:
        row.update(state=IN_SYNC, lag=0)
    elif applied is None or lag:
        row.update(state=BEHIND, lag=lag, error=_differ_text(deep["differing"]) + " (sync pending or failing)")
    else:
        row.update(state=DRIFTED, lag=0 if lag == 0 else None,
                   error=_differ_text(deep["differing"]) + " although our serial was applied (changed there?)")
    return row


def _differ_text(n: int) -> str:
    return "1 RRset differs" if n == 1 else f"{n} RRsets differ"


def compare(ours: RRsets, theirs: RRsets, ignore: Iterable[RRsetKey]) -> dict:
    """Every RRset that differs between our RRsets and the provider's (keys in `ignore` left out)."""
    ignore = set(ignore)
    keys = sorted((ours.keys() | theirs.keys()) - ignore)
    result: dict[str, Any] = {"method": "api", "axfr_error": None, "checked": len(keys), "differing": 0,
                              "differences": [], "error": None}
    for key in keys:
        a, b = ours.get(key), theirs.get(key)
        if a == b:
            continue
        result["differing"] += 1
        if len(result["differences"]) < MAX_DIFFERENCES:
            result["differences"].append({"name": key[0].rstrip(".") or ".", "type": key[1],
                                          "ours": _values(a), "theirs": _values(b)})
    return result


def _values(value: RRsetValue | None) -> list[str]:
    return [] if value is None else [f"{value[0]} {v}" for v in value[1]]


def merge_check(report: dict, rows: list[dict]) -> dict:
    """Add API rows to a consistency.check_zone report and recompute its exit (0/1/2)."""
    if not rows:
        return report
    report["targets"].extend(rows)
    report["notes"] = [n for n in report["notes"] if not n.startswith("no notify targets")]
    exits = [STATE_EXIT.get(t["state"], 2) for t in report["targets"]]
    if report.get("serial") is None:
        exits.append(2)
    report["exit"] = max(exits, default=0)
    return report


# -- plan ---------------------------------------------------------------------------------------


def plan_result(provider: Provider, secondary: str, target: str, zone: dns.name.Name, version: ZoneVersion) -> dict:
    """Read the hosted zone and say what a sync would change, without applying anything."""
    zone_text = name_text(zone)
    current = provider.read(zone_text)
    plan = provider.plan(zone_text, version, current)
    return {"zone": zone.to_text(omit_final_dot=True), "secondary": secondary, "target": target,
            "serial": version.serial, "counts": plan.counts, "lines": describe(plan, current)[:MAX_PLAN_LINES],
            "listed": min(MAX_PLAN_LINES, _line_count(plan))}


def _line_count(plan: Plan) -> int:
    return len(plan.deletes) + len(plan.upserts) + len(plan.creates) + len(plan.skipped)


def describe(plan: Plan, current: RRsets | None = None) -> list[str]:
    """One line per change with its records, like Terraform's or octoDNS's plan:
    `- name TTL TYPE values` (delete), `~ ... (was: ...)` (upsert), `+ ...` (create), `= skipped`."""
    def records(ttl: int, values: tuple[str, ...]) -> str:
        return f"{ttl} " + " | ".join(values)

    lines = [f"- {c.name} {c.rdtype} {records(c.ttl, c.values)}" for c in plan.deletes]
    for c in plan.upserts:
        was = (current or {}).get(c.key)
        lines.append(f"~ {c.name} {c.rdtype} {records(c.ttl, c.values)}"
                     + (f" (was: {records(*was)})" if was else ""))
    lines += [f"+ {c.name} {c.rdtype} {records(c.ttl, c.values)}" for c in plan.creates]
    lines += [f"= {s.name} {s.rdtype}: skipped, {REASONS.get(s.reason, s.reason)}" for s in plan.skipped]
    return lines


REASONS = {
    "provider-owned": "the provider's own (apex SOA and NS)",
    "dnssec": "DNSSEC record (the provider signs with its own keys)",
    "unsupported-type": "type not supported by the provider",
}


def format_plan(result: dict) -> str:
    c = result["counts"]
    head = (f"{result['zone']} -> {result['secondary']} ({result['target']}), our serial {result['serial']}: "
            f"{c['deletes']} to delete, {c['upserts']} to update, {c['creates']} to create, {c['skipped']} skipped")
    if not (c["deletes"] or c["upserts"] or c["creates"]):
        head += " (in sync: nothing to change)"
    lines = [head] + [f"  {line}" for line in result["lines"]]
    total = c["deletes"] + c["upserts"] + c["creates"] + c["skipped"]
    if total > result["listed"]:
        lines.append(f"  ... and {total - result['listed']} more")
    return "\n".join(lines)


# -- status -------------------------------------------------------------------------------------


def status_line(zone: str, s: dict, when) -> str:
    """`example.com <- r53 (route53:Z..): serial 5 applied at ..., up to date; ...` (`when` formats epochs)."""
    if s["serial"] is None:
        got = "nothing applied yet"
    else:
        got = f"serial {s['serial']} applied at {when(s['applied_at'])}"
    state = {True: "behind", False: "up to date", None: "unknown"}[s["behind"]]
    if s.get("syncing"):
        state += ", syncing"
    parts = [f"{zone} <- {s['secondary']} ({s['target']}): {got}, {state}"]
    last = s.get("last_sync")
    if last:
        parts.append(f"last sync {last['mode']} to serial {last['serial']}: -{last['deletes']} ~{last['upserts']} "
                     f"+{last['creates']} RRsets in {last['requests']} change requests, {last['seconds']} s")
    err = s.get("error")
    if err:
        text = f"ERROR at {when(err['at'])}: {err['message']}"
        if err.get("rrsets"):
            shown = ", ".join(" ".join(r) for r in err["rrsets"][:10])
            more = len(err["rrsets"]) - 10
            text += f" [RRsets: {shown}{f' and {more} more' if more > 0 else ''}]"
        parts.append(text)
        if s.get("retry_in_s") is not None:
            parts.append(f"{s['failures']} failed tries, next in {s['retry_in_s']:.0f} s")
    skipped = s.get("skipped")
    if skipped and skipped["counts"]:
        reasons = ", ".join(f"{n} {REASONS.get(r, r)}" for r, n in skipped["counts"].items())
        examples = ", ".join(f"{name} {t}" for name, t, _ in skipped["examples"][:5])
        parts.append(f"skipped (left to the provider, not retried): {reasons} (e.g. {examples})")
    return "; ".join(parts)
