// The http-sender's entry point: the seed's sender (sender.js), once there is a draw. Without
// one (docker-compose up without --env-file .env.suspects, or after the evidence was deleted)
// docker-compose.yml gives LOOPS the value "undrawn": say what to do instead of sending.
const loops = process.env.LOOPS ?? '';
if (!/^\d+$/.test(loops)) {
  console.error(
    `No suspects drawn (LOOPS=${JSON.stringify(loops)}): run ./randomize_suspects.sh first, then docker-compose --env-file .env.suspects up --build`,
  );
  process.exit(2);
}
await import('./sender.js');
