"""The daemon's data_dir at start: created 0700, or tightened to 0700 when group or others may
enter it (it holds DNSSEC private keys, journals and what each secondary did). Files under it are
created 0600 by the daemon's umask (`PRIVATE_UMASK`, set in `daemon.run`), which also covers the
-wal/-shm files sqlite makes beside each database. Errors are one line naming the path."""

from __future__ import annotations

import os
import stat

from hiddenprimary.errors import HiddenPrimaryError

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700


class DataDirError(HiddenPrimaryError):
    """The data_dir cannot be created or used (not a directory, permission denied)."""


def prepare(path: str) -> tuple[int | None, str | None]:
    """Create `path` (0700) if absent; make it 0700 if group or others have any access.
    Returns (the mode it had when it was tightened, else None; why it could not be tightened,
    else None): a directory we do not own stays as it is, with a warning, rather than stopping a
    server that ran with it before. Raises DataDirError when `path` cannot be a directory."""
    try:
        os.makedirs(path, mode=DIR_MODE, exist_ok=True)
    except FileExistsError:
        raise DataDirError(f"data_dir {path} exists and is not a directory") from None
    except OSError as e:
        raise DataDirError(f"cannot create data_dir {path}: {e.strerror or e}") from None
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as e:
        raise DataDirError(f"cannot use data_dir {path}: {e.strerror or e}") from None
    if not mode & 0o077:
        return None, None
    try:
        os.chmod(path, DIR_MODE)
    except OSError as e:
        return None, f"data_dir {path} is mode {mode:04o} and could not be made {DIR_MODE:04o}: {e.strerror or e}"
    return mode, None
