/**
 * The webserver's export (zero-window's GET /export), on loopback, without root: a reader
 * that does not read holds its worker; a client that leaves, waiting or reading, frees it;
 * with a send timeout, an export nobody takes is closed and its worker freed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { request } from 'node:http';
import { join } from 'node:path';
import { compiledServicesDir } from '../../src/core/paths.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** GET a path: its status, or 'timeout'. */
function get(port: number, path: string, timeoutMs: number): Promise<number | 'timeout'> {
  return new Promise((resolve) => {
    const q = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    q.on('timeout', () => {
      q.destroy();
      resolve('timeout');
    });
    q.on('error', () => resolve('timeout'));
    q.end();
  });
}

function askExport(port: number): Socket {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  s.write('GET /export HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  return s;
}

test('webserver: an unread export holds its worker; a client that leaves, waiting or reading, frees it', { timeout: 30_000 }, async () => {
  const port = await freePort();
  // bigger than loopback's socket buffers can hold, so that the worker feels the reader
  const config = { port, workers: 1, holdMs: 10, maxQueue: 100, exportBytes: 256 * 1024 * 1024 };
  const ws = spawn(process.execPath, [join(compiledServicesDir, 'webserver.js')], { env: { ...process.env, MYSTERY_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((r) => ws.stdout!.once('data', r));
    assert.equal(await get(port, '/', 3000), 200, 'a page, with the worker free');
    const slow = askExport(port);
    slow.pause(); // never reads
    await sleep(1000);
    assert.equal(await get(port, '/', 1500), 'timeout', 'the one worker is held by the unread export');
    // another export request waits for the worker, and leaves before it gets it
    const gone = askExport(port);
    await sleep(300);
    gone.destroy();
    await sleep(300);
    slow.destroy();
    await sleep(300);
    assert.equal(await get(port, '/', 3000), 200, 'both left: the worker is free again');
    // an export read at full speed ends, and frees the worker
    const small = { ...config, port: await freePort(), exportBytes: 3 * 1024 * 1024 };
    const ws2 = spawn(process.execPath, [join(compiledServicesDir, 'webserver.js')], { env: { ...process.env, MYSTERY_CONFIG: JSON.stringify(small) }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((r) => ws2.stdout!.once('data', r));
      const body = await new Promise<number>((resolve) => {
        request({ host: '127.0.0.1', port: small.port, path: '/export', agent: false }, (res) => {
          let n = 0;
          res.on('data', (d: Buffer) => (n += d.length));
          res.on('end', () => resolve(n));
        }).end();
      });
      assert.equal(body, small.exportBytes, 'the whole export');
      assert.equal(await get(small.port, '/', 3000), 200);
    } finally {
      ws2.kill('SIGTERM');
    }
  } finally {
    ws.kill('SIGTERM');
  }
});

test('webserver: with sendTimeoutMs, an export the client takes nothing of is closed, and its worker freed', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const config = { port, workers: 1, holdMs: 10, maxQueue: 100, exportBytes: 256 * 1024 * 1024, sendTimeoutMs: 600 };
  const ws = spawn(process.execPath, [join(compiledServicesDir, 'webserver.js')], { env: { ...process.env, MYSTERY_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((r) => ws.stdout!.once('data', r));
    const stuck = askExport(port);
    stuck.pause(); // takes nothing, and never leaves: as a client behind a black hole
    const closed = new Promise<number>((resolve) => {
      const at = Date.now();
      stuck.once('close', () => resolve(Date.now() - at));
    });
    await sleep(200);
    assert.equal(await get(port, '/', 300), 'timeout', 'the one worker is held while the export waits');
    assert.equal(await get(port, '/', 5000), 200, 'the send timeout frees the worker, with the client still there');
    stuck.resume(); // reads what it was sent, then sees the server close
    const ms = await Promise.race([closed, sleep(5000).then(() => -1)]);
    assert.ok(ms >= 0, 'the server closed the export');
  } finally {
    ws.kill('SIGTERM');
  }
});
