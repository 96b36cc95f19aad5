/**
 * The leak over DNS: the lab's firewall lets nothing out but DNS lookups to its resolver,
 * and one app server's malware smuggles a file out in the names it looks up (DNS
 * tunnelling): 30 bytes at a time, as a long base32 label, under a domain drawn per run.
 * Every app server looks names up about as often, so counting packets or lookups finds an
 * innocent; reading the query names (`udp port 53`, -n, -l) finds the culprit.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import type { ClientJob } from '../services/client.js';
import { tunnelName } from '../services/dns.js';
import { appName, caseStream, clientJobs, getJob, hex, host, jobsOf, labCommands, range, suspectNames, webserver, webTarget, packetsPerSec } from './common.js';

/** The lab's own zone: every name in it resolves to the webserver. */
export const labZone = 'lab';
export const resolverTarget = 'dns://resolver:53';

/** Everyday names of the lab, and of the world outside (NXDOMAIN here: the lab has no way out). */
export const labNames = [
  'webserver.lab', 'db.lab', 'api.payments.lab', 'cdn.lab', 'metrics.lab', 'auth.lab', 'cache.lab',
  'queue.lab', 'search.lab', 'mail.lab', 'ldap.lab', 'logs.lab', 'billing.lab', 'inventory.lab',
] as const;
export const worldNames = ['deb.debian.org', 'api.github.com', 'registry.npmjs.org', 'ocsp.digicert.com', 'time.cloudflare.com', 'pypi.org'] as const;
const domainHeads = ['cloud', 'sync', 'stat', 'update', 'telemetry', 'edge', 'beacon', 'pixel', 'metric', 'backup', 'static', 'insight'] as const;
const domainTails = ['hub', 'box', 'feed', 'node', 'grid', 'link', 'zone', 'cast', 'flow', 'point', 'vault', 'relay'] as const;
const tlds = ['net', 'io', 'xyz', 'top', 'info', 'cc'] as const;
const firstNames = ['ada', 'bruno', 'chen', 'dara', 'elif', 'femi', 'greta', 'hugo', 'ines', 'jonas', 'kofi', 'lena', 'mika', 'nora', 'omar', 'priya'] as const;

/**
 * Lookups a second. The busiest innocent looks up more than the culprit does in all, the
 * quietest fewer, the others anything between: the culprit's rate is an innocent's rate.
 */
export const busyLookups = { min: 7, spread: 2 } as const;
export const quietLookups = 1.5;
/** The culprit's everyday lookups, and its tunnel's. */
export const culpritLookups = 1;
export const tunnelLookups = { min: 2, spread: 2 } as const;

/** The run's exfiltration domain, e.g. "beaconvault.xyz": never under .lab. */
export function drawDomain(rng: Rng): string {
  return `${rng.pick(domainHeads)}${rng.pick(domainTails)}.${rng.pick(tlds)}`;
}

/** The stolen file: a customer list, drawn per run so that its labels decode to something. */
export function drawStolenFile(rng: Rng): string {
  const rows = ['id,name,email,phone'];
  for (let i = 0; i < 12; i++) {
    const name = rng.pick(firstNames);
    rows.push(`${1000 + rng.int(9000)},${name},${name}${rng.int(100)}@example.com,+44 7${String(rng.int(1e9)).padStart(9, '0')}`);
  }
  return `${rows.join('\n')}\n`;
}

/**
 * A suspect's everyday lookups: a few lab names, one or two of the world's, and for some one
 * of the run's two CDN names (a hash in a label: random-looking, but the same name every
 * time, so it counts as one name however often it is asked for), in a drawn order.
 */
function everydayNames(rng: Rng, cdns: readonly string[]): string[] {
  const lab = rng.shuffle(labNames).slice(0, 3 + rng.int(3));
  const world = rng.shuffle(worldNames).slice(0, 1 + rng.int(2));
  const cdn = rng.int(2) ? [rng.pick(cdns)] : [];
  return rng.shuffle([...lab, ...world, ...cdn]);
}

function dnsJob(perSec: number, names: string[]): ClientJob {
  return { kind: 'dns', perSec, names };
}

function suspect(name: string, jobs: ClientJob[]): HostSpec {
  return { name, role: 'suspect', program: 'client', config: { target: webTarget, resolver: resolverTarget, jobs } };
}

/** The lab's resolver: UDP 53 as `nobody`, so its namespace lets it bind a low port. */
export function resolver(): HostSpec {
  return { name: 'resolver', role: 'server', program: 'resolver', config: { port: 53, zone: labZone, site: webTarget }, lowPorts: true };
}

/** Lookups a second a suspect's configuration asks for: everyday and tunnel alike. */
export function lookupsPerSec(spec: HostSpec): number {
  return clientJobs(spec).filter((j) => j.kind === 'dns').reduce((sum, j) => sum + (j.perSec ?? 0), 0);
}

/** The culprit's tunnel, from its configuration (for the debrief and the tests). */
export function tunnelOf(draw: CaseDraw): { domain: string; data: string } | undefined {
  return jobsOf(draw, draw.culprit).find((j) => j.tunnel)?.tunnel;
}

export const dnsExfil: CaseModule = {
  id: 'dns-exfil',
  title: 'The leak over DNS',
  difficulty: 'medium',
  skills: ['filtering DNS: udp port 53', 'reading query names (-n, -vv, -l)', 'spotting tunnelling: long random labels under one domain'],
  summary: 'Data leaves the lab, though only DNS lookups may. One app server hides a file in the names it looks up: find it, and stop it.',
  symptom: 'Only DNS lookups may leave the lab, yet a customer list was found outside. Find the host that leaks it.',
  backends: ['netns', 'docker'],
  suspects: { min: 3, max: 8, default: 5 },
  quietWindowMs: 2000,

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 8);
    const culpritAt = rng.int(suspects);
    const domain = drawDomain(rng);
    const data = drawStolenFile(rng);
    const cdns = [`d${hex(rng, 12)}.cloudfront.net`, `d${hex(rng, 12)}.cloudfront.net`];
    // the innocents' (GET gap ms, lookups a second): one busy, one quiet, the rest between
    const busy = { gap: 180 + rng.int(60), dns: busyLookups.min + rng.int(busyLookups.spread) };
    const quiet = { gap: 400 + rng.int(400), dns: quietLookups };
    const others = Array.from({ length: Math.max(0, suspects - 3) }, () => ({ gap: 250 + rng.int(500), dns: 2 + rng.int(5) }));
    const innocents = rng.shuffle([busy, quiet, ...others]);
    const hosts: HostSpec[] = [webserver(), resolver()];
    let k = 0;
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      if (i === culpritAt) {
        // its everyday work, and the malware beside it
        const tunnel: ClientJob = { kind: 'dns', perSec: tunnelLookups.min + rng.int(tunnelLookups.spread), tunnel: { domain, data } };
        hosts.push(suspect(name, [getJob(350 + rng.int(400)), dnsJob(culpritLookups, everydayNames(rng, cdns)), tunnel]));
      } else {
        const p = innocents[k++]!;
        hosts.push(suspect(name, [getJob(p.gap), dnsJob(p.dns, everydayNames(rng, cdns))]));
      }
    }
    return { hosts, culprit: appName(culpritAt + 1) };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    const res = host(view, 'resolver');
    return [
      'The security team sees our data turn up where it should not. Yet the lab\'s firewall lets nothing',
      `out, no HTTP, no TCP at all: only DNS lookups to the lab's resolver (${res?.ip ?? 'the resolver host'}) are allowed.`,
      `${names.length} app servers (${range(names)}) serve the site at http://localhost:${view.port} and look names up all day,`,
      'each about as often as the next. One of them is compromised. Find it with tcpdump, and stop it:',
      ...labCommands(view, 'arrest'),
    ].join('\n');
  },

  solvedBy: 'arrest',

  hints(view: RunView): string[] {
    const culprit = host(view, view.draw.culprit);
    const res = host(view, 'resolver');
    const domain = tunnelOf(view.draw)?.domain ?? 'DOMAIN';
    const example = tunnelOf(view.draw);
    return [
      'If only DNS may leave, data leaves as DNS: the name a host asks for is itself a message, and the resolver passes it on. Counting packets will not find the sender here, since every app server looks names up about as often. Read the names. DNS is UDP port 53: `udp port 53`.',
      [
        `The resolver is ${res?.ip ?? 'the resolver host'}; every lookup crosses the bridge ${view.bridge} on its way there:`,
        `  sudo timeout 5 tcpdump -i ${view.bridge} -n -l udp dst port 53`,
        '-n keeps tcpdump from turning addresses into names, -l prints each line at once (for a pipe into grep). A line reads "IP SRC.PORT > RESOLVER.53: ID+ A? NAME. (LEN)". With -vv tcpdump decodes more: the replies\' questions and answers too (its "bad udp cksum" is harmless here: the kernel leaves checksums to the veth, which never fills them in).',
        'Which names are not ones a program would need?',
      ].join('\n'),
      [
        'A tunnel asks for many *different* names under one domain, each carrying data in a long random-looking label (base32 or hex); an everyday lookup asks for the same few names again and again. Count the different names asked for under each domain (field 8 is the name):',
        `  sudo timeout 5 tcpdump -i ${view.bridge} -n -l udp dst port 53 | awk '{print $8}' | sort -u | rev | cut -d. -f2,3 | rev | sort | uniq -c | sort -rn`,
        `Then print the lookups of the odd domain out with their source address, and map the address to its host with \`${view.cli} ps\`.`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 5 tcpdump -i ${view.bridge} -n -l udp dst port 53 | grep '${domain}'`,
        `  #   IP ${culprit?.ip ?? 'IP'}.NNNNN > ${res?.ip ?? 'RESOLVER'}.53: NNNNN+ A? ${example ? tunnelName(Buffer.from(example.data), 17, domain) : `LABEL.NNNN.x.${domain}`}. (NN)`,
        `  ${view.cli} ps | grep ${culprit?.ip ?? 'IP'}          # ${view.draw.culprit}`,
        `  ${view.cli} stop ${view.draw.culprit}`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.wrongArrests.length) {
      return `You arrested ${seen.wrongArrests.join(', ')}, and data still leaves. Bring ${seen.wrongArrests.length > 1 ? 'them' : 'it'} back (\`${view.cli} restart HOST\`): a host that looks names up often is not a leaking one. Read the names it asks for.`;
    }
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Listen on ${view.bridge} for DNS: udp port 53, with -n.`;
    const web = host(view, 'webserver');
    if (web?.veth && seen.tcpdumpOn.every((i) => i === web.veth)) {
      return `You are listening on the webserver's veth (${web.veth}): the lookups go to the resolver, not there. Listen on the bridge ${view.bridge}.`;
    }
    return undefined;
  },

  debrief(view: RunView, evidence: Evidence): string {
    const culprit = host(view, view.draw.culprit)!;
    const res = host(view, 'resolver');
    const tunnel = tunnelOf(view.draw) ?? { domain: 'DOMAIN', data: '' };
    const data = Buffer.from(tunnel.data);
    const iface = evidence.interfaces.get(culprit.name) ?? (culprit.veth ? { veth: culprit.veth, ifindex: culprit.ifindex ?? 0 } : undefined);
    const rate = (n: string): number => packetsPerSec(evidence, n);
    const rows = suspectNames(view)
      .map((n) => ({ n, p: rate(n), q: lookupsPerSec(view.draw.hosts.find((h) => h.name === n)!) }))
      .sort((a, b) => b.p - a.p)
      .map((r) => `  ${r.n.padEnd(8)} ${String(r.p).padStart(5)} packets/s, ${String(r.q).padStart(2)} lookups/s${r.n === culprit.name ? '   <- the culprit' : ''}`);
    const first = tunnelName(data, 0, tunnel.domain);
    const firstLine = tunnel.data.split('\n')[0] ?? '';
    return [
      `The culprit was ${culprit.name} (${culprit.ip}, its veth ${iface?.veth ?? '?'}, ifindex ${iface?.ifindex ?? '?'}): its malware sent a customer`,
      `list out through the resolver (${res?.ip ?? '?'}) under ${tunnel.domain}, 30 bytes a name, ${Math.ceil(data.length / 30)} names the whole file:`,
      ...[0, 1, 2].map((n) => `  A? ${tunnelName(data, n, tunnel.domain)}.`),
      '',
      "Packets a second on each veth since the start, and each host's lookups a second: the culprit was",
      'neither the loudest nor the busiest at lookups.',
      ...rows,
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -i ${view.bridge} -n -l udp dst port 53 | awk '{print $8}' | sort -u | rev | cut -d. -f2,3 | rev | sort | uniq -c | sort -rn`,
      `     one domain, ${tunnel.domain}, has a new name in every lookup`,
      `  2. sudo timeout 5 tcpdump -i ${view.bridge} -n -l udp dst port 53 | grep '${tunnel.domain}'   # IP ${culprit.ip}.NNNNN > ${res?.ip ?? '?'}.53`,
      `  3. ${view.cli} ps | grep ${culprit.ip}   # ${culprit.name}`,
      `  4. ${view.cli} stop ${culprit.name}`,
      `  and read what left: echo ${first.split('.')[0]} | tr a-z A-Z | base32 -d   # ${firstLine} ...`,
      '',
      'Why it works: a firewall that lets DNS through lets through whatever a name can carry, 63 bytes',
      'a label, 253 a name, and the resolver forwards it to whoever serves the domain. Volume does not',
      'give it away; the names do: long, never repeated, random-looking labels under one domain.',
    ].join('\n');
  },
};
