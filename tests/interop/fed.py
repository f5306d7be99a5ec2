"""Our daemon feeding a real BIND and a real Knot secondary (NOTIFY targets, TSIG), as the
NOTIFY and `hpctl check` tests both need it."""

from __future__ import annotations

from tests.integration.harness import Daemon

ZONE = "example.com"


def secondary_line(name: str, key_name: str, endpoint: str, allow: str | None) -> str:
    allow_part = f"allow: [{allow}], " if allow else ""
    return f"  {name}: {{{allow_part}key: {key_name}, notify: ['{endpoint}']}}\n"


def make_daemon(tmp_path, tsig_key, targets: dict, text: str) -> Daemon:
    """Our daemon with example.com fed to `targets`: name -> (endpoint, allow prefix or None)."""
    name, algorithm, secret = tsig_key
    return Daemon(tmp_path / "primary", {ZONE: text},
                  extra_zone_config={ZONE: {"secondaries": f"[{', '.join(targets)}]"}},
                  extra_config=(f'tsig:\n  {name}: {{algorithm: {algorithm}, secret: "{secret}"}}\n'
                                "notify_source: 127.0.0.1\n"
                                "secondaries:\n"
                                + "".join(secondary_line(t, name, endpoint, allow)
                                          for t, (endpoint, allow) in targets.items())))


def start_fed(tmp_path, bind_secondary, knot_secondary, tsig_key, text: str, serial: int):
    """(daemon, bind, knot), both secondaries serving `serial` taken from our daemon. The caller
    stops the daemon; the peer fixtures stop the secondaries."""
    bind = bind_secondary([ZONE], 0, key=tsig_key, address="127.0.0.2", start=False)
    knot = knot_secondary([ZONE], 0, key=tsig_key, address="127.0.0.3", start=False)
    d = make_daemon(tmp_path, tsig_key, {"bind": (bind.endpoint, "127.0.0.2/32"),
                                          "knot": (knot.endpoint, "127.0.0.3/32")}, text)
    start_with(d, (bind, knot), serial)
    return d, bind, knot


def start_with(d: Daemon, secondaries, serial: int) -> None:
    """Start the (not yet started) `secondaries` as secondaries of our daemon `d`, then `d`; wait
    until each serves `serial`. If they do not, `d` is stopped."""
    for sec in secondaries:
        sec.primary_port = d.port
        sec.start()
    d.start(wait_zones=[ZONE])
    try:
        for sec in secondaries:
            sec.wait_serial(ZONE, serial, timeout=20)
    except BaseException:
        d.stop()
        raise
