#!/usr/bin/env bash
# Install a hashed lock into a new venv, exactly: every package at the version the lock pins, each
# file checked against the lock's hashes, nothing resolved (--no-deps), so a newer release on the
# package index changes nothing. Then the project itself (editable, no dependencies of its own,
# built with the lock's setuptools) and `pip check`.
#   scripts/install-lock.sh VENV LOCK [PROJECT_DIR]
# The venv is made anew: a package an older lock installed must not linger.
set -euo pipefail
venv=$1
lock=$2
project=${3:-}
py=${PY:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -f "$lock" ] || { echo "install-lock: no lock file at $lock (make lock writes it)" >&2; exit 2; }
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --require-hashes --no-deps -r "$lock"
if [ -n "$project" ]; then
  "$venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$project"
fi
"$venv/bin/python" -m pip check
