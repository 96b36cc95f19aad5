#!/bin/bash
# The lab in a box: the entry point of the root Dockerfile's image. It starts a case of the
# namespace backend inside this (privileged) container, publishes the site on the container's
# own addresses so that `docker run -p 3000:3000` reaches it from the machine's localhost:3000,
# then runs the command: a shell by default.
#
#   docker run --rm -it --privileged -p 3000:3000 IMAGE                          # the default case
#   docker run --rm -it --privileged -p 3000:3000 IMAGE mystery start reset-storm  # another case
#
# Everything the lab makes (namespaces, veths, bridge, firewall rules) lives in the container's
# own network namespace: when the container ends, it is gone with it.
set -uo pipefail

start=(mystery start)
if [ "${1:-}" = mystery ] && [ "${2:-}" = start ]; then
  start=("$@")
  set -- bash -l
fi
[ "$#" -gt 0 ] || set -- bash -l

# Docker Desktop's VM kernels (macOS, Windows) lack sch_netem: say so before any case needs it
if ip link add tmysprobe0 type dummy 2>/dev/null; then
  if ! tc qdisc add dev tmysprobe0 root netem delay 1ms 2>/dev/null; then
    echo "box: this kernel has no sch_netem (Docker Desktop's VM lacks it): the case lossy-link cannot run here; every other case can." >&2
  fi
  ip link del tmysprobe0 2>/dev/null || true
fi

if "${start[@]}" -d; then
  port="$(mystery status --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).port||3000)}catch{console.log(3000)}})')"
  node /opt/tcpdump-mystery/docker/box/publish.js 3000 "$port" >/var/log/box-publish.log 2>&1 </dev/null &
  cat <<'TXT'

  The lab runs inside this container, and the site is on your machine's localhost:3000
  (with `docker run -p 3000:3000`). Here you have mystery, tcpdump, ip and the walkthrough's
  tools, as root (sudo works too): `mystery status`, `mystery hint`, `mystery --help`.
  Leaving the shell ends the container, and the lab with it.

TXT
else
  echo "box: the lab did not start: above is what happened and what to do." >&2
fi
exec "$@"
