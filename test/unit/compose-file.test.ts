/**
 * The seed's docker-compose.yml against the seed case's module: the file is written by hand (it
 * must run verbatim with `docker-compose --env-file .env.suspects up`), so this test holds the two
 * together: its services are the module's hosts, its defaults the module's configuration, the
 * variables the module fills are the file's, and a lab started by hand from it is read back as
 * the very draw that made it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { configOf, type CaseDraw } from '../../src/cases/case.js';
import { composeSenders, loopCounts, noisyNeighbour, seedComposeFile, senderName, webserverCapacity } from '../../src/cases/noisy-neighbour.js';
import { seededRng } from '../../src/core/random.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const text = readFileSync(`${repo}/${seedComposeFile.file}`, 'utf8');
const file = parse(text, { merge: true }) as { services: Record<string, { environment: Record<string, string | number>; ports?: string[]; build: { dockerfile: string } }> };
const draw = (seed: string, suspects = composeSenders): CaseDraw => noisyNeighbour.draw(seededRng(seed), suspects);
/** `${NAME:-default}` -> [NAME, default] */
const variable = (v: string | number): [string, string] | undefined => {
  const m = /^\$\{([A-Z0-9_]+):-([^}]*)\}$/.exec(String(v));
  return m ? [m[1]!, m[2]!] : undefined;
};

test('docker-compose.yml has the seed case\'s hosts: a webserver and the senders, each of the program the module gives it', () => {
  assert.equal(noisyNeighbour.composeFile, seedComposeFile);
  const names = Object.keys(file.services).sort();
  assert.deepEqual(names, ['webserver', ...Array.from({ length: composeSenders }, (_, i) => senderName(i + 1))].sort());
  const d = draw('compose-hosts');
  for (const h of d.hosts) assert.ok(file.services[h.name], `the file runs ${h.name}`);
  assert.match(file.services.webserver!.build.dockerfile, /webserver/);
  for (let i = 1; i <= composeSenders; i++) assert.match(file.services[senderName(i)]!.build.dockerfile, /http-sender/);
  assert.deepEqual(seedComposeFile.build, ['webserver', senderName(1)], 'one sender image serves all five');
});

test('its defaults are the module\'s configuration: the webserver\'s capacity and queue, each sender\'s target and pace', () => {
  const d = draw('compose-defaults');
  const web = configOf(d, 'webserver', 'webserver')!;
  const env = file.services.webserver!.environment;
  assert.equal(Number(env.PORT), web.port);
  assert.deepEqual(variable(env.WORKERS!), ['MYSTERY_WORKERS', String(webserverCapacity.workers)]);
  assert.deepEqual(variable(env.HOLD_MS!), ['MYSTERY_HOLD_MS', String(webserverCapacity.holdMs)]);
  assert.deepEqual(variable(env.MAX_QUEUE!), ['MYSTERY_MAX_QUEUE', String(web.maxQueue)]);
  assert.ok(file.services.webserver!.ports!.some((p) => /:3000$/.test(String(p))), 'the site is published from port 3000');
  for (let i = 1; i <= composeSenders; i++) {
    const s = configOf(d, senderName(i), 'sender')!;
    const e = file.services[senderName(i)]!.environment;
    assert.deepEqual(variable(e.LOOPS!), [`SUSPECT${i}`, 'undrawn'], `${senderName(i)}'s loops come from the draw only`);
    assert.equal(e.TARGET, s.target);
    assert.deepEqual(variable(e.SLEEP_MS!), ['MYSTERY_SLEEP_MS', String(s.sleepMs)]);
  }
});

test('the variables the module fills are the file\'s, and carry the draw: every sender\'s loops, on many seeds', () => {
  for (let k = 0; k < 30; k++) {
    const d = draw(`compose-env-${k}`);
    const carried = seedComposeFile.env(d);
    assert.ok('env' in carried);
    for (const name of Object.keys(carried.env)) assert.ok(text.includes(`\${${name}:-`), `docker-compose.yml reads ${name}`);
    for (let i = 1; i <= composeSenders; i++) assert.equal(carried.env[`SUSPECT${i}`], String(configOf(d, senderName(i), 'sender')!.loops));
    const loud = Object.entries(carried.env).filter(([n, v]) => /^SUSPECT/.test(n) && Number(v) === Math.max(...loopCounts(composeSenders)));
    assert.deepEqual(loud.map(([n]) => n), [`SUSPECT${Number(d.culprit.replace(/\D/g, ''))}`], 'one sender floods: the culprit');
  }
  // fewer suspects: the file's other senders are scaled to 0, their loops 0; more do not fit the file
  const three = draw('compose-three', 3);
  assert.deepEqual(seedComposeFile.unused(three), [senderName(4), senderName(5)]);
  const c3 = seedComposeFile.env(three);
  assert.ok('env' in c3 && c3.env.SUSPECT4 === '0' && c3.env.SUSPECT5 === '0');
  const six = seedComposeFile.env(draw('compose-six', 6));
  assert.ok('refusal' in six && /up to 5 http-senders/.test(six.refusal.message) && /--suspects 5 or fewer/.test(six.refusal.fix));
});

test('a lab started by hand from the file is read back as the draw that made it; one started without a draw is refused', () => {
  for (let k = 0; k < 5; k++) {
    const d = draw(`compose-adopt-${k}`);
    const services = new Map(d.hosts.map((h) => [h.name, (v: string) => (v === 'LOOPS' ? String(configOf(d, h.name, 'sender')?.loops ?? '') : undefined)] as const));
    const read = seedComposeFile.adopt(services);
    assert.ok(read && 'draw' in read);
    assert.equal(read.draw.culprit, d.culprit);
    for (const h of d.hosts.filter((x) => x.program === 'sender')) assert.equal(configOf(read.draw, h.name, 'sender')!.loops, configOf(d, h.name, 'sender')!.loops);
    // a seed that draws it again, so that every command re-draws the same run
    assert.ok(read.seed, 'a seed is found');
    assert.deepEqual(draw(read.seed).culprit, d.culprit);
  }
  const undrawn = new Map([['webserver', () => undefined], [senderName(1), (v: string) => (v === 'LOOPS' ? 'undrawn' : undefined)]] as const);
  const refused = seedComposeFile.adopt(undrawn);
  assert.ok(refused && 'refusal' in refused && /without a draw/.test(refused.refusal.message) && /randomize_suspects\.sh/.test(refused.refusal.fix));
  assert.equal(seedComposeFile.adopt(new Map([['something-else', () => undefined]])), undefined, 'not this file\'s services');
});

test('randomize_suspects.sh draws with the module\'s own loop counts', () => {
  const script = readFileSync(`${repo}/randomize_suspects.sh`, 'utf8');
  assert.match(script, /import\('\.\/dist\/src\/cases\/noisy-neighbour\.js'\)/);
  assert.match(script, /loopCounts\(\$\{SUSPECTS\}\)/);
  assert.match(script, new RegExp(`^SUSPECTS=${composeSenders}\\b`, 'm'));
});
