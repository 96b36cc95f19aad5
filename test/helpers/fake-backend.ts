/**
 * A lab backend in memory, for the unit tier: every command runs in-process (`main(argv, io)`)
 * against it, without root, a kernel or a container. Its hosts run, stop and restart; their
 * interfaces have made-up veth names and ifindexes; what the check, the verdict, the hints and
 * the debrief read of a lab (packets per host in a window, counters, the learner's tcpdumps,
 * the machine's routes, the monitor's latency) is whatever the test sets. Every call is logged.
 * The one real thing: the site, an HTTP server on 127.0.0.1:PORT while the lab exists, as the
 * verdict measures it (it answers 503 while the webserver is stopped, after `delayMs` else).
 * Import ./fake-env.js first in the test file, then install() before running a command.
 */
import { createServer, type Server } from 'node:http';
import type { HostInterface, HostRunState, HostRuntime, LabBackend, LatencySample, LiveStatus, ProbeResult, Totals } from '../../src/backends/backend.js';
import { registerBackend } from '../../src/backends/index.js';
import type { Backend } from '../../src/cases/case.js';
import { findCase } from '../../src/cases/index.js';
import type { PlannedHost } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';
import { requireTools } from '../../src/core/run.js';
import type { LabState } from '../../src/core/state.js';

export interface FakeHost {
  state: HostRunState;
  restarts: number;
  veth: string;
  ifindex: number;
}

export interface FakeLab {
  state: LabState;
  culprit: string | undefined;
  hosts: Map<string, FakeHost>;
  site?: Server;
}

export interface FakeCall {
  op: string;
  lab?: string;
  host?: string;
  argv?: string[];
  windowMs?: number;
}

export class FakeBackend implements LabBackend {
  readonly inMemory = true;
  readonly labs = new Map<string, FakeLab>();
  readonly calls: FakeCall[] = [];
  /** packets a running host sends in any window; hosts not named send `defaultPackets` */
  readonly packets = new Map<string, number>();
  defaultPackets = 100;
  /** interface counters for the debrief (packets; bytes are 100 times that), by host */
  readonly counters = new Map<string, number>();
  /** the interfaces the learner's tcpdumps capture on */
  captureOn: string[] = [];
  /** the machine's routes and addresses */
  prefixes: string[] = [];
  /** labs of this backend found on the machine without a state file (leftovers) */
  readonly leftovers = new Set<string>();
  /** what the live monitor says; undefined: this backend has no monitor (as docker) */
  latency: LatencySample[] | undefined = [];
  /** exit code of every `exec` */
  execCode = 0;
  /** the site's delay while the culprit runs, and once it does not */
  slowMs = 0;
  fastMs = 0;
  /**
   * the hosts whose probes (a repair's requests) fail; undefined: the lab's culprit's, as in a
   * lab nobody has repaired yet
   */
  probeFails: Set<string> | undefined = undefined;
  /** a stopped host keeps no interface (as a stopped container) */
  stoppedHaveNoInterface = false;
  /** the tools preflight asks for, as the real backends do (a name not installed: exit 4) */
  requiredTools: string[] = [];

  constructor(readonly name: Backend) {}

  private lab(state: LabState): FakeLab | undefined {
    return this.labs.get(state.plan.lab);
  }

  async preflight(): Promise<void> {
    this.calls.push({ op: 'preflight' });
    await requireTools(this.requiredTools);
  }

  async build(state: LabState, step: (s: string) => Promise<void>): Promise<void> {
    const { plan } = state;
    this.calls.push({ op: 'build', lab: plan.lab });
    await step('bridge');
    const hosts = new Map<string, FakeHost>();
    plan.hosts.forEach((h, i) => hosts.set(h.name, { state: 'running', restarts: 0, veth: h.veth || `veth${(0xa00000 + i).toString(16)}`, ifindex: 40 + 2 * i }));
    for (let i = 0; i < plan.hosts.length; i++) await step(`netns:${i}`);
    const c = findCase(plan.caseId);
    const culprit = c.draw(seededRng(plan.seed), plan.suspects).culprit;
    const lab: FakeLab = { state, culprit, hosts };
    this.labs.set(plan.lab, lab);
    lab.site = await this.serveSite(lab);
    await step('ready');
  }

  private serveSite(lab: FakeLab): Promise<Server> {
    const server = createServer((_req, res) => {
      const up = (name: string | undefined): boolean => !!name && lab.hosts.get(name)?.state === 'running';
      if (!up('webserver')) {
        res.statusCode = 503;
        res.end('down');
        return;
      }
      setTimeout(() => res.end('ok'), up(lab.culprit) ? this.slowMs : this.fastMs);
    });
    server.unref();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: lab.state.plan.port, exclusive: true }, () => resolve(server));
    });
  }

  async teardown(lab: string, _state: LabState | undefined): Promise<void> {
    this.calls.push({ op: 'teardown', lab });
    const l = this.labs.get(lab);
    this.labs.delete(lab);
    this.leftovers.delete(lab);
    if (l?.site) await new Promise<void>((r) => l.site!.close(() => r()));
  }

  async hosts(state: LabState): Promise<HostRuntime[]> {
    const l = this.lab(state);
    return state.plan.hosts.map((h) => {
      const f = l?.hosts.get(h.name);
      return { name: h.name, state: f?.state ?? 'missing', restarts: f?.restarts ?? 0 };
    });
  }

  private host(state: LabState, host: PlannedHost): FakeHost {
    const f = this.lab(state)?.hosts.get(host.name);
    if (!f) throw new Error(`fake backend: no host ${host.name} in lab ${state.plan.lab}`);
    return f;
  }

  async stopHost(state: LabState, host: PlannedHost): Promise<void> {
    this.calls.push({ op: 'stop', lab: state.plan.lab, host: host.name });
    this.host(state, host).state = 'stopped';
  }

  async startHost(state: LabState, host: PlannedHost): Promise<void> {
    this.calls.push({ op: 'start', lab: state.plan.lab, host: host.name });
    this.host(state, host).state = 'running';
  }

  async exec(state: LabState, host: PlannedHost, argv: string[]): Promise<number> {
    this.calls.push({ op: 'exec', lab: state.plan.lab, host: host.name, argv });
    return this.execCode;
  }

  async probe(state: LabState, host: PlannedHost, url: string, timeoutMs: number): Promise<ProbeResult> {
    this.calls.push({ op: 'probe', lab: state.plan.lab, host: host.name, argv: [url, String(timeoutMs)] });
    const fails = this.probeFails ?? new Set(this.lab(state)?.culprit ? [this.lab(state)!.culprit!] : []);
    return fails.has(host.name) ? { ok: false, error: 'timeout', ms: timeoutMs } : { ok: true, status: 200, ms: 1 };
  }

  async interfaces(state: LabState): Promise<Map<string, HostInterface | undefined>> {
    const l = this.lab(state);
    const out = new Map<string, HostInterface | undefined>();
    for (const h of state.plan.hosts) {
      const f = l?.hosts.get(h.name);
      out.set(h.name, !f || (this.stoppedHaveNoInterface && f.state === 'stopped') ? undefined : { veth: f.veth, ifindex: f.ifindex });
    }
    return out;
  }

  async findLabs(): Promise<string[]> {
    return [...new Set([...this.labs.keys(), ...this.leftovers])];
  }

  async usedPrefixes(): Promise<string[]> {
    return [...this.prefixes];
  }

  async packetsSent(state: LabState, ifaces: Map<string, HostInterface | undefined>, windowMs: number): Promise<Map<string, number>> {
    this.calls.push({ op: 'packetsSent', lab: state.plan.lab, windowMs });
    const l = this.lab(state);
    const out = new Map<string, number>();
    for (const [name, i] of ifaces) out.set(name, i && l?.hosts.get(name)?.state === 'running' ? (this.packets.get(name) ?? this.defaultPackets) : 0);
    return out;
  }

  async totals(_state: LabState, ifaces: Map<string, HostInterface | undefined>): Promise<Totals> {
    const packets = new Map<string, number>();
    const bytes = new Map<string, number>();
    for (const [name, i] of ifaces) {
      if (!i) continue;
      const n = this.counters.get(name) ?? 0;
      packets.set(name, n);
      bytes.set(name, n * 100);
    }
    return { packets, bytes };
  }

  async captures(): Promise<string[]> {
    return [...this.captureOn];
  }

  async liveStatus(state: LabState): Promise<LiveStatus | undefined> {
    this.calls.push({ op: 'liveStatus', lab: state.plan.lab });
    return this.latency ? { latency: this.latency } : undefined;
  }

  /** The fake lab of that name (a test's way to set a host's state by hand, as a `kill` would). */
  fakeLab(lab: string): FakeLab {
    const l = this.labs.get(lab);
    if (!l) throw new Error(`fake backend: no lab ${lab}`);
    return l;
  }
}

/**
 * Replaces every backend by a fake (netns and docker), so that nothing a command does reaches
 * the machine; returns the two fakes.
 */
export function installFakes(): { netns: FakeBackend; docker: FakeBackend } {
  const netns = new FakeBackend('netns');
  const docker = new FakeBackend('docker');
  docker.latency = undefined;
  docker.stoppedHaveNoInterface = true;
  registerBackend(netns);
  registerBackend(docker);
  return { netns, docker };
}
