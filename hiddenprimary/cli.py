"""`hiddenprimary` (the daemon) and `hpctl` (the control client). hpctl reads the config only to
find the control socket; everything else it learns from the daemon."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import sys

from hiddenprimary.clock import utc_text
from hiddenprimary.config.parse import load_config_bytes, load_control
from hiddenprimary.control.client import call
from hiddenprimary.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigRefused, HiddenPrimaryError

DEFAULT_CONFIG = os.environ.get("HIDDENPRIMARY_CONFIG", "conf/hiddenprimary.yaml")


HPCTL_TIMEOUT_MARGIN_S = 10.0


def daemon_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hiddenprimary", description="hidden-primary authoritative DNS server")
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="config file (default: %(default)s)")
    parser.add_argument("--check-config", action="store_true", help="validate the config and exit")
    args = parser.parse_args(argv)
    try:
        config, config_bytes = load_config_bytes(args.config)
    except HiddenPrimaryError as e:
        print(f"hiddenprimary: {e}", file=sys.stderr)
        return e.exit_code
    if args.check_config:
        for warning in config.warnings:
            print(f"hiddenprimary: warning: {warning}", file=sys.stderr)
        print(f"{args.config}: ok ({len(config.zones)} zones)")
        return EXIT_OK
    # The daemon pulls in Twisted (hpctl does not). Its imports make many objects and no garbage:
    # without the collector they take a fifth less time, and frozen, no collection rescans them.
    gc.disable()
    from hiddenprimary import daemon, logs

    gc.freeze()
    gc.enable()

    logs.setup(config.log_level)
    for warning in config.warnings:
        logs.event(logging.getLogger("hiddenprimary.config"), "config.warning", logging.WARNING, problem=warning)
    return daemon.run(config, config_bytes)


# -- hpctl ---------------------------------------------------------------------------------------


def _serial(value) -> str:
    return "-" if value is None else str(value)


def _print_reload(result: dict) -> int:
    status = EXIT_OK
    for line in result.get("restart_needed", ()):
        print(f"config: {line}", file=sys.stderr)
    for zone in result.get("removed", ()):
        print(f"{zone}: removed")
    for r in result["zones"]:
        zone = r["zone"]
        if r["ok"] and r.get("new_zone"):
            print(f"{zone}: added, serial {_serial(r['new_serial'])}")
            for w in r["warnings"]:
                print(f"  {w}")
        elif r["ok"]:
            if r["changed"]:
                what = (f"{r['added']} RRs loaded" if r["old_serial"] is None
                        else f"{r['added'] + r['removed']} RRs changed (+{r['added']} -{r['removed']})")
            else:
                what = "unchanged"
            print(f"{zone}: {_serial(r['old_serial'])} -> {_serial(r['new_serial'])}, {what}")
            for w in r["warnings"]:
                print(f"  {w}")
        else:
            status = EXIT_FAILED
            serving = "nothing (never loaded)" if r["old_serial"] is None else f"serial {r['old_serial']}"
            print(f"{zone}: rejected, still serving {serving}", file=sys.stderr)
            for e in r["errors"]:
                print(f"  {e}", file=sys.stderr)
            for w in r["warnings"]:
                print(f"  {w}", file=sys.stderr)
    return status


def _journal_text(journal: dict | None) -> str:
    """`first..last (N diffs, B bytes)`: the serials IXFR can start from."""
    if not journal or journal["last_serial"] is None:
        return "-"
    if not journal["entries"]:
        return f"{journal['last_serial']} (no diffs)"
    return (f"{journal['first_serial']}..{journal['last_serial']} "
            f"({journal['entries']} diffs, {journal['bytes']} B)")


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "never"
    return utc_text(epoch)


def _secondary_line(zone: str, s: dict) -> str:
    """`example.com <- lab: serial 5 by IXFR at ..., behind; NOTIFY 127.0.0.2:53 acked`"""
    if s.get("kind") == "api":
        from hiddenprimary.providers.api_report import status_line

        return status_line(zone, s, _when)
    last = s["last_transfer"]
    if last is None:
        got = "no transfer yet"
    else:
        got = f"serial {last['serial_to']} by {last['kind']} at {_when(last['at'])} from {last['peer']}"
    state = {True: "behind", False: "up to date", None: "unknown"}[s["behind"]]
    parts = [f"{zone} <- {s['secondary']}: {got}, {state}", f"{s['soa_queries']} SOA queries"]
    attempt = s["last_attempt"]
    if attempt is not None and attempt["outcome"] != "ok":
        parts.append(f"last transfer {attempt['outcome']}")
    for n in s["notify"]:
        if n["acked_at"] is not None:
            what = f"acked at {_when(n['acked_at'])}"
        elif n["failed"]:
            what = f"FAILED after {n['sent']} tries ({n['error'] or 'no answer'})"
        else:
            what = f"pending, {n['sent']} sent"
        parts.append(f"NOTIFY {n['target']} serial {n['serial']} {what}")
    return "; ".join(parts)


STATUS_DETAIL_ZONES = 50  # more zones than this: secondary lines only for zones that need a look


def _print_status(result: dict) -> int:
    rows = [("ZONE", "SERIAL", "SIGNED", "RECORDS", "JOURNAL", "LAST RELOAD", "STATE")]
    for z in result["zones"]:
        if not z["loaded"]:
            state = "not loaded" + (f": {z['last_error']}" if z["last_error"] else "")
        elif z["last_reload_ok"] is False:
            state = f"serving; last reload failed: {z['last_error']}"
        else:
            state = "serving"
        rows.append((z["zone"], _serial(z["serial"]), "yes" if z.get("signed") else "no", _serial(z["records"]),
                     _journal_text(z.get("journal")), z["last_reload"] or "-", state))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[6])
    # With many zones, the lines under the table only for the zones that need a look.
    quiet = len(result["zones"]) > STATUS_DETAIL_ZONES
    hidden = 0
    for z in result["zones"]:
        if quiet and z["loaded"] and z["last_reload_ok"] is not False \
                and not any(s.get("behind") or s.get("error") for s in z.get("secondaries", [])):
            hidden += 1
            continue
        if z.get("dnssec"):
            print(_dnssec_line(z["zone"], z["dnssec"]))
        for s in z.get("secondaries", []):
            print(_secondary_line(z["zone"], s))
    total = result.get("total")
    shown = len(result["zones"])
    if hidden:
        print(f"({hidden} zones serving with every secondary up to date: `hpctl status ZONE` for one)")
    if total is not None and shown != total:
        print(f"{shown} of {total} zones shown")
    return EXIT_OK


def _dnssec_line(zone: str, d: dict) -> str:
    """`example.com dnssec: ECDSAP256SHA256 nsec, csk 12345; next re-sign 2026-...`"""
    if d["key_error"]:
        return f"{zone} dnssec: NO KEYS: {d['key_error']}"
    keys = ", ".join(f"{k['role']} {k['tag']}" for k in d["keys"]) or "keys not loaded"
    return f"{zone} dnssec: {d['algorithm']} {d['denial']}, {keys}; next re-sign {d['next_resign'] or '-'}"


def _timeout(text: str | None) -> float | None:
    """`--timeout` in seconds: finite and above 0 (0 would make the socket non-blocking); None
    when absent or bad."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value > 0 else None


def hpctl_main(argv: list[str] | None = None) -> int:
    try:
        return _hpctl(argv)
    except BrokenPipeError:  # `hpctl status | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _hpctl(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="hpctl", description="control a running hiddenprimary")
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="config file (default: %(default)s)")
    # A string, checked below: argparse would print its usage over several lines for a bad one.
    parser.add_argument("--timeout", default=None, metavar="SECONDS",
                        help="seconds to wait for the daemon (default: the config's limits.reload_timeout_s + 10)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_reload = sub.add_parser("reload", help="re-read zone files and publish what changed")
    p_reload.add_argument("zones", nargs="*", help="zones to reload (default: all)")
    p_status = sub.add_parser("status", help="zones and their serials")
    p_status.add_argument("zones", nargs="*")
    p_status.add_argument("--zone", metavar="GLOB", help="only zones whose name matches (e.g. '*.example.com')")
    p_status.add_argument("--behind", action="store_true", help="only zones a secondary is behind on")
    p_status.add_argument("--failed", action="store_true",
                          help="only zones with a problem (not loaded, reload failed, NOTIFY or transfer failed)")
    p_status.add_argument("--json", action="store_true", help="machine-readable output")
    p_notify = sub.add_parser("notify", help="send NOTIFY for the current serial again")
    p_notify.add_argument("zones", nargs="*")
    p_check = sub.add_parser("check", help="ask every secondary for its serial (exit 0 in sync, "
                                           "1 behind or drifted, 2 unreachable)")
    p_check.add_argument("zones", nargs="*")
    p_check.add_argument("--deep", action="store_true", help="compare content too, not only serials")
    p_check.add_argument("--json", action="store_true", help="machine-readable output")
    p_ds = sub.add_parser("ds", help="the DS records of signed zones, to hand to the parent's registrar")
    p_ds.add_argument("zones", nargs="*")
    p_ds.add_argument("--digest", choices=("SHA256", "SHA384"), default="SHA256", help="digest type (default: SHA256)")
    p_plan = sub.add_parser("plan", help="what a sync to an API secondary (Route 53) would change; applies nothing")
    p_plan.add_argument("zones", nargs=1, metavar="ZONE")
    p_plan.add_argument("--secondary", help="the API secondary (default: the zone's only one)")
    p_plan.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    timeout = _timeout(args.timeout)
    if timeout is None and args.timeout is not None:
        print(f"hpctl: --timeout must be a positive number of seconds, not {args.timeout[:40]!r}", file=sys.stderr)
        return EXIT_USAGE

    # Only the control socket and the reload timeout: the daemon checks the rest (a `reload`
    # re-reads the whole file there, and refuses it whole if anything in it is wrong).
    try:
        control_path, reload_timeout_s = load_control(args.config)
    except HiddenPrimaryError as e:
        if args.command == "reload":  # with an error in it, none of the file would apply
            print(f"hpctl: {ConfigRefused(e)}", file=sys.stderr)
            return EXIT_FAILED
        print(f"hpctl: {e}", file=sys.stderr)
        return e.exit_code
    if timeout is None:
        # A little past the daemon's own deadline (which starts when its reload does), so the
        # daemon's "took longer than limits.reload_timeout_s" reaches the operator, not ours.
        timeout = reload_timeout_s + HPCTL_TIMEOUT_MARGIN_S
    try:
        options = {"status": {"zone": getattr(args, "zone", None), "behind": getattr(args, "behind", False),
                              "failed": getattr(args, "failed", False)},
                   "check": {"deep": getattr(args, "deep", False)},
                   "ds": {"digest": getattr(args, "digest", None)},
                   "plan": {"secondary": getattr(args, "secondary", None)}}.get(args.command, {})
        answer = call(control_path, {"command": args.command, "zones": args.zones, "options": options}, timeout)
    except HiddenPrimaryError as e:
        print(f"hpctl: {e}", file=sys.stderr)
        return e.exit_code
    if not answer["ok"]:
        print(f"hpctl: {answer.get('error', 'failed')}", file=sys.stderr)
        return int(answer.get("exit", EXIT_FAILED))
    result = answer["result"]
    if args.command == "reload":
        return _print_reload(result)
    if args.command == "notify":
        for z in result["zones"]:
            print(f"{z['zone']}: serial {_serial(z['serial'])} notified to {z['targets']} targets")
        return EXIT_OK
    if args.command == "ds":
        for z in result["zones"]:
            print("\n".join(z["ds"]))
        return EXIT_OK
    if args.command == "check":
        from hiddenprimary.transfer.consistency import exit_status, format_report

        if args.json:
            print(json.dumps(result, indent=2))
        else:
            for report in result["zones"]:
                print(format_report(report))
        return exit_status(result["zones"])
    if args.command == "plan" and not args.json:
        from hiddenprimary.providers.api_report import format_plan

        print(format_plan(result))
        return EXIT_OK
    if args.json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    return _print_status(result)


if __name__ == "__main__":
    sys.exit(hpctl_main())
