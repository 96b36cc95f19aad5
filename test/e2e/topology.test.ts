/**
 * Labs of several networks joined by a router, built for real: the vanishing packet solved
 * the learner's way (captures on both sides of the gateway, at the same time), every
 * interface and route where the model says, infrastructure refused, and the host as it was
 * after down, also after a kill -9 in the middle of a multi-network start.
 * Root, real kernel and tools. Labs r*, ports 3570-3579.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mystery, sh } from '../helpers/cli.js';
import { dockerEngine, psJson } from '../helpers/lab.js';
import { takeSnapshot } from '../helpers/snapshot.js';
import { assertHostAsBefore, down } from '../helpers/robust.js';

const env = { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'mystery-topo-')) };

/** Two captures at once, one per side, as the hints say: each line tcpdump printed. */
async function bothSides(lanBridge: string, dmzBridge: string, filter: string, seconds: number): Promise<{ lan: string[]; dmz: string[] }> {
  const run = (br: string) => sh('timeout', [String(seconds), 'tcpdump', '-nn', '-e', '-l', '-i', br, filter], (seconds + 10) * 1000);
  const [lan, dmz] = await Promise.all([run(lanBridge), run(dmzBridge)]);
  return { lan: lan.stdout.split('\n').filter(Boolean), dmz: dmz.stdout.split('\n').filter(Boolean) };
}

/** One seed of the vanishing packet, solved the learner's way; the three seeds run at once. */
async function vanishing(seed: string, i: number, backend: 'netns' | 'docker' = 'netns'): Promise<void> {
    const lab = backend === 'netns' ? `rtopo${i}` : `rtopod${i}`;
    const port = String(backend === 'netns' ? 3570 + i : 3575 + i);
    try {
      const st = await mystery(['start', 'vanishing-packet', '-d', '--name', lab, '--port', port, '--seed', seed, '--backend', backend], { env, timeoutMs: 180_000 });
      assert.equal(st.code, 0, st.stderr);
      const m = /lan on the bridge (br-[0-9a-f]{12}), dmz on the bridge (br-[0-9a-f]{12})/.exec(st.stdout);
      assert.ok(m, `the briefing names both bridges:\n${st.stdout}`);
      const [, lanBr, dmzBr] = m as unknown as [string, string, string];

      // the model, as ps shows it: the gateway on both networks, every other host on one
      const hosts = await psJson(lab, env);
      const gw = hosts.find((h) => h.name === 'gw')!;
      assert.deepEqual(gw.interfaces.map((x) => [x.name, x.network]), [['eth0', 'lan'], ['eth1', 'dmz']]);
      const web = hosts.find((h) => h.name === 'webserver')!;
      assert.deepEqual(web.interfaces.map((x) => x.network), ['dmz']);
      const lanPrefix = gw.interfaces[0]!.ip.split('.').slice(0, 3).join('.');
      const dmzPrefix = gw.interfaces[1]!.ip.split('.').slice(0, 3).join('.');
      assert.notEqual(lanPrefix, dmzPrefix, 'each network has its own subnet');

      // the gateway is infrastructure: no exec, no stop
      const ex = await mystery(['exec', '--name', lab, 'gw', 'iptables', '-S'], { env });
      assert.equal(ex.code, 2, ex.stderr);
      assert.match(ex.stderr, /gw is infrastructure/);
      assert.match(ex.stderr, new RegExp(lanBr));
      const stop = await mystery(['stop', '--name', lab, 'gw'], { env });
      assert.equal(stop.code, 2, stop.stderr);
      // and no fault is listed on the machine
      const rules = await sh('iptables', ['-S']);
      assert.doesNotMatch(rules.stdout, new RegExp(`${lanPrefix}\\.`), 'the gateway\'s rule is not in the machine\'s iptables');

      // the learner: SYNs on lan that never get a SYN-ACK back name the machine in trouble
      const syns = await bothSides(lanBr, dmzBr, 'tcp port 3000 and tcp[tcpflags] & tcp-syn != 0', 5);
      const asked = new Map<string, number>();
      const answered = new Map<string, number>();
      for (const line of syns.lan) {
        const t = / (\d+\.\d+\.\d+\.\d+)\.\d+ > (\d+\.\d+\.\d+\.\d+)\.\d+: Flags \[(S\.?)\]/.exec(line);
        if (!t) continue;
        if (t[3] === 'S') asked.set(t[1]!, (asked.get(t[1]!) ?? 0) + 1);
        else answered.set(t[2]!, (answered.get(t[2]!) ?? 0) + 1);
      }
      const stuck = [...asked.keys()].filter((ip) => !answered.has(ip));
      assert.equal(stuck.length, 1, `one machine gets no SYN-ACK on lan: asked ${JSON.stringify([...asked])}, answered ${JSON.stringify([...answered])}`);
      const victimIp = stuck[0]!;
      const victim = hosts.find((h) => h.ip === victimIp)!;
      assert.ok(victim && victim.name.startsWith('app'));
      const busiest = Math.max(...[...asked.values()]);
      console.log(`${seed}: ${victim.name} sent ${asked.get(victimIp)} SYNs with no answer on lan (the busiest machine ${busiest}); answered: ${[...answered.values()].join(',')}`);

      // follow it across: does it come out on dmz? then the answers die on the way back
      const trail = await bothSides(lanBr, dmzBr, `host ${victimIp}`, 4);
      const onLan = trail.lan.filter((l) => l.includes(`${victimIp}.`) && / > \S+3000: /.test(l)).length;
      const onDmz = trail.dmz.filter((l) => new RegExp(`${victimIp.replace(/\./g, '\\.')}\\.\\d+ > `).test(l)).length;
      const answersOnDmz = trail.dmz.filter((l) => /Flags \[S\.\]/.test(l)).length;
      assert.ok(onLan > 0, `its requests reach lan: ${trail.lan.slice(0, 3).join('\n')}`);
      const lost = onDmz === 0 ? 'requests' : 'answers';
      if (lost === 'answers') {
        assert.ok(answersOnDmz > 0, 'the webserver answers on dmz');
        // -e: on dmz its packets carry the gateway's MAC, not the machine's
        const macOnLan = / ([0-9a-f:]{17}) > /.exec(trail.lan.find((l) => l.includes(`${victimIp}.`) && / > \S+3000: /.test(l))!)![1];
        const macOnDmz = / ([0-9a-f:]{17}) > /.exec(trail.dmz.find((l) => l.includes(`${victimIp}.`))!)![1];
        assert.notEqual(macOnLan, macOnDmz, 'the router rewrote the source MAC');
      }
      console.log(`${seed}: on lan ${onLan} packets from ${victim.name}, on dmz ${onDmz} (${answersOnDmz} SYN-ACKs): its ${lost} are lost`);

      // the symptom in status, a request made now from inside each office machine: all go through but the victim's
      const inside = await mystery(['status', '--json', '--name', lab], { env, timeoutMs: 30_000 });
      assert.equal(inside.code, 0, inside.stderr);
      const machines = hosts.filter((h) => /^app\d+$/.test(h.name)).length;
      assert.deepEqual((JSON.parse(inside.stdout) as { endToEnd?: unknown }).endToEnd, { probes: machines, passed: machines - 1 }, `status, inside the lab: ${inside.stdout}`);
      const wrong = await mystery(['answer', '--name', lab, `${victim.name} ${lost === 'requests' ? 'answers' : 'requests'}`], { env });
      assert.equal(wrong.code, 8, `the other direction is wrong: ${wrong.stdout}`);
      const right = await mystery(['answer', '--name', lab, `${victim.name} ${lost}`], { env });
      assert.equal(right.code, 0, right.stdout + right.stderr);
      assert.match(right.stdout, /CASE SOLVED/);
      const check = await mystery(['check', '--name', lab], { env });
      assert.equal(check.code, 0, check.stdout + check.stderr);
      const map = await mystery(['map', '--name', lab], { env });
      assert.equal(map.code, 0, map.stderr);
      assert.match(map.stdout, /lan 10\.200\.\d+\.0\/24 on br-/);
      assert.match(map.stdout, /gw .* router to dmz \(infrastructure: no login\)/);
      // (the netns backend names each host's veth; Docker's are its own)
      if (backend === 'netns') assert.match(map.stdout, /eth0 <-> veth[0-9a-f]{7}/, 'once solved, the map shows the veths');
    } finally {
      await down(lab);
    }
}

test('the vanishing packet (seeds v4, v5, v1): both sides of the gateway tell where the packets die', { timeout: 150_000 }, async () => {
  const before = await takeSnapshot();
  await Promise.all(['v4', 'v5', 'v1'].map((seed, i) => vanishing(seed, i)));
  await assertHostAsBefore(before, 'the vanishing packet on three seeds, then down');
});

/**
 * The same lab on Docker: Compose makes the two networks with the plan's subnets and
 * addresses, and the tool names each router interface, sets the routes and the gateway's rule
 * inside the containers' namespaces (Docker attaches networks in an order of its own).
 */
test('the vanishing packet on Docker (seed v5): the same networks, names, routes and rule, solved the same way', { timeout: 240_000 }, async (t) => {
  if (!(await dockerEngine())) {
    t.skip('no Docker engine answers here');
    return;
  }
  const before = await takeSnapshot();
  await vanishing('v5', 0, 'docker');
  await assertHostAsBefore(before, 'the vanishing packet on Docker, then down');
});

/**
 * The two cases of three networks on Docker, at once: the MTU black hole's ICMP on transit names
 * the MTU, the routing loop's time-exceeded on dmz names the router; each answered from what
 * tcpdump printed, and solved.
 */
test('on Docker too: the MTU black hole and the routing loop show their faults as on netns, and are solved from tcpdump', { timeout: 240_000 }, async (t) => {
  if (!(await dockerEngine())) {
    t.skip('no Docker engine answers here');
    return;
  }
  const before = await takeSnapshot();
  const bridgeOf = (briefing: string, net: string): string => new RegExp(`${net} on (?:the bridge )?(br-[0-9a-f]{12})`).exec(briefing)![1]!;
  const solveOn = async (caseId: string, seed: string, lab: string, port: number): Promise<void> => {
    try {
      const st = await mystery(['start', caseId, '-d', '--backend', 'docker', '--name', lab, '--port', String(port), '--seed', seed], { env, timeoutMs: 180_000 });
      assert.equal(st.code, 0, st.stderr);
      let value: string;
      if (caseId === 'mtu-blackhole') {
        const r = await sh('timeout', ['6', 'tcpdump', '-nn', '-v', '-l', '-i', bridgeOf(st.stdout, 'transit'), 'icmp'], 20_000);
        const mtus = [...r.stdout.matchAll(/need to frag \(mtu (\d+)\)/g)].map((m) => m[1]!);
        assert.ok(mtus.length > 0 && new Set(mtus).size === 1, `r1 says the MTU on transit: ${mtus.join(',')}`);
        const dmz = await sh('timeout', ['3', 'tcpdump', '-nn', '-i', bridgeOf(st.stdout, 'dmz'), 'icmp'], 20_000);
        assert.match(dmz.stderr, /^0 packets captured/m, 'none of it reaches dmz');
        value = mtus[0]!;
      } else {
        const r = await sh('timeout', ['6', 'tcpdump', '-nn', '-v', '-l', '-i', bridgeOf(st.stdout, 'dmz'), 'icmp[icmptype] = icmp-timxceed'], 20_000);
        const from = [...r.stdout.matchAll(/IP \(.*?\)\s*(\d+\.\d+\.\d+\.\d+) > \d+\.\d+\.\d+\.\d+: ICMP time exceeded/gs)].map((m) => m[1]!);
        const quoted = [...r.stdout.matchAll(/\d+\.\d+\.\d+\.\d+\.3000 > (\d+\.\d+\.\d+\.\d+)\.\d+:/g)].map((m) => m[1]!);
        assert.ok(from.length > 0 && quoted.length > 0, `time exceeded on dmz, quoting the answers: ${r.stdout.slice(0, 400)}`);
        const hosts = await psJson(lab, env);
        const nameOf = (ip: string): string => hosts.find((h) => h.interfaces.some((i) => i.ip === ip))!.name;
        value = `${nameOf(quoted[0]!)} ${nameOf(from[0]!)}`;
      }
      console.log(`${caseId} on Docker (${seed}): answer ${value}`);
      const right = await mystery(['answer', '--name', lab, value], { env });
      assert.equal(right.code, 0, right.stdout + right.stderr);
      assert.match(right.stdout, /CASE SOLVED/);
    } finally {
      await down(lab);
    }
  };
  await Promise.all([solveOn('mtu-blackhole', 'm1', 'rtopdm', 3578), solveOn('routing-loop', 'loop-a', 'rtopdl', 3579)]);
  await assertHostAsBefore(before, 'the three-network cases on Docker, then down');
});

test('a two-network lab: iflink in every host as in Docker, routes through the router, the map keeps the veths hidden', { timeout: 90_000 }, async () => {
  const lab = 'rtopo9';
  const before = await takeSnapshot();
  try {
    const st = await mystery(['start', 'vanishing-packet', '-d', '--name', lab, '--port', '3579', '--suspects', '3'], { env, timeoutMs: 60_000 });
    assert.equal(st.code, 0, st.stderr);
    const hosts = await psJson(lab, env);
    const links = JSON.parse((await sh('ip', ['-j', 'link', 'show'])).stdout) as Array<{ ifname: string; ifindex: number; ifalias?: string }>;
    const ours = new Map(links.filter((l) => l.ifalias === `tcpdump-mystery:${lab}` && l.ifname.startsWith('veth')).map((l) => [l.ifindex, l.ifname]));
    for (const h of hosts.filter((x) => x.name !== 'gw')) {
      const r = await mystery(['exec', '--name', lab, h.name, 'cat', '/sys/class/net/eth0/iflink'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(ours.has(Number(r.stdout.trim())), `${h.name}'s eth0 iflink names one of the lab's veths on this machine`);
      const route = await mystery(['exec', '--name', lab, h.name, 'ip', 'route'], { env });
      const gw = hosts.find((x) => x.name === 'gw')!;
      const via = h.name === 'webserver' ? gw.interfaces[1]!.ip : gw.interfaces[0]!.ip;
      assert.match(route.stdout, new RegExp(`via ${via.replace(/\./g, '\\.')}`), `${h.name} routes through gw: ${route.stdout}`);
    }
    const map = await mystery(['map', '--name', lab], { env });
    assert.doesNotMatch(map.stdout, /veth[0-9a-f]{7}/, 'no veth before the case is over');
    const cases = JSON.parse((await mystery(['cases', '--json'], { env })).stdout) as Array<{ id: string; networks: string[]; routers: string[] }>;
    assert.deepEqual(cases.find((c) => c.id === 'vanishing-packet'), { ...cases.find((c) => c.id === 'vanishing-packet'), networks: ['lan', 'dmz'], routers: ['gw'] });
    assert.deepEqual(cases.find((c) => c.id === 'noisy-neighbour')?.networks, ['lan']);
  } finally {
    await down(lab);
  }
  await assertHostAsBefore(before, 'a two-network lab, then down');
});

test('SIGKILL in the middle of a multi-network start, then down: the host is as before', { timeout: 120_000 }, async () => {
  const before = await takeSnapshot();
  for (const step of ['bridge:1', 'firewall', 'veth:3/added', 'services', 'ready']) {
    try {
      const r = await mystery(['start', 'vanishing-packet', '-d', '--name', 'rtopok', '--port', '3578', '--suspects', '3'], { env: { ...env, MYSTERY_TEST_KILL_AT: step } });
      assert.equal(r.signal, 'SIGKILL', `start was to be killed at ${step}; it ended with ${r.code}: ${r.stderr}`);
    } finally {
      await down('rtopok');
    }
    await assertHostAsBefore(before, `a two-network start killed at ${step}, then down`);
  }
});
