#!/usr/bin/env bash
# Makes a Docker engine usable for the docker backend's tests, on a Debian machine
# without Docker Hub:
#   1. installs docker.io and docker-compose (Compose v1) from Debian when missing;
#   2. starts dockerd in the background when none answers, and waits for `docker info`;
#   3. builds a small local base image from this machine's own node (and the libraries
#      `ldd` lists, plus sh and a few tools the walkthrough uses: cat, ls, sleep),
#      tagged tcpdump-mystery/node-base:local, unless NODE_IMAGE already names an
#      image that exists.
# Prints one line on stdout, `NODE_IMAGE=<image>` (.ci/run reads it), and writes the same line
# to $DOCKER_ENV_FILE only when that is set: no fixed name in a world-writable directory, where
# a planted symlink would make root overwrite a file of someone else's choosing.
# Everything else goes to stderr. Idempotent: a second run takes about a second.
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-tcpdump-mystery/node-base:local}"
ENV_FILE="${DOCKER_ENV_FILE:-}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/tcpdump-mystery-dockerd.log}"

log() { printf 'docker-setup: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (it installs packages and starts dockerd)"

# 1. the tools
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || apt-get update >&2
  # shellcheck disable=SC2046
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >&2
fi

# 2. the engine
if ! timeout 10 docker info >/dev/null 2>&1; then
  # A dockerd ended with the session that started it may linger as a zombie where PID 1 does
  # not reap: only a live one counts.
  live_dockerd() { ps -eo stat=,comm= | awk '$2 == "dockerd" && $1 !~ /^Z/ { found = 1 } END { exit !found }'; }
  if [ -S /var/run/docker.sock ] && live_dockerd; then
    log "a dockerd is running but does not answer yet; waiting"
  else
    # pid files left by a dockerd (and its containerd) that were killed would stop the new ones
    pid_live() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null); [ -n "$st" ] && [ "$st" != Z ]; }
    for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
      if [ -f "$pidfile" ] && ! pid_live "$(cat "$pidfile")"; then rm -f "$pidfile"; fi
    done
    log "starting dockerd in the background (log: $DOCKERD_LOG)"
    # containerd: Debian's dockerd starts its own when none is given
    nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    disown || true
  fi
  for _ in $(seq 1 120); do
    timeout 5 docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  timeout 10 docker info >/dev/null 2>&1 || { tail -n 30 "$DOCKERD_LOG" >&2 || true; die "dockerd did not come up in 60 s; see $DOCKERD_LOG"; }
  log "dockerd is up"
fi

# 3. the base image
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

if [ -n "${NODE_IMAGE:-}" ] && image_exists "$NODE_IMAGE"; then
  chosen="$NODE_IMAGE"
elif [ -z "${NODE_IMAGE:-}" ] && image_exists node:20-alpine && [ "${FORCE_LOCAL_BASE:-}" != 1 ]; then
  chosen=node:20-alpine
else
  chosen="$BASE_IMAGE"
  node_bin="$(readlink -f "$(command -v node)")"
  # the image is rebuilt when this machine's node changes
  want="$(sha256sum "$node_bin" | cut -c1-16)"
  have="$(docker image inspect -f '{{ index .Config.Labels "tcpdump-mystery.node-sha" }}' "$BASE_IMAGE" 2>/dev/null || true)"
  if [ "$have" != "$want" ]; then
    log "building $BASE_IMAGE from this machine's node ($("$node_bin" --version))"
    root="$(mktemp -d /tmp/tcpdump-mystery-rootfs.XXXXXX)"
    trap 'rm -rf "$root"' EXIT
    mkdir -p "$root"/{bin,usr/bin,usr/local/bin,etc,tmp,app,proc,sys,dev,root}
    chmod 1777 "$root/tmp"
    copy_with_libs() {
      local src="$1" dest="$2" lib
      mkdir -p "$root$(dirname "$dest")"
      cp -L "$src" "$root$dest"
      for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
        [ -e "$root$lib" ] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
      done
    }
    copy_with_libs "$node_bin" /usr/local/bin/node
    ln -s /usr/local/bin/node "$root/usr/bin/node"
    if command -v busybox >/dev/null 2>&1; then
      copy_with_libs "$(readlink -f "$(command -v busybox)")" /bin/busybox
      for applet in sh cat ls sleep env ps kill echo ip wget; do ln -sf busybox "$root/bin/$applet"; done
    else
      copy_with_libs "$(readlink -f /bin/dash)" /bin/sh
      for tool in cat ls sleep env echo kill; do
        p="$(command -v "$tool" || true)"
        case "$p" in /*) copy_with_libs "$(readlink -f "$p")" "/bin/$tool" ;; esac
      done
    fi
    printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" -c . | docker import \
      -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
      -c 'CMD ["node"]' \
      -c "LABEL tcpdump-mystery.node-sha=$want" \
      - "$BASE_IMAGE" >&2
    rm -rf "$root"
    trap - EXIT
    docker run --rm --network none "$BASE_IMAGE" node -e 'process.exit(0)' >&2 || die "the base image $BASE_IMAGE does not run node"
  fi
fi

log "base image: $chosen"
line="NODE_IMAGE=$chosen"
if [ -n "$ENV_FILE" ]; then
  mkdir -p "$(dirname "$ENV_FILE")"
  printf '%s\n' "$line" >"$ENV_FILE"
fi
printf '%s\n' "$line"
