/**
 * The slow reader: the webserver streams a big export (GET /export) and each download holds
 * one of its few workers until the body is out. One app server's consumer is broken: it
 * downloads the export on a few connections at once and reads a few KB now and then, so its
 * kernel's receive buffer fills and it advertises a TCP window of 0; the webserver's kernel
 * can send nothing but zero-window probes, and its workers wait. Nobody floods anything:
 * the culprit sends few packets, and innocents download the export too (at full speed).
 * Everyone also tails the webserver's log stream (its own port, no worker) slowly, so every
 * host says win 0 now and then and the webserver holds a full send queue for each of them:
 * the window field (`tcp[14:2] = 0`, `win 0`) on the site's port 3000 gives the culprit away.
 */
import { configOf, type CaseDraw, type CaseModule, type Evidence, type HostSpec, type Observations, type RunView } from './case.js';
import type { Rng } from '../core/random.js';
import type { ClientJob } from '../services/client.js';
import { appName, caseStream, client, clientJobs, getJob, host, jobsOf, labCommands, range, suspectNames, webserver, whereToListen, packetsPerSec, kbPerSec } from './common.js';

/** The webserver's workers; the culprit holds as many slow downloads. */
export const workers = 3;
/**
 * Every host's socket buffers (the same on every host: reading them tells nothing), small
 * so that a stalled reader's kernel closes its window, and the webserver's worker feels it,
 * within a few dozen KB. Per network namespace; the machine's own values are untouched.
 */
export const socketBuffers: Record<string, string> = {
  'net.ipv4.tcp_rmem': '4096 16384 32768',
  'net.ipv4.tcp_wmem': '4096 16384 32768',
};
/** Every app server ships metrics to the webserver's statsd (UDP): traffic no stalled worker slows. */
export const statsdPort = 8125;
/**
 * The webserver's log tail (a stream of log lines, no worker needed), which every host's log
 * shipper reads slowly: every host advertises zero windows to it, and the webserver's
 * `ss -tn` shows a full Send-Q towards every host, not only towards the culprit.
 */
export const logTailPort = 9902;
/** The webserver's health check, answered without a worker: everyone's steady port-3000 traffic. */
export const healthPath = '/health';
/**
 * The filter of the case: on the site's port, the window field of the TCP header (bytes
 * 14-15) is 0, resets aside (a reset for a closed port carries win 0). Without the port,
 * everyone's log tail says win 0 too.
 */
export const zeroWindowFilter = 'tcp port 3000 and tcp[14:2] = 0 and tcp[tcpflags] & tcp-rst = 0';

/** The culprit's slow downloads, from its configuration (for the debrief and the tests). */
export function slowDownloads(draw: CaseDraw): ClientJob | undefined {
  return jobsOf(draw, draw.culprit).find((j) => j.kind === 'download' && j.readBytesPerSec);
}

/** A log shipper that tails the webserver's log on `loops` connections at a few KB a second. */
function logTail(loops: number, rng: Rng): ClientJob {
  return { kind: 'stall', remote: true, port: logTailPort, loops, readBytesPerSec: 3072 + rng.int(3072), giveUpMs: 8000 + rng.int(4000), sleepMs: 100 };
}

function suspect(name: string, jobs: ClientJob[]): HostSpec {
  return { ...client(name, jobs), sysctls: { ...socketBuffers } };
}

export const zeroWindow: CaseModule = {
  id: 'zero-window',
  title: 'The slow reader',
  difficulty: 'hard',
  skills: ['the TCP window: tcp[14:2] = 0, win in the output', 'zero-window probes and stalled transfers', 'why a quiet host can stall a server'],
  summary: "The site stalls, its workers all busy, its CPU idle, and nobody floods it. Someone takes the webserver's data and does not read it.",
  symptom: 'The site hangs in waves: the webserver\'s workers are all busy, its CPU is idle, and nobody floods it.',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },
  quietWindowMs: 4000,

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 9);
    const culpritAt = rng.int(suspects);
    const exportBytes = (2 + rng.int(3)) * 1024 * 1024 + rng.int(1024) * 1024;
    const hosts: HostSpec[] = [{ ...webserver({ workers, exportBytes, statsdPort, healthPath, logTailPort }), sysctls: { ...socketBuffers } }];
    // everyone's health checks of the webserver (answered without a worker, so they go on
    // through a stall): one innocent checks 5-7 times a second, the culprit about once, so
    // that counting port 3000 packets never points at the culprit
    const healthGaps = rng.shuffle([140 + rng.int(40), ...Array.from({ length: Math.max(0, suspects - 2) }, () => 300 + rng.int(500))]);
    // the innocents: one busy, the others anything between; two of them download the export too, at full speed
    const innocents = rng.shuffle([
      { gap: 150 + rng.int(50), loops: 4, exportEvery: 0 },
      { gap: 250 + rng.int(100), loops: 2, exportEvery: 4000 + rng.int(3000) },
      ...Array.from({ length: Math.max(0, suspects - 3) }, (_, i) => ({ gap: 300 + rng.int(400), loops: 1 + rng.int(2), exportEvery: i === 0 ? 5000 + rng.int(4000) : 0 })),
    ]);
    let k = 0;
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      // everyone's metrics: while the workers are taken, the page loops wait, the metrics do not
      const metrics: ClientJob = { kind: 'statsd', port: statsdPort, perSec: 30 + rng.int(15), metric: `${name}.requests` };
      if (i === culpritAt) {
        // its everyday pages, and the broken consumer: as many slow downloads as there are workers
        const slow: ClientJob = { kind: 'download', loops: workers, readBytesPerSec: 3072 + rng.int(3072), giveUpMs: 8000 + rng.int(4000), sleepMs: 100, firstMs: 1500 };
        // its log shipper tails the webserver's log on one connection: with its three slow
        // downloads, as many slow sockets as an innocent's
        hosts.push(suspect(name, [{ ...metrics, perSec: 5 + rng.int(4) }, getJob(600 + rng.int(400)), getJob(900 + rng.int(300), 1, { path: healthPath }), slow, logTail(1, rng)]));
      } else {
        const p = innocents[k++]!;
        const jobs: ClientJob[] = [metrics, getJob(p.gap, p.loops), getJob(healthGaps[k - 1]!, 1, { path: healthPath })];
        if (p.exportEvery) jobs.push({ kind: 'download', loops: 1, sleepMs: p.exportEvery, firstMs: 1000 });
        // its log shipper tails the webserver's log as slowly as the culprit reads the export:
        // its zero-window counters (nstat TCPToZeroWindowAdv) climb alike, and the webserver's
        // sockets to it hold a Send-Q as full as those to the culprit, on the log tail's port
        jobs.push(logTail(workers + rng.int(2), rng));
        hosts.push(suspect(name, jobs));
      }
    }
    return { hosts, culprit: appName(culpritAt + 1) };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    return [
      `Our webserver at http://localhost:${view.port} stalls: pages take seconds, now and then none come at all.`,
      `Its ${workers} workers are all busy, yet its CPU is idle, and no host sends much: nobody floods it.`,
      `${names.length} app servers (${range(names)}) use it and ship metrics to its statsd (UDP ${statsdPort}); some also`,
      `download the nightly export (GET /export, a few MB), and every host's log shipper tails its log (TCP ${logTailPort}).`,
      'Someone is keeping the workers waiting. Find who with tcpdump, and stop it:',
      ...labCommands(view, 'arrest'),
    ].join('\n');
  },

  solvedBy: 'arrest',

  hints(view: RunView): string[] {
    const culprit = host(view, view.draw.culprit);
    const web = host(view, 'webserver');
    return [
      "A worker that sends a response is only free once the client has taken it. TCP lets a receiver say how much more it can take: the window, in every segment's header. A receiver that does not read its socket ends up saying 'nothing': a window of 0. Neither packets nor bytes show that; the window field does.",
      [
        whereToListen(view),
        `  sudo timeout 5 tcpdump -n -i ${view.bridge} 'tcp port 3000'`,
        'Each line ends with "win N": the window the sender of that segment offers (the raw field: with window scaling the real window is N times a factor agreed in the SYN, but 0 is 0 at any scale). Is anyone saying "win 0"?',
      ].join('\n'),
      [
        'Filter on the field itself: the window is the 2 bytes at offset 14 of the TCP header.',
        `  sudo timeout 8 tcpdump -n -i ${view.bridge} '${zeroWindowFilter}'`,
        `(a reset the kernel sends for a port nobody listens on carries win 0 too: hence the last part.) The port matters: without it you also see every host say win 0 to the log tail on ${logTailPort}, which its shippers read slowly, and which holds no worker. Who says win 0 on port 3000? Then watch that address: the webserver's kernel keeps asking with zero-window probes, tiny segments further and further apart, each answered with win 0. Map the address to its host with \`mystery ps\`.`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 8 tcpdump -n -i ${view.bridge} '${zeroWindowFilter}'   # IP ${culprit?.ip ?? 'IP'}.NNNNN > ${web?.ip ?? 'WEBSERVER'}.3000: Flags [.], ack N, win 0`,
        `  sudo timeout 8 tcpdump -n -i ${view.bridge} 'host ${culprit?.ip ?? 'IP'} and tcp port 3000'   # the probes and their win 0 answers`,
        `  ${view.cli} ps | grep ${culprit?.ip ?? 'IP'}      # ${view.draw.culprit}`,
        `  ${view.cli} stop ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.wrongArrests.length) {
      return `You arrested ${seen.wrongArrests.join(', ')}, and the workers are still taken. Bring ${seen.wrongArrests.length > 1 ? 'them' : 'it'} back (\`${view.cli} restart HOST\`): downloading the export is no crime, not reading it is. Look at the window field.`;
    }
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Listen on ${view.bridge} for port 3000 and read the "win" of each segment.`;
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const culprit = host(view, view.draw.culprit)!;
    const web = host(view, 'webserver');
    const slow = slowDownloads(view.draw);
    const iface = evidence.interfaces.get(culprit.name) ?? (culprit.veth ? { veth: culprit.veth, ifindex: culprit.ifindex ?? 0 } : undefined);
    const exportBytes = configOf(view.draw, 'webserver', 'webserver')?.exportBytes ?? 0;
    const downloaders = new Set(view.draw.hosts.filter((h) => clientJobs(h).some((j) => j.kind === 'download')).map((h) => h.name));
    const rows = suspectNames(view)
      .map((n) => ({ n, p: packetsPerSec(evidence, n), b: kbPerSec(evidence, n) }))
      .sort((a, b) => b.p - a.p)
      .map((r) => `  ${r.n.padEnd(8)} ${String(r.p).padStart(5)} packets/s ${String(r.b).padStart(7)} KB/s${downloaders.has(r.n) ? '   downloads /export' : ''}${r.n === culprit.name ? ', slowly: the culprit' : ''}`);
    return [
      `The culprit was ${culprit.name} (${culprit.ip}, its veth ${iface?.veth ?? '?'}, ifindex ${iface?.ifindex ?? '?'}): its consumer downloaded the`,
      `${(exportBytes / 1024 / 1024).toFixed(1)} MB export on ${slow?.loops ?? workers} connections at once and read about ${Math.round((slow?.readBytesPerSec ?? 0) / 1024)} KB a second of each,`,
      `giving up after ${Math.round((slow?.giveUpMs ?? 0) / 1000)} s or so and starting again. Its kernel's receive buffer stayed full, so it advertised`,
      `a window of 0, and each of the webserver's ${workers} workers waited on a socket that would take nothing.`,
      '',
      `Each host since the start (its veth, both directions; everyone's metrics to UDP ${statsdPort} are the loud part):`,
      'the culprit was neither the loudest nor the only one downloading.',
      ...rows,
      '',
      'How to see it:',
      `  1. sudo timeout 8 tcpdump -n -i ${view.bridge} '${zeroWindowFilter}'`,
      `     IP ${culprit.ip}.NNNNN > ${web?.ip ?? '?'}.3000: Flags [.], ack NNNNNN, win 0, length 0`,
      `  2. sudo timeout 8 tcpdump -n -i ${view.bridge} 'host ${culprit.ip} and tcp port 3000'`,
      `     IP ${web?.ip ?? '?'}.3000 > ${culprit.ip}.NNNNN: Flags [.], ack 1, win NNN, length 0   (a zero-window probe)`,
      `     IP ${culprit.ip}.NNNNN > ${web?.ip ?? '?'}.3000: Flags [.], ack NNNNNN, win 0, length 0   (its answer: still nothing)`,
      `  3. ${view.cli} ps | grep ${culprit.ip}   # ${culprit.name}`,
      `  4. ${view.cli} stop ${culprit.name}`,
      '',
      `Every host's log shipper said win 0 too, to the log tail on port ${logTailPort}: so did the webserver's`,
      "`ss -tn` show a full Send-Q towards every host. A log tail waits for its reader and holds no worker;",
      'the export on port 3000 does. The port tells one from the other, on the wire as in `ss`.',
      '',
      "Why it works: TCP's flow control lets a receiver stop the sender: every segment says how many",
      'more bytes its sender can take (the window). A reader that does not read keeps saying 0; the',
      "sender's kernel then only probes, at growing intervals, and a server that writes the response",
      'waits with it, a worker held for nothing. No volume shows it: the window field, bytes 14-15 of',
      'the TCP header (`tcp[14:2]`), does. (tcpdump prints the raw field; window scaling multiplies it.)',
    ].join('\n');
  },
};
