"""Logs: one event per line, `event key=value ...`, with values quoted when they hold spaces."""

from __future__ import annotations

import logging
import sys


def _value(v: object) -> str:
    text = str(v)
    if not text or any(c in text for c in ' "=\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: object) -> None:
    """Log `name key=value ...` (fields that are None are left out)."""
    if not logger.isEnabledFor(level):
        return
    parts = [name] + [f"{k}={_value(v)}" for k, v in fields.items() if v is not None]
    logger.log(level, " ".join(parts))


def setup(level_name: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("hiddenprimary")
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level_name.upper(), logging.INFO))
    root.propagate = False
