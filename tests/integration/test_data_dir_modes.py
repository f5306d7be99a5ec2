"""data_dir is private (issue 11 item 12): an existing 0755 data_dir is tightened to 0700 at
start, and every file the daemon makes under it (journals, activity and their -wal/-shm, keys,
the control socket) is 0600, also after a reload, a transfer and a restart."""

import os
import stat

import dns.query
import dns.zone

from tests.integration.harness import Daemon
from tests.zones import NET_ZONE, example_com


def modes(root) -> dict[str, int]:
    """Permission bits of everything under `root` but symlinks (the socket's lock file is one)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode):
                out[os.path.relpath(path, root)] = stat.S_IMODE(st.st_mode)
    return out


def assert_private(root) -> None:
    found = modes(root)
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert any(p.endswith("activity.sqlite-wal") for p in found) or "activity.sqlite" in found
    assert any(p.startswith("keys/") and os.path.isfile(os.path.join(root, p)) for p in found)
    wrong = {p: f"{m:04o}" for p, m in found.items()
             if m != (0o700 if os.path.isdir(os.path.join(root, p)) else 0o600)}
    assert not wrong, wrong


def test_existing_0755_data_dir_is_tightened_and_files_are_0600(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    os.chmod(var, 0o755)
    d = Daemon(tmp_path, {"example.com": example_com(), "example.net": NET_ZONE},
               extra_zone_config={"example.com": {"secondaries": "[open]"},
                                  "example.net": {"dnssec": "{algorithm: ED25519}"}},
               extra_config="secondaries:\n  open: {allow: [127.0.0.4/32]}\n")
    d.start(wait_zones=["example.com", "example.net"])
    try:
        assert_private(var)
        assert "data_dir.tightened" in d.log() and "mode=0755->0700" in d.log()
        d.write_zone("example.com", example_com(serial=2026112702, www="192.0.2.11"))
        assert d.hpctl("reload").returncode == 0
        zone = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "example.com.", port=d.port, source="127.0.0.4",
                                               timeout=10))
        assert zone.get_rdataset("@", "SOA")[0].serial == 2026112702
        d.query("example.com", "SOA")
        assert_private(var)
    finally:
        assert d.stop() == 0
    assert_private(var)
    d.start(wait_zones=["example.com"])  # a restart makes no looser file either
    try:
        assert_private(var)
    finally:
        d.stop()
