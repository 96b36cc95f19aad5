/**
 * The child process of userfs.ts: started as the learner (their uid and gid), it does one
 * read or write of their files and answers with one JSON line. Never run as root on purpose.
 */
import { readUserFileHere, writeUserFileHere } from './userfs.js';

let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk;
try {
  const req = JSON.parse(input) as { op: 'read'; file: string } | { op: 'write'; base: string; file: string; text: string };
  const result = req.op === 'read' ? await readUserFileHere(req.file) : (await writeUserFileHere(req.base, req.file, req.text), { kind: 'written' });
  process.stdout.write(JSON.stringify({ ok: true, result }));
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, error: (err as Error).message }));
}
