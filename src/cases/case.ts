/**
 * What a case is. Each case is one self-contained module exporting a CaseModule; the
 * catalog (index.ts) lists them and validates each against this shape when it loads.
 * A case says *what* to build (hosts, their programs and secret configuration, the
 * answer drawn from the run's seed) and how to teach it; the backends build it.
 */
import type { Rng } from '../core/random.js';

export type Backend = 'netns' | 'docker';
export type Difficulty = 'easy' | 'medium' | 'hard';
/**
 * Each program in src/services (its file name without .js) and the configuration it takes.
 * Every service adds its own entry, beside its config type (`declare module
 * '../cases/case.js'`), so a new service touches its own file only; a host's `config` is then
 * checked by the compiler against its `program`'s.
 */
export interface ServiceConfigs {}
export type ServiceProgram = keyof ServiceConfigs;

/**
 * A network of the lab: a bridge of its own with a /24 of its own (drawn per lab), as a
 * Compose network is. A case without `networks` has one, `lan`.
 */
export interface NetworkSpec {
  name: string;
  /** the MTU of the bridge and of every interface on it (default 1500) */
  mtu?: number;
}

/** One interface of a host, `eth0`, `eth1` ... in the order declared, as Docker numbers them. */
export interface InterfaceSpec {
  network: string;
  /**
   * Impairments of what leaves the host through this interface: tc netem on `ethN` inside
   * the host's own namespace, so nothing on the machine (`tc qdisc show`) lists it.
   */
  impair?: { delayMs?: number; lossPercent?: number; rateKbit?: number };
  /**
   * The MTU of `ethN` inside the host's own namespace only (a router's narrower leg): the
   * host-side veth and the bridge keep the network's MTU, so nothing on the machine (`ip
   * link`) shows it. Like the host's secrets, it is drawn again from the seed, never planned.
   */
  mtu?: number;
  /**
   * The largest packet the host's TCP hands `ethN` at once, in segments (`ip link set dev
   * ethN gso_max_segs N` inside its namespace). 1: every segment leaves as its own packet, as
   * a real NIC puts them on the wire; a veth otherwise passes one GSO packet of up to 64 KB
   * through every hop, so that captures show neither the segments nor their cost.
   */
  gsoMaxSegs?: number;
}

/**
 * A static route of a host, through a router's address on a network they share. `to` is a
 * network of the lab (its /24), `default`, or one host's address as a host route (its /32),
 * written as in a RuleSpec: `{ip:HOST}` (its first network's address) or `{ip:HOST@NET}`.
 */
export interface RouteSpec {
  to: string;
  via: string;
}

/**
 * An iptables rule inside a host's own namespace (a router's NAT or filter), as data. In
 * `args`, `{ip:HOST}` is that host's address (on its first network, or `{ip:HOST@NET}`),
 * `{subnet:NET}` a network's /24 and `{dev:NET}` this host's interface on that network.
 */
export interface RuleSpec {
  table?: 'filter' | 'nat' | 'mangle';
  chain: string;
  args: string[];
}

/** One host of the lab, as the case asks for it: its program and that program's configuration. */
export type HostSpec = { [P in ServiceProgram]: HostOf<P> }[ServiceProgram];

/** A host that runs program P. */
export type HostOf<P extends ServiceProgram> = HostBase & {
  program: P;
  /** Secret per-run configuration handed to the program (never shown to the learner). */
  config: ServiceConfigs[P];
};

/** What every host has, whatever it runs. */
export interface HostBase {
  name: string;
  /** 'server' hosts are the victims; 'suspect' hosts can be arrested; 'router' hosts forward between networks. */
  role: 'server' | 'suspect' | 'router';
  /** Impairments of the host's link (tc netem on its host-side veth), where the case needs them. */
  link?: { delayMs?: number; lossPercent?: number };
  /**
   * The host's service binds a port below 1024 (a resolver on 53) as the unprivileged user:
   * the backend lets it, in that host's network namespace only.
   */
  lowPorts?: boolean;
  /**
   * Per-network-namespace sysctls of the host (e.g. `net.ipv4.tcp_rmem`), set inside its
   * namespace (netns) or as the container's `sysctls` (Docker); the machine's own values
   * are untouched. Only `net.*` keys, which the kernel keeps per namespace.
   */
  sysctls?: Record<string, string>;
  /** The host's interfaces, in order; absent: one, on the first network. */
  interfaces?: InterfaceSpec[];
  /** Static routes (a default gateway is `{ to: 'default', via: ROUTER }`, a host route `{ to: '{ip:HOST}', via: ROUTER }`). */
  routes?: RouteSpec[];
  /** iptables rules applied inside the host's namespace only (a router's NAT or firewall). */
  rules?: RuleSpec[];
  /**
   * Infrastructure the learner cannot log into, as a switch or a provider's router: `mystery
   * exec`, `stop` and `restart` refuse it, so what happens inside is found only by capturing
   * around it.
   */
  infrastructure?: boolean;
}

/** What the run's seed decides. Never written to disk in plain text. */
export interface CaseDraw {
  /** The lab's networks; absent: one, `lan`. The site is published from the webserver's first network. */
  networks?: NetworkSpec[];
  hosts: HostSpec[];
  /** The host to arrest. */
  culprit: string;
  /**
   * Where the machine reaches the site from (the forwarder, hence `mystery status`): by
   * default directly, on the webserver's own network. With `publish`, the machine has its
   * address on `network` instead, like an office machine, and reaches the webserver through
   * the router `via` (a route on the machine to the webserver's address only, gone with the
   * bridge): the site's response time is then the one the office sees.
   */
  publish?: { network: string; via: string };
  /** For cases answered with a value (`mystery answer VALUE`): the secret value. */
  value?: string;
}

/** What the lab shows of the learner's work, for hints that see what they are doing. */
export interface Observations {
  /** interfaces on which a tcpdump is running now ('any' included) */
  tcpdumpOn: string[];
  /** hosts arrested wrongly so far */
  wrongArrests: string[];
}

/** This run's real values, for the debrief, read from the host-side veths' counters. */
export interface Evidence {
  /** packets seen on each host's veth (both directions) since the lab started, as tcpdump would see them */
  packets: Map<string, number>;
  /** bytes seen on each host's veth (both directions) since the lab started */
  bytes: Map<string, number>;
  /** seconds since the lab started, to turn the totals into rates */
  seconds: number;
  /** each host's host-side interface now */
  interfaces: Map<string, { veth: string; ifindex: number } | undefined>;
}

/** What a case may know of the running lab when it speaks to the learner. */
export interface RunView {
  lab: string;
  port: number;
  backend: Backend;
  /** The command prefix for this lab: "mystery" or "mystery --name X". */
  cli: string;
  hosts: Array<{ name: string; id: string; ip: string; veth?: string; ifindex?: number; interfaces?: Array<{ ifname: string; network: string; ip: string; veth?: string }> }>;
  bridge: string;
  /** every network of the lab, with its bridge and subnet */
  networks?: Array<{ name: string; bridge: string; subnet: string }>;
  draw: CaseDraw;
}

export interface CaseModule {
  id: string;
  title: string;
  difficulty: Difficulty;
  /** The tcpdump skills the case teaches, in a few words each. */
  skills: string[];
  /** One line for the catalog. */
  summary: string;
  /**
   * What an on-call engineer would be told, with no word of the cause: the briefing of the
   * unknown incident (`mystery start --random`). Absent: a generic complaint.
   */
  symptom?: string;
  backends: Backend[];
  suspects: { min: number; max: number; default: number };
  /** Draws the run from its seed's generator: who is guilty and how everyone behaves. */
  draw(rng: Rng, suspects: number): CaseDraw;
  /** The story and the symptom, never the answer. */
  briefing(view: RunView): string;
  /**
   * Progressive hints, at least three, each adding to the last; the last gives the exact
   * commands with this run's names. `mystery hint` shows one more each time.
   */
  hints(view: RunView): string[];
  /** A hint about what the learner is doing now, where the machine shows it (optional). */
  situationalHint?(view: RunView, seen: Observations): string | undefined;
  /** The reference solution with this run's real values. */
  debrief(view: RunView, evidence: Evidence): string;
  /**
   * How the case is solved: 'arrest' (stop the culprit: solved when its traffic stops) or
   * 'answer' (`mystery answer VALUE`, checked against draw.value by `checkAnswer`).
   */
  solvedBy: 'arrest' | 'answer';
  /**
   * Arrest cases whose culprit sends little, or in gaps: how long (ms) its veth must stay
   * quiet for the case to count as solved. Default: the check's own window (1 s).
   */
  quietWindowMs?: number;
  checkAnswer?(value: string, draw: CaseDraw): boolean;
  /**
   * Requests a healthy lab answers, made for real from inside its hosts: \`mystery status\` shows
   * how many go through now (the symptom, where it is one machine's timeouts), and, for a case
   * the learner may also solve by repairing the lab (\`repairable\`), \`mystery check\` judges the
   * repair by them: the lab's real state end to end, whatever was changed and however.
   */
  endToEnd?: EndToEndSpec;
  /**
   * A compose file of the repository, written by hand, that this case also runs from (the
   * seed's docker-compose.yml): the Docker backend builds the case from it, and reads back a lab
   * started from it by hand. Absent: the backend writes a compose file for the run.
   */
  composeFile?: ComposeFileSpec;
}

/** What the Docker backend needs to know of a hand-written compose file; it names no case itself. */
export interface ComposeFileSpec {
  /** the file, from the project's root */
  file: string;
  /** the services whose images are built (the others share them) */
  build: string[];
  /** the file's variables that carry this draw (Compose reads them), or why the draw does not fit the file */
  env(draw: CaseDraw): { env: Record<string, string> } | { refusal: Refusal };
  /** the file's services that this draw does not run (scaled to 0) */
  unused(draw: CaseDraw): string[];
  /**
   * A lab started by hand from the file, from its containers' variables (by service): its
   * draw, and a seed that draws it again where there is one ('' where none does); a refusal
   * where the file was started without a draw; undefined where these are not its services.
   */
  adopt(services: Map<string, (variable: string) => string | undefined>): { draw: CaseDraw; seed: string } | { refusal: Refusal } | undefined;
}

/** Why something cannot be done, and what to do: the message and the fix of a user error. */
export interface Refusal {
  message: string;
  fix: string;
}

/**
 * Requests made for real from inside hosts (services/probe.ts, as the lab's unprivileged user)
 * that a healthy lab answers in time. The lab works end to end when every probe goes through
 * and every host a probe is made from is running; nothing else is read.
 */
export interface EndToEndSpec {
  /** what a healthy lab does, in a few words, for the verdict ("every office machine loads the page") */
  goal: string;
  /** what the probes stand for, for status ("office machines' page loads") */
  what: string;
  probes(view: RunView): EndToEndProbe[];
  /** the learner may solve the case by repairing the lab (with \`mystery exec\` in the hosts they can log into) */
  repairable?: boolean;
}

export interface EndToEndProbe {
  /** the host the request is made from */
  from: string;
  /** http://ADDRESS:PORT/PATH, an address of the lab */
  url: string;
  /** how long a user would wait for it (default 2500 ms) */
  timeoutMs?: number;
}

const difficulties: Difficulty[] = ['easy', 'medium', 'hard'];
const backends: Backend[] = ['netns', 'docker'];

/** The configuration of the draw's host `name` if it runs `program` (undefined otherwise). */
export function configOf<P extends ServiceProgram>(draw: Pick<CaseDraw, 'hosts'>, name: string, program: P): ServiceConfigs[P] | undefined {
  return hostConfig(draw.hosts.find((x) => x.name === name), program);
}

/** A host's configuration if it runs `program` (undefined otherwise). */
export function hostConfig<P extends ServiceProgram>(h: HostSpec | undefined, program: P): ServiceConfigs[P] | undefined {
  // the union narrows on a literal program, not on a generic one: this is the same check
  return h?.program === program ? (h.config as ServiceConfigs[P]) : undefined;
}

/** Checks a case module's shape when the catalog loads; returns the problems found. */
export function validateCase(c: unknown): string[] {
  const problems: string[] = [];
  if (typeof c !== 'object' || c === null) return ['a case must be an object'];
  const m = c as Partial<CaseModule>;
  const need = (cond: boolean, what: string): void => {
    if (!cond) problems.push(what);
  };
  need(typeof m.id === 'string' && /^[a-z][a-z0-9-]{1,40}$/.test(m.id), 'id must be lower-case words joined by -');
  need(typeof m.title === 'string' && m.title.length > 0, 'title must be a non-empty string');
  need(difficulties.includes(m.difficulty as Difficulty), `difficulty must be one of ${difficulties.join(', ')}`);
  need(Array.isArray(m.skills) && m.skills.length > 0 && m.skills.every((s) => typeof s === 'string'), 'skills must list at least one skill');
  need(typeof m.summary === 'string' && m.summary.length > 0, 'summary must be a non-empty string');
  need(m.symptom === undefined || (typeof m.symptom === 'string' && m.symptom.length > 0), 'symptom must be a non-empty string when given');
  need(Array.isArray(m.backends) && m.backends.length > 0 && m.backends.every((b) => backends.includes(b)), 'backends must list netns and/or docker');
  const s = m.suspects;
  need(
    !!s && Number.isInteger(s.min) && Number.isInteger(s.max) && Number.isInteger(s.default) && s.min >= 1 && s.min <= s.default && s.default <= s.max,
    'suspects must be whole numbers with min <= default <= max',
  );
  need(typeof m.draw === 'function', 'draw must be a function');
  need(typeof m.briefing === 'function', 'briefing must be a function');
  need(typeof m.hints === 'function', 'hints must be a function');
  need(typeof m.debrief === 'function', 'debrief must be a function');
  need(m.solvedBy === 'arrest' || m.solvedBy === 'answer', "solvedBy must be 'arrest' or 'answer'");
  need(m.solvedBy !== 'answer' || typeof m.checkAnswer === 'function', "a case solved by 'answer' needs checkAnswer");
  need(
    m.endToEnd === undefined ||
      (typeof m.endToEnd === 'object' &&
        m.endToEnd !== null &&
        typeof m.endToEnd.goal === 'string' &&
        m.endToEnd.goal.length > 0 &&
        typeof m.endToEnd.what === 'string' &&
        m.endToEnd.what.length > 0 &&
        typeof m.endToEnd.probes === 'function' &&
        (m.endToEnd.repairable === undefined || typeof m.endToEnd.repairable === 'boolean')),
    'endToEnd must give a goal, what its probes stand for, and its probes',
  );
  return problems;
}
