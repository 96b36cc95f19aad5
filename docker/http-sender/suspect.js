// The http-sender's entry point: the seed's sender (sender.js), once there is a draw. Without
// one (docker-compose up without --env-file .env.suspects, or after the evidence was deleted)
// docker-compose.yml gives LOOPS the value "undrawn": say what to do instead of sending.
const loops = process.env.LOOPS ?? '';
if (!/^\d+$/.test(loops)) {
  console.error(
    `No suspects drawn (LOOPS=${JSON.stringify(loops)}): run ./randomize_suspects.sh first, then docker-compose --env-file .env.suspects up --build`,
  );
  // said once, then wait to be stopped: an exit would have `restart: always` start it again and
  // again, and Docker 20.10 may then keep a stale endpoint of the network that a later
  // `docker-compose down` cannot remove ("has active endpoints", seen in CI)
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
  setInterval(() => {}, 1 << 30);
} else {
  await import('./sender.js');
}
