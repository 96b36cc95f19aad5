/**
 * The catalog's cases, without root: each validates, draws reproducibly from its seed and
 * differently across seeds, spreads its answers over the hosts, keeps its briefing free of
 * the answer, and gives at least three hints, the last with this run's names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allCases, findCase } from '../../src/cases/index.js';
import { hostConfig, validateCase, type CaseDraw, type CaseModule, type HostSpec, type RunView } from '../../src/cases/case.js';
import { lookupsPerSec, resolverTarget, tunnelOf } from '../../src/cases/dns-exfil.js';
import { encodeName, tunnelChunk, tunnelName } from '../../src/services/dns.js';
import { seededRng } from '../../src/core/random.js';
import { planLab, resolveConfig } from '../../src/core/model.js';
import { healthPath, logTailPort, slowDownloads, socketBuffers, workers, zeroWindowFilter } from '../../src/cases/zero-window.js';
import { maxConnectionsOf } from '../../src/cases/slowloris.js';
import { caseStream, clientJobs, hostSysctls } from '../../src/cases/common.js';
import { caseCompose } from '../../src/backends/docker/docker.js';
import type { ClientJob } from '../../src/services/client.js';
import { deadPortOf } from '../../src/cases/reset-storm.js';

const newCases = ['reset-storm', 'password-in-clear', 'fat-payload', 'arp-storm', 'lossy-link', 'slowloris', 'intermittent-burst', 'dns-exfil', 'zero-window'];
/** Servers a case has besides the webserver: [name, program, port]. */
const otherServers: Record<string, Array<[string, string, unknown]>> = { 'dns-exfil': [['resolver', 'resolver', 53]] };
const seeds = Array.from({ length: 40 }, (_, i) => `unit-seed-${i}`);

function draw(c: CaseModule, seed: string, suspects = c.suspects.default): CaseDraw {
  return c.draw(seededRng(seed), suspects);
}

/** A view as the lab would give it, with made-up interfaces. */
function view(c: CaseModule, seed: string, suspects = c.suspects.default): RunView {
  const d = draw(c, seed, suspects);
  const plan = planLab({ lab: 'cunit', caseId: c.id, seed, suspects, backend: 'netns', port: 3499, subnetBase: '10.200.9', draw: d });
  return {
    lab: 'cunit',
    port: 3499,
    backend: 'netns',
    cli: 'mystery --name cunit',
    bridge: plan.bridge,
    hosts: plan.hosts.map((h, i) => ({ name: h.name, id: h.id, ip: h.ip, veth: h.veth, ifindex: 100 + i })),
    draw: d,
  };
}

test('the catalog holds the new cases, each valid, each with skills and a difficulty', () => {
  const ids = allCases().map((c) => c.id);
  for (const id of newCases) assert.ok(ids.includes(id), id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  for (const c of allCases()) {
    assert.deepEqual(validateCase(c), [], c.id);
    assert.ok(c.skills.length >= 2, `${c.id} lists its skills`);
  }
  const levels = newCases.map((id) => findCase(id).difficulty);
  for (const level of ['easy', 'medium', 'hard']) assert.ok(levels.includes(level as never), `a ${level} case`);
});

for (const id of newCases) {
  const c = findCase(id);

  test(`${id}: the same seed draws the same run; different seeds draw different runs`, () => {
    assert.deepEqual(draw(c, 'same'), draw(c, 'same'));
    const distinct = new Set(seeds.map((s) => JSON.stringify(draw(c, s))));
    assert.ok(distinct.size >= seeds.length / 2, `${distinct.size} distinct draws of ${seeds.length}`);
  });

  test(`${id}: the culprit is spread over the hosts, and is always a suspect`, () => {
    const culprits = new Map<string, number>();
    for (const s of seeds) {
      const d = draw(c, s);
      const culprit = d.hosts.find((h) => h.name === d.culprit);
      assert.ok(culprit, `${s}: the culprit is a host`);
      assert.equal(culprit.role, 'suspect');
      culprits.set(d.culprit, (culprits.get(d.culprit) ?? 0) + 1);
    }
    assert.equal(culprits.size, c.suspects.default, `every suspect is the culprit in some run: ${JSON.stringify([...culprits])}`);
    for (const [, n] of culprits) assert.ok(n < seeds.length / 2, 'no host is the culprit in half the runs');
  });

  test(`${id}: every suspect runs the same program, and the webserver is the only server${otherServers[id] ? ' but the case\'s own' : ''}`, () => {
    for (const s of seeds.slice(0, 10)) {
      for (const n of [c.suspects.min, c.suspects.default, c.suspects.max]) {
        const d = draw(c, s, n);
        const suspects = d.hosts.filter((h) => h.role === 'suspect');
        assert.equal(suspects.length, n);
        assert.equal(new Set(suspects.map((h) => h.program)).size, 1, 'nothing in ps tells the suspects apart');
        const servers = d.hosts.filter((h) => h.role === 'server');
        assert.deepEqual(servers.map((h) => [h.name, h.program, 'port' in h.config ? h.config.port : undefined]), [['webserver', 'webserver', 3000], ...(otherServers[id] ?? [])]);
        assert.equal(new Set(d.hosts.map((h) => h.name)).size, d.hosts.length, 'host names are unique');
      }
    }
  });

  test(`${id}: the plan and the briefing never name the answer`, () => {
    for (const s of seeds.slice(0, 10)) {
      const v = view(c, s);
      const plan = planLab({ lab: 'cunit', caseId: c.id, seed: s, suspects: c.suspects.default, backend: 'netns', port: 3499, subnetBase: '10.200.9', draw: v.draw });
      const planned = JSON.stringify({ ...plan, seed: undefined });
      // as a whole word: random hex ids and interface names may hold the digits of a port
      const word = (x: string): RegExp => new RegExp(`(^|[^0-9A-Za-z-])${x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^0-9A-Za-z-])`);
      if (v.draw.value && !plan.hosts.some((h) => h.name === v.draw.value)) assert.ok(!word(v.draw.value).test(planned), 'the plan holds no secret value');
      const briefing = c.briefing(v);
      assert.ok(!new RegExp(`\\b${v.draw.culprit}\\b`).test(briefing.replace(/app1 \.\. app\d+/, '')), `${s}: the briefing names the culprit`);
      const culpritIp = v.hosts.find((h) => h.name === v.draw.culprit)!.ip;
      assert.ok(!briefing.includes(culpritIp), 'the briefing gives no culprit IP');
      if (v.draw.value && !/^app\d+$/.test(v.draw.value)) assert.ok(!word(v.draw.value).test(briefing), `the briefing gives no value: ${v.draw.value}`);
      // no side channel: a value is drawn for a case answered with one, never for another's debrief
      if (c.solvedBy !== 'answer') assert.equal(v.draw.value, undefined, `${id} draws a value but is solved by ${c.solvedBy}`);
      assert.ok(!c.title.includes(v.draw.culprit) && !c.summary.includes(v.draw.culprit));
    }
  });

  test(`${id}: at least three hints; only the last names this run's culprit, with its commands`, () => {
    for (const s of seeds.slice(0, 10)) {
      const v = view(c, s);
      const hints = c.hints(v);
      assert.ok(hints.length >= 3, `${hints.length} hints`);
      const last = hints[hints.length - 1]!;
      assert.match(last, new RegExp(`\\b${v.draw.culprit}\\b`));
      assert.match(last, /sudo/);
      for (const h of hints.slice(0, -1)) assert.ok(!new RegExp(`\\b${v.draw.culprit}\\b`).test(h), `an early hint names the culprit: ${h}`);
      const debrief = c.debrief(v, { packets: new Map([[v.draw.culprit, 1000]]), bytes: new Map(), seconds: 10, interfaces: new Map() });
      assert.match(debrief, new RegExp(`\\b${v.draw.culprit}\\b`), 'the debrief names the culprit');
      if (c.solvedBy === 'answer') assert.ok(debrief.includes(v.draw.value!), "the debrief gives this run's value");
    }
  });

  test(`${id}: the configuration resolves host names to lab addresses`, () => {
    const v = view(c, 'resolve');
    const plan = planLab({ lab: 'cunit', caseId: c.id, seed: 'resolve', suspects: c.suspects.default, backend: 'netns', port: 3499, subnetBase: '10.200.9', draw: v.draw });
    const web = plan.hosts.find((h) => h.name === 'webserver')!;
    for (const h of v.draw.hosts.filter((x) => x.role === 'suspect')) {
      assert.equal(resolveConfig(hostConfig(h, 'client')!, plan).target, `http://${web.ip}:3000/`);
    }
  });
}

test('answer cases check the value, and only the value', () => {
  const pw = findCase('password-in-clear');
  for (const s of seeds.slice(0, 10)) {
    const d = draw(pw, s);
    assert.equal(pw.solvedBy, 'answer');
    assert.ok(pw.checkAnswer!(d.value!, d));
    assert.ok(pw.checkAnswer!(` ${d.value!} `, d), 'spaces around do not matter');
    assert.ok(!pw.checkAnswer!(d.value!.toUpperCase(), d), 'a password is case-sensitive');
    assert.ok(!pw.checkAnswer!('wrong-guess-1234', d));
    assert.ok(!pw.checkAnswer!('', d));
    // the Basic header in the culprit's configuration decodes to user:password
    const culprit = d.hosts.find((h) => h.name === d.culprit)!;
    const auth = JSON.stringify(culprit.config).match(/Basic ([A-Za-z0-9+/=]+)/)![1]!;
    const decoded = Buffer.from(auth, 'base64').toString();
    assert.ok(decoded.endsWith(`:${d.value}`));
    assert.ok(pw.checkAnswer!(decoded, d), 'user:password as it decodes is accepted');
    // no innocent sends Basic authentication
    for (const h of d.hosts.filter((x) => x.name !== d.culprit)) assert.ok(!JSON.stringify(h.config).includes('Basic '));
  }
  const lossy = findCase('lossy-link');
  for (const s of seeds.slice(0, 10)) {
    const d = draw(lossy, s);
    assert.ok(lossy.checkAnswer!(d.culprit, d));
    assert.ok(lossy.checkAnswer!(d.culprit.toUpperCase(), d));
    const other = d.hosts.find((h) => h.role === 'suspect' && h.name !== d.culprit)!;
    assert.ok(!lossy.checkAnswer!(other.name, d));
    assert.ok(!lossy.checkAnswer!('webserver', d));
    // only the culprit's link loses packets to speak of; every suspect has a rule of the same kind
    assert.deepEqual(d.hosts.filter((h) => (h.link?.lossPercent ?? 0) >= 1).map((h) => h.name), [d.culprit]);
    const suspects = d.hosts.filter((h) => h.role === 'suspect');
    assert.ok(suspects.every((h) => h.link?.lossPercent !== undefined && !h.link.delayMs), 'every suspect has a loss rule');
    for (const h of suspects.filter((x) => x.name !== d.culprit)) assert.ok(h.link!.lossPercent! < 1e-4, `${h.name}'s rule is a decoy`);
  }
});

test('one seed does not put the culprit at the same place in any two cases of the catalog (caseStream)', () => {
  const some = Array.from({ length: 40 }, (_, i) => `pair-${i}`);
  // per case, the culprit of each seed where it is one of the suspects (not a router)
  const culprits = allCases().map((c) => ({
    id: c.id,
    of: some.map((s) => {
      const d = draw(c, s);
      return d.hosts.some((h) => h.role === 'suspect' && h.name === d.culprit) ? d.culprit : null;
    }),
  }));
  for (const [i, a] of culprits.entries()) {
    for (const b of culprits.slice(i + 1)) {
      const both = a.of.filter((x, k) => x !== null && b.of[k] !== null).length;
      const same = a.of.filter((x, k) => x !== null && x === b.of[k]).length;
      // chance alone is one in the number of suspects (a fifth or so); the same stream, all of them
      assert.ok(same <= Math.max(3, both * 0.55), `${a.id} and ${b.id} put the culprit at the same place for ${same} of ${both} seeds: give one of them a caseStream of its own`);
    }
  }
});

test('caseStream: a case id skips a number of draws of its own, the same every time', () => {
  const after = (o: number | string): number[] => {
    const r = caseStream(seededRng('cs'), o);
    return Array.from({ length: 8 }, () => r.int(1000));
  };
  assert.deepEqual(after('a-case'), after('a-case'));
  assert.notDeepEqual(after('a-case'), after('another-case'));
  assert.notDeepEqual(after(3), after(4));
  assert.deepEqual(after(0), ((r) => Array.from({ length: 8 }, () => r.int(1000)))(seededRng('cs')));
});

test('the culprit is never the loudest by design where loudness is the wrong trick', () => {
  // the everyday GET gaps of the innocents: at least one is busier than the culprit's traffic
  for (const id of ['reset-storm', 'fat-payload']) {
    const c = findCase(id);
    for (const s of seeds) {
      const d = draw(c, s);
      const gaps = d.hosts
        .filter((h) => h.role === 'suspect' && h.name !== d.culprit)
        .flatMap((h) => clientJobs(h).filter((j) => j.kind === 'get').map((j) => j.sleepMs!));
      assert.ok(Math.min(...gaps) <= 160, `${id} ${s}: a busy innocent`);
    }
  }
});

test('dns-exfil: the exfiltration domain is drawn per run, outside the lab, and only the culprit tunnels', () => {
  const c = findCase('dns-exfil');
  const domains = new Set<string>();
  for (const s of seeds) {
    const d = draw(c, s);
    const tunnel = tunnelOf(d)!;
    assert.ok(tunnel, `${s}: the culprit has a tunnel`);
    // the domain is the run's secret: neither the plan (the state file) nor the briefing holds it
    const v = view(c, s);
    const plan = planLab({ lab: 'cunit', caseId: c.id, seed: s, suspects: c.suspects.default, backend: 'netns', port: 3499, subnetBase: '10.200.9', draw: d });
    assert.ok(!JSON.stringify({ ...plan, seed: undefined }).includes(tunnel.domain), `${s}: the plan holds ${tunnel.domain}`);
    assert.ok(!c.briefing(v).includes(tunnel.domain), `${s}: the briefing gives ${tunnel.domain}`);
    assert.match(tunnel.domain, /^[a-z]+\.[a-z]+$/);
    assert.ok(!tunnel.domain.endsWith('.lab'));
    domains.add(tunnel.domain);
    // its names are valid DNS names with one long base32 label of data, decoding to the file
    const data = Buffer.from(tunnel.data);
    const chunks = Math.ceil(data.length / tunnelChunk);
    assert.ok(chunks >= 10, `${chunks} names make the file`);
    const decoded: Buffer[] = [];
    for (let n = 0; n < chunks; n++) {
      const name = tunnelName(data, n, tunnel.domain);
      assert.doesNotThrow(() => encodeName(name));
      const [label, seq, x, ...rest] = name.split('.');
      assert.match(label!, /^[a-z2-7]{48}$/);
      assert.equal(seq, String(n).padStart(4, '0'));
      assert.equal(x, 'x');
      assert.equal(rest.join('.'), tunnel.domain);
      decoded.push(base32Decode(label!));
    }
    assert.equal(Buffer.concat(decoded).toString().trimEnd(), tunnel.data.trimEnd(), 'the labels carry the file');
    // nobody else has a tunnel, and nobody else's names change from one lookup to the next
    for (const h of d.hosts.filter((x) => x.role === 'suspect' && x.name !== d.culprit)) {
      assert.ok(!JSON.stringify(h.config).includes(tunnel.domain));
      assert.ok(!clientJobs(h).some((j) => j.tunnel));
    }
    // every suspect looks names up and uses the site, through the lab's resolver
    for (const h of d.hosts.filter((x) => x.role === 'suspect')) {
      const kinds = clientJobs(h).map((j) => j.kind);
      assert.ok(kinds.includes('get') && kinds.includes('dns'), `${h.name}: ${kinds.join(',')}`);
      assert.equal(hostConfig(h, 'client')!.resolver, resolverTarget);
    }
    // everyday lookups repeat a few names: no other domain has more than two different names
    // in them, so counting different names per domain (the third hint) points at the tunnel
    const everyday = new Set(d.hosts.flatMap((h) => clientJobs(h).flatMap((j) => j.names ?? [])));
    const perDomain = new Map<string, number>();
    for (const name of everyday) perDomain.set(name.split('.').slice(-2).join('.'), (perDomain.get(name.split('.').slice(-2).join('.')) ?? 0) + 1);
    assert.ok(Math.max(...perDomain.values()) <= 2, `${s}: ${JSON.stringify([...perDomain])}`);
    assert.ok(!perDomain.has(tunnel.domain));
    // only the resolver may bind a low port
    assert.deepEqual(d.hosts.filter((h) => h.lowPorts).map((h) => h.name), ['resolver']);
  }
  assert.ok(domains.size >= seeds.length * 0.75, `${domains.size} domains in ${seeds.length} runs`);
});

test('dns-exfil: the culprit looks names up at an innocent\'s rate, and is never the loudest', () => {
  const c = findCase('dns-exfil');
  // packets a second on a veth, as measured on the lab: about 9 a GET (connection and all), 2 a lookup
  const packets = (h: HostSpec): number => {
    const jobs = clientJobs(h);
    return jobs.filter((j) => j.kind === 'get').reduce((sum, j) => sum + (9 * 1000) / j.sleepMs!, 0) + 2 * lookupsPerSec(h);
  };
  for (const s of seeds) {
    for (const n of [c.suspects.min, c.suspects.default, c.suspects.max]) {
      const d = draw(c, s, n);
      const culprit = d.hosts.find((h) => h.name === d.culprit)!;
      const innocents = d.hosts.filter((h) => h.role === 'suspect' && h.name !== d.culprit);
      const rates = innocents.map(lookupsPerSec);
      const mine = lookupsPerSec(culprit);
      assert.ok(Math.min(...rates) < mine && mine < Math.max(...rates), `${s}/${n}: ${mine} lookups/s within the innocents' ${rates.join(', ')}`);
      const loudest = Math.max(...innocents.map(packets));
      assert.ok(loudest >= 1.4 * packets(culprit), `${s}/${n}: the loudest innocent (${loudest.toFixed(0)}/s) is well above the culprit (${packets(culprit).toFixed(0)}/s)`);
    }
  }
});

test('dns-exfil: the hints keep the domain and the culprit\'s address for the last; the debrief gives the run\'s values', () => {
  const c = findCase('dns-exfil');
  for (const s of seeds.slice(0, 10)) {
    const v = view(c, s);
    const domain = tunnelOf(v.draw)!.domain;
    const culprit = v.hosts.find((h) => h.name === v.draw.culprit)!;
    const resolverIp = v.hosts.find((h) => h.name === 'resolver')!.ip;
    const hints = c.hints(v);
    for (const h of hints.slice(0, -1)) {
      assert.ok(!h.includes(domain), 'an early hint gives the domain');
      assert.ok(!new RegExp(`${culprit.ip.replace(/\./g, '\\.')}(?!\\d)`).test(h), 'an early hint gives the culprit\'s IP');
    }
    assert.ok(hints.slice(0, -1).some((h) => h.includes('udp dst port 53') && h.includes(v.bridge)), 'a hint shows the filter on the bridge');
    const last = hints[hints.length - 1]!;
    for (const x of [v.bridge, domain, culprit.ip, resolverIp, `stop ${v.draw.culprit}`, 'udp dst port 53', '-n -l']) assert.ok(last.includes(x), `the last hint gives ${x}`);
    const debrief = c.debrief(v, { packets: new Map([[v.draw.culprit, 300]]), bytes: new Map(), seconds: 10, interfaces: new Map([[v.draw.culprit, { veth: culprit.veth!, ifindex: 4242 }]]) });
    for (const x of [domain, culprit.ip, culprit.veth!, '4242', tunnelName(Buffer.from(tunnelOf(v.draw)!.data), 0, domain), 'base32 -d']) assert.ok(debrief.includes(x), `the debrief gives ${x}`);
    // the situation: no capture yet, a capture on the webserver's veth, a wrong arrest
    const web = v.hosts.find((h) => h.name === 'webserver')!;
    assert.match(c.situationalHint!(v, { tcpdumpOn: [], wrongArrests: [] })!, /No tcpdump/);
    assert.match(c.situationalHint!(v, { tcpdumpOn: [web.veth!], wrongArrests: [] })!, /resolver/);
    assert.equal(c.situationalHint!(v, { tcpdumpOn: [v.bridge], wrongArrests: [] }), undefined);
    assert.match(c.situationalHint!(v, { tcpdumpOn: [v.bridge], wrongArrests: ['app1'] })!, /restart/);
  }
});

test('dns-exfil: the resolver\'s address reaches every client, and its zone answers with the webserver\'s', () => {
  const c = findCase('dns-exfil');
  const v = view(c, 'resolve');
  const plan = planLab({ lab: 'cunit', caseId: c.id, seed: 'resolve', suspects: c.suspects.default, backend: 'netns', port: 3499, subnetBase: '10.200.9', draw: v.draw });
  const ipOf = (n: string): string => plan.hosts.find((h) => h.name === n)!.ip;
  for (const h of v.draw.hosts.filter((x) => x.role === 'suspect')) assert.equal(resolveConfig(hostConfig(h, 'client')!, plan).resolver, `dns://${ipOf('resolver')}:53`);
  const res = v.draw.hosts.find((h) => h.name === 'resolver')!;
  assert.equal(resolveConfig(hostConfig(res, 'resolver')!, plan).site, `http://${ipOf('webserver')}:3000/`);
});

function base32Decode(s: string): Buffer {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of s) {
    value = (value << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

test('a case that offers Docker draws nothing Docker cannot build; one that draws nothing of the kind offers it', () => {
  for (const c of allCases()) {
    const docker = c.backends.includes('docker');
    // what only the netns backend builds: impairments (tc netem; Docker builds networks, MTUs, routes and rules)
    const netnsOnly = seeds.slice(0, 10).some((seed) => {
      const d = draw(c, seed);
      return d.hosts.some((h) => h.link || h.interfaces?.some((i) => i.impair));
    });
    assert.equal(docker, !netnsOnly, `${c.id}: backends ${c.backends.join(', ')}`);
    if (!docker) continue;
    for (const seed of seeds.slice(0, 10)) {
      for (const suspects of [c.suspects.min, c.suspects.max]) {
        for (const h of draw(c, seed, suspects).hosts) {
          // the host side of a link is the netns backend's; a container's link is Docker's
          assert.equal(h.link, undefined, `${c.id} ${seed}: ${h.name} has a link impairment`);
          assert.ok(['webserver', 'sender', 'client', 'resolver', 'idle', 'agent', 'vhosts'].includes(h.program), `${c.id}: ${h.program} is in the image`);
        }
      }
    }
  }
});

test('zero-window: every host gets the same socket buffers, per namespace (netns) or as container sysctls (Docker)', () => {
  const c = findCase('zero-window');
  for (const s of seeds) {
    for (const n of [c.suspects.min, c.suspects.default, c.suspects.max]) {
      const d = draw(c, s, n);
      // reading a host's sysctls tells nothing: they are the same on every host
      for (const h of d.hosts) assert.deepEqual(hostSysctls(h), socketBuffers, `${s}/${n}: ${h.name}`);
      for (const key of Object.keys(socketBuffers)) assert.match(key, /^net\.ipv4\./, 'only per-namespace sysctls');
      const file = caseCompose({ lab: 'zu1', port: 3620, hosts: d.hosts, baseImage: 'local/node:20' }) as { services: Record<string, { sysctls?: Record<string, string> }> };
      for (const h of d.hosts) assert.deepEqual(file.services[h.name]!.sysctls, socketBuffers, `${h.name}'s container`);
    }
  }
  // lowPorts is one such sysctl: the resolver of dns-exfil keeps it, and nobody else has any
  const dx = draw(findCase('dns-exfil'), 'unit-seed-1');
  const file = caseCompose({ lab: 'zu2', port: 3621, hosts: dx.hosts, baseImage: 'local/node:20' }) as { services: Record<string, { sysctls?: Record<string, string> }> };
  assert.deepEqual(file.services.resolver!.sysctls, { 'net.ipv4.ip_unprivileged_port_start': '0' });
  for (const h of dx.hosts.filter((x) => x.name !== 'resolver')) assert.equal(file.services[h.name]!.sysctls, undefined, h.name);
});

test('zero-window: the webserver streams an export with a few workers; only the culprit reads it slowly, on as many connections', () => {
  const c = findCase('zero-window');
  const sizes = new Set<number>();
  for (const s of seeds) {
    for (const n of [c.suspects.min, c.suspects.default, c.suspects.max]) {
      const d = draw(c, s, n);
      const web = d.hosts.find((h) => h.name === 'webserver')!;
      assert.equal(hostConfig(web, 'webserver')!.workers, workers);
      const bytes = Number(hostConfig(web, 'webserver')!.exportBytes);
      assert.ok(bytes >= 2 * 1024 * 1024 && bytes < 6 * 1024 * 1024, `${s}: the export is a few MB: ${bytes}`);
      sizes.add(bytes);
      const slow = slowDownloads(d)!;
      assert.ok(slow, `${s}/${n}: the culprit reads slowly`);
      assert.equal(slow.loops, workers, 'one slow download for each worker');
      assert.ok(slow.readBytesPerSec! <= 8192 && slow.giveUpMs! >= 5000, 'a few KB a second, for seconds');
      const jobs = (h: HostSpec): ClientJob[] => clientJobs(h);
      const innocents = d.hosts.filter((h) => h.role === 'suspect' && h.name !== d.culprit);
      // downloading the export is no crime: innocents do it too, at full speed
      assert.ok(innocents.some((h) => jobs(h).some((j) => j.kind === 'download')), `${s}/${n}: an innocent downloads the export`);
      for (const h of innocents) for (const j of jobs(h).filter((x) => x.kind === 'download')) assert.equal(j.readBytesPerSec, undefined, `${h.name} reads at full speed`);
      // and every host tails the webserver's log as slowly: its zero-window counters climb too,
      // and the webserver's Send-Q is full towards it, on the log tail's port
      assert.equal(hostConfig(web, 'webserver')!.logTailPort, logTailPort);
      for (const h of innocents) assert.ok(jobs(h).some((j) => j.kind === 'stall' && j.remote && j.port === logTailPort && j.loops! >= workers && j.readBytesPerSec! <= 8192), `${h.name} tails the log slowly`);
      assert.ok(jobs(d.hosts.find((x) => x.name === d.culprit)!).some((j) => j.kind === 'stall' && j.remote && j.loops === 1), 'the culprit tails it too');
      // everyone uses the site; the busiest innocent runs more page loops than the culprit
      for (const h of d.hosts.filter((x) => x.role === 'suspect')) assert.ok(jobs(h).some((j) => j.kind === 'get'), h.name);
      const rate = (h: HostSpec, health: boolean): number =>
        jobs(h).filter((j) => j.kind === 'get' && (j.path === healthPath) === health).reduce((sum, j) => sum + (j.loops ?? 1) * (1000 / j.sleepMs!), 0);
      const culprit = d.hosts.find((h) => h.name === d.culprit)!;
      assert.ok(Math.max(...innocents.map((h) => rate(h, false))) >= 10 * rate(culprit, false), `${s}/${n}: a busy innocent`);
      // the health checks (no worker needed) go on through a stall: one innocent checks 4 times as often as the culprit
      assert.equal(hostConfig(web, 'webserver')!.healthPath, healthPath);
      for (const h of d.hosts.filter((x) => x.role === 'suspect')) assert.equal(jobs(h).filter((j) => j.path === healthPath).length, 1, `${h.name} checks /health`);
      assert.ok(Math.max(...innocents.map((h) => rate(h, true))) >= 4 * rate(culprit, true), `${s}/${n}: a busy health check`);
      // while the workers are taken the page loops wait; the metrics keep every innocent louder than the culprit
      const metrics = (h: HostSpec): number => jobs(h).filter((j) => j.kind === 'statsd').reduce((sum, j) => sum + j.perSec!, 0);
      for (const h of innocents) assert.ok(metrics(h) >= 3 * metrics(culprit), `${s}/${n}: ${h.name} ships ${metrics(h)} metrics/s, the culprit ${metrics(culprit)}`);
      assert.equal(hostConfig(web, 'webserver')!.statsdPort, jobs(culprit).find((j) => j.kind === 'statsd')!.port);
    }
  }
  assert.ok(sizes.size >= seeds.length / 2, `${sizes.size} export sizes in ${seeds.length} runs`);
});

test('zero-window: the hints keep the culprit\'s address for the last; the debrief gives the run\'s values', () => {
  const c = findCase('zero-window');
  for (const s of seeds.slice(0, 10)) {
    const v = view(c, s);
    const culprit = v.hosts.find((h) => h.name === v.draw.culprit)!;
    const hints = c.hints(v);
    for (const h of hints.slice(0, -1)) assert.ok(!new RegExp(`${culprit.ip.replace(/\./g, '\\.')}(?!\\d)`).test(h), 'an early hint gives the culprit\'s IP');
    assert.ok(hints.slice(0, -1).some((h) => h.includes(zeroWindowFilter) && h.includes(v.bridge)), 'a hint shows the filter on the bridge');
    assert.ok(hints.slice(0, -1).some((h) => /win 0/.test(h)), 'a hint says what to read: win 0');
    const last = hints[hints.length - 1]!;
    for (const x of [v.bridge, culprit.ip, `stop ${v.draw.culprit}`, 'tcp[14:2] = 0', 'win 0']) assert.ok(last.includes(x), `the last hint gives ${x}`);
    assert.ok(!c.briefing(v).includes('tcp[14:2]'), 'the briefing does not give the filter');
    const debrief = c.debrief(v, { packets: new Map([[v.draw.culprit, 300]]), bytes: new Map(), seconds: 10, interfaces: new Map([[v.draw.culprit, { veth: culprit.veth!, ifindex: 4242 }]]) });
    for (const x of [culprit.ip, culprit.veth!, '4242', 'win 0', 'tcp[14:2]', `stop ${v.draw.culprit}`]) assert.ok(debrief.includes(x), `the debrief gives ${x}`);
    assert.match(c.situationalHint!(v, { tcpdumpOn: [], wrongArrests: [] })!, /No tcpdump/);
    assert.equal(c.situationalHint!(v, { tcpdumpOn: [v.bridge], wrongArrests: [] }), undefined);
    assert.match(c.situationalHint!(v, { tcpdumpOn: [v.bridge], wrongArrests: ['app1'] })!, /restart/);
  }
});

test('counting port 3000 never points at the culprit: the busiest innocent loads pages at twice its rate at least', () => {
  // the cases whose suspects all load pages (the first case's trick would count them)
  const reqPerSec = (h: HostSpec): number =>
    clientJobs(h).filter((j) => j.kind === 'get').reduce((sum, j) => sum + (j.loops ?? 1) * (1000 / j.sleepMs!), 0);
  for (const id of ['password-in-clear', 'lossy-link', 'arp-storm']) {
    const c = findCase(id);
    for (let k = 0; k < 200; k++) {
      for (const n of [c.suspects.min, c.suspects.default, c.suspects.max]) {
        const d = draw(c, `naive-${k}`, n);
        const culprit = d.hosts.find((h) => h.name === d.culprit)!;
        const busiest = Math.max(...d.hosts.filter((h) => h.role === 'suspect' && h !== culprit).map(reqPerSec));
        assert.ok(busiest >= 2 * reqPerSec(culprit), `${id} naive-${k}/${n}: ${busiest.toFixed(1)} vs the culprit's ${reqPerSec(culprit).toFixed(1)} requests/s`);
      }
    }
  }
});

test('slowloris: the innocents keep their connections alive, one of them busy, pools hold as many as the culprit', () => {
  const c = findCase('slowloris');
  for (let k = 0; k < 100; k++) {
    for (const n of [c.suspects.min, c.suspects.default, c.suspects.max]) {
      const d = draw(c, `sl-${k}`, n);
      const web = d.hosts.find((h) => h.name === 'webserver')!;
      assert.ok(Number(hostConfig(web, 'webserver')!.keepAliveMs) >= 5000, 'idle keep-alive connections are kept for seconds');
      const jobs = (h: HostSpec): ClientJob[] => clientJobs(h);
      const innocents = d.hosts.filter((h) => h.role === 'suspect' && h.name !== d.culprit);
      const pooled = (h: HostSpec): number => jobs(h).filter((j) => j.kind === 'get' && j.keepAlive).reduce((sum, j) => sum + (j.loops ?? 1), 0);
      assert.ok(innocents.every((h) => pooled(h) >= 1), 'every innocent page loop keeps a connection');
      assert.ok(innocents.flatMap(jobs).some((j) => j.keepAlive && (j.loops ?? 1) >= 3 && j.sleepMs! <= 200), 'one busy innocent');
      // each pool's request comes well within the server's keep-alive, jitter (+15%) included
      for (const j of innocents.flatMap(jobs).filter((x) => x.keepAlive)) assert.ok(j.sleepMs! * 1.15 < Number(hostConfig(web, 'webserver')!.keepAliveMs), `${j.sleepMs} ms between requests`);
      // and a cron job on a new connection each time, which waits while the culprit holds the slots
      assert.ok(innocents.every((h) => jobs(h).some((j) => j.kind === 'get' && !j.keepAlive)), 'every innocent has a cron job');
      // counting connections (ss -tn in the webserver) does not single the culprit out: a pool holds as many, within 3
      const culpritConns = jobs(d.hosts.find((h) => h.name === d.culprit)!).find((j) => j.kind === 'slowloris')!.conns!;
      assert.ok(innocents.some((h) => Math.abs(pooled(h) - culpritConns) <= 3), `k=${k}/${n}: a pool near the culprit's ${culpritConns}: ${innocents.map(pooled).join(', ')}`);
      // the innocents' pools fit in the server's limit, with the culprit's they do not
      const held = innocents.reduce((sum, h) => sum + pooled(h), 0);
      const max = maxConnectionsOf(d);
      assert.ok(held < max && held + culpritConns > max, `k=${k}/${n}: innocents ${held}, culprit ${culpritConns}, limit ${max}`);
    }
  }
});

test('lossy-link: the loss rule is BPF that matches at random, at the given rate', async () => {
  const { lossBytecode } = await import('../../src/backends/netns/lab.js');
  assert.equal(lossBytecode(12), '4,32 0 0 4294963256,53 0 1 3779571220,6 0 0 1,6 0 0 0');
  const threshold = (p: number): number => Number(lossBytecode(p).split(',')[2]!.split(' ')[3]);
  assert.equal(threshold(0), 2 ** 32 - 1);
  assert.ok(2 ** 32 - threshold(0.000005) < 1000, 'a decoy matches a few packets in a hundred million');
});

test('reset-storm and arp-storm: the innocents carry the same counters and neighbour tables', () => {
  const rs = findCase('reset-storm');
  for (const s of seeds) {
    const d = draw(rs, s);
    const local = (h: HostSpec): number => clientJobs(h).filter((j) => j.kind === 'connect').reduce((sum, j) => sum + j.perSec!, 0);
    const attempts = d.hosts.filter((h) => h.role === 'suspect' && h.name !== d.culprit).map(local);
    const culprit = local(d.hosts.find((h) => h.name === d.culprit)!);
    // TcpAttemptFails climbs on every host, the culprit's within the innocents' range
    assert.ok(culprit >= Math.min(...attempts) - 2 && culprit <= Math.max(...attempts) + 2, `${s}: ${culprit} vs ${attempts.join(', ')}`);
    for (const h of d.hosts.filter((x) => x.role === 'suspect' && x.name !== d.culprit)) {
      // innocents knock on lo, or on a dead server of the LAN (no RST, no SYN leaves: only ARP)
      for (const j of clientJobs(h).filter((x) => x.kind === 'connect')) assert.ok(j.address === '127.0.0.1' || (j.octet! >= 100 && j.octet! < 240), 'innocents knock on lo or a dead address only');
    }
    // TcpAttemptFails minus TcpOutRsts: what the culprit's refused remote check adds; one
    // innocent's dead server adds as much, so neither that gap nor the webserver's TcpOutRsts points at it
    const gap = (h: HostSpec): number => clientJobs(h).filter((j) => j.kind === 'connect' && j.address !== '127.0.0.1').reduce((sum, j) => sum + j.perSec!, 0);
    const lo = (h: HostSpec): number => clientJobs(h).filter((j) => j.kind === 'connect' && j.address === '127.0.0.1').reduce((sum, j) => sum + j.perSec!, 0);
    const c = d.hosts.find((h) => h.name === d.culprit)!;
    const twin = d.hosts.filter((h) => h.role === 'suspect' && h !== c).find((h) => gap(h) === gap(c) && lo(h) === lo(c));
    assert.ok(twin, `${s}: an innocent's counters climb as the culprit's (${lo(c)} + ${gap(c)} a second)`);
    // the port it knocks on is read from its configuration, and no briefing gives it
    const port = deadPortOf(d);
    assert.ok(port && port !== 3000, `${s}: the dead port ${port}`);
    assert.ok(!new RegExp(`\\b${port}\\b`).test(rs.briefing(view(rs, s))), `${s}: the briefing gives port ${port}`);
    assert.ok(rs.debrief(view(rs, s), { packets: new Map(), bytes: new Map(), seconds: 10, interfaces: new Map() }).includes(`port ${port} of the webserver`));
  }
  const as = findCase('arp-storm');
  for (const s of seeds) {
    const d = draw(as, s);
    for (const h of d.hosts.filter((x) => x.role === 'suspect')) {
      const dead = clientJobs(h).filter((j) => j.kind === 'sweep' && j.octets);
      assert.equal(dead.length, 1, `${h.name} polls a stale inventory`);
      assert.equal(dead[0]!.octets!.length, 32);
      assert.ok(h.name === d.culprit ? dead[0]!.perSec! >= 30 : dead[0]!.perSec! <= 2);
    }
    // some innocents' kernels retry ARP slowly, so their tables hold as many INCOMPLETE entries;
    // never the culprit's, and never every innocent's (the setting must not single it out)
    const slow = d.hosts.filter((h) => h.role === 'suspect' && h.sysctls?.['net.ipv4.neigh.eth0.retrans_time_ms'] === '10000');
    assert.ok(slow.length >= 1 && slow.length < d.hosts.filter((h) => h.role === 'suspect').length - 1 && !slow.some((h) => h.name === d.culprit), `${s}: ${slow.map((h) => h.name).join(', ')}`);
  }
});
