/**
 * The lab's supervisor: a small root daemon (one per lab) that runs each host's service
 * inside its namespace as an unprivileged user, restarts a host that crashes (the
 * original's `restart: always`) but not one that was stopped, runs the localhost
 * forwarder, samples the site's response time, and answers the CLI on a unix socket.
 *
 * Started as: node supervisor.js --lab-dir /run/tcpdump-mystery/LAB
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { appendFileSync, chmodSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { findCase } from '../../cases/index.js';
import { resolveConfig, type LabPlan } from '../../core/model.js';
import { seededRng } from '../../core/random.js';
import { readState } from '../../core/state.js';
import { logFile, servicesDir, socketFile } from '../../core/paths.js';
import { measureLatency } from '../../core/latency.js';
import { cgroupLayout, joinLabCgroup } from './cgroup.js';
import type { ControlReply, ControlRequest, HostRunState, HostStatus, LatencySample } from './control.js';
import { outcomeWindowMs, parseOutcome, tallyOutcomes, type OutcomeKind, type Outcomes } from '../../core/outcomes.js';

export { serviceUid, serviceGid } from './control.js';
import { serviceUid, serviceGid } from './control.js';

const forwarderName = '(forwarder)';

interface Managed {
  name: string;
  netns?: string;
  program: string;
  config: object;
  child?: ChildProcess;
  state: HostRunState;
  ready: boolean;
  restarts: number;
  /** set when the stop was asked for, so the exit is not taken for a crash */
  stopping: boolean;
}

const labDirArg = process.argv[process.argv.indexOf('--lab-dir') + 1];
if (!labDirArg) {
  console.error('usage: supervisor.js --lab-dir DIR');
  process.exit(2);
}
const lab = basename(labDirArg);
const log = (msg: string): void => {
  try {
    appendFileSync(logFile(lab), `${new Date().toISOString()} ${msg}\n`);
  } catch {
    /* the lab directory is being removed */
  }
};

const read = await readState(lab);
if (read.kind !== 'ok') {
  console.error(`no usable state for lab ${lab}: ${read.kind}`);
  process.exit(1);
}
const plan: LabPlan = read.state.plan;
const draw = findCase(plan.caseId).draw(seededRng(plan.seed), plan.suspects);
// the site the forwarder publishes: the webserver, though a case may have other servers (a resolver)
const web = plan.hosts.find((h) => h.name === 'webserver') ?? plan.hosts.find((h) => h.role === 'server')!;

const managed: Managed[] = plan.hosts.map((h) => {
  const spec = draw.hosts.find((d) => d.name === h.name)!;
  return { name: h.name, netns: h.netns, program: spec.program, config: resolveConfig(spec.config, plan), state: 'starting', ready: false, restarts: 0, stopping: false };
});
managed.push({
  name: forwarderName,
  program: 'forwarder',
  config: { listenHosts: ['127.0.0.1', '::1'], port: plan.port, targetHost: web.ip, targetPort: 3000 },
  state: 'starting',
  ready: false,
  restarts: 0,
  stopping: false,
});

let shuttingDown = false;
const cgroups = cgroupLayout();

function launch(m: Managed): void {
  const script = join(servicesDir(lab), `${m.program}.js`);
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', MYSTERY_CONFIG_STDIN: '1' };
  // In a namespace: nsenter joins it and drops to the service user. On the host (the
  // forwarder), Node drops to that user itself.
  const child = m.netns
    ? spawn('nsenter', [`--net=/run/netns/${m.netns}`, `--setuid=${serviceUid}`, `--setgid=${serviceGid}`, '--', process.execPath, script], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env,
        cwd: '/',
      })
    : spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'], env, cwd: '/', uid: serviceUid, gid: serviceGid });
  // a namespace's service in the lab's cgroup at once, before it has allocated much: its
  // memory and CPU then count there, as a container's do (the forwarder is the docker-proxy's
  // counterpart, outside)
  if (m.netns && child.pid) joinLabCgroup(lab, child.pid, cgroups);
  m.child = child;
  m.state = 'running';
  m.ready = false;
  m.stopping = false;
  child.stdin!.on('error', () => {});
  child.stdin!.write(`${JSON.stringify(m.config)}\n`);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'listening' || line === 'sending') m.ready = true;
    else countOutcome(line);
  });
  createInterface({ input: child.stderr! }).on('line', (line) => log(`${m.name}: ${line}`));
  child.on('exit', (code, signal) => {
    m.child = undefined;
    m.ready = false;
    if (shuttingDown) return;
    // docker stop sends SIGTERM: a TERM or INT (also from `kill` inside the namespace) is an
    // arrest. Anything else (a crash, SIGKILL) is restarted, as with `restart: always`.
    const stoppedOnPurpose = m.stopping || signal === 'SIGTERM' || signal === 'SIGINT' || code === 143 || code === 130;
    if (stoppedOnPurpose) {
      m.state = 'stopped';
      log(`${m.name} stopped`);
      return;
    }
    m.state = 'restarting';
    m.restarts++;
    log(`${m.name} exited (code ${code}, signal ${signal}); restarting`);
    setTimeout(() => {
      if (!shuttingDown && m.state === 'restarting') launch(m);
    }, 300);
  });
  log(`${m.name} started as pid ${child.pid}`);
}

function stop(m: Managed): Promise<void> {
  return new Promise((resolve) => {
    const child = m.child;
    if (!child) {
      m.state = 'stopped';
      return resolve();
    }
    m.stopping = true;
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

// The response time the learner would see, sampled every 2 s for the status sparkline.
const latency: LatencySample[] = [];
const sampler = setInterval(() => {
  void measureLatency(plan.port, 10_000).then((ms) => {
    latency.push({ at: Date.now(), ms });
    if (latency.length > 300) latency.shift();
  });
}, 2000);

// What the clients' requests came to ("outcome ok|wrong|failed" lines), over the last window, for status.
const outcomeEvents: Array<{ at: number; kind: OutcomeKind }> = [];
function countOutcome(line: string): void {
  const kind = parseOutcome(line);
  if (!kind) return;
  const now = Date.now();
  outcomeEvents.push({ at: now, kind });
  while (outcomeEvents.length && (outcomeEvents[0]!.at < now - outcomeWindowMs || outcomeEvents.length > 100_000)) outcomeEvents.shift();
}
function outcomes(): Outcomes {
  const since = Date.now() - outcomeWindowMs;
  return tallyOutcomes(outcomeEvents.filter((e) => e.at >= since).map((e) => e.kind));
}

function status(): HostStatus[] {
  return managed.map((m) => ({ name: m.name, state: m.state, pid: m.child?.pid, ready: m.ready, restarts: m.restarts }));
}

async function handle(req: ControlRequest): Promise<ControlReply> {
  switch (req.op) {
    case 'status':
      return { ok: true, hosts: status(), latency, pid: process.pid, siteOk, outcomes: outcomes() };
    case 'stop':
    case 'start': {
      const m = managed.find((x) => x.name === req.host && x.name !== forwarderName);
      if (!m) return { ok: false, error: `no host ${req.host}` };
      if (req.op === 'stop') await stop(m);
      else if (!m.child) launch(m);
      return { ok: true, hosts: status() };
    }
    case 'shutdown':
      setImmediate(() => void shutdown(0));
      return { ok: true };
    default:
      return { ok: false, error: 'unknown request' };
  }
}

const server = createServer((sock) => {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('error', () => {});
  sock.on('data', (d: string) => {
    buf += d;
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    let req: ControlRequest;
    try {
      req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
    } catch {
      sock.end(`${JSON.stringify({ ok: false, error: 'bad request' })}\n`);
      return;
    }
    void handle(req).then((reply) => sock.end(`${JSON.stringify(reply)}\n`));
  });
});

async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  clearInterval(sampler);
  server.close();
  await Promise.all(managed.map((m) => stop(m)));
  rmSync(socketFile(lab), { force: true });
  log('supervisor stopped');
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
process.on('SIGHUP', () => {}); // the terminal that started the lab may go away

rmSync(socketFile(lab), { force: true });
server.listen(socketFile(lab), () => {
  chmodSync(socketFile(lab), 0o600);
  void launchAll();
});

/**
 * The site first (webserver and forwarder), checked with one GET while it is still quiet,
 * then the suspects: so `start -d` can tell the site answers without queueing behind a flood.
 */
let siteOk = false;
async function launchAll(): Promise<void> {
  const site = managed.filter((m) => m.name === forwarderName || plan.hosts.find((h) => h.name === m.name)?.role === 'server');
  for (const m of site) launch(m);
  const deadline = Date.now() + 15_000;
  while (!shuttingDown && Date.now() < deadline && !siteOk) {
    if (site.every((m) => m.ready)) siteOk = (await measureLatency(plan.port, 2000)) !== null;
    if (!siteOk) await new Promise((r) => setTimeout(r, 20));
  }
  if (shuttingDown) return;
  if (!siteOk) log('the site did not answer within 15 s; starting the other hosts anyway');
  for (const m of managed) if (!site.includes(m)) launch(m);
  log(`supervisor ${process.pid} running ${managed.length} services`);
}
