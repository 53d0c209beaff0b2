#!/usr/bin/env bash
# Host set-up for the runbook: make a Docker daemon answer on this machine, or say why not (the
# runbook then uses the process launcher). As root on Debian: installs docker.io, debootstrap
# (builds the engine's base image) and chromium (checks the HTML report) when missing, and starts
# dockerd in the background.
set -u
log=${DOCKERD_LOG:-/var/log/runbook-dockerd.log}

if [ "$(id -u)" = 0 ] && ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (Debian package) for the HTML report check…"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || echo "setup: chromium could not be installed: the HTML check will say so"
fi
if docker info >/dev/null 2>&1; then
  echo "docker: daemon answering"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "docker: no daemon answers and this user is not root: cannot install or start one."
  echo "docker: the runbook will use the process launcher (container.launcher=process)."
  exit 0
fi
need=""
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
if [ -n "$need" ]; then
  echo "docker: installing$need (Debian packages)…"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null \
    || { echo "docker: apt-get install$need failed"; exit 1; }
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "docker: starting dockerd (log: $log)"
  nohup dockerd >"$log" 2>&1 &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { echo "docker: daemon answering"; exit 0; }
  sleep 1
done
echo "docker: dockerd did not answer within 60 s; last log lines:"
tail -n 20 "$log"
exit 1
