#!/usr/bin/env bash
# Create or refresh .venv with everything deepgrade needs (idempotent; keyed on pyproject.toml).
# Also installs the system tools the sandbox and the browser tests use (bubblewrap, chromium)
# when running as root and they are missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
stamp="$venv/.deepgrade-installed"
want="$(sha256sum pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  command -v bwrap >/dev/null || missing+=(bubblewrap)
  command -v chromium >/dev/null || missing+=(chromium)
  # PostgreSQL server binaries: the fault tests start a throw-away server on 127.0.0.1
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "[bootstrap] apt-get install ${missing[*]}" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
      || echo "[bootstrap] WARNING: could not install ${missing[*]}; sandbox/browser features degrade" >&2
  fi
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "[bootstrap] creating virtual environment in .venv (first run takes a few minutes)" >&2
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
"$venv/bin/python" -m pip install -q -e ".[tensorflow,test,postgres]"
echo "$want" > "$stamp"
echo "[bootstrap] .venv ready" >&2
