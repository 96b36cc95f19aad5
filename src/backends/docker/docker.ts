/**
 * The Docker side of the docker backend: names, the compose command, and finding what
 * belongs to a lab by its labels. Argument arrays only, never a shell string.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, UserError } from '../../core/errors.js';
import { defaultLabName } from '../../core/naming.js';
import { projectRoot } from '../../core/paths.js';
import { run, runOk, safeEnv, which, type RunOptions } from '../../core/run.js';
import { hostSysctls } from '../../cases/common.js';
import type { HostBase, ServiceProgram } from '../../cases/case.js';

/** The label every container, network and image of a lab carries: its lab's name. */
export const labLabel = 'tcpdump-mystery.lab';
/** The base image built by .ci/docker-setup.sh on machines without Docker Hub. */
export const localBaseImage = 'tcpdump-mystery/node-base:local';
export const defaultBaseImage = 'node:20-alpine';
/** The senders docker-compose.yml defines. */
/** A case's own compose file, from the project's root (MYSTERY_COMPOSE_FILE: another, for a test). */
export const composeFile = (file: string): string => process.env.MYSTERY_COMPOSE_FILE ?? join(projectRoot, file);

/** The default lab has the original's names (project and network tcpdump-mystery, containers webserver ...). */
export function composeNames(lab: string): { project: string; network: string; prefix: string } {
  if (lab === defaultLabName) return { project: 'tcpdump-mystery', network: 'tcpdump-mystery', prefix: '' };
  return { project: `tcpdump-mystery-${lab}`, network: `tcpdump-mystery-${lab}`, prefix: `${lab}-` };
}

/**
 * The environment of every docker command: the tool's safe one, plus Docker's own settings of
 * which engine to talk to (DOCKER_HOST ...), so that `docker` and Compose (which gets the
 * caller's environment) always talk to the same engine.
 */
export function dockerEnv(): NodeJS.ProcessEnv {
  const extra: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^DOCKER_(HOST|CONTEXT|CONFIG|TLS_VERIFY|CERT_PATH|API_VERSION)$/.test(k)) extra[k] = v;
  }
  return safeEnv(extra);
}

export async function docker(args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return runOk('docker', args, { timeoutMs: 120_000, env: dockerEnv(), ...opts });
}

/** `docker ...` that may fail (no daemon, nothing to remove): undefined then. */
export async function dockerMaybe(args: readonly string[], timeoutMs = 15_000): Promise<string | undefined> {
  try {
    const r = await run('docker', args, { timeoutMs, env: dockerEnv() });
    return r.code === 0 ? r.stdout : undefined;
  } catch {
    return undefined; // docker is not installed
  }
}

export function lines(text: string | undefined): string[] {
  return (text ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Compose v1 (`docker-compose`, as in the walkthrough) where installed, else `docker compose` (v2). */
export async function composeCommand(): Promise<string[]> {
  if (await which('docker-compose')) return ['docker-compose'];
  const v2 = await dockerMaybe(['compose', 'version']);
  if (v2 !== undefined) return ['docker', 'compose'];
  throw new UserError(
    'Docker Compose is not installed: neither `docker-compose` nor `docker compose` works.',
    'Install it: sudo apt-get install docker-compose',
    ExitCode.missingTool,
  );
}

export async function engineAnswers(): Promise<boolean> {
  return (await dockerMaybe(['info', '--format', '{{.ServerVersion}}'], 15_000)) !== undefined;
}

export async function imageExists(ref: string): Promise<boolean> {
  return (await dockerMaybe(['image', 'inspect', '--format', '{{.Id}}', ref])) !== undefined;
}

/**
 * The base image: NODE_IMAGE if set; else node:20-alpine, or, where that is not on this
 * machine and cannot be pulled (no Docker Hub), the local one .ci/docker-setup.sh builds.
 */
export async function baseImage(): Promise<string> {
  if (process.env.NODE_IMAGE) return process.env.NODE_IMAGE;
  if (await imageExists(defaultBaseImage)) return defaultBaseImage;
  if (await imageExists(localBaseImage)) return localBaseImage;
  return defaultBaseImage;
}

export interface ContainerInfo {
  Id: string;
  Name: string;
  Created: string;
  RestartCount: number;
  State: { Status: string; Running: boolean; Restarting: boolean; Pid: number; StartedAt: string };
  Config: { Env: string[] | null; Labels: Record<string, string> | null };
  NetworkSettings: {
    Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
    Networks: Record<string, { NetworkID: string; IPAddress: string; Gateway: string }>;
  };
  HostConfig?: { PortBindings?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> };
}

/** Every container carrying the lab's label (or the compose project's), inspected. */
/**
 * The lab's containers: those carrying the lab's label (every compose file of ours sets it),
 * of its Compose project where the state names one. A project's name alone is no proof: any
 * other compose file may use `tcpdump-mystery` too, and its containers are not ours.
 */
export async function labContainers(lab: string, project?: string): Promise<ContainerInfo[]> {
  const filters = ['--filter', `label=${labLabel}=${lab}`, ...(project ? ['--filter', `label=com.docker.compose.project=${project}`] : [])];
  const ids = new Set(lines(await dockerMaybe(['ps', '-aq', '--no-trunc', ...filters])));
  if (ids.size === 0) return [];
  const out = await dockerMaybe(['inspect', ...ids]);
  if (out === undefined) return []; // one went away in between: ask again
  return JSON.parse(out) as ContainerInfo[];
}

export const serviceOf = (c: ContainerInfo): string | undefined => c.Config.Labels?.['com.docker.compose.service'];

export function envOf(c: ContainerInfo, name: string): string | undefined {
  const e = (c.Config.Env ?? []).find((x) => x.startsWith(`${name}=`));
  return e?.slice(name.length + 1);
}

/** The host's interfaces by ifindex, read from /sys. */
export async function hostLinksByIndex(): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const name of await readdir('/sys/class/net')) {
    try {
      out.set(Number((await readFile(`/sys/class/net/${name}/ifindex`, 'utf8')).trim()), name);
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * The container's /sys/class/net/eth0/iflink: the ifindex, on the host, of its veth's other
 * end. Read through /proc/PID/root (the container's own /sys), or with `docker exec`.
 */
export async function containerIflink(c: ContainerInfo): Promise<number | undefined> {
  if (!c.State.Running || !c.State.Pid) return undefined;
  try {
    const n = Number((await readFile(`/proc/${c.State.Pid}/root/sys/class/net/eth0/iflink`, 'utf8')).trim());
    if (Number.isInteger(n) && n > 0) return n;
  } catch {
    /* try docker exec */
  }
  const out = await dockerMaybe(['exec', c.Id, 'cat', '/sys/class/net/eth0/iflink'], 10_000);
  const n = Number(out?.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** What a case's compose file needs of the run. */
export interface CaseComposeInput {
  lab: string;
  port: number;
  // the compose file only serializes a host's config: any program's, resolved or not
  hosts: ReadonlyArray<Pick<HostBase, 'name' | 'role' | 'lowPorts' | 'sysctls'> & { program: ServiceProgram; config: object }>;
  baseImage: string;
  /**
   * A lab of several networks: the plan's networks (each its /24, .1 the machine's) and each
   * host's interfaces with their addresses. One network: Docker chooses its subnet.
   */
  topology?: {
    networks: ReadonlyArray<{ name: string; subnet: string; mtu?: number }>;
    interfaces: ReadonlyMap<string, ReadonlyArray<{ network: string; ip: string }>>;
  };
}

/** A sysctl of one interface (net.ipv4.conf.eth1.rp_filter): it needs the interface, by its name. */
export const isInterfaceSysctl = (key: string): boolean => /^net\.ipv[46]\.(conf|neigh)\.eth\d+\./.test(key);

/** The compose key and the Docker name of a lab's network. */
export function dockerNetworkName(lab: string, network: string): string {
  return `${composeNames(lab).network}-${network}`;
}

/** Compose interpolates `$`: a configuration (a password ...) must reach the container as it is. */
const literal = (s: string): string => s.replace(/\$/g, '$$$$');

/**
 * The compose file of a catalog case, written for one run: one image holding every service
 * program (docker/service/Dockerfile), one container per host running its program, each
 * handed its configuration as JSON in MYSTERY_CONFIG, on the lab's own bridge network. Host
 * names in the configuration (http://webserver:3000/) are resolved by Docker's DNS. JSON is
 * YAML, so both Compose v1 and v2 read it.
 */
export function caseCompose(input: CaseComposeInput): Record<string, unknown> {
  const names = composeNames(input.lab);
  const image = `tcpdump-mystery/service:${input.lab}`;
  const services: Record<string, unknown> = {};
  const topo = input.topology;
  // a router forwards: its kernel does, in its own namespace (as the netns backend sets it)
  // (an interface's own sysctls wait for the interface's name: topology.ts sets them inside)
  const sysctlsOf = (h: CaseComposeInput['hosts'][number]): Record<string, string> =>
    Object.fromEntries(Object.entries({ ...(h.role === 'router' ? { 'net.ipv4.ip_forward': '1' } : {}), ...hostSysctls(h) }).filter(([k]) => !(topo && isInterfaceSysctl(k))));
  for (const [i, h] of input.hosts.entries()) {
    services[h.name] = {
      image,
      // one service builds the image, the others run it (`compose build` of that one)
      ...(i === 0
        ? { build: { context: projectRoot, dockerfile: 'docker/service/Dockerfile', args: { NODE_IMAGE: input.baseImage }, labels: { [labLabel]: input.lab } } }
        : {}),
      container_name: `${names.prefix}${h.name}`,
      command: ['node', `${h.program}.js`],
      environment: { MYSTERY_CONFIG: literal(JSON.stringify(h.config)) },
      restart: 'always',
      networks: topo ? Object.fromEntries((topo.interfaces.get(h.name) ?? []).map((i) => [i.network, { ipv4_address: i.ip }])) : ['lab'],
      labels: { [labLabel]: input.lab, 'tcpdump-mystery.role': h.role },
      // per-namespace sysctls: a service on a port below 1024 (the resolver's 53) runs as
      // nobody all the same; socket buffer sizes where a case asks for them
      ...(Object.keys(sysctlsOf(h)).length ? { sysctls: sysctlsOf(h) } : {}),
      ...(h.name === 'webserver' ? { ports: [`127.0.0.1:${input.port}:3000`] } : { depends_on: ['webserver'] }),
    };
  }
  const networks = topo
    ? Object.fromEntries(
        topo.networks.map((n) => [
          n.name,
          {
            name: dockerNetworkName(input.lab, n.name),
            driver: 'bridge',
            labels: { [labLabel]: input.lab },
            ipam: { config: [{ subnet: n.subnet, gateway: n.subnet.replace(/\.0\/24$/, '.1') }] },
            ...(n.mtu ? { driver_opts: { 'com.docker.network.driver.mtu': String(n.mtu) } } : {}),
          },
        ]),
      )
    : { lab: { name: names.network, driver: 'bridge', labels: { [labLabel]: input.lab } } };
  return { version: '3.8', services, networks };
}
