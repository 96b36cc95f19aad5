/**
 * Builds and removes a lab out of network namespaces, veth pairs and a Linux bridge, the
 * way Docker builds a bridge network. Every step is written to the state's journal before
 * it is taken, so an interrupted start can be undone, and every link carries the lab's
 * owner tag, so `down` finds its own even without the state file.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, open, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isOwnTag, labFlag, netnsPattern, ownerTag } from '../../core/naming.js';
import { compiledServicesDir, labDir, logFile, servicesDir } from '../../core/paths.js';
import { endIdentified, endProcesses, findProcesses, identify, isLabProcess, isSameProcess, isSupervisorOf, processArgs as readProcArgs, processStartTicks, sleep, type ProcessId } from '../../core/procs.js';
import { run, runOk, safeEnv, which } from '../../core/run.js';
import { findCase } from '../../cases/index.js';
import { hostSysctls } from '../../cases/common.js';
import { ExitCode, UserError } from '../../core/errors.js';
import { seededRng } from '../../core/random.js';
import { writeState, type LabState } from '../../core/state.js';
import { hostInterfaces, hostWiring, planNetworks, siteRoute } from '../../core/model.js';
import { pidAlive } from '../../core/lock.js';
import { ip, ipBatch, ipBatchTolerant, listLinks, listNetns, netnsPids } from './ip.js';
import { createLabCgroup, labCgroupPids, removeLabCgroup } from './cgroup.js';
import { acceptRule, bridgeTrafficIsFiltered, deleteRule, insertRule, taggedRules } from './firewall.js';
import { control, type HostStatus } from './control.js';

export type StepHook = (step: string) => Promise<void>;

/**
 * The host-side links get no IPv6 link-local address: the host's routing tables then gain
 * nothing but the lab's /24, at once rather than a DAD delay later, and the host sends no
 * router solicitations into the learner's captures. Where IPv6 is off this fails, harmlessly.
 */
async function withoutIpv6LinkLocal(dev: string): Promise<void> {
  await run('ip', ['link', 'set', 'dev', dev, 'addrgenmode', 'none']);
}

const supervisorScript = fileURLToPath(new URL('./supervisor.js', import.meta.url));

export async function buildNetnsLab(state: LabState, step: StepHook): Promise<void> {
  const { plan } = state;
  const tag = ownerTag(plan.lab);
  const journal = async (change: () => void): Promise<void> => {
    change();
    await writeState(state);
  };

  const networks = planNetworks(plan);
  for (const [n, net] of networks.entries()) {
    await step(n === 0 ? 'bridge' : `bridge:${n}`);
    await journal(() => {
      if (n === 0) state.created.bridge = net.bridge;
      else (state.created.bridges ??= []).push(net.bridge);
    });
    // made and tagged by one ip process, so that no kill of ours can come between the two
    await ipBatch([
      ['link', 'add', net.bridge, 'type', 'bridge'],
      ['link', 'set', 'dev', net.bridge, 'alias', tag],
    ]);
    if (n === 0) await step('bridge/added'); // made and tagged, not yet configured
    // the machine's address only where the site is published from: no other network is routed on it
    if (net.gateway) await ip('addr', 'add', `${net.gateway}/24`, 'dev', net.bridge);
    if (net.mtu) await ip('link', 'set', 'dev', net.bridge, 'mtu', String(net.mtu));
    await withoutIpv6LinkLocal(net.bridge);
    await ip('link', 'set', 'dev', net.bridge, 'up');
  }

  await step('firewall');
  if ((await bridgeTrafficIsFiltered()) && (await which('iptables'))) {
    for (const net of networks) {
      const rule = acceptRule(plan.lab, net.bridge);
      await journal(() => state.created.rules.push(rule));
      await insertRule(rule);
    }
  }

  for (const [i, host] of plan.hosts.entries()) {
    await step(`netns:${i}`);
    await journal(() => state.created.netns.push(host.netns));
    await ipBatch([
      ['netns', 'add', host.netns],
      ['netns', 'exec', host.netns, 'ip', 'link', 'set', 'dev', 'lo', 'alias', tag],
    ]);
    await step(`netns:${i}/added`); // made and tagged, not yet configured
    await ip('-n', host.netns, 'link', 'set', 'dev', 'lo', 'up');

    await step(`veth:${i}`);
    for (const [k, nic] of hostInterfaces(plan, host).entries()) {
      const net = networks.find((x) => x.name === nic.network)!;
      await journal(() => state.created.veths.push(nic.veth));
      // Created with its peer already inside the namespace: no veth is ever stranded
      // between creation and the move. One that fails half way is removed at once.
      try {
        await ipBatch([
          ['link', 'add', nic.veth, 'type', 'veth', 'peer', 'name', nic.ifname, 'netns', host.netns],
          ['link', 'set', 'dev', nic.veth, 'alias', tag],
        ]);
        if (k === 0) await step(`veth:${i}/added`); // made and tagged, not yet configured
        // one ip process a side (each spawn costs milliseconds, a lab has dozens of interfaces)
        await ipBatch([...(net.mtu ? [['link', 'set', 'dev', nic.veth, 'mtu', String(net.mtu)]] : []), ['link', 'set', 'dev', nic.veth, 'master', net.bridge]]);
        await withoutIpv6LinkLocal(nic.veth);
        await ipBatch([['link', 'set', 'dev', nic.veth, 'up']]);
        await ipBatch(
          [
            ...(net.mtu ? [['link', 'set', 'dev', nic.ifname, 'mtu', String(net.mtu)]] : []),
            ['link', 'set', 'dev', nic.ifname, 'alias', tag],
            ['addr', 'add', `${nic.ip}/24`, 'dev', nic.ifname],
            ['link', 'set', 'dev', nic.ifname, 'up'],
          ],
          host.netns,
        );
      } catch (err) {
        await run('ip', ['link', 'del', 'dev', nic.veth]);
        throw err;
      }
    }
  }

  await applyHostSpecs(plan);

  await step('services');
  await copyServices(plan.lab);

  // the services' cgroup, made before any service runs (named by the lab: no journal entry needed)
  await step('cgroup');
  try {
    createLabCgroup(plan.lab, plan.limits);
  } catch (err) {
    throw new UserError(
      `\`--cpus\`/\`--memory\` cap the lab through a cgroup of its own, and it could not be made: ${(err as Error).message}.`,
      'Start without --cpus and --memory, or on a machine whose cgroups (v2, or v1 with memory and cpu) are mounted at /sys/fs/cgroup and writable by root.',
      ExitCode.resources,
    );
  }

  await step('supervisor');
  const log = await open(logFile(plan.lab), 'a', 0o600);
  const child = spawn(process.execPath, [supervisorScript, '--lab-dir', labDir(plan.lab)], {
    detached: true,
    stdio: ['ignore', log.fd, log.fd],
    cwd: '/',
    env: safeEnv(), // a long-lived root process: nothing of the caller's environment
  });
  child.unref();
  await log.close();
  await step('supervisor/spawned'); // running, its pid not yet in the journal
  const startTicks = child.pid ? await processStartTicks(child.pid) : undefined;
  await journal(() => {
    state.supervisorPid = child.pid;
    state.supervisorStartTicks = startTicks;
  });

  await step('ready');
  await waitUntilReady(state, 20_000, step);
}

/**
 * What a case asks of a host beyond its program, from its HostSpec. The draw is made again
 * from the seed (the plan holds no secrets); all of it goes away with the veth or namespace.
 *   link      what the host receives is lost (a random-match DROP inside its namespace) or delayed (tc netem on its veth)
 *   lowPorts  its service may bind ports below 1024 as `nobody`
 *   sysctls   per-namespace sysctls (socket buffer sizes ...), inside its namespace only
 *   wiring    its interfaces' MTUs and GSO limits, routes and rules, inside its namespace only (`hostWiring`)
 */
async function applyHostSpecs(plan: LabState['plan']): Promise<void> {
  const draw = findCase(plan.caseId).draw(seededRng(plan.seed), plan.suspects);
  for (const spec of draw.hosts) {
    const host = plan.hosts.find((h) => h.name === spec.name);
    if (!host) continue;
    if (spec.link) await impairLink(host, spec.link);
    const sysctls = { ...(spec.role === 'router' ? { 'net.ipv4.ip_forward': '1' } : {}), ...hostSysctls(spec) };
    await setNetnsSysctls(host.netns, sysctls);
    // the interfaces' MTUs and GSO limits, routes and rules, as the Docker backend applies them
    for (const c of hostWiring(plan, host, spec)) {
      if (c.tool === 'ip') await ip('-n', host.netns, ...c.args);
      else await runOk('ip', ['netns', 'exec', host.netns, c.tool, ...c.args]);
    }
    for (const [k, nic] of (spec.interfaces ?? []).entries()) {
      if (nic.impair) await impairInterface(host.netns, `eth${k}`, nic.impair);
    }
  }
  // the machine reaches the site through a router (CaseDraw.publish): a route to the
  // webserver's address only, on the published bridge, removed with it
  const route = siteRoute(plan, draw);
  if (route) await ip('route', 'add', route.to, 'via', route.via);
}

/**
 * What leaves a host through one of its interfaces is delayed, lost or rate-limited, by a
 * qdisc on that interface inside the host's own namespace: the machine's `tc qdisc show`
 * lists nothing. Where the kernel has no sch_netem, loss is a random DROP on the way out
 * (OUTPUT and FORWARD, inside the namespace) and rate a tbf; delay then cannot be made.
 */
export async function impairInterface(netns: string, dev: string, impair: { delayMs?: number; lossPercent?: number; rateKbit?: number }): Promise<void> {
  const inNs = (cmd: string, args: string[]) => run('ip', ['netns', 'exec', netns, cmd, ...args]);
  const netem = [...netemArgs(impair), ...(impair.rateKbit ? ['rate', `${impair.rateKbit}kbit`] : [])];
  if (!netem.length) return;
  const r = await inNs('tc', ['qdisc', 'add', 'dev', dev, 'root', 'netem', ...netem]);
  if (r.code === 0) return;
  if (!/qdisc kind is unknown/i.test(r.stderr) || impair.delayMs) {
    throw new UserError(
      `This case needs ${netem.join(' ')} on a link, and tc netem failed: ${r.stderr.trim()}`,
      'Delay needs tc netem: a kernel with sch_netem (CONFIG_NET_SCH_NETEM). Choose another case on this machine (`mystery cases`).',
      ExitCode.resources,
    );
  }
  if (impair.rateKbit) {
    await runOk('ip', ['netns', 'exec', netns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${impair.rateKbit}kbit`, 'burst', '16kb', 'latency', '400ms']);
  }
  if (impair.lossPercent) {
    const p = String(impair.lossPercent / 100);
    for (const chain of ['OUTPUT', 'FORWARD']) {
      await runOk('ip', ['netns', 'exec', netns, 'iptables', '-w', '-A', chain, '-o', dev, '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP']);
    }
  }
}

/**
 * A `net.*` sysctl inside the host's namespace only (the kernel keeps them per network
 * namespace), so the machine's own value stays as it was. Written with tee, not sysctl:
 * procps may be missing, coreutils not.
 */
export async function setNetnsSysctl(netns: string, key: string, value: string): Promise<void> {
  await setNetnsSysctls(netns, { [key]: value });
}

/** Several sysctls of one namespace, by one `sysctl -w` inside it (values without spaces only). */
export async function setNetnsSysctls(netns: string, sysctls: Record<string, string>): Promise<void> {
  const entries = Object.entries(sysctls);
  if (entries.length === 0) return;
  for (const [key, value] of entries) {
    if (!/^net(\.[a-z0-9_]+)+$/.test(key)) throw new Error(`not a per-namespace sysctl: ${key}`);
    if (!/^[0-9a-z_ -]+$/i.test(value)) throw new Error(`not a sysctl value: ${JSON.stringify(value)}`);
  }
  // tee writes one file: a value with spaces (tcp_rmem "4096 16384 32768") goes whole that way
  const spaced = entries.filter(([, v]) => v.includes(' '));
  const plain = entries.filter(([, v]) => !v.includes(' '));
  if (plain.length) await runOk('ip', ['netns', 'exec', netns, 'sysctl', '-q', '-w', ...plain.map(([k, v]) => `${k}=${v}`)]);
  for (const [key, value] of spaced) await runOk('ip', ['netns', 'exec', netns, 'tee', `/proc/sys/${key.replace(/\./g, '/')}`], { input: `${value}\n` });
}

/**
 * Loss of what is sent to the host: a DROP rule on the INPUT chain inside the host's own
 * namespace, matched by a classic BPF program that draws a random number (`ld rand`) and
 * matches when it is at or above a threshold. Nothing of it shows on the machine (`tc`,
 * `ip link`, `iptables -S`), and the cases give every suspect such a rule (a decoy with a
 * loss of a millionth of a percent), so the hosts' own rule sets look alike too. Kernels
 * without xt_bpf get the statistic match instead; delay, which only tc netem makes, goes on
 * the host-side veth. The rule goes away with the namespace.
 */
export async function impairLink(host: { veth: string; netns: string }, link: { delayMs?: number; lossPercent?: number }): Promise<void> {
  if (link.lossPercent !== undefined && !link.delayMs) {
    const bpf = await run('ip', ['netns', 'exec', host.netns, 'iptables', '-w', '-A', 'INPUT', '-m', 'bpf', '--bytecode', lossBytecode(link.lossPercent), '-j', 'DROP']);
    if (bpf.code === 0) return;
    const p = String(link.lossPercent / 100);
    const stat = await run('ip', ['netns', 'exec', host.netns, 'iptables', '-w', '-A', 'INPUT', '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP']);
    if (stat.code === 0) return;
  }
  const args = netemArgs(link);
  if (!args.length) return;
  const r = await run('tc', ['qdisc', 'add', 'dev', host.veth, 'root', 'netem', ...args]);
  if (r.code === 0) return;
  throw new UserError(
    `This case needs a link with ${args.join(' ')}, and \`tc qdisc add dev ${host.veth} root netem ${args.join(' ')}\` failed: ${r.stderr.trim()}`,
    'Delay needs tc netem: a kernel with sch_netem (CONFIG_NET_SCH_NETEM). Choose another case on this machine (`mystery cases`).',
    ExitCode.resources,
  );
}

/**
 * xt_bpf bytecode (`iptables -m bpf --bytecode`) that matches a packet with the given
 * probability (percent): A = random (SKF_AD_OFF + SKF_AD_RANDOM); match if A >= threshold.
 */
export function lossBytecode(lossPercent: number): string {
  const threshold = Math.min(2 ** 32 - 1, Math.max(0, Math.round((1 - lossPercent / 100) * 2 ** 32)));
  const ldRandom = 2 ** 32 - 0x1000 + 56;
  return `4,32 0 0 ${ldRandom},53 0 1 ${threshold},6 0 0 1,6 0 0 0`;
}

export function netemArgs(link: { delayMs?: number; lossPercent?: number } | undefined): string[] {
  const args: string[] = [];
  if (link?.delayMs) args.push('delay', `${link.delayMs}ms`);
  if (link?.lossPercent) args.push('loss', `${link.lossPercent}%`);
  return args;
}

/** The services run as an unprivileged user, so they run from a copy it can read. */
async function copyServices(lab: string): Promise<void> {
  const dir = servicesDir(lab);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const f of await readdir(compiledServicesDir)) {
    if (f.endsWith('.js')) await copyFile(join(compiledServicesDir, f), join(dir, f));
  }
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n', { mode: 0o644 });
}

async function waitUntilReady(state: LabState, timeoutMs: number, step: StepHook): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'the supervisor is starting';
  while (Date.now() < deadline) {
    await step('poll'); // Ctrl-C while waiting rolls back now, not once the lab is ready
    if (state.supervisorPid && !pidAlive(state.supervisorPid)) {
      throw new Error(`the lab supervisor exited during start; see ${logFile(state.plan.lab)}`);
    }
    try {
      const reply = await control(state.plan.lab, { op: 'status' }, 1000);
      const waiting = (reply.hosts ?? []).filter((h) => !h.ready).map((h) => h.name);
      if (reply.hosts && waiting.length === 0 && reply.siteOk) return;
      last = reply.siteOk ? `waiting for ${waiting.join(', ')}` : `the site on localhost:${state.plan.port} does not answer yet`;
    } catch {
      /* the socket is not there yet */
    }
    await sleep(50);
  }
  throw new Error(`the lab did not become ready in ${timeoutMs / 1000} s (${last}); see ${logFile(state.plan.lab)}`);
}

export async function netnsHostStatus(lab: string): Promise<HostStatus[] | undefined> {
  try {
    return (await control(lab, { op: 'status' })).hosts;
  } catch {
    return undefined;
  }
}

/** Processes of this lab on the host side: its supervisor and its forwarder, by their paths. */
async function labProcesses(lab: string): Promise<number[]> {
  const dir = labDir(lab);
  return findProcesses((args) => isLabProcess(args, dir));
}

/**
 * The supervisor the state file names, if that very process still runs: same pid, same
 * start time, and the supervisor of this lab by its arguments (an old state file has no
 * start time; the arguments alone must then match).
 */
async function recordedSupervisor(lab: string, state: LabState): Promise<ProcessId | undefined> {
  const pid = state.supervisorPid;
  if (!pid) return undefined;
  const [me] = await identify([pid]);
  if (!me) return undefined;
  if (state.supervisorStartTicks !== undefined && me.startTicks !== state.supervisorStartTicks) return undefined;
  const args = (await readProcArgs(pid)) ?? [];
  const ours = isSupervisorOf(args, labDir(lab));
  return ours && (await isSameProcess(me)) ? me : undefined;
}

/**
 * Namespaces of this lab: those with the lab's prefix whose lo carries its tag (made and
 * tagged by one `ip -batch`). A name in the journal alone is no proof that it is ours.
 */
async function labNamespaces(lab: string): Promise<string[]> {
  const pattern = netnsPattern(lab);
  const out: string[] = [];
  for (const ns of await listNetns()) {
    if (!pattern.test(ns)) continue;
    const links = await listLinks(ns).catch(() => []);
    if (links.some((l) => isOwnTag(l.ifalias, lab))) out.push(ns);
  }
  return out;
}

/**
 * Removes everything of the lab that exists: processes, namespaces, links and rules.
 * Idempotent, and complete even when `state` is undefined (lost or corrupt state file).
 */
export async function teardownNetnsLab(lab: string, state: LabState | undefined): Promise<void> {
  // 1. the supervisor first, so it restarts nothing; then whatever else runs of the lab
  if (state) {
    try {
      await control(lab, { op: 'shutdown' }, 1000);
    } catch {
      /* not running */
    }
  }
  const found = await identify(await labProcesses(lab));
  const supervisor = state ? await recordedSupervisor(lab, state) : undefined;
  await endIdentified([...found, ...(supervisor && !found.some((p) => p.pid === supervisor.pid) ? [supervisor] : [])]);
  // every service by its cgroup too (a service whose arguments were rewritten is still in it)
  await endProcesses(labCgroupPids(lab), 500);

  // 2. namespaces: end every process inside, then delete (a namespace with a process left
  //    in it would stay alive, and its veth with it)
  //    (all of them at once, and deleted by one ip process: a lab has a dozen namespaces)
  const namespaces = await labNamespaces(lab);
  await Promise.all(
    namespaces.map(async (ns) => {
      for (let i = 0; i < 3; i++) {
        const pids = await netnsPids(ns);
        if (pids.length === 0) break;
        await endProcesses(pids, 500);
      }
    }),
  );
  await ipBatchTolerant(namespaces.map((ns) => ['netns', 'del', ns]));
  // the cgroup, once its last process has gone (an exit takes the kernel a moment)
  for (let i = 0; i < 20 && !removeLabCgroup(lab); i++) {
    await endProcesses(labCgroupPids(lab), 200);
    await sleep(50);
  }

  // 3. links: exactly those carrying the lab's tag. A journal name alone is no proof: a link
  //    of that name without the tag is someone else's (each is made and tagged by one `ip
  //    -batch`, so ours always has it).
  const links = await listLinks();
  await ipBatchTolerant(links.filter((x) => isOwnTag(x.ifalias, lab)).map((l) => ['link', 'del', 'dev', l.ifname]));

  // 4. firewall rules: exactly the ones carrying the lab's tag. Without iptables a rule the
  //    journal names cannot be seen or removed: say so, and keep the state for the next down.
  if ((state?.created.rules.length ?? 0) > 0 && !(await which('iptables'))) {
    throw new UserError(
      `The lab is removed but for its firewall rule (${state!.created.rules[0]!.join(' ')}): \`iptables\` is no longer installed, so it cannot be removed.`,
      `Install it (\`apt-get install iptables\`), then run \`mystery down${labFlag(lab)}\` again.`,
      ExitCode.missingTool,
    );
  }
  for (const rule of await taggedRules(lab)) {
    while (await deleteRule(rule)) {
      /* a rule inserted twice is deleted twice */
    }
  }
}
