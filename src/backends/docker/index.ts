/**
 * The docker backend: the original's lab, built by Docker Compose from the repository's
 * docker-compose.yml, on the very services the namespace backend runs. The run's draw
 * (who floods) comes from the seed and reaches Compose only through its environment;
 * everything Compose makes carries the label tcpdump-mystery.lab=<lab>, so that `down`
 * finds exactly its own, with or without the state file. A lab started by hand with
 * `docker-compose --env-file .env.suspects up` is adopted: its draw is read back from the
 * containers (the tool may dig; the learner should not need to). The catalog's other cases
 * are built from a compose file written for the run (caseCompose), on the same services.
 */
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostInterface, HostRunState, HostRuntime, LabBackend } from '../backend.js';
import type { CaseDraw, ComposeFileSpec } from '../../cases/case.js';
import { allCases, findCase } from '../../cases/index.js';
import { ExitCode, UserError } from '../../core/errors.js';
import { measureLatency } from '../../core/latency.js';
import { packetsSent, totals } from '../../core/traffic.js';
import { outcomeWindowMs, parseOutcome, tallyOutcomes } from '../../core/outcomes.js';
import { probeResultOf } from '../../core/end-to-end.js';
import { runningCaptures } from '../../core/observe.js';
import { usedIpv4Prefixes } from '../../core/subnet.js';
import { resolveConfig, type LabPlan, type PlannedHost } from '../../core/model.js';
import { labDir, projectRoot } from '../../core/paths.js';
import { endProcesses, findProcesses, sleep } from '../../core/procs.js';
import { seededRng } from '../../core/random.js';
import { CommandFailed, requireTools, run, trustedPath, which, withoutLoaderVars } from '../../core/run.js';
import { writeState, type LabState } from '../../core/state.js';
import { composeTopology, isTopology, requireTopologyTools, routeSite, topologyRefusal, wireHost } from './topology.js';
import {
  baseImage,
  caseCompose,
  dockerNetworkName,
  composeCommand,
  composeFile,
  composeNames,
  containerIflink,
  docker,
  dockerMaybe,
  engineAnswers,
  envOf,
  hostLinksByIndex,
  imageExists,
  labContainers,
  labLabel,
  lines,
  serviceOf,
  type ContainerInfo,
} from './docker.js';


/**
 * The environment of the docker-compose process for a case's own compose file: the lab's
 * names, the base image, and the variables that carry the draw (the case says which).
 */
export async function composeEnv(plan: Pick<LabPlan, 'lab' | 'port'>, draw: CaseDraw, spec: ComposeFileSpec): Promise<NodeJS.ProcessEnv> {
  const carried = spec.env(draw);
  if ('refusal' in carried) throw new UserError(carried.refusal.message, carried.refusal.fix, ExitCode.usage);
  const names = composeNames(plan.lab);
  return {
    ...composeProcessEnv(),
    COMPOSE_PROJECT_NAME: names.project,
    MYSTERY_LAB: plan.lab,
    MYSTERY_PORT: String(plan.port),
    MYSTERY_PREFIX: names.prefix,
    MYSTERY_NETWORK: names.network,
    NODE_IMAGE: await baseImage(),
    ...carried.env,
  };
}

/** The caller's environment without what would change the lab: only this run's values reach Compose. */
function composeProcessEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SUSPECT\d+|MYSTERY_(?!COMPOSE_FILE)\w*|COMPOSE_\w+)$/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/** The compose file's services that this run does not have (fewer suspects): scaled to 0. */
function scaleArgs(draw: CaseDraw, spec: ComposeFileSpec): string[] {
  return spec.unused(draw).flatMap((name) => ['--scale', `${name}=0`]);
}

async function compose(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  const [cmd, ...pre] = await composeCommand();
  const r = await run(cmd!, [...pre, ...args], { env, timeoutMs });
  if (r.code !== 0) throw new CommandFailed(cmd!, [...pre, ...args], r);
  return r.stdout + r.stderr;
}

function composeArgs(lab: string, spec: ComposeFileSpec): string[] {
  return ['-p', composeNames(lab).project, '-f', composeFile(spec.file), '--project-directory', projectRoot];
}

function runState(c: ContainerInfo | undefined): HostRunState {
  if (!c) return 'missing';
  if (c.State.Restarting || c.State.Status === 'restarting') return 'restarting';
  if (c.State.Running) return 'running';
  if (c.State.Status === 'created') return 'starting';
  return 'stopped';
}

async function containerOf(state: LabState, host: PlannedHost): Promise<ContainerInfo> {
  const c = (await labContainers(state.plan.lab, state.created.composeProject)).find((x) => serviceOf(x) === host.name);
  if (!c) {
    throw new UserError(
      `The container of ${host.name} is gone (removed outside the lab?).`,
      `Remove the lab with \`mystery down${state.plan.lab === 'mystery' ? '' : ` --name ${state.plan.lab}`}\` and start it again.`,
      ExitCode.noLab,
    );
  }
  return c;
}

/** Waits until every container runs, every sender has sent, and the site answers on the port. */
async function waitUntilReady(state: LabState, draw: CaseDraw, timeoutMs: number, step: (s: string) => Promise<void>): Promise<ContainerInfo[]> {
  const deadline = Date.now() + timeoutMs;
  const sending = new Set<string>();
  let last = 'the containers are starting';
  while (Date.now() < deadline) {
    await step('ready poll');
    const cs = await labContainers(state.plan.lab, state.created.composeProject);
    const notRunning = draw.hosts.filter((h) => !cs.find((c) => serviceOf(c) === h.name && c.State.Running)).map((h) => h.name);
    if (notRunning.length) last = `waiting for ${notRunning.join(', ')}`;
    else {
      for (const h of draw.hosts.filter((x) => x.role === 'suspect' && !sending.has(x.name))) {
        const c = cs.find((x) => serviceOf(x) === h.name)!;
        const r = await run('docker', ['logs', c.Id], { timeoutMs: 10_000 });
        if (/^sending$/m.test(r.stdout)) sending.add(h.name);
      }
      const quiet = draw.hosts.filter((h) => h.role === 'suspect' && !sending.has(h.name)).map((h) => h.name);
      if (quiet.length) last = `waiting for ${quiet.join(', ')} to send`;
      else if ((await measureLatency(state.plan.port, 5000)) !== null) return cs;
      else last = `the site on localhost:${state.plan.port} does not answer yet`;
    }
    await sleep(200);
  }
  throw new Error(`the docker lab did not become ready in ${timeoutMs / 1000} s (${last}); see \`docker logs\` of its containers`);
}

/** Fills the plan with what Docker made: container ids (as `docker ps` shows them), addresses, the bridge. */
async function describeFromDocker(plan: LabPlan, cs: ContainerInfo[]): Promise<void> {
  if ((plan.networks ?? []).length > 1) return describeTopology(plan, cs);
  let networkId = '';
  for (const h of plan.hosts) {
    const c = cs.find((x) => serviceOf(x) === h.name);
    if (!c) continue;
    const net = Object.values(c.NetworkSettings.Networks)[0];
    h.id = c.Id.slice(0, 12);
    h.ip = net?.IPAddress || h.ip;
    h.netns = '';
    h.veth = '';
    networkId ||= net?.NetworkID ?? '';
  }
  if (!networkId) return;
  plan.bridge = `br-${networkId.slice(0, 12)}`;
  const info = await dockerMaybe(['network', 'inspect', '--format', '{{json .IPAM.Config}}', networkId]);
  try {
    const cfg = (JSON.parse(info ?? '[]') as Array<{ Subnet?: string; Gateway?: string }>)[0];
    // the state keeps a /24 (the netns backend's kind); Docker's default pools hand out /16s,
    // which `docker network inspect` tells: the plan then names no subnet
    if (cfg?.Subnet) plan.subnet = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.0\/24$/.test(cfg.Subnet) ? cfg.Subnet : '';
    if (cfg?.Gateway) plan.gateway = cfg.Gateway;
  } catch {
    /* keep the plan's */
  }
}

/** A lab of several networks keeps the plan's addresses (Compose gave them); Docker names its bridges. */
async function describeTopology(plan: LabPlan, cs: ContainerInfo[]): Promise<void> {
  for (const h of plan.hosts) {
    const c = cs.find((x) => serviceOf(x) === h.name);
    if (c) h.id = c.Id.slice(0, 12);
    h.netns = '';
    h.veth = '';
    for (const i of h.interfaces ?? []) i.veth = '';
  }
  for (const n of plan.networks ?? []) {
    const id = (await dockerMaybe(['network', 'inspect', '--format', '{{.Id}}', dockerNetworkName(plan.lab, n.name)]))?.trim();
    if (id) n.bridge = `br-${id.slice(0, 12)}`;
  }
  const published = plan.networks![0]!;
  plan.bridge = published.bridge;
}

/** The untagged images each image is built on (the legacy builder's intermediates), nearest first. */
async function untaggedAncestors(ids: string[]): Promise<string[]> {
  const all = lines(await dockerMaybe(['image', 'ls', '-aq', '--no-trunc']));
  if (all.length === 0) return [];
  const info = new Map<string, { parent: string; tagged: boolean }>();
  try {
    for (const i of JSON.parse((await dockerMaybe(['image', 'inspect', ...new Set(all)], 60_000)) ?? '[]') as Array<{ Id: string; Parent: string; RepoTags: string[] | null }>) {
      info.set(i.Id, { parent: i.Parent, tagged: (i.RepoTags ?? []).length > 0 });
    }
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const id of ids) {
    let cur = info.get(id)?.parent;
    while (cur && info.has(cur) && !info.get(cur)!.tagged && !out.includes(cur)) {
      out.push(cur);
      cur = info.get(cur)!.parent;
    }
  }
  // children before their parents, so that each is childless when its turn comes
  const depth = (id: string): number => {
    let d = 0;
    for (let cur = info.get(id)?.parent; cur && d < 1000; cur = info.get(cur)?.parent) d++;
    return d;
  };
  return out.sort((a, b) => depth(b) - depth(a));
}

const signalNumber: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGHUP: 1, SIGQUIT: 3 };

export const dockerBackend: LabBackend & {
  adopt(lab: string): Promise<{ state: LabState; draw: CaseDraw } | undefined>;
} = {
  name: 'docker',

  async preflight() {
    await requireTools(['docker']);
    await composeCommand();
    if (!(await engineAnswers())) {
      throw new UserError(
        'The Docker engine does not answer (`docker info` fails).',
        'Start it: sudo systemctl start docker (or, without systemd: sudo dockerd &). On this project, `sudo bash .ci/docker-setup.sh` does it all.',
        ExitCode.missingTool,
      );
    }
  },

  async build(state, step) {
    const { plan } = state;
    const draw = findCase(plan.caseId).draw(seededRng(plan.seed), plan.suspects);
    // A case with a compose file of its own runs from it (the seed's from docker-compose.yml,
    // as the original did); every other case from a compose file written for this run,
    // removed once it is up.
    const own = findCase(plan.caseId).composeFile;
    const runFile = join(labDir(plan.lab), 'compose.json');
    let env: NodeJS.ProcessEnv;
    let args: string[];
    let toBuild: string[];
    if (own) {
      env = await composeEnv(plan, draw, own);
      args = composeArgs(plan.lab, own);
      toBuild = own.build;
    } else {
      const refusal = topologyRefusal(draw);
      if (refusal) {
        // the case module says which backends it offers; this is the backstop
        throw new UserError(`The case ${plan.caseId} cannot be built on Docker: ${refusal}.`, 'Use --backend netns.', ExitCode.usage);
      }
      if (isTopology(draw)) await requireTopologyTools();
      env = { ...composeProcessEnv(), COMPOSE_PROJECT_NAME: composeNames(plan.lab).project };
      const base = await baseImage();
      env.NODE_IMAGE = base;
      await writeFile(runFile, JSON.stringify(caseCompose({ lab: plan.lab, port: plan.port, hosts: isTopology(draw) ? draw.hosts.map((h) => ({ ...h, config: resolveConfig(h.config, plan) })) : draw.hosts, baseImage: base, ...(isTopology(draw) ? { topology: composeTopology(plan, draw) } : {}) }), null, 2), { mode: 0o600 });
      args = ['-p', composeNames(plan.lab).project, '-f', runFile, '--project-directory', projectRoot];
      toBuild = [draw.hosts[0]!.name]; // every host runs the one image it builds
    }
    state.created.composeProject = composeNames(plan.lab).project;
    await writeState(state);

    await step('building the images (docker-compose build)');
    try {
      await compose([...args, 'build', ...toBuild], env, 600_000);
    } catch (err) {
      if (err instanceof CommandFailed && !(await imageExists(env.NODE_IMAGE!))) {
        throw new UserError(
          `The images cannot be built: their base image ${env.NODE_IMAGE} is not on this machine and could not be pulled.`,
          `Name a local Node 20 image with NODE_IMAGE=..., or build one from this machine's node: sudo bash .ci/docker-setup.sh (it prints the NODE_IMAGE to use).`,
          ExitCode.missingTool,
        );
      }
      throw err;
    }

    await step('starting the containers (docker-compose up)');
    await compose([...args, 'up', '-d', '--no-build', ...(own ? scaleArgs(draw, own) : [])], env, 180_000);
    if (!own) await rm(runFile, { force: true }); // it holds the run's secrets (the case's configuration)
    if (!own && isTopology(draw)) {
      await step('wiring the networks (names, routes, rules inside each container)');
      const cs = await labContainers(plan.lab, state.created.composeProject);
      for (const spec of draw.hosts) {
        const host = plan.hosts.find((h) => h.name === spec.name)!;
        await wireHost(plan, host, spec, cs.find((c) => serviceOf(c) === spec.name)?.State.Pid ?? 0);
      }
      await routeSite(plan, draw);
    }

    await step('ready');
    // (Docker's DNS answers only on a network both share: a topology's configuration holds addresses)
    const cs = await waitUntilReady(state, draw, 60_000, step);
    await describeFromDocker(plan, cs);
    await writeState(state);
  },

  async teardown(lab, state) {
    // a compose this tool started for the lab and that still runs (its start was killed)
    // would go on creating containers: end it first
    const ourProject = state?.created.composeProject ?? composeNames(lab).project;
    // ours: our project, and our project directory (a compose of someone else's with the same
    // project name is not ours)
    await endProcesses(await findProcesses((a) => a.some((x, i) => x === ourProject && a[i - 1] === '-p') && a.some((x, i) => x === projectRoot && a[i - 1] === '--project-directory') && a.some((x) => /compose/.test(x))));
    if (!(await which('docker')) || !(await engineAnswers())) return;
    const project = state?.created.composeProject;
    const containers = (await labContainers(lab, project)).map((c) => c.Id);
    if (containers.length) await dockerMaybe(['rm', '-f', '-v', ...containers], 120_000);
    const networks = new Set(lines(await dockerMaybe(['network', 'ls', '-q', '--filter', `label=${labLabel}=${lab}`])));
    for (const n of networks) await dockerMaybe(['network', 'rm', n], 60_000);
    const images = new Set(lines(await dockerMaybe(['image', 'ls', '-q', '--no-trunc', '--filter', `label=${labLabel}=${lab}`])));
    if (images.size) {
      const chain = await untaggedAncestors([...images]);
      await dockerMaybe(['rmi', '-f', ...images], 120_000);
      // the build's intermediate images that removing the images left dangling; one that
      // another image still builds on (or that is tagged, as the base is) is not removed
      const left = new Set(lines(await dockerMaybe(['image', 'ls', '-aq', '--no-trunc', '--filter', 'dangling=true'])));
      const dangling = chain.filter((id) => left.has(id));
      if (dangling.length) await dockerMaybe(['rmi', ...dangling], 120_000);
    }
  },

  async hosts(state): Promise<HostRuntime[]> {
    const cs = await labContainers(state.plan.lab, state.created.composeProject);
    return state.plan.hosts.map((h) => {
      const c = cs.find((x) => serviceOf(x) === h.name);
      return { name: h.name, state: runState(c), restarts: c?.RestartCount ?? 0 };
    });
  },

  async stopHost(state, host) {
    const c = await containerOf(state, host);
    // a stopped container's veth is gone, and its counters with it: keep both for the debrief
    const ifindex = await containerIflink(c);
    const veth = ifindex === undefined ? undefined : (await hostLinksByIndex()).get(ifindex);
    if (ifindex !== undefined && veth) {
      const seen = await totals(new Map([[host.name, { veth, ifindex }]]));
      const packets = seen.packets.get(host.name);
      if (packets !== undefined) {
        state.countersAtStop = { ...state.countersAtStop, [host.name]: { packets, bytes: seen.bytes.get(host.name) ?? 0, veth, ifindex } };
        await writeState(state);
      }
    }
    await docker(['stop', '-t', '5', c.Id]);
  },

  async startHost(state, host) {
    const c = await containerOf(state, host);
    await docker(['start', c.Id]);
    // a started container has a new network namespace: its names, routes and rules again
    const draw = findCase(state.plan.caseId).draw(seededRng(state.plan.seed), state.plan.suspects);
    const spec = draw.hosts.find((h) => h.name === host.name);
    if (spec && isTopology(draw)) await wireHost(state.plan, host, spec, (await containerOf(state, host)).State.Pid);
  },

  async exec(state, host, argv) {
    const c = await containerOf(state, host);
    const tty = !!process.stdin.isTTY && !!process.stdout.isTTY;
    return new Promise((resolve, reject) => {
      const env = withoutLoaderVars({ ...process.env, PATH: trustedPath() });
      const child = spawn('docker', ['exec', '-i', ...(tty ? ['-t'] : []), c.Id, ...argv], { stdio: 'inherit', env });
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (signalNumber[signal] ?? 1) : 1)));
    });
  },

  async probe(state, host, url, timeoutMs) {
    // in the container, as its own user (the services' image: 65534), beside its service
    const began = Date.now();
    const c = await containerOf(state, host).catch(() => undefined);
    if (!c) return { ok: false, error: 'no container', ms: 0 };
    const r = await run('docker', ['exec', '-w', '/app', c.Id, 'node', 'probe.js', url, String(timeoutMs)], { timeoutMs: timeoutMs + 10_000 }).catch(() => undefined);
    return probeResultOf(r?.stdout, Date.now() - began);
  },

  async outcomes(state) {
    // the services' `outcome ...` lines of the window, from every container's log (only the sum is shown)
    const cs = await labContainers(state.plan.lab, state.created.composeProject);
    const logs = await Promise.all(cs.map((c) => run('docker', ['logs', '--since', `${Math.round(outcomeWindowMs / 1000)}s`, c.Id], { timeoutMs: 10_000 }).catch(() => undefined)));
    const kinds = logs.flatMap((r) => (r?.stdout ?? '').split('\n').map(parseOutcome).filter((k) => k !== undefined));
    return tallyOutcomes(kinds);
  },

  async interfaces(state) {
    const cs = await labContainers(state.plan.lab, state.created.composeProject);
    const links = await hostLinksByIndex();
    const out = new Map<string, HostInterface | undefined>();
    for (const h of state.plan.hosts) {
      const c = cs.find((x) => serviceOf(x) === h.name);
      const ifindex = c ? await containerIflink(c) : undefined;
      const veth = ifindex === undefined ? undefined : links.get(ifindex);
      out.set(h.name, ifindex !== undefined && veth ? { veth, ifindex } : undefined);
    }
    return out;
  },

  async findLabs(opts) {
    if (!(await which('docker'))) return [];
    const fmt = `{{.Label "${labLabel}"}}`;
    const found = [
      ...lines(await dockerMaybe(['ps', '-a', '--filter', `label=${labLabel}`, '--format', fmt])),
      ...lines(await dockerMaybe(['network', 'ls', '--filter', `label=${labLabel}`, '--format', fmt])),
    ];
    // images (an interrupted start, or the seed's `docker-compose down`, may leave only them):
    // `down` removes them, but they are not a lab, so they never stop a start (labsOnly)
    if (opts?.labsOnly) return [...new Set(found)].filter((l) => /^[a-z][a-z0-9]{0,11}$/.test(l));
    // `docker image ls` cannot print labels
    const images = [...new Set(lines(await dockerMaybe(['image', 'ls', '-q', '--filter', `label=${labLabel}`])))];
    if (images.length) found.push(...lines(await dockerMaybe(['image', 'inspect', '--format', `{{index .Config.Labels "${labLabel}"}}`, ...images])));
    return [...new Set(found)].filter((l) => /^[a-z][a-z0-9]{0,11}$/.test(l));
  },

  // the machine's routes, as for the namespaces: Compose networks get the plan's /24s
  usedPrefixes: usedIpv4Prefixes,
  packetsSent: (_state, ifaces, windowMs) => packetsSent(ifaces, windowMs),
  totals: (_state, ifaces) => totals(ifaces),
  captures: runningCaptures,

  /**
   * A lab started by hand (`docker-compose --env-file .env.suspects up`): read back from
   * its containers, so that status, stop and the check work on it too.
   */
  async adopt(lab) {
    if (!(await which('docker'))) return undefined;
    const cs = await labContainers(lab);
    if (cs.length === 0) return undefined;
    // each container by its service, with its variables: the case whose compose file made them reads its draw back
    const services = new Map(cs.filter((c) => serviceOf(c)).map((c) => [serviceOf(c)!, (variable: string) => envOf(c, variable)] as const));
    for (const c of allCases()) {
      const read = c.composeFile?.adopt(services);
      if (!read) continue;
      if ('refusal' in read) throw new UserError(read.refusal.message, read.refusal.fix, ExitCode.noLab);
      return adoptAs(lab, c.id, read.draw, read.seed, cs);
    }
    return undefined;
  },
};

/** The plan and state of a lab started by hand from a case's compose file, read back from its containers. */
async function adoptAs(lab: string, caseId: string, draw: CaseDraw, seed: string, cs: ContainerInfo[]): Promise<{ state: LabState; draw: CaseDraw }> {
  const mine = cs.filter((c) => draw.hosts.some((h) => h.name === serviceOf(c)));
  // the site: the container that publishes port 3000 on the machine
  const published = (c: ContainerInfo) => (c.HostConfig?.PortBindings?.['3000/tcp'] ?? c.NetworkSettings.Ports?.['3000/tcp'] ?? [])[0];
  const web = mine.find((c) => published(c)) ?? mine[0]!;
  const binding = published(web);
  const plan: LabPlan = {
    lab,
    caseId,
    seed,
    suspects: draw.hosts.filter((h) => h.role === 'suspect').length,
    backend: 'docker',
    port: Number(binding?.HostPort ?? 3000),
    subnet: '',
    gateway: '',
    bridge: '',
    // as `docker ps -a` lists them: never name order
    hosts: mine.map((c) => {
      const spec = draw.hosts.find((h) => h.name === serviceOf(c))!;
      return { name: spec.name, id: c.Id.slice(0, 12), role: spec.role, program: spec.program, ip: '', netns: '', veth: '' };
    }),
  };
  await describeFromDocker(plan, cs);
  const state: LabState = {
    version: 1,
    plan,
    created: { netns: [], veths: [], rules: [], composeProject: web.Config.Labels?.['com.docker.compose.project'] },
    startedAt: web.Created,
    readyAt: web.State.StartedAt || web.Created,
    arrests: [],
    hintsUsed: 0,
  };
  return { state, draw };
}
