/** What every backend offers, so that each command works the same on namespaces and on Docker. */
import type { Backend, CaseDraw } from '../cases/case.js';
import type { PlannedHost } from '../core/model.js';
import type { LabState } from '../core/state.js';
import type { Outcomes } from '../core/outcomes.js';

export type StepHook = (step: string) => Promise<void>;

export type HostRunState = 'running' | 'stopped' | 'restarting' | 'starting' | 'missing';

export interface HostRuntime {
  name: string;
  state: HostRunState;
  restarts: number;
}

export interface HostInterface {
  /** the host-side interface, e.g. veth3f9a2c1 */
  veth: string;
  ifindex: number;
}

/** The site's response time as a backend's own monitor sampled it (ms null: no answer). */
export interface LatencySample {
  at: number;
  ms: number | null;
}

/** What a backend's live monitor knows of the lab beyond its hosts' states (netns: the supervisor). */
export interface LiveStatus {
  latency: LatencySample[];
}

/** One request made from inside a host (services/probe.ts): did it get an answer in time? */
export interface ProbeResult {
  ok: boolean;
  /** the HTTP status, when there was an answer */
  status?: number;
  /** why there was none: `timeout`, `ECONNREFUSED`, `EHOSTUNREACH`, the host is not running ... */
  error?: string;
  ms: number;
}

/** Packets and bytes of each host's interface, both directions, since it was created. */
export interface Totals {
  packets: Map<string, number>;
  bytes: Map<string, number>;
}

/**
 * Everything the core and the commands know of a lab's machine goes through this interface:
 * no file under src/core or src/commands imports a backend's internals (a unit test checks).
 */
export interface LabBackend {
  readonly name: Backend;
  /**
   * True for a backend that builds nothing on the machine (the tests' in-memory fake): the
   * only kind MYSTERY_NO_LABS=1 (the unit tier) lets the core start, find or remove.
   */
  readonly inMemory?: boolean;
  /** Checks that the tools it needs are there; throws a UserError naming the fix. */
  preflight(): Promise<void>;
  /** Builds the lab; records each step in the state's journal before taking it. */
  build(state: LabState, step: StepHook): Promise<void>;
  /** Removes what exists of the lab; idempotent; works without state. */
  teardown(lab: string, state: LabState | undefined): Promise<void>;
  hosts(state: LabState): Promise<HostRuntime[]>;
  stopHost(state: LabState, host: PlannedHost): Promise<void>;
  startHost(state: LabState, host: PlannedHost): Promise<void>;
  /** Runs argv inside the host with the terminal attached; resolves with its exit code. */
  exec(state: LabState, host: PlannedHost, argv: string[]): Promise<number>;
  /** Each host's host-side interface, where it has one now (a stopped container has none). */
  interfaces(state: LabState): Promise<Map<string, HostInterface | undefined>>;
  /**
   * Labs of this backend that exist on the host, found by their tags. With `labsOnly`, only
   * what makes a lab (the docker backend: containers and networks, not the images a build
   * left, which `down` removes but which never stop a new start).
   */
  findLabs(opts?: { labsOnly?: boolean }): Promise<string[]>;
  /** IPv4 prefixes in use on the machine (routes, addresses): a new lab's subnets overlap none. */
  usedPrefixes(): Promise<string[]>;
  /** Packets each host sent during `windowMs` (waits that long); a host with no interface now sent 0. */
  packetsSent(state: LabState, ifaces: Map<string, HostInterface | undefined>, windowMs: number): Promise<Map<string, number>>;
  /** Each host's interface counters now (hosts with no interface are left out). */
  totals(state: LabState, ifaces: Map<string, HostInterface | undefined>): Promise<Totals>;
  /** The interfaces the learner's tcpdumps capture on now ('default' for one that names none). */
  captures(): Promise<string[]>;
  /** Optional: what the backend's live monitor says (netns: the supervisor's latency samples). */
  liveStatus?(state: LabState): Promise<LiveStatus | undefined>;
  /**
   * Optional: a lab of this backend started outside the tool (the docker backend: the
   * seed's `docker-compose up` by hand), read back from the host, with its draw.
   */
  adopt?(lab: string): Promise<{ state: LabState; draw: CaseDraw } | undefined>;
  /**
   * Optional: what the clients' requests came to over the last window (services that report
   * `outcome ...` lines; see core/outcomes.ts), summed over every host; undefined when unknown.
   */
  outcomes?(state: LabState): Promise<Outcomes | undefined>;
  /**
   * One GET of `url` made for real from inside `host` (its network namespace, as the lab's
   * unprivileged user), answered within `timeoutMs` or not: how the check of a case solved by
   * a repair judges the lab end to end. Never throws: a failure is a result.
   */
  probe(state: LabState, host: PlannedHost, url: string, timeoutMs: number): Promise<ProbeResult>;
}
