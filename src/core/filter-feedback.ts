/**
 * `mystery submit --filter EXPR`: the learner's filter run over what the lab really carries.
 * Every bridge of the lab is recorded for a few seconds (into the lab's own runtime folder,
 * root's), then read back with the filter and without: what it caught, of the culprit's
 * packets and of everyone else's, and what a common slip (src for dst) would have caught.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { LoadedLab } from './lab.js';
import { readCapture } from './capture.js';
import { ExitCode, UserError } from './errors.js';
import { planNetworks } from './model.js';
import { run, safeEnv, trustedPath } from './run.js';
import { sleep } from './procs.js';

export const listenMs = 3000;

async function recordBridge(bridge: string, file: string): Promise<void> {
  const child = spawn('tcpdump', ['-nn', '-i', bridge, '-w', file, '-Z', 'root', '-U', '-c', '50000'], { env: safeEnv({ PATH: trustedPath() }), stdio: ['ignore', 'ignore', 'pipe'] });
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await sleep(listenMs);
  child.kill('SIGINT');
  await done;
}

const swapDirections = (expr: string): string => expr.replace(/\b(src|dst)\b/g, (w) => (w === 'src' ? 'dst' : 'src'));

export async function filterFeedback(loaded: LoadedLab, expr: string, dir: string): Promise<string> {
  const check = await run('tcpdump', ['-d', expr]);
  if (check.code !== 0) {
    const why = check.stderr.trim().split('\n').pop() ?? '';
    throw new UserError(`tcpdump does not take the filter '${expr}': ${why.replace(/^tcpdump: /, '')}`, "Check it with `mystery explain 'tcpdump EXPR'`, then try again.", ExitCode.usage);
  }
  const { plan } = loaded.state;
  const culprit = plan.hosts.find((h) => h.name === loaded.draw.culprit);
  const bridges = planNetworks(plan).map((n) => n.bridge).filter(Boolean);
  if (!culprit || bridges.length === 0) throw new UserError('This lab has no bridge of its own to listen on.', 'Try a capture file instead: `mystery submit FILE`.', ExitCode.usage);
  const files = bridges.map((b) => join(dir, `${b}.pcap`));
  await Promise.all(bridges.map((b, i) => recordBridge(b, files[i]!)));
  const count = async (filter?: string): Promise<number> => {
    let n = 0;
    for (const f of files) n += (await readCapture(f, undefined, filter)).packets.length;
    return n;
  };
  // a router at fault sends next to nothing of its own: what it does shows in what crosses
  // it, so the filter's catch is given network by network (where do the packets stop?)
  if (loaded.draw.hosts.find((h) => h.name === culprit.name)?.role === 'router') {
    const nets = planNetworks(plan).filter((n) => n.bridge);
    const per = await Promise.all(files.map(async (f) => [(await readCapture(f, undefined)).packets.length, (await readCapture(f, undefined, expr)).packets.length] as const));
    const matchedAll = per.reduce((sum, [, m]) => sum + m, 0);
    const allPackets = per.reduce((sum, [n]) => sum + n, 0);
    return [
      `In ${listenMs / 1000} s the lab carried ${allPackets} packets (${bridges.join(', ')}). Your filter '${expr}' matched ${matchedAll} of them:`,
      ...nets.map((n, i) => `  ${per[i]![1]} of the ${per[i]![0]} on ${n.name} (${n.bridge})`),
      "The fault of this case is in a router: it shows in what crosses it, not in what it sends. Compare what your filter catches on the networks on either side of each router.",
    ].join('\n');
  }
  // the culprit's packets: what it sends
  const host = `src host ${culprit.ip}`;
  const [all, matched, theirs, theirsMatched] = await Promise.all([count(), count(expr), count(host), count(`(${expr}) and ${host}`)]);
  const others = all - theirs;
  const othersMatched = matched - theirsMatched;
  const lines = [
    `In ${listenMs / 1000} s the lab carried ${all} packets (${bridges.join(', ')}). Your filter '${expr}' matched ${matched} of them:`,
    `  ${theirsMatched} of the culprit's ${theirs} packets, and ${othersMatched} of the ${others} of everyone else.`,
  ];
  if (theirs > 0 && theirsMatched === 0) {
    const swapped = swapDirections(expr);
    const wouldMatch = swapped !== expr ? await count(`(${swapped}) and ${host}`) : 0;
    lines.push(
      wouldMatch > 0
        ? `It misses every packet of the culprit's: they go the other way. With src and dst swapped ('${swapped}') it would catch ${wouldMatch} of them.`
        : "It misses every packet of the culprit's: it asks for something the culprit's traffic does not have.",
    );
  } else if (theirs > 0 && othersMatched > theirsMatched * 4) {
    lines.push("It catches the culprit's traffic, and far more of everyone else's: narrow it down.");
  } else if (theirs > 0 && theirsMatched > 0) {
    lines.push("It catches the culprit's traffic: now find whose it is.");
  }
  return lines.join('\n');
}
