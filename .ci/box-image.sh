#!/usr/bin/env bash
# Builds the lab-in-a-box image (the root Dockerfile) on a Debian machine without Docker Hub.
# Its base is made from this machine: its node and the Debian packages of the lab's tools
# (tcpdump, iproute2, iptables, util-linux, procps, bash, coreutils, ...), the files those
# packages installed and the libraries `ldd` lists, imported as tcpdump-mystery/box-base:local.
# Nothing is fetched: no Docker Hub, no apt inside the build. Needs root, a running Docker
# engine (.ci/docker-setup.sh) and the built CLI (npm run build; done here if missing).
# Prints `BOX_IMAGE=<tag>` as its last line on stdout; everything else goes to stderr.
# Idempotent: the base is rebuilt only when one of those packages (or node) changed, the image
# by Docker's build cache.
set -euo pipefail
cd "$(dirname "$0")/.."

BOX_BASE="${BOX_BASE:-tcpdump-mystery/box-base:local}"
BOX_IMAGE="${BOX_IMAGE:-tcpdump-mystery/box:local}"
log() { printf 'box-image: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (it talks to the Docker engine)"
timeout 20 docker info >/dev/null 2>&1 || die "no Docker engine answers: run sudo bash .ci/docker-setup.sh first"
if [ ! -f dist/src/cli/main.js ] || [ ! -d node_modules/commander ]; then
  log "building the CLI first (npm ci, npm run build)"
  [ -d node_modules/commander ] && [ -d node_modules/typescript ] || npm ci --no-audit --no-fund >&2
  npm run build >&2
fi

# the lab's tools and the walkthrough's; less, curl and the rest where this machine has them
need=(bash dash coreutils grep mawk sed findutils iproute2 iptables libxtables12 tcpdump util-linux procps)
pkgs=("${need[@]}")
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || die "the Debian package $p is not installed: sudo apt-get install -y $p"; done
for p in less curl ncurses-base netbase; do if dpkg -s "$p" >/dev/null 2>&1; then pkgs+=("$p"); fi; done
node_bin="$(readlink -f "$(command -v node)")"
want="$( { dpkg-query -W -f '${Package}=${Version}\n' "${pkgs[@]}"; sha256sum "$node_bin" "$0"; } | sha256sum | cut -c1-16)"
have="$(docker image inspect -f '{{ index .Config.Labels "tcpdump-mystery.box-base" }}' "$BOX_BASE" 2>/dev/null || true)"

if [ "$have" != "$want" ]; then
  t0=$(date +%s)
  log "building $BOX_BASE from this machine's node ($("$node_bin" --version)) and packages"
  root="$(mktemp -d /tmp/tcpdump-mystery-boxfs.XXXXXX)"
  trap 'rm -rf "$root"' EXIT
  # merged /usr, as Debian 12 has it
  mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{etc,tmp,root,run,proc,sys,dev,var/log,var/tmp,usr/local/bin}
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
  chmod 1777 "$root/tmp" "$root/var/tmp"
  list="$root.list"
  for p in "${pkgs[@]}"; do dpkg -L "$p"; done |
    grep -Ev '^/usr/(share/(doc|man|info|locale|lintian|bug|bash-completion|zsh)|include)(/|$)' |
    while read -r f; do if [ -L "$f" ] || [ -f "$f" ]; then printf '%s\n' "${f#/}"; fi; done | sort -u >"$list"
  tar -C / -cf - --no-recursion -T "$list" | tar -C "$root" --keep-directory-symlink -xf -
  copy() { # a file, its symlinks resolved, at the same path
    mkdir -p "$root$(dirname "$1")"
    if [ ! -e "$root$1" ]; then cp -L "$1" "$root$1"; fi
  }
  copy "$node_bin"
  # the libraries of every program and module copied (xtables' modules are loaded at run time)
  find "$root/usr" -type f \( -perm -u+x -o -name '*.so*' \) -print0 |
    { xargs -0 -r ldd 2>/dev/null || true; } | grep -o '/[^ ]*' | grep -v "^$root" | sort -u |
    while read -r lib; do if [ -e "$lib" ]; then copy "$lib"; fi; done
  # the alternatives Debian's postinst scripts make
  for a in iptables ip6tables iptables-save iptables-restore ip6tables-save ip6tables-restore awk; do
    t="$(readlink -f "/etc/alternatives/$a" 2>/dev/null || true)"
    if [ -n "$t" ] && [ -e "$root$t" ]; then ln -sf "$t" "$root/usr/$([ "$a" = awk ] && echo bin || echo sbin)/$a"; fi
  done
  [ -e "$root/usr/bin/sh" ] || ln -s dash "$root/usr/bin/sh"
  cp /etc/nsswitch.conf "$root/etc/" 2>/dev/null || true
  # tcpdump drops its privileges to the user tcpdump; the services run as nobody
  td_uid="$(id -u tcpdump 2>/dev/null || echo 101)"
  td_gid="$(id -g tcpdump 2>/dev/null || echo 101)"
  printf 'root:x:0:0:root:/root:/bin/bash\ntcpdump:x:%s:%s::/nonexistent:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' "$td_uid" "$td_gid" >"$root/etc/passwd"
  printf 'root:x:0:\ntcpdump:x:%s:\nnogroup:x:65534:\n' "$td_gid" >"$root/etc/group"
  printf 'export PS1="box:\\w# "\n' >"$root/root/.bashrc"
  printf '[ -f ~/.bashrc ] && . ~/.bashrc\n' >"$root/root/.profile"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV HOME=/root' \
    -c "LABEL tcpdump-mystery.box-base=$want" \
    -c 'CMD ["bash"]' \
    - "$BOX_BASE" >&2
  rm -rf "$root" "$list"
  trap - EXIT
  docker run --rm --network none "$BOX_BASE" sh -c 'node --version && tcpdump --version && ip -V && iptables -V && nsenter --version' >&2 ||
    die "the base image $BOX_BASE lacks one of the lab's tools"
  log "base built in $(( $(date +%s) - t0 )) s"
fi

t0=$(date +%s)
log "building $BOX_IMAGE (the root Dockerfile) on $BOX_BASE"
docker build -q --build-arg "BASE_IMAGE=$BOX_BASE" --label tcpdump-mystery.box=1 -t "$BOX_IMAGE" . >&2
log "image built in $(( $(date +%s) - t0 )) s"
# the images an earlier build of this script tagged, untagged by this one (only its own labels)
docker image prune -f --filter label=tcpdump-mystery.box=1 >/dev/null 2>&1 || true
docker image prune -f --filter label=tcpdump-mystery.box-base >/dev/null 2>&1 || true
echo "BOX_IMAGE=$BOX_IMAGE"
