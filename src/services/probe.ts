/**
 * One request, made for real from inside a host, for the check of a case solved by a repair:
 * `node probe.js URL TIMEOUT_MS` GETs the URL once (no keep-alive, no retry) and prints one
 * JSON line, `{"ok":true,"status":200,"ms":12}` or `{"ok":false,"error":"timeout","ms":2000}`.
 * Not a host's program: the backends run it beside the host's service, in its network
 * namespace and as the same unprivileged user, only while `mystery check` judges the lab.
 */
import { request } from 'node:http';

const [url, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg ?? 2500);
const began = Date.now();
let said = false;
/** The one line the backends read (ProbeResult in backends/backend.ts), then exit. */
function say(r: { ok: boolean; status?: number; error?: string }): void {
  if (said) return;
  said = true;
  process.stdout.write(`${JSON.stringify({ ...r, ms: Date.now() - began })}\n`);
  process.exit(0);
}

if (!url || !/^http:\/\//.test(url) || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
  say({ ok: false, error: 'usage: probe.js http://ADDRESS:PORT/PATH TIMEOUT_MS' });
} else {
  // the whole exchange, connection and body included, within the time a user waits
  setTimeout(() => say({ ok: false, error: 'timeout' }), timeoutMs);
  const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
    res.resume();
    res.on('end', () => say({ ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400, status: res.statusCode }));
    res.on('error', (e) => say({ ok: false, error: e.message }));
  });
  req.on('error', (e: NodeJS.ErrnoException) => say({ ok: false, error: e.code ?? e.message }));
  req.end();
}
