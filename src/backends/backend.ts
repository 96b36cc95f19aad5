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

export interface LabBackend {
  readonly name: Backend;
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
}
