"""What the real binaries say when they cannot do their job (issue 11 item 9): one line on
stderr, no traceback, exit 1 (failed) or 2 (bad usage)."""

import os
import subprocess

import pytest

from tests.integration.conftest import example_com
from tests.integration.harness import BIN, Daemon


def run(*argv: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=60, cwd=cwd)


def one_line(out: subprocess.CompletedProcess) -> str:
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    return lines[0]


@pytest.fixture
def configured(tmp_path):
    return Daemon(tmp_path, {"example.com": example_com()})


def _with_data_dir(d: Daemon, data_dir: str) -> None:
    d.config.write_text(d.config.read_text().replace("data_dir: var\n", f"data_dir: {data_dir}\n"))


def test_data_dir_under_a_regular_file(configured):
    (configured.dir / "afile").write_text("")
    _with_data_dir(configured, "afile/var")
    out = run("hiddenprimary", "-c", str(configured.config), cwd=configured.dir)
    assert out.returncode == 1
    assert one_line(out) == f"hiddenprimary: cannot create data_dir {configured.dir}/afile/var: Not a directory"


def test_data_dir_that_is_a_regular_file(configured):
    (configured.dir / "afile").write_text("")
    _with_data_dir(configured, "afile")
    out = run("hiddenprimary", "-c", str(configured.config), cwd=configured.dir)
    assert out.returncode == 1
    assert one_line(out) == f"hiddenprimary: data_dir {configured.dir}/afile exists and is not a directory"


def test_data_dir_not_permitted(configured):
    if os.geteuid() == 0:
        data_dir, reason = "/sys/hiddenprimary-test", "Operation not permitted"  # root may mkdir anywhere else
    else:
        (configured.dir / "locked").mkdir(mode=0o500)
        data_dir, reason = str(configured.dir / "locked" / "var"), "Permission denied"
    _with_data_dir(configured, data_dir)
    out = run("hiddenprimary", "-c", str(configured.config), cwd=configured.dir)
    assert out.returncode == 1
    assert one_line(out) == f"hiddenprimary: cannot create data_dir {data_dir}: {reason}"


def test_activity_database_that_cannot_be_opened(configured):
    (configured.dir / "var").mkdir(mode=0o700)
    (configured.dir / "var" / "activity.sqlite").mkdir()
    out = run("hiddenprimary", "-c", str(configured.config), cwd=configured.dir)
    assert out.returncode == 1
    assert one_line(out) == (f"hiddenprimary: cannot open {configured.dir}/var/activity.sqlite:"
                             " unable to open database file")
