// The functions that decide what is the lab's, as tables of lookalikes: what resembles the lab's
// resources (a tag one letter longer, a comment with a suffix, a process under another /services/,
// a state file of another version) is never taken for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOwnTag, labOfNetnsName, labOfTag, netnsPattern, ownerTag, ruleIsTagged, validateLabName } from '../../src/core/naming.js';
import { isLabProcess, isSupervisorOf } from '../../src/core/procs.js';
import { stateProblem, type LabState } from '../../src/core/state.js';
import { findHost, planLab, type LabPlan } from '../../src/core/model.js';
import { overlaps, parsePrefix, pickSubnet } from '../../src/core/subnet.js';
import { findCase } from '../../src/cases/index.js';
import { seededRng } from '../../src/core/random.js';
import { splitRuleLine } from '../../src/backends/netns/firewall.js';

const table = <I, O>(name: string, f: (i: I) => O, rows: Array<[I, O]>): void => {
  for (const [input, want] of rows) assert.deepEqual(f(input), want, `${name}(${JSON.stringify(input)})`);
};

test('link aliases: only the exact tag of the lab is its own', () => {
  assert.equal(ownerTag('lab1'), 'tcpdump-mystery:lab1');
  table('isOwnTag', (a: string | undefined) => isOwnTag(a, 'lab1'), [
    ['tcpdump-mystery:lab1', true],
    ['tcpdump-mystery:lab12', false],
    ['tcpdump-mystery:lab', false],
    ['tcpdump-mystery:Lab1', false],
    ['Tcpdump-mystery:lab1', false],
    [' tcpdump-mystery:lab1', false],
    ['tcpdump-mystery:lab1 ', false],
    ['tcpdump-mystery:lab1:x', false],
    ['xtcpdump-mystery:lab1', false],
    ['tcpdump-mystery-lab1', false],
    ['tcpdump-mystery lab1', false],
    ['', false],
    [undefined, false],
  ]);
});

test('findLabs reads the lab from a tag anchored at both ends, a lab name whole', () => {
  table('labOfTag', labOfTag, [
    ['tcpdump-mystery:lab1', 'lab1'],
    ['tcpdump-mystery:a', 'a'],
    ['tcpdump-mystery:abcdefghijkl', 'abcdefghijkl'],
    ['tcpdump-mystery:abcdefghijklm', undefined],
    ['tcpdump-mystery:', undefined],
    ['tcpdump-mystery:Lab1', undefined],
    ['tcpdump-mystery:1lab', undefined],
    ['tcpdump-mystery:lab-1', undefined],
    ['tcpdump-mystery:lab1 ', undefined],
    ['tcpdump-mystery:lab1\n', undefined],
    ['tcpdump-mystery:lab1:x', undefined],
    ['xtcpdump-mystery:lab1', undefined],
    ['my tcpdump-mystery:lab1', undefined],
    ['tcpdump-mysteryXlab1', undefined],
    ['tcpdump_mystery:lab1', undefined],
    [undefined, undefined],
  ]);
});

test('namespaces: the name\'s shape (tmys-LAB-8 hex), anchored; the lab\'s own pattern takes no longer lab name', () => {
  table('labOfNetnsName', labOfNetnsName, [
    ['tmys-lab1-0123abcd', 'lab1'],
    ['tmys-a-00000000', 'a'],
    ['tmys-lab1-0123abc', undefined],
    ['tmys-lab1-0123abcde', undefined],
    ['tmys-lab1-0123ABCD', undefined],
    ['tmys-lab1-0123abcg', undefined],
    ['xtmys-lab1-0123abcd', undefined],
    ['tmys-lab1-0123abcd-x', undefined],
    ['tmys--0123abcd', undefined],
    ['tmys-Lab1-0123abcd', undefined],
    ['tmys-abcdefghijklm-0123abcd', undefined],
    ['tmys_lab1_0123abcd', undefined],
  ]);
  const p = netnsPattern('lab1');
  table('netnsPattern(lab1)', (ns: string) => p.test(ns), [
    ['tmys-lab1-0123abcd', true],
    ['tmys-lab12-0123abcd', false],
    ['tmys-lab-0123abcd', false],
    ['tmys-lab1-0123abcd0', false],
    ['tmys-lab1-0123abc', false],
    [' tmys-lab1-0123abcd', false],
  ]);
});

test('iptables rules: the lab\'s comment, whole, as the value of --comment', () => {
  const rule = (comment: string): string[] => ['FORWARD', '-i', 'br-0123456789ab', '-o', 'br-0123456789ab', '-m', 'comment', '--comment', comment, '-j', 'ACCEPT'];
  table('ruleIsTagged', (args: string[]) => ruleIsTagged(args, 'lab1'), [
    [rule('tcpdump-mystery:lab1'), true],
    [rule('tcpdump-mystery:lab12'), false],
    [rule('tcpdump-mystery:lab'), false],
    [rule('tcpdump-mystery:lab1 extra'), false],
    [rule('"tcpdump-mystery:lab1"'), false],
    [rule('tcpdump-mystery:LAB1'), false],
    [['FORWARD', '-j', 'ACCEPT'], false],
    [['FORWARD', '-i', 'tcpdump-mystery:lab1', '-j', 'ACCEPT'], false],
    [['FORWARD', '-m', 'comment', '--comment'], false],
    [['FORWARD', 'tcpdump-mystery:lab1', '--comment', 'other'], false],
  ]);
  table('split and match', (line: string) => ruleIsTagged(splitRuleLine(line).slice(1), 'lab1'), [
    ['-A FORWARD -i br-0123456789ab -o br-0123456789ab -m comment --comment tcpdump-mystery:lab1 -j ACCEPT', true],
    ['-A FORWARD -i br-0123456789ab -m comment --comment "tcpdump-mystery:lab1" -j ACCEPT', true],
    ['-A FORWARD -m comment --comment "tcpdump-mystery:lab1 (copy)" -j ACCEPT', false],
    ['-A FORWARD -m comment --comment "not tcpdump-mystery:lab1" -j ACCEPT', false],
    ['-A DOCKER-USER -m comment --comment tcpdump-mystery:lab10 -j ACCEPT', false],
  ]);
});

test('processes: the lab\'s supervisor by --lab-dir DIR, its programs by DIR/services/; never any other /services/', () => {
  const dir = '/run/tcpdump-mystery/lab1';
  table('isLabProcess', (args: string[]) => isLabProcess(args, dir), [
    [['node', '/opt/mystery/supervisor.js', '--lab-dir', dir], true],
    [['node', `${dir}/services/webserver.js`, '--port', '3000'], true],
    [['nsenter', '--net=/run/netns/x', 'node', `${dir}/services/sender.js`], true],
    [['node', '/srv/app/services/webserver.js'], false],
    [['node', '/run/tcpdump-mystery/lab12/services/webserver.js'], false],
    [['node', '/run/tcpdump-mystery/lab/services/webserver.js'], false],
    [['node', `${dir}/servicesx/webserver.js`], false],
    [['node', `${dir}/services`], false],
    [['node', `x${dir}/services/a.js`], false],
    [['node', 'supervisor.js', '--lab-dir', `${dir}2`], false],
    [['node', 'supervisor.js', '--lab-dir', '/run/tcpdump-mystery/lab'], false],
    [['node', 'supervisor.js', dir, '--lab-dir'], false],
    [['node', 'supervisor.js', `--lab-dir=${dir}`], false],
    [['node', 'supervisor.js', dir], false],
    [[], false],
  ]);
  table('isSupervisorOf', (args: string[]) => isSupervisorOf(args, dir), [
    [['node', 'supervisor.js', '--lab-dir', dir], true],
    [['node', `${dir}/services/webserver.js`], false],
    [['node', '--lab-dir', `${dir}/`], false],
  ]);
});

function validState(): LabState {
  const c = findCase('noisy-neighbour');
  const draw = c.draw(seededRng('own'), 3);
  const plan = planLab({ lab: 'lab1', caseId: c.id, seed: 'own', suspects: 3, backend: 'netns', port: 3000, subnetBase: '10.200.9', draw });
  return { version: 1, plan, created: { bridge: plan.bridge, netns: plan.hosts.map((h) => h.netns), veths: plan.hosts.map((h) => h.veth), rules: [] }, startedAt: new Date(0).toISOString(), readyAt: new Date(1).toISOString(), arrests: [], hintsUsed: 0 };
}

test('state files: another version, another lab\'s names, lookalike names and out-of-range numbers are refused', () => {
  const ok = validState();
  assert.equal(stateProblem(ok, 'lab1'), undefined);
  assert.match(stateProblem(ok, 'lab12')!, /of another lab/);
  const changed = (f: (s: LabState & Record<string, unknown>) => void): string | undefined => {
    const s = structuredClone(ok) as LabState & Record<string, unknown>;
    f(s);
    return stateProblem(s, 'lab1');
  };
  const set = (path: string, value: unknown) => (s: Record<string, unknown>): void => {
    const keys = path.split('.');
    let o: Record<string, unknown> = s;
    for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
    o[keys.at(-1)!] = value;
  };
  const h0 = ok.plan.hosts[0]!;
  table('stateProblem', (f: (s: Record<string, unknown>) => void) => changed(f) !== undefined, [
    [set('version', 2), true],
    [set('version', '1'), true],
    [set('version', 0), true],
    [set('version', undefined), true],
    [set('plan.caseId', 'Noisy'), true],
    [set('plan.suspects', 0), true],
    [set('plan.suspects', 65), true],
    [set('plan.suspects', 64), false],
    [set('plan.suspects', 1.5), true],
    [set('plan.port', 0), true],
    [set('plan.port', 65536), true],
    [set('plan.port', 65535), false],
    [set('plan.backend', 'vagrant'), true],
    [set('plan.bridge', 'br-0123456789abc'), true],
    [set('plan.bridge', 'br-0123456789aB'), true],
    [set('plan.bridge', 'br-0123456789ab'), false],
    [(s) => ((s.plan as LabPlan).hosts[0]!.netns = h0.netns.replace('tmys-lab1-', 'tmys-lab12-')), true],
    [(s) => ((s.plan as LabPlan).hosts[0]!.veth = 'veth012345'), true],
    [(s) => ((s.plan as LabPlan).hosts[0]!.veth = 'veth012345g'), true],
    [(s) => ((s.plan as LabPlan).hosts[0]!.veth = 'eth0'), true],
    [(s) => ((s.plan as LabPlan).hosts[0]!.id = h0.id.slice(1)), true],
    [(s) => ((s.created as LabState['created']).netns = ['tmys-lab12-0123abcd']), true],
    [(s) => ((s.created as LabState['created']).netns = ['tmys-lab1-0123abcd']), false],
    [(s) => ((s.created as LabState['created']).veths = ['veth0123456x']), true],
    [(s) => ((s.created as LabState['created']).bridges = ['br-x']), true],
    [set('hintsUsed', -1), true],
    [set('hintsUsed', 1001), true],
    [set('hintsUsed', 1000), false],
    [set('startedAt', 'yesterday'), true],
    [set('supervisorPid', 0), true],
    [set('arrests', [{ host: 'x' }]), true],
  ]);
});

test('host references: a name, an id, or a unique id prefix of 3 or more hex digits; an ambiguous prefix picks none', () => {
  const plan = validState().plan;
  const hosts = plan.hosts.map((h, i) => ({ ...h, id: ['abc111111111', 'abc222222222', 'abd333333333', 'f00000000000', 'f10000000000'][i] ?? h.id }));
  const p: LabPlan = { ...plan, hosts };
  table('findHost', (ref: string) => findHost(p, ref)?.name, [
    [hosts[0]!.name, hosts[0]!.name],
    ['abc111111111', hosts[0]!.name],
    ['abc1', hosts[0]!.name],
    ['abc', undefined],
    ['ab', undefined],
    ['abd', hosts[2]!.name],
    ['ABD', undefined],
    ['f0', undefined],
    ['f00', hosts[3]!.name],
    ['abc111111111x', undefined],
    ['', undefined],
  ]);
});

test('subnets at the edges: a /24 beside a used one is free; one address inside is a clash', () => {
  table('overlaps', ([a, b]: [string, string]) => overlaps(a, b), [
    [['10.200.5.0/24', '10.200.5.0/24'], true],
    [['10.200.4.255/32', '10.200.5.0/24'], false],
    [['10.200.5.255/32', '10.200.5.0/24'], true],
    [['10.200.6.0/32', '10.200.5.0/24'], false],
    [['10.200.5.0/24', '10.200.5.255/32'], true],
    [['10.200.5.0/24', '10.200.6.0/32'], false],
    [['10.200.4.0/23', '10.200.5.0/24'], true],
    [['10.200.6.0/23', '10.200.5.0/24'], false],
    [['0.0.0.0/0', '10.200.5.0/24'], true],
    [['not-a-prefix', '10.200.5.0/24'], false],
  ]);
  assert.deepEqual(parsePrefix('10.200.5.7/24'), { start: parsePrefix('10.200.5.0/32')!.start, end: parsePrefix('10.200.5.255')!.end });
  assert.equal(pickSubnet(['10.200.5.0/24'], 5).base, '10.200.6');
  assert.equal(pickSubnet(['10.200.4.0/24', '10.200.6.0/24'], 5).base, '10.200.5');
  assert.equal(pickSubnet(['10.200.255.0/24'], 255).base, '10.200.0', 'wraps around');
  assert.deepEqual(pickSubnet(['10.200.5.9/32'], 5).skipped, ['10.200.5.0/24 (overlaps 10.200.5.9/32)']);
});

test('lab names: 1 to 12 lower-case letters and digits, starting with a letter', () => {
  table('validateLabName', (n: string) => {
    try {
      return validateLabName(n) === n ? 0 : -1;
    } catch (err) {
      return (err as { exitCode: number }).exitCode;
    }
  }, [
    ['a', 0],
    ['abcdefghijkl', 0],
    ['abcdefghijklm', 7],
    ['lab1', 0],
    ['1lab', 2],
    ['Lab', 2],
    ['la-b', 2],
    ['', 2],
    ['lab 1', 2],
  ]);
});

test('progress records: fields of the wrong type or range are left out', async () => {
  const { validRecord } = await import('../../src/core/progress.js');
  const good = { caseId: 'noisy-neighbour', startedAt: 'x', solved: true, gaveUp: false, hintsUsed: 0, wrongArrests: 0 };
  table('validRecord', (r: Record<string, unknown>) => validRecord(r) !== undefined, [
    [good, true],
    [{ ...good, timeMs: 0 }, true],
    [{ ...good, timeMs: -1 }, false],
    [{ ...good, timeMs: Infinity }, false],
    [{ ...good, timeMs: '5' }, false],
    [{ ...good, evidence: true }, true],
    [{ ...good, evidence: 'yes' }, false],
    [{ ...good, hintsUsed: -1 }, false],
    [{ ...good, hintsUsed: 1.5 }, false],
    [{ ...good, wrongArrests: 1e9 }, false],
    [{ ...good, wrongArrests: 1e9 - 1 }, true],
    [{ ...good, solved: 'true' }, false],
    [{ ...good, gaveUp: undefined }, false],
    [{ ...good, caseId: 5 }, false],
    [{ ...good, incident: { named: true, guesses: 2, triageMs: 0 } }, true],
    [{ ...good, incident: { named: 'no', guesses: 2 } }, false],
    [{ ...good, incident: { named: true, guesses: 2, triageMs: -1 } }, false],
  ]);
});

test('pictures and observers at their edges', async () => {
  const { sparkline } = await import('../../src/core/sparkline.js');
  const { captureInterface } = await import('../../src/core/observe.js');
  assert.equal(sparkline([0, 5]), ' \u2581');
  assert.equal(sparkline([-1, null]), '');
  table('captureInterface', (a: string[]) => captureInterface(['tcpdump', ...a]), [
    [['--interface', 'veth1234567'], 'veth1234567'],
    [['-w', 'out.pcap', '-i', 'br-0123'], 'br-0123'],
    [['-wout.pcap', '-ieth1'], 'eth1'],
    [['-i'], 'default'],
    [['-ni'], 'default'],
    [['-c', '5'], 'default'],
  ]);
});
