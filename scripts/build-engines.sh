#!/usr/bin/env bash
# The tests' engines, built side by side where they can be (`make engines`): the Debian base
# image first (every engine image is FROM it, and two builds must not bootstrap it at once), then
# the SGLang image, the vLLM image and the process launcher's venv at the same time, each line
# prefixed with its name. Each is cached by the hash of its inputs, so a rerun only checks.
# Any failure fails the whole, after all three have ended.
set -uo pipefail
BIN=${BIN:-.venv/bin}
if ! docker info >/dev/null 2>&1; then
  echo "no Docker daemon: building the engine venv for the process launcher"
  exec "$BIN/runbook" engine build -f local-process
fi
"$BIN/runbook" engine base || exit 1
t0=$(date +%s)
pids=()
names=()
start() {
  local name=$1
  shift
  ( "$@" 2>&1 | sed -u "s/^/[$name] /"; exit "${PIPESTATUS[0]}" ) &
  pids+=("$!")
  names+=("$name")
}
start sglang "$BIN/runbook" engine build
start vllm "$BIN/runbook" engine build -f local-vllm
start venv "$BIN/runbook" engine build -f local-process
fail=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "engines: ${names[$i]} failed (its lines above, prefixed [${names[$i]}])"
    fail=1
  fi
done
echo "engines: ready in $(( $(date +%s) - t0 )) s after the base image"
exit $fail
