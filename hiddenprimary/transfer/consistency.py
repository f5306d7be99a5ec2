"""`hpctl check`: the consistency monitor. Ask every notify target of a zone's secondaries for the
zone's SOA and report each one's serial, lag behind ours (RFC 1982), response time and errors;
with `deep`, compare the content too (AXFR where the target allows it, else one query per RRset
of our version) and list every RRset that differs.

Tier 4: stdlib, dns, hiddenprimary tiers <= 4; no Twisted. The network I/O is blocking
dnspython (UDP, TCP on truncation, TCP for AXFR), so the daemon runs `check_zone` in a worker
thread. Only the configured notify targets are ever queried, one after the other.

States of a target:

- `in-sync`: serves our serial (and, with `deep`, the same content);
- `behind`: serves an older serial (RFC 1982); `lag` is how far behind;
- `drifted`: serves a serial ahead of ours (negative `lag`) or incomparable with it (lag None),
  or, with `deep`, our serial with different content;
- `unreachable`: no usable answer: timeout, network error, an error rcode (REFUSED, NOTAUTH,
  SERVFAIL...), a TSIG failure, or an answer without an authoritative SOA for the zone;
- `unknown`: we have no version of the zone loaded, so there is nothing to compare with.

Exit per zone: 2 if some target is unreachable (or the zone is not loaded here), else 1 if some
target is behind or drifted, else 0. `exit_status` takes the maximum over zones.
"""

from __future__ import annotations

import logging
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.tsig
import dns.xfr

from hiddenprimary.clock import Clock
from hiddenprimary.config import Config, Secondary
from hiddenprimary.logs import event
from hiddenprimary.zone import serial as serials
from hiddenprimary.zone.version import ZoneVersion

log = logging.getLogger("hiddenprimary.check")

TIMEOUT_S = 2.0  # per try, per message
TRIES = 2  # UDP tries of the SOA query (the first one and one retry)
EDNS_PAYLOAD = 1232
AXFR_LIFETIME_S = 120.0  # the whole deep AXFR
MAX_DIFFERENCES = 50  # RRsets listed per target; `differing` counts them all
MAX_FAILED_QUERIES = 3  # consecutive failed RRset queries before a deep check gives up

IN_SYNC = "in-sync"
BEHIND = "behind"
DRIFTED = "drifted"
UNREACHABLE = "unreachable"
UNKNOWN = "unknown"
STATE_EXIT = {IN_SYNC: 0, BEHIND: 1, DRIFTED: 1, UNREACHABLE: 2, UNKNOWN: 2}

_SOA = dns.rdatatype.SOA
_NS = dns.rdatatype.NS
_DS = dns.rdatatype.DS
_IN = dns.rdataclass.IN

RRsetKey = tuple[dns.name.Name, int, int]  # (owner, rdtype, covers)
Content = dict[RRsetKey, tuple[int, frozenset]]  # -> (ttl, rdatas)


# What a query or transfer can raise: dnspython's errors (timeouts, TSIG, malformed answers,
# transfer rcodes), socket errors, a TCP stream cut short, a malformed rdata.
_NET_ERRORS = (dns.exception.DNSException, OSError, EOFError, ValueError)


class _QueryFailed(Exception):
    """A query got no usable answer; the message is the report's error text."""


# ---------------------------------------------------------------------------------------------
# Public entry points


def check_zone(
    config: Config,
    zone: dns.name.Name,
    version: ZoneVersion | None,
    keyring: dict[dns.name.Name, dns.tsig.Key],
    clock: Clock,
    deep: bool,
    *,
    timeout: float = TIMEOUT_S,
    tries: int = TRIES,
) -> dict:
    """Check every notify target of `zone` against `version` (ours; None: not loaded). Never
    raises: a problem with one target is reported in that target's row. The result is
    JSON-serialisable: {"zone", "serial", "deep", "targets": [...], "exit", "notes": [...]}."""
    ours = None if version is None else version.serial
    report: dict[str, Any] = {"zone": _name_text(zone), "serial": ours, "deep": bool(deep),
                              "targets": [], "exit": 0, "notes": []}
    zone_config = config.zones.get(zone)
    for secondary_name in zone_config.secondaries if zone_config is not None else ():
        secondary = config.secondaries.get(secondary_name)
        if secondary is None:
            continue
        for host, port in secondary.notify:
            try:
                row = _check_target(config, zone, version, keyring, clock, deep, secondary, host, port,
                                    timeout, tries)
            except Exception as e:  # a bug must not lose the other targets' rows
                log.exception("check.failed zone=%s target=%s", report["zone"], _target_text(host, port))
                row = _row(secondary.name, host, port, secondary.key is not None)
                row["error"] = f"internal error: {type(e).__name__}: {e}"
            report["targets"].append(row)
            event(log, "check.target", zone=report["zone"], secondary=row["secondary"], target=row["target"],
                  serial=row["serial"], ours=ours, state=row["state"], error=row["error"])
    if not report["targets"]:
        report["notes"].append("no notify targets: none of this zone's secondaries lists `notify`")
    if version is None:
        report["notes"].append("zone not loaded here: nothing to compare with")
    if deep and any(t.get("deep", {}).get("method") == "queries" for t in report["targets"]):
        report["notes"].append("content compared by querying each of our RRsets where AXFR was refused: "
                               "records only the secondary has are not seen that way")
    exits = [STATE_EXIT.get(t["state"], 2) for t in report["targets"]]
    if version is None and report["targets"]:
        exits.append(2)
    report["exit"] = max(exits, default=0)
    return report


def exit_status(reports: list[dict]) -> int:
    """The worst of the per-zone exits: 2 (some unreachable) over 1 (behind, drifted, differing)
    over 0 (all in sync). No zones: 0."""
    return max((int(r.get("exit", 2)) for r in reports), default=0)


def format_report(report: dict) -> str:
    """A readable table: the zone and our serial, then one row per target, then the RRsets that
    differ under their target (with `deep`), then notes."""
    ours = report.get("serial")
    targets = report.get("targets", [])
    counts: dict[str, int] = {}
    for t in targets:
        counts[t["state"]] = counts.get(t["state"], 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in counts.items()) or "no targets"
    head = f"{report['zone']}: serial {'-' if ours is None else ours}"
    if report.get("deep"):
        head += " (deep)"
    lines = [f"{head}: {summary}"]
    if targets:
        rows = [("SECONDARY", "TARGET", "SERIAL", "LAG", "TIME", "STATE/ERROR")]
        for t in targets:
            state = t["state"] + (f": {t['error']}" if t.get("error") else "")
            rows.append((
                t["secondary"], t["target"], _dash(t.get("serial")), _dash(t.get("lag")),
                "-" if t.get("time_ms") is None else f"{t['time_ms']:.1f} ms", state,
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        table = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[5] for row in rows]
        lines.append(table[0])
        for t, text in zip(targets, table[1:]):
            lines.append(text)
            lines.extend(_deep_lines(t.get("deep")))
    for note in report.get("notes", []):
        lines.append(f"  note: {note}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# One target


def _row(secondary: str, host: str, port: int, signed: bool) -> dict:
    return {"secondary": secondary, "target": _target_text(host, port), "serial": None, "lag": None,
            "time_ms": None, "tcp": False, "signed": signed, "state": UNREACHABLE, "error": None}


def _check_target(config: Config, zone: dns.name.Name, version: ZoneVersion | None, keyring, clock: Clock,
                  deep: bool, secondary: Secondary, host: str, port: int, timeout: float, tries: int) -> dict:
    row = _row(secondary.name, host, port, secondary.key is not None)
    key = None
    if secondary.key is not None:
        key_name = dns.name.from_text(config.tsig[secondary.key].name, origin=dns.name.root)
        key = keyring.get(key_name)
        if key is None:
            row["error"] = f"TSIG key {secondary.key} is not in the keyring"
            return row
    try:
        answer, took_ms, tcp = _query(host, port, zone, _SOA, key, timeout, tries, clock)
        their_serial = _soa_serial(answer, zone)
    except _QueryFailed as e:
        row["error"] = str(e)
        return row
    row.update(serial=their_serial, time_ms=round(took_ms, 1), tcp=tcp)
    if version is None:
        row["state"] = UNKNOWN
        return row
    ours = version.serial
    order = serials.compare(their_serial, ours)
    if order is serials.Order.EQUAL:
        row.update(state=IN_SYNC, lag=0)
    elif order is serials.Order.LESS:
        row.update(state=BEHIND, lag=serials.lag(ours, their_serial))
    elif order is serials.Order.GREATER:
        ahead = serials.lag(their_serial, ours)
        row.update(state=DRIFTED, lag=-ahead, error=f"ahead of ours by {ahead}")
    else:
        row.update(state=DRIFTED, error="serial incomparable with ours (RFC 1982)")
    if deep:
        result = _compare_content(host, port, zone, version, key, timeout, tries, clock)
        row["deep"] = result
        if result["error"] is not None:
            row.update(state=UNREACHABLE, error=f"deep check: {result['error']}")
        elif result["differing"] and row["state"] == IN_SYNC:
            n = result["differing"]
            row.update(state=DRIFTED, error="same serial, " + ("1 RRset differs" if n == 1 else f"{n} RRsets differ"))
    return row


def _soa_serial(answer: dns.message.Message, zone: dns.name.Name) -> int:
    rcode = answer.rcode()
    if rcode != dns.rcode.NOERROR:
        text = dns.rcode.to_text(rcode)
        if rcode == dns.rcode.SERVFAIL:
            text += " (zone not loaded there?)"
        elif rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH):
            text += " (zone not served there, or we are not allowed to ask)"
        raise _QueryFailed(text)
    rrset = answer.get_rrset(answer.answer, zone, _IN, _SOA)
    if rrset is None or len(rrset) != 1:
        raise _QueryFailed(f"bad answer: no SOA for {_name_text(zone)} in the answer")
    if not answer.flags & dns.flags.AA:
        raise _QueryFailed("bad answer: not authoritative (AA not set)")
    soa: dns.rdtypes.ANY.SOA.SOA = rrset[0]
    return soa.serial


# ---------------------------------------------------------------------------------------------
# Queries


def _query(host: str, port: int, qname: dns.name.Name, rdtype: int, key: dns.tsig.Key | None,
           timeout: float, tries: int, clock: Clock) -> tuple[dns.message.Message, float, bool]:
    """One query over UDP (TCP when truncated), tried up to `tries` times on timeout. Returns
    (answer, milliseconds, over TCP). Raises _QueryFailed with the error text."""
    for _ in range(max(1, tries)):
        q = _make_query(qname, rdtype, key)
        started = clock.monotonic()
        try:
            answer, tcp = dns.query.udp_with_fallback(q, host, timeout=timeout, port=port,
                                                      ignore_unexpected=True)
        except dns.exception.Timeout:
            continue
        except _NET_ERRORS as e:
            if key is not None and _unsigned_answer(e):
                raise _QueryFailed(_explain_unsigned(host, port, qname, rdtype, key, timeout)) from None
            raise _QueryFailed(_error_text(e)) from None
        return answer, (clock.monotonic() - started) * 1000.0, tcp
    raise _QueryFailed(f"timeout ({max(1, tries)} x {timeout:g} s)")


def _make_query(qname: dns.name.Name, rdtype: int, key: dns.tsig.Key | None) -> dns.message.Message:
    q = dns.message.make_query(qname, rdtype, use_edns=0, payload=EDNS_PAYLOAD)
    q.flags &= ~dns.flags.RD
    if key is not None:
        q.use_tsig(key)
    return q


def _unsigned_answer(e: Exception) -> bool:
    return isinstance(e, dns.exception.FormError) and "requires a TSIG" in str(e)


def _explain_unsigned(host: str, port: int, qname: dns.name.Name, rdtype: int, key: dns.tsig.Key,
                      timeout: float) -> str:
    """An unsigned answer to our signed query: ask once more, signed, but read the answer without
    requiring a TSIG, to say what it was (REFUSED, NOTAUTH...)."""
    wire = _make_query(qname, rdtype, key).to_wire()
    probe = dns.message.from_wire(wire, keyring=False)
    probe.to_wire = lambda *args, **kw: wire  # send exactly the signed bytes
    probe.keyring = False  # and parse the answer without TSIG processing
    try:
        answer = dns.query.udp(probe, host, timeout=timeout, port=port, ignore_unexpected=True)
    except _NET_ERRORS:
        return "TSIG: unsigned answer to our signed query"
    return f"TSIG: unsigned {dns.rcode.to_text(answer.rcode())} answer to our signed query"


def _error_text(e: BaseException) -> str:
    if isinstance(e, dns.exception.Timeout):
        return "timeout"
    if isinstance(e, dns.tsig.PeerBadKey):
        return "TSIG: BADKEY (the target does not know our key, or does not take it for this)"
    if isinstance(e, dns.tsig.PeerBadSignature):
        return "TSIG: the target rejects our signature (BADSIG: different secret?)"
    if isinstance(e, dns.tsig.PeerBadTime):
        return "TSIG: the target rejects our time (BADTIME: clocks differ?)"
    if isinstance(e, dns.tsig.PeerBadTruncation):
        return "TSIG: the target rejects our MAC length (BADTRUNC)"
    if isinstance(e, dns.tsig.BadSignature):
        return "TSIG: the answer's signature does not verify"
    if isinstance(e, dns.tsig.BadTime):
        return "TSIG: the answer's time is outside its fudge"
    if isinstance(e, (dns.message.UnknownTSIGKey, dns.tsig.BadKey, dns.tsig.BadAlgorithm)):
        return "TSIG: the answer is signed with another key"
    if isinstance(e, dns.xfr.TransferError):
        return dns.rcode.to_text(e.rcode)
    if isinstance(e, dns.query.BadResponse):
        return "bad answer: does not match the query"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, EOFError):
        return "connection closed"
    if isinstance(e, OSError):
        return e.strerror or str(e) or type(e).__name__
    if isinstance(e, dns.exception.DNSException):
        return f"bad answer: {e}"
    return f"{type(e).__name__}: {e}"


# ---------------------------------------------------------------------------------------------
# Deep: content


def _compare_content(host: str, port: int, zone: dns.name.Name, version: ZoneVersion,
                     key: dns.tsig.Key | None, timeout: float, tries: int, clock: Clock) -> dict:
    """{"method": "axfr"|"queries", "axfr_error", "checked", "differing", "differences",
    "skipped", "error"}: every RRset that differs, by AXFR when the target allows it, else by
    one query per RRset of ours."""
    result: dict[str, Any] = {"method": "axfr", "axfr_error": None, "checked": 0, "differing": 0,
                              "differences": [], "skipped": 0, "error": None}
    try:
        theirs = _axfr(host, port, zone, key, timeout)
    except _QueryFailed as e:
        result.update(method="queries", axfr_error=str(e))
        _compare_by_queries(host, port, version, key, timeout, tries, clock, result)
        return result
    ours = {(name, rds.rdtype, rds.covers): rds for name, rds in version.iter_rdatasets()}
    for k, rds in ours.items():
        result["checked"] += 1
        got = theirs.get(k)
        if got is None or not _same(rds, got[0], got[1]):
            _add_difference(result, k, rds, got)
    for k in sorted(theirs.keys() - ours.keys(), key=_sort_key):
        _add_difference(result, k, None, theirs[k])
    return result


def _axfr(host: str, port: int, zone: dns.name.Name, key: dns.tsig.Key | None, timeout: float) -> Content:
    kw: dict[str, Any] = {}
    if key is not None:
        kw = {"keyring": {key.name: key}, "keyname": key.name, "keyalgorithm": key.algorithm}
    rdatas: dict[RRsetKey, set] = {}
    ttls: dict[RRsetKey, int] = {}
    first = True
    try:
        for message in dns.query.xfr(host, zone, dns.rdatatype.AXFR, timeout=timeout, port=port,
                                     relativize=False, lifetime=AXFR_LIFETIME_S, **kw):
            if first and key is not None and not message.had_tsig:
                raise _QueryFailed("TSIG: unsigned AXFR answer to our signed request")
            first = False
            for rrset in message.answer:
                k = (rrset.name, rrset.rdtype, rrset.covers)
                rdatas.setdefault(k, set()).update(rrset)
                ttls[k] = min(ttls.get(k, rrset.ttl), rrset.ttl)
    except _NET_ERRORS as e:
        if key is not None and _unsigned_answer(e):
            raise _QueryFailed("TSIG: unsigned answer to our signed request") from None
        raise _QueryFailed(_error_text(e)) from None
    return {k: (ttls[k], frozenset(v)) for k, v in rdatas.items()}


def _compare_by_queries(host: str, port: int, version: ZoneVersion, key: dns.tsig.Key | None,
                        timeout: float, tries: int, clock: Clock, result: dict) -> None:
    failures = 0
    for name, rds in version.iter_rdatasets():
        cut = version.delegation_above(name)
        authoritative = cut is None or (name == cut and rds.rdtype == _DS)
        try:
            answer, _, _ = _query(host, port, name, rds.rdtype, key, timeout, tries, clock)
            got = _find_in_answer(answer, name, rds, authoritative, at_cut=name == cut)
        except _QueryFailed as e:
            failures += 1
            if failures >= MAX_FAILED_QUERIES:
                result["error"] = f"gave up after {failures} failed queries in a row (last: {e})"
                return
            result["checked"] += 1
            _add_difference(result, (name, rds.rdtype, rds.covers), rds, None, error=str(e))
            continue
        failures = 0
        result["checked"] += 1
        if got is _SKIPPED:
            result["skipped"] += 1
            continue
        if got is None or not _same(rds, got[0], got[1]):
            _add_difference(result, (name, rds.rdtype, rds.covers), rds, got)


_SKIPPED = (0, frozenset())  # glue or occluded data the referral does not carry: not comparable


def _find_in_answer(answer: dns.message.Message, name: dns.name.Name, rds, authoritative: bool,
                    at_cut: bool) -> tuple[int, frozenset] | None:
    """Their (ttl, rdatas) for our RRset from the answer to its query; None when absent;
    _SKIPPED for data below a zone cut the referral does not carry."""
    rcode = answer.rcode()
    if authoritative:
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise _QueryFailed(dns.rcode.to_text(rcode))
        if not answer.flags & dns.flags.AA:
            raise _QueryFailed("bad answer: not authoritative (AA not set)")
        rrset = answer.get_rrset(answer.answer, name, _IN, rds.rdtype, rds.covers)
        return None if rrset is None else (rrset.ttl, frozenset(rrset))
    if rcode == dns.rcode.NXDOMAIN:  # not even the delegation: it is missing there
        return None
    if rcode != dns.rcode.NOERROR:
        raise _QueryFailed(dns.rcode.to_text(rcode))
    sections = (answer.answer, answer.authority) if at_cut and rds.rdtype == _NS else \
        (answer.answer, answer.authority, answer.additional)
    for section in sections:
        rrset = answer.get_rrset(section, name, _IN, rds.rdtype, rds.covers)
        if rrset is not None:
            return rrset.ttl, frozenset(rrset)
    return None if at_cut and rds.rdtype == _NS else _SKIPPED


def _same(ours, their_ttl: int, their_rdatas: frozenset) -> bool:
    """Same TTL and rdatas; for the SOA, everything but the serial."""
    if ours.rdtype == _SOA:
        their_rdatas = frozenset(r.replace(serial=ours[0].serial) for r in their_rdatas)
    return ours.ttl == their_ttl and set(ours) == set(their_rdatas)


def _add_difference(result: dict, key: RRsetKey, ours, theirs: tuple[int, frozenset] | None,
                    error: str | None = None) -> None:
    result["differing"] += 1
    if len(result["differences"]) >= MAX_DIFFERENCES:
        return
    name, rdtype, covers = key
    entry: dict[str, Any] = {
        "name": _name_text(name),
        "type": _type_text(rdtype, covers),
        "ours": [] if ours is None else _records_text(ours.ttl, ours),
        "theirs": [] if theirs is None else _records_text(theirs[0], theirs[1]),
    }
    if error is not None:
        entry["error"] = error
    result["differences"].append(entry)


def _records_text(ttl: int, rdatas) -> list[str]:
    return sorted(f"{ttl} {r.to_text()}" for r in rdatas)


def _sort_key(key: RRsetKey) -> tuple:
    name, rdtype, covers = key
    return tuple(label.lower() for label in reversed(name.labels)), rdtype, covers


# ---------------------------------------------------------------------------------------------
# Text


def _name_text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)


def _type_text(rdtype: int, covers: int) -> str:
    text = dns.rdatatype.to_text(rdtype)
    return f"{text}({dns.rdatatype.to_text(covers)})" if covers else text


def _target_text(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _deep_lines(deep: dict | None) -> list[str]:
    if not deep:
        return []
    how = {"axfr": "by AXFR", "api": "through the provider's API"}.get(
        deep["method"], f"by query per RRset (AXFR: {deep['axfr_error']})")
    n = deep["differing"]
    line = f"    content {how}: {deep['checked']} RRsets checked, {n} differ{'s' if n == 1 else ''}"
    if deep.get("skipped"):
        line += f", {deep['skipped']} glue RRsets not in referrals (not compared)"
    lines = [line]
    for d in deep["differences"]:
        ours = "; ".join(d["ours"]) or "(none)"
        theirs = d["error"] if d.get("error") else "; ".join(d["theirs"]) or "(none)"
        lines.append(f"    {d['name']} {d['type']}: ours {ours} | theirs {theirs}")
    hidden = deep["differing"] - len(deep["differences"])
    if hidden > 0:
        lines.append(f"    ... and {hidden} more")
    return lines
