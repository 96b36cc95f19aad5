import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptoRng, newSeed, seededRng } from '../../src/core/random.js';
import { bridgeName, checkInterfaceName, netnsName, netnsPattern, validateLabName, vethName, hostId } from '../../src/core/naming.js';
import { findHost, planLab, resolveConfig } from '../../src/core/model.js';
import { overlaps, pickSubnet } from '../../src/core/subnet.js';
import { UserError, describeExit } from '../../src/core/errors.js';
import { splitRuleLine, acceptRule } from '../../src/backends/netns/firewall.js';
import { captureInterface } from '../../src/core/observe.js';
import { bars, sparkline } from '../../src/core/sparkline.js';
import { median } from '../../src/core/latency.js';
import { noisyNeighbour } from '../../src/cases/noisy-neighbour.js';
import { hostConfig } from '../../src/cases/case.js';

test('names look like Docker\'s and fit Linux limits', () => {
  for (let i = 0; i < 50; i++) {
    const v = vethName();
    assert.match(v, /^veth[0-9a-f]{7}$/);
    assert.equal(checkInterfaceName(v), v);
    assert.match(bridgeName(), /^br-[0-9a-f]{12}$/);
    assert.match(hostId(), /^[0-9a-f]{12}$/);
  }
  assert.throws(() => checkInterfaceName('veth-much-too-long-name'), UserError);
});

test('namespace names carry the lab, not the host, and match only their own lab', () => {
  const ns = netnsName('team2');
  assert.match(ns, netnsPattern('team2'));
  assert.doesNotMatch(ns, netnsPattern('team'));
  assert.doesNotMatch('tmys-team2-deadbeef-x', netnsPattern('team2'));
  assert.doesNotMatch(netnsName('a1'), netnsPattern('a'));
});

test('lab names are validated with a message saying what to do', () => {
  assert.equal(validateLabName('mystery'), 'mystery');
  assert.throws(() => validateLabName('Bad_Name'), /not valid/);
  assert.throws(() => validateLabName('abcdefghijklmn'), (e: unknown) => e instanceof UserError && /too long/.test(e.message) && e.exitCode === 7);
});

test('the seeded draw is reproducible and the crypto one is not', () => {
  const a = seededRng('s1');
  const b = seededRng('s1');
  const seqA = Array.from({ length: 20 }, () => a.int(1000));
  const seqB = Array.from({ length: 20 }, () => b.int(1000));
  assert.deepEqual(seqA, seqB);
  const c = seededRng('s2');
  assert.notDeepEqual(seqA, Array.from({ length: 20 }, () => c.int(1000)));
  assert.notEqual(newSeed(), newSeed());
  const shuffled = cryptoRng.shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...shuffled].sort(), [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('int() is uniform enough: every value of a small range comes up', () => {
  const r = seededRng('uniform');
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 6000; i++) counts[r.int(6)]++;
  for (const c of counts) assert.ok(c > 850 && c < 1150, `counts ${counts}`);
});

test('noisy-neighbour: one culprit with the big loop count, drawn from the seed', () => {
  const culprits = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const d = noisyNeighbour.draw(seededRng(`seed-${i}`), 5);
    assert.equal(d.hosts.length, 6);
    const senders = d.hosts.filter((h) => h.role === 'suspect');
    const loud = senders.filter((h) => hostConfig(h, 'sender')!.loops >= 100);
    assert.equal(loud.length, 1);
    assert.equal(loud[0]!.name, d.culprit);
    culprits.add(d.culprit);
    assert.deepEqual(noisyNeighbour.draw(seededRng(`seed-${i}`), 5), d, 'same seed, same draw');
  }
  assert.equal(culprits.size, 5, 'every sender is the culprit for some seed');
});

test('noisy-neighbour: innocents stay well under the webserver capacity for 2 to 12 suspects', () => {
  for (let n = 2; n <= 12; n++) {
    const d = noisyNeighbour.draw(seededRng('x'), n);
    const innocentLoops = d.hosts.filter((h) => h.role === 'suspect' && h.name !== d.culprit).reduce((s, h) => s + hostConfig(h, 'sender')!.loops, 0);
    // ~1 request per loop every 300 ms; the webserver serves ~100 a second
    assert.ok(innocentLoops / 0.3 <= 70, `${n} suspects: innocents send ${innocentLoops / 0.3}/s`);
    assert.equal(d.hosts.filter((h) => h.role === 'suspect').length, n);
  }
});

test('the plan lists hosts out of name order, with unique addresses and names', () => {
  let inNameOrder = 0;
  for (let i = 0; i < 20; i++) {
    const draw = noisyNeighbour.draw(seededRng(`p${i}`), 5);
    const plan = planLab({ lab: 'mystery', caseId: 'noisy-neighbour', seed: 'x', suspects: 5, backend: 'netns', port: 3000, subnetBase: '10.200.1', draw });
    const names = plan.hosts.map((h) => h.name);
    if (names.join() === [...names].sort().join()) inNameOrder++;
    assert.equal(new Set(plan.hosts.map((h) => h.ip)).size, 6);
    assert.equal(new Set(plan.hosts.map((h) => h.veth)).size, 6);
    assert.ok(plan.hosts.every((h) => h.ip.startsWith('10.200.1.') && h.ip !== plan.gateway));
    assert.ok(!JSON.stringify(plan).includes('loops'), 'the plan holds no secret configuration');
  }
  assert.ok(inNameOrder < 3);
});

test('service targets are resolved to lab addresses; hosts are found by name, id or id prefix', () => {
  const draw = noisyNeighbour.draw(seededRng('r'), 3);
  const plan = planLab({ lab: 'mystery', caseId: 'noisy-neighbour', seed: 'r', suspects: 3, backend: 'netns', port: 3000, subnetBase: '10.200.9', draw });
  const web = plan.hosts.find((h) => h.name === 'webserver')!;
  assert.deepEqual(resolveConfig({ target: 'http://webserver:3000/', loops: 3 }, plan), { target: `http://${web.ip}:3000/`, loops: 3 });
  // at any depth: a job's own URL too; a name not in a URL (a server name, a Host) stays
  assert.deepEqual(resolveConfig({ jobs: [{ url: 'https://webserver:443/x', servername: 'webserver', n: 1 }], note: { at: 'http://webserver/' } }, plan), {
    jobs: [{ url: `https://${web.ip}:443/x`, servername: 'webserver', n: 1 }],
    note: { at: `http://${web.ip}/` },
  });
  assert.equal(findHost(plan, 'webserver'), web);
  assert.equal(findHost(plan, web.id), web);
  assert.equal(findHost(plan, web.id.slice(0, 6)), web);
  assert.equal(findHost(plan, 'nobody'), undefined);
});

test('the subnet overlaps no route; a clash is skipped and said', () => {
  assert.ok(overlaps('10.0.0.0/8', '10.200.3.0/24'));
  assert.ok(!overlaps('192.168.1.0/24', '10.200.3.0/24'));
  assert.ok(overlaps('10.200.3.7/32', '10.200.3.0/24'));
  const r = pickSubnet(['10.200.3.0/24', '192.0.2.0/24'], 3);
  assert.equal(r.base, '10.200.4');
  assert.match(r.skipped[0]!, /10\.200\.3\.0\/24 \(overlaps 10\.200\.3\.0\/24\)/);
  assert.throws(() => pickSubnet(['10.200.0.0/16']), (e: unknown) => e instanceof UserError && e.exitCode === 7);
});

test('iptables -S lines are split like a shell would, quotes included', () => {
  assert.deepEqual(splitRuleLine('-A FORWARD -i br-1 -o br-1 -m comment --comment "tcpdump-mystery:lab a" -j ACCEPT'), [
    '-A', 'FORWARD', '-i', 'br-1', '-o', 'br-1', '-m', 'comment', '--comment', 'tcpdump-mystery:lab a', '-j', 'ACCEPT',
  ]);
  assert.deepEqual(acceptRule('lab', 'br-x').slice(0, 5), ['FORWARD', '-i', 'br-x', '-o', 'br-x']);
});

test('the interface a running tcpdump captures on is read from its arguments', () => {
  assert.equal(captureInterface(['tcpdump', '-i', 'veth1234567', 'port', '3000']), 'veth1234567');
  assert.equal(captureInterface(['tcpdump', '-nqi', 'br-0123']), 'br-0123');
  assert.equal(captureInterface(['tcpdump', '-ieth0']), 'eth0');
  assert.equal(captureInterface(['tcpdump', '--interface=any']), 'any');
  assert.equal(captureInterface(['tcpdump', '-n', 'port', '80']), 'default');
});

test('pictures: sparkline and bars', () => {
  assert.equal(sparkline([10, 100, 1000]), '▁▅█');
  assert.equal(sparkline([null, 5]), ' ▁');
  const b = bars([{ label: 'a', value: 10 }, { label: 'bb', value: 5 }], 10).split('\n');
  assert.equal(b[0], 'a  ██████████ 10');
  assert.equal(b[1], 'bb █████ 5');
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([]), null);
});

test('exit codes are spelled out in words', () => {
  assert.match(describeExit(137, null), /SIGKILL/);
  assert.match(describeExit(null, 'SIGTERM'), /killed by SIGTERM/);
});

test("a catalog case's compose file: one image, each host its program and configuration, the lab's labels", async () => {
  const { caseCompose } = await import('../../src/backends/docker/docker.js');
  const { passwordInClear } = await import('../../src/cases/password-in-clear.js');
  const draw = passwordInClear.draw(seededRng('compose-unit'), 4);
  // a configuration with a `$` must reach the container as it is: Compose would interpolate it
  Object.assign(draw.hosts[1]!.config, { note: 'pa$$word ${HOME}' });
  const file = caseCompose({ lab: 'cu1', port: 3456, hosts: draw.hosts, baseImage: 'local/node:20' }) as {
    services: Record<string, { image: string; build?: { args: Record<string, string>; labels: Record<string, string> }; container_name: string; command: string[]; environment: Record<string, string>; labels: Record<string, string>; ports?: string[]; depends_on?: string[]; networks: string[] }>;
    networks: Record<string, { name: string; labels: Record<string, string> }>;
  };
  assert.deepEqual(Object.keys(file.services), draw.hosts.map((h) => h.name));
  const built = Object.values(file.services).filter((s) => s.build);
  assert.equal(built.length, 1, 'one service builds the image the others run');
  assert.equal(built[0]!.build!.args.NODE_IMAGE, 'local/node:20');
  assert.equal(built[0]!.build!.labels['tcpdump-mystery.lab'], 'cu1', 'the image carries the lab label: down removes it');
  for (const h of draw.hosts) {
    const s = file.services[h.name]!;
    assert.equal(s.image, 'tcpdump-mystery/service:cu1');
    assert.equal(s.container_name, `cu1-${h.name}`);
    assert.deepEqual(s.command, ['node', `${h.program}.js`]);
    assert.equal(s.labels['tcpdump-mystery.lab'], 'cu1');
    assert.equal(s.labels['tcpdump-mystery.role'], h.role);
    assert.deepEqual(s.networks, ['lab']);
    // Compose turns `$$` back into `$`
    assert.deepEqual(JSON.parse(s.environment.MYSTERY_CONFIG!.replace(/\$\$/g, '$')), h.config);
    assert.doesNotMatch(s.environment.MYSTERY_CONFIG!.replace(/\$\$/g, ''), /\$/, 'no lone $ left for Compose to interpolate');
  }
  assert.deepEqual(file.services.webserver!.ports, ['127.0.0.1:3456:3000'], 'published on localhost only');
  assert.deepEqual(file.services[draw.hosts[1]!.name]!.depends_on, ['webserver']);
  assert.equal(file.networks.lab!.name, 'tcpdump-mystery-cu1');
  assert.equal(file.networks.lab!.labels['tcpdump-mystery.lab'], 'cu1');
});

test('probeResultOf: the probe\'s last JSON line, its fields checked; anything else is a failure that says the probe did not run', async () => {
  const { probeResultOf } = await import('../../src/core/end-to-end.js');
  assert.deepEqual(probeResultOf('{"ok":true,"status":200,"ms":12}\n', 99), { ok: true, ms: 12, status: 200 });
  assert.deepEqual(probeResultOf('noise\n{"ok":false,"error":"timeout","ms":4000}', 4100), { ok: false, ms: 4000, error: 'timeout' });
  // a line without a boolean ok, a field of the wrong type, no output at all
  assert.deepEqual(probeResultOf('{"ok":"yes"}', 7), { ok: false, error: 'the probe did not run', ms: 7 });
  assert.deepEqual(probeResultOf('{"ok":true,"status":"200","ms":"x"}', 7), { ok: true, ms: 7 });
  assert.deepEqual(probeResultOf(undefined, 3), { ok: false, error: 'the probe did not run', ms: 3 });
  assert.deepEqual(probeResultOf('', 3), { ok: false, error: 'the probe did not run', ms: 3 });
});
