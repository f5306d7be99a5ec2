# Sourced by scripts/run and scripts/test: make .venv and install the project into it when the
# installed copy is missing or older than pyproject.toml.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-}"
stamp="$VENV/.installed${EXTRAS:+-$EXTRAS}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "setting up $VENV" >&2
  python3 -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT${EXTRAS:+[$EXTRAS]}" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
  "$VENV/bin/python" -c "import hiddenprimary, dns, twisted, yaml" || { echo "install failed" >&2; exit 1; }
  touch "$stamp"
fi
# Byte-compile the project's own modules as a regular (non-editable) install would: with
# PYTHONDONTWRITEBYTECODE set (as on some CI and sandbox machines) every start would otherwise
# compile them again (~0.1-0.2 s of start-up). Up-to-date files are skipped; a stale .pyc is
# never used (Python checks the source's mtime and size).
PYTHONDONTWRITEBYTECODE= "$VENV/bin/python" -m compileall -q "$ROOT/hiddenprimary" >/dev/null || true
