import { spawn } from 'node:child_process';
import { cgroupLabs } from './cgroup.js';
import { readFile } from 'node:fs/promises';
import type { HostInterface, HostRuntime, LabBackend } from '../backend.js';
import { ExitCode, UserError } from '../../core/errors.js';
import type { PlannedHost } from '../../core/model.js';
import { isOwnTag, labOfNetnsName, labOfTag } from '../../core/naming.js';
import { requireTools, run, trustedPath, withoutLoaderVars } from '../../core/run.js';
import type { LabState } from '../../core/state.js';
import { control, serviceGid, serviceUid } from './control.js';
import { servicesDir } from '../../core/paths.js';
import { probeResultOf } from '../../core/end-to-end.js';
import { join } from 'node:path';
import { listLinks, listNetns } from './ip.js';
import { usedIpv4Prefixes } from '../../core/subnet.js';
import { packetsSent, totals } from '../../core/traffic.js';
import { runningCaptures } from '../../core/observe.js';
import { buildNetnsLab, teardownNetnsLab } from './lab.js';
import { bridgeTrafficIsFiltered } from './firewall.js';

async function ifindexOf(name: string): Promise<number | undefined> {
  try {
    return Number((await readFile(`/sys/class/net/${name}/ifindex`, 'utf8')).trim());
  } catch {
    return undefined;
  }
}

async function supervisorCall(state: LabState, req: Parameters<typeof control>[1]) {
  try {
    const reply = await control(state.plan.lab, req);
    if (!reply.ok) throw new Error(reply.error);
    return reply;
  } catch (err) {
    throw new UserError(
      `The lab's supervisor does not answer (${(err as Error).message}).`,
      'The lab is broken: remove it with `mystery down` and start it again.',
      ExitCode.noLab,
    );
  }
}

export const netnsBackend: LabBackend = {
  name: 'netns',

  async preflight() {
    // tcpdump is what the learner works with; iptables is needed where bridged traffic meets
    // the firewall (br_netfilter loaded, as on a Docker host), to let the lab's traffic through.
    await requireTools(['ip', 'nsenter', 'tcpdump']);
    if (await bridgeTrafficIsFiltered()) await requireTools(['iptables']);
  },

  build: buildNetnsLab,
  teardown: teardownNetnsLab,

  async hosts(state): Promise<HostRuntime[]> {
    let statuses: Awaited<ReturnType<typeof control>>['hosts'];
    try {
      statuses = (await control(state.plan.lab, { op: 'status' }, 2000)).hosts;
    } catch {
      statuses = undefined;
    }
    return state.plan.hosts.map((h) => {
      const s = statuses?.find((x) => x.name === h.name);
      return { name: h.name, state: s ? s.state : 'missing', restarts: s?.restarts ?? 0 };
    });
  },

  async stopHost(state, host) {
    await supervisorCall(state, { op: 'stop', host: host.name });
  },

  async startHost(state, host) {
    await supervisorCall(state, { op: 'start', host: host.name });
  },

  exec(_state, host: PlannedHost, argv: string[]): Promise<number> {
    // `ip netns exec` also mounts the namespace's own /sys, so that
    // /sys/class/net/eth0/iflink answers as it does inside a container.
    return new Promise((resolve, reject) => {
      const env = withoutLoaderVars({ ...process.env, PATH: trustedPath() });
      const child = spawn('ip', ['netns', 'exec', host.netns, ...argv], { stdio: 'inherit', env });
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (signalNumber[signal] ?? 1) : 1)));
    });
  },

  async interfaces(state) {
    const out = new Map<string, HostInterface | undefined>();
    for (const h of state.plan.hosts) {
      const ifindex = await ifindexOf(h.veth);
      out.set(h.name, ifindex === undefined ? undefined : { veth: h.veth, ifindex });
    }
    return out;
  },

  async probe(state, host, url, timeoutMs) {
    // as the services run: in the host's namespace, as the service user, from the lab's copy
    // of the services (readable by that user wherever the checkout is)
    const began = Date.now();
    const script = join(servicesDir(state.plan.lab), 'probe.js');
    const r = await run('nsenter', [`--net=/run/netns/${host.netns}`, `--setuid=${serviceUid}`, `--setgid=${serviceGid}`, '--', process.execPath, script, url, String(timeoutMs)], { timeoutMs: timeoutMs + 5000, cwd: '/' }).catch(() => undefined);
    return probeResultOf(r?.stdout, Date.now() - began);
  },

  async outcomes(state) {
    try {
      return (await control(state.plan.lab, { op: 'status' }, 2000)).outcomes;
    } catch {
      return undefined;
    }
  },

  async findLabs() {
    const labs = new Set<string>();
    for (const l of await listLinks()) {
      const lab = labOfTag(l.ifalias);
      if (lab) labs.add(lab);
    }
    // A namespace with the lab's name pattern is the lab's only if its lo carries the lab's
    // tag: the same rule teardown uses. Found by name alone, a lookalike (or a namespace
    // someone else made) made `start --name` refuse ("leftovers") forever, as down left it.
    for (const ns of await listNetns()) {
      const lab = labOfNetnsName(ns);
      if (!lab || labs.has(lab)) continue;
      const links = await listLinks(ns).catch(() => []);
      if (links.some((l) => isOwnTag(l.ifalias, lab))) labs.add(lab);
    }
    // a cgroup folder of ours left behind is that lab's leftover too
    for (const lab of cgroupLabs()) if (/^[a-z][a-z0-9]{0,11}$/.test(lab)) labs.add(lab);
    return [...labs];
  },

  usedPrefixes: usedIpv4Prefixes,
  packetsSent: (_state, ifaces, windowMs) => packetsSent(ifaces, windowMs),
  totals: (_state, ifaces) => totals(ifaces),
  captures: runningCaptures,

  async liveStatus(state) {
    const reply = await control(state.plan.lab, { op: 'status' }, 2000);
    return { latency: reply.latency ?? [] };
  },
};

const signalNumber: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGHUP: 1, SIGQUIT: 3 };
