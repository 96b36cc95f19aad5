#!/usr/bin/env bash
# Draws who floods the webserver, so that each investigation is unpredictable, and writes
# it to .env.suspects (SUSPECT1=.. SUSPECT5=, each sender's number of loops) for
#
#   docker-compose --env-file .env.suspects up --build
#
# The loop counts are the case's own (src/cases/noisy-neighbour.ts, loopCounts(5)), shuffled.
# .env.suspects is the evidence: once the lab's containers are up, a small background watcher
# deletes it (as the original's Gitpod did), so that the culprit must be found with tcpdump.
# KEEP_EVIDENCE=1 keeps it. Deleting the evidence (`./randomize_suspects.sh --delete-evidence`,
# which the watcher runs) rewrites the file without the draw: it keeps the project's name, so
# that `docker-compose --env-file .env.suspects down` still works.
set -euo pipefail
cd "$(dirname "$0")"

SUSPECTS=5 # the senders docker-compose.yml defines
ENV_FILE=.env.suspects

if [ "${1:-}" = --delete-evidence ]; then
  [ -f "$ENV_FILE" ] || exit 0
  keep="$(grep -E '^(COMPOSE_PROJECT_NAME|NODE_IMAGE)=' "$ENV_FILE" || true)"
  {
    echo "# The evidence is deleted: who floods is written nowhere now. Find the culprit with tcpdump."
    echo "# What is left lets \`docker-compose --env-file $ENV_FILE down\` work. Draw again: ./randomize_suspects.sh"
    printf '%s\n' "${keep:-COMPOSE_PROJECT_NAME=tcpdump-mystery}"
  } >"$ENV_FILE.tmp"
  chmod 644 "$ENV_FILE.tmp"
  mv -f "$ENV_FILE.tmp" "$ENV_FILE"
  exit 0
fi

# The services (and the case's profile) are compiled code: build them once.
if [ ! -f dist/src/services/sender.js ] || [ ! -f dist/src/cases/noisy-neighbour.js ]; then
  echo "building the services first (npm run build) ..." >&2
  [ -d node_modules/typescript ] || npm ci --no-audit --no-fund >&2
  npm run build >&2
fi

counts="$(node --input-type=module -e "
  import { randomInt } from 'node:crypto';
  const { loopCounts } = await import('./dist/src/cases/noisy-neighbour.js');
  const a = loopCounts(${SUSPECTS});
  for (let i = a.length - 1; i > 0; i--) { const j = randomInt(i + 1); [a[i], a[j]] = [a[j], a[i]]; }
  console.log(a.join(' '));
")"

# A machine without Docker Hub builds from a local base image (see .ci/docker-setup.sh).
node_image="${NODE_IMAGE:-}"
if [ -z "$node_image" ] && command -v docker >/dev/null 2>&1 &&
  ! docker image inspect node:20-alpine >/dev/null 2>&1 &&
  docker image inspect tcpdump-mystery/node-base:local >/dev/null 2>&1; then
  node_image=tcpdump-mystery/node-base:local
fi

umask 077
{
  echo "# Written by ./randomize_suspects.sh: how many loops each sender runs. Deleted once the lab is up."
  echo "COMPOSE_PROJECT_NAME=tcpdump-mystery"
  i=1
  for c in $counts; do
    echo "SUSPECT$i=$c"
    i=$((i + 1))
  done
  if [ -n "$node_image" ]; then echo "NODE_IMAGE=$node_image"; fi
} >"$ENV_FILE.tmp"
chmod 644 "$ENV_FILE.tmp"
mv -f "$ENV_FILE.tmp" "$ENV_FILE"
echo "The suspects are drawn ($ENV_FILE). Now run: docker-compose --env-file $ENV_FILE up --build"

[ "${KEEP_EVIDENCE:-}" = 1 ] && exit 0
command -v docker >/dev/null 2>&1 || exit 0

# Delete the evidence: once every container of this draw runs (created after now), wait a
# few seconds and rewrite the file without the draw. Gives up after 30 minutes, or when the
# draw is no longer in the file.
since="$(date -u +%Y-%m-%dT%H:%M:%S)"
want=$((SUSPECTS + 1))
evidence="$PWD/$ENV_FILE"
script="$PWD/randomize_suspects.sh"
nohup bash -c '
  evidence="$1"; since="$2"; want="$3"; script="$4"
  deadline=$(( $(date +%s) + 1800 ))
  while grep -q "^SUSPECT" "$evidence" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
    fresh=0
    for id in $(docker ps -q --filter label=tcpdump-mystery.lab=mystery --filter status=running 2>/dev/null); do
      created="$(docker inspect -f "{{.Created}}" "$id" 2>/dev/null || true)"
      if [[ "$created" > "$since" ]]; then fresh=$((fresh + 1)); fi
    done
    if [ "$fresh" -ge "$want" ]; then
      sleep 3
      "$script" --delete-evidence
      break
    fi
    sleep 1
  done
' evidence-watcher "$evidence" "$since" "$want" "$script" >/dev/null 2>&1 </dev/null &
disown || true
