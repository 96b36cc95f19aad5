/**
 * The core every command calls: start a lab (transactionally), find the running one,
 * take it down. The commands stay thin; the backends do the building.
 */
import { createServer } from 'node:net';
import { allBackends, backendFor } from '../backends/index.js';
import type { LabLimits } from './model.js';
import type { HostInterface, LabBackend } from '../backends/backend.js';
import type { Backend, CaseDraw, CaseModule, RunView } from '../cases/case.js';
import { allCases, findCase } from '../cases/index.js';
import { ExitCode, Interrupted, UserError } from './errors.js';
import { acquireStartLock, clearStaleStartLock, pidAlive } from './lock.js';
import { findHost, hostInterfaces, networkOrder, planLab, planNetworks, type LabPlan, type PlannedHost } from './model.js';
import { defaultLabName, labFlag } from './naming.js';
import { invocation } from './invocation.js';
import { newSeed, seededRng } from './random.js';
import { listLabDirs, readState, removeLabDir, writeState, type LabState } from './state.js';
import { pickSubnet } from './subnet.js';
import { processStartTicks, sleep } from './procs.js';

export interface StartOptions {
  caseId: string;
  lab: string;
  backend: Backend;
  seed?: string;
  suspects?: number;
  port: number;
  /** an unknown incident: the case is not named to the learner (see incident.ts) */
  incident?: boolean;
  /** caps of the whole lab (`--cpus`, `--memory`), where the backend can set them */
  limits?: LabLimits;
}

export function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new UserError(
      `\`mystery ${what}\` needs root: the lab is made of network namespaces, veth pairs and a bridge.`,
      `Run it with sudo, for example: ${invocation()} ${what}`,
      ExitCode.notRoot,
    );
  }
}

export function checkSuspects(c: CaseModule, suspects: number | undefined): number {
  const n = suspects ?? c.suspects.default;
  if (!Number.isInteger(n) || n < c.suspects.min || n > c.suspects.max) {
    throw new UserError(
      `--suspects ${suspects} is out of range for the case ${c.id}.`,
      `Choose a whole number from ${c.suspects.min} to ${c.suspects.max}.`,
      ExitCode.usage,
    );
  }
  return n;
}

/**
 * Whether `port` can be bound on one loopback address: 'free', 'taken', or 'absent' where the
 * machine has no such address (no IPv6).
 */
export function probePort(host: string, port: number): Promise<'free' | 'taken' | 'absent'> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT' ? 'absent' : 'taken');
    });
    srv.listen({ host, port, exclusive: true, ipv6Only: host.includes(':') }, () => srv.close(() => resolve('free')));
  });
}

/**
 * The site is published on both loopback addresses, as `localhost` means either: a port
 * someone else holds on ::1 would answer the learner's `curl localhost:PORT` in our place.
 */
export async function checkPortFree(port: number): Promise<void> {
  const v4 = await probePort('127.0.0.1', port);
  const v6 = await probePort('::1', port);
  if (v4 === 'free' && v6 !== 'taken') return;
  const where = v4 !== 'free' && v6 === 'taken' ? '127.0.0.1 and [::1]' : v4 !== 'free' ? '127.0.0.1' : '[::1]';
  throw new UserError(
    `Port ${port} on localhost is already in use (on ${where}), so the site cannot be published there.`,
    `Stop what listens on it (ss -ltnp 'sport = :${port}'), or choose another port: --port ${port === 3000 ? 3001 : port + 1}`,
    ExitCode.conflict,
  );
}

export type Progress = (message: string) => void;

/**
 * The fast test tier (and its mutants) runs in-process, also as root: MYSTERY_NO_LABS=1
 * keeps it from ever building or removing a real lab, whatever a mutant does to the checks.
 */
function noLabsHere(backends: readonly LabBackend[]): void {
  if (process.env.MYSTERY_NO_LABS === '1' && backends.some((b) => !b.inMemory)) throw new Error('MYSTERY_NO_LABS=1: this process builds and removes no lab');
}

/** Set by the signal handler while a start is under way: the next step rolls back. */
let interrupted = false;

/**
 * Starts a lab. Every failure, and Ctrl-C, rolls back what was made: the host is left
 * as it was found.
 */
export async function startLab(opts: StartOptions, progress: Progress): Promise<LabState> {
  const c = findCase(opts.caseId);
  const suspects = checkSuspects(c, opts.suspects);
  if (!c.backends.includes(opts.backend)) {
    throw new UserError(
      `The case ${c.id} cannot be built on the ${opts.backend} backend.`,
      `Use --backend ${c.backends[0]}.`,
      ExitCode.usage,
    );
  }
  const backend = backendFor(opts.backend);
  noLabsHere([backend]);
  await backend.preflight();

  const release = await acquireStartLock();
  interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal); // the terminal closed: roll back too, not die half way
  let state: LabState | undefined;
  try {
    await refuseIfExists(opts.lab);
    await checkPortFree(opts.port);
    const seed = opts.seed ?? newSeed();
    const draw = c.draw(seededRng(seed), suspects);
    const [base, ...moreSubnetBases] = await pickSubnets(backend, networkOrder(draw).length, hashLab(opts.lab), progress);
    const plan = planLab({ lab: opts.lab, caseId: c.id, seed, suspects, backend: opts.backend, port: opts.port, subnetBase: base!, moreSubnetBases, draw });
    if (opts.limits && (opts.limits.cpus !== undefined || opts.limits.memoryBytes !== undefined)) plan.limits = opts.limits;
    const starter = { pid: process.pid, startTicks: (await processStartTicks(process.pid)) ?? 0 };
    state = { version: 1, plan, created: { netns: [], veths: [], rules: [] }, starter, startedAt: new Date().toISOString(), arrests: [], hintsUsed: 0, ...(opts.incident ? { incident: { guesses: [] } } : {}) };
    await writeState(state);
    const killAt = process.env.MYSTERY_TEST_KILL_AT;
    const pauseAt = process.env.MYSTERY_TEST_PAUSE_AT;
    const step = async (name: string): Promise<void> => {
      if (interrupted) throw new Interrupted();
      if (killAt && name === killAt) process.kill(process.pid, 'SIGKILL'); // test hook: die mid-setup
      if (process.env.MYSTERY_TEST_FAIL_AT === name) throw new Error(`test hook: the step ${name} failed`); // as a failing command would
      if (pauseAt && name === pauseAt) {
        // test hook: wait here (up to 60 s) for a signal, so a test can Ctrl-C a given step
        progress(`test hook: paused at ${name}`);
        for (let i = 0; i < 1200 && !interrupted; i++) await new Promise((r) => setTimeout(r, 50));
        if (interrupted) throw new Interrupted();
      }
      // `poll` (a wait loop checking for Ctrl-C) and `STEP/PART` (a point inside a step, for
      // the kill hook) are not steps of their own: they print nothing.
      if (!name.includes('poll') && !name.includes('/')) progress(describeStep(name, plan.hosts));
    };
    await backend.build(state, step);
    if (interrupted) throw new Interrupted();
    state.readyAt = new Date().toISOString();
    delete state.starter;
    await writeState(state);
    return state;
  } catch (err) {
    if (state) {
      progress('rolling back');
      await backend.teardown(opts.lab, state);
      await removeLabDir(opts.lab);
    }
    if (interrupted) throw new Interrupted();
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    await release();
  }
}

function describeStep(step: string, hosts: readonly PlannedHost[]): string {
  const [kind, index] = step.split(':');
  const host = index === undefined ? undefined : hosts[Number(index)]?.name;
  switch (kind) {
    case 'bridge':
      return 'creating the bridge network';
    case 'firewall':
      return 'letting traffic through the bridge';
    case 'netns':
      return `creating host ${host}`;
    case 'veth':
      return `wiring ${host} to the bridge`;
    case 'services':
      return 'installing the services';
    case 'supervisor':
      return 'starting the services';
    case 'ready':
      return 'waiting for the site and every sender';
    default:
      return step;
  }
}

/**
 * One free /24 per network: none overlaps a route or address of the machine, another lab's
 * networks (a network with no address on the machine leaves no route to see), or each other.
 */
async function pickSubnets(backend: LabBackend, count: number, preferred: number, progress: Progress): Promise<string[]> {
  const used = await backend.usedPrefixes();
  for (const other of await listLabDirs()) {
    const r = await readState(other);
    if (r.kind === 'ok') for (const n of planNetworks(r.state.plan)) if (n.subnet) used.push(n.subnet);
  }
  const bases: string[] = [];
  for (let i = 0; i < count; i++) {
    const { base, skipped } = pickSubnet(used, preferred + i);
    if (skipped.length && i === 0) progress(`subnet ${skipped[0]}: using ${base}.0/24 instead`);
    bases.push(base);
    used.push(`${base}.0/24`);
  }
  return bases;
}

/** Different labs prefer different subnets, so that two labs rarely meet. */
function hashLab(lab: string): number {
  let h = 0;
  for (const ch of lab) h = (h * 31 + ch.charCodeAt(0)) % 256;
  return h;
}

async function refuseIfExists(lab: string): Promise<void> {
  let r = await readState(lab);
  if (r.kind === 'ok' && r.state.adopted && !(await Promise.all(allBackends().map((b) => b.findLabs({ labsOnly: true })))).flat().includes(lab)) {
    // the record (hints, arrests) of a lab started by hand that was taken down by hand
    // (`docker-compose down`): no lab any more
    await removeLabDir(lab);
    r = await readState(lab);
  }
  if (r.kind === 'ok') {
    throw new UserError(
      `A lab named "${lab}" is already running (case ${r.state.plan.caseId}, started ${r.state.startedAt}).`,
      lab === defaultLabName
        ? 'Take it down first with `mystery down`, or start another one beside it with --name NAME.'
        : `Take it down first with \`mystery down --name ${lab}\`, or choose another --name.`,
      ExitCode.conflict,
    );
  }
  if (r.kind === 'corrupt') {
    throw new UserError(
      `The state file of the lab "${lab}" is corrupt (${r.reason}).`,
      `Run \`mystery down${labFlag(lab)}\`: it removes the lab's leftovers without it.`,
      ExitCode.conflict,
    );
  }
  for (const b of allBackends()) {
    if ((await b.findLabs({ labsOnly: true })).includes(lab)) {
      throw new UserError(
        `Leftovers of a lab named "${lab}" are still on this host (${b.name}).`,
        `Run \`mystery down${labFlag(lab)}\` to remove them, then start again.`,
        ExitCode.conflict,
      );
    }
  }
}

export interface LoadedLab {
  state: LabState;
  backend: LabBackend;
  case: CaseModule;
  draw: CaseDraw;
}

/** The running lab, or a UserError that says how to start one. */
export async function loadLab(lab: string): Promise<LoadedLab> {
  const r = await readState(lab);
  const flag = labFlag(lab);
  if (r.kind === 'missing' || (r.kind === 'ok' && r.state.adopted)) {
    // a lab started outside the tool (the seed's `docker-compose up`), read back by its backend
    // each time: the learner may have taken it down, or brought up a new run, by hand
    const recorded = r.kind === 'ok' ? r.state : undefined;
    for (const b of allBackends()) {
      const adopted = await b.adopt?.(lab);
      if (!adopted) continue;
      let state: LabState = { ...adopted.state, adopted: true };
      if (recorded && recorded.startedAt === state.startedAt) {
        // the same run: what the learner did so far is in the state file
        const { arrests, hintsUsed, answers, solvedAt, gaveUp, countersAtStop } = recorded;
        state = { ...state, arrests, hintsUsed, answers, solvedAt, gaveUp, countersAtStop };
      } else if (recorded) {
        await removeLabDir(lab); // the record of a run that is gone
      }
      return { state, backend: b, case: findCase(state.plan.caseId), draw: adopted.draw };
    }
    if (recorded) await removeLabDir(lab); // taken down by hand: its record goes too
    throw new UserError(
      `No lab${lab === defaultLabName ? '' : ` named "${lab}"`} is running.`,
      flag ? `Start one with \`${invocation()} start${flag}\`.` : `Start one with \`sudo npm start\` in the checkout (or \`${invocation()} start -d\`).`,
      ExitCode.noLab,
    );
  }
  if (r.kind === 'corrupt') {
    throw new UserError(
      `The lab's state file is corrupt (${r.reason}).`,
      `Remove the lab with \`mystery down${flag}\` and start a new one.`,
      ExitCode.noLab,
    );
  }
  if (!r.state.readyAt) {
    throw new UserError(
      `The lab "${lab}" is still starting, or its start was interrupted.`,
      `Wait a few seconds; if it stays so, run \`mystery down${flag}\` and start again.`,
      ExitCode.noLab,
    );
  }
  const c = allCases().find((x) => x.id === r.state.plan.caseId);
  const { suspects } = r.state.plan;
  if (!c || suspects < c.suspects.min || suspects > c.suspects.max) {
    throw new UserError(
      `The lab's state file is corrupt (${c ? `${suspects} suspects is out of range for the case ${c.id}` : `there is no case ${r.state.plan.caseId}`}).`,
      `Remove the lab with \`mystery down${flag}\` and start a new one.`,
      ExitCode.noLab,
    );
  }
  const draw = c.draw(seededRng(r.state.plan.seed), suspects);
  return { state: r.state, backend: backendFor(r.state.plan.backend), case: c, draw };
}

/**
 * The host a command names, which the learner may touch: infrastructure (a provider's
 * router) is refused, by `exec`, `stop` and `restart` alike.
 */
export function requireHost(state: LabState, ref: string): PlannedHost {
  const h = findHost(state.plan, ref);
  if (!h) {
    throw new UserError(
      `There is no host "${ref}" in this lab.`,
      `The hosts are: ${state.plan.hosts.map((x) => x.name).sort().join(', ')} (see \`mystery ps\`).`,
      ExitCode.usage,
    );
  }
  if (h.infrastructure) {
    const bridges = hostInterfaces(state.plan, h).map((i) => `${i.network}: ${planNetworks(state.plan).find((n) => n.name === i.network)?.bridge ?? '?'}`);
    throw new UserError(
      `${h.name} is infrastructure: nobody here can log into it, stop it or restart it (as with a provider's router).`,
      `Capture around it instead, on the networks it joins (${bridges.join(', ')}).`,
      ExitCode.usage,
    );
  }
  return h;
}

/** The command that runs this tool on the lab, as the learner ran it (`sudo npx --no-install mystery --name X`). */
export function cliPrefix(lab: string): string {
  return `${invocation()}${labFlag(lab)}`;
}

/** What a case may see of the running lab; with `interfaces`, each host's veth and ifindex now. */
export function runView(loaded: LoadedLab, interfaces?: Map<string, HostInterface | undefined>): RunView {
  return planView(loaded.state.plan, loaded.draw, interfaces);
}

/** What a case may see of a lab of this plan and draw (the tests build one without a lab). */
export function planView(plan: LabPlan, draw: CaseDraw, interfaces?: Map<string, HostInterface | undefined>): RunView {
  const netns = plan.backend === 'netns';
  return {
    lab: plan.lab,
    port: plan.port,
    backend: plan.backend,
    cli: cliPrefix(plan.lab),
    bridge: plan.bridge,
    networks: planNetworks(plan).map((n) => ({ name: n.name, bridge: n.bridge, subnet: n.subnet })),
    hosts: plan.hosts.map((h) => {
      const i = interfaces?.get(h.name);
      return {
        name: h.name,
        id: h.id,
        ip: h.ip,
        veth: i?.veth ?? (netns ? h.veth : undefined),
        ifindex: i?.ifindex,
        interfaces: hostInterfaces(plan, h).map((x) => ({ ifname: x.ifname, network: x.network, ip: x.ip, ...(netns ? { veth: x.veth } : {}) })),
      };
    }),
    draw,
  };
}

/** Takes a lab down: with its state if there is one, by its tags if not. Idempotent. */
export async function downLab(lab: string, progress: Progress = () => {}): Promise<boolean> {
  noLabsHere(allBackends());
  let r = await readState(lab);
  const starter = r.kind === 'ok' && !r.state.readyAt ? r.state.starter : undefined;
  if (starter && (await interruptStart(lab, starter))) {
    progress(`A start of this lab was under way (pid ${starter.pid}): it was interrupted and rolled back.`);
    r = await readState(lab);
  }
  const state = r.kind === 'ok' ? r.state : undefined;
  let found = r.kind !== 'missing';
  for (const b of allBackends()) {
    if (state && state.plan.backend !== b.name) continue;
    if (!state && !(await b.findLabs()).includes(lab)) continue;
    found = true;
    await b.teardown(lab, state);
  }
  await removeLabDir(lab);
  await clearStaleStartLock();
  return found;
}

/**
 * A `down` during a start: the start is interrupted as Ctrl-C would (it rolls back what it
 * made and exits), else it would go on building beside the down. False if it was not running.
 */
async function interruptStart(lab: string, starter: { pid: number; startTicks: number }, waitMs = 120_000): Promise<boolean> {
  const same = async (): Promise<boolean> => pidAlive(starter.pid) && (await processStartTicks(starter.pid)) === starter.startTicks;
  if (starter.pid === process.pid || !(await same())) return false; // gone, or its pid reused
  process.kill(starter.pid, 'SIGINT');
  const deadline = Date.now() + waitMs;
  while (await same()) {
    if (Date.now() > deadline) {
      throw new UserError(
        `A start of this lab (pid ${starter.pid}) was asked to stop and is still running after ${waitMs / 1000} s.`,
        `Run \`kill ${starter.pid}\`, then \`mystery down${labFlag(lab)}\` again.`,
        ExitCode.conflict,
      );
    }
    await sleep(100);
  }
  return true;
}

/** Every lab of this tool on the host: by state directories and by tags. */
export async function allLabs(): Promise<string[]> {
  const labs = new Set(await listLabDirs());
  for (const b of allBackends()) for (const l of await b.findLabs()) labs.add(l);
  return [...labs].sort();
}
