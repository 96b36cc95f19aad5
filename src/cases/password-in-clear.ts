/**
 * Password in the clear: one service logs in to the webserver's /login over plain HTTP with
 * Basic authentication. The others send API tokens and session cookies, which are not
 * passwords. Reading payloads (-A) and decoding base64 gives the password: the answer.
 */
import type { CaseDraw, CaseModule, Evidence, HostSpec, Observations, RunView } from './case.js';
import type { Rng } from '../core/random.js';
import { appName, client, drawPassword, getJob, hex, host, jobsOf, labCommands, range, suspectNames, webserver, whereToListen, caseStream } from './common.js';

export const serviceAccounts = ['svc-backup', 'svc-reports', 'deploy', 'jenkins', 'etl-loader', 'monitoring', 'svc-billing', 'sync-agent'] as const;

export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export const passwordInClear: CaseModule = {
  id: 'password-in-clear',
  title: 'The password in the clear',
  difficulty: 'easy',
  skills: ['reading payloads: -A and -X', 'filtering on a port and on payload bytes', 'decoding HTTP Basic authentication'],
  summary: 'A service logs in over plain HTTP. Read its password off the wire, so that it can be rotated.',
  symptom: 'The security audit failed: a password crosses our network in the clear. Find it, so that it can be rotated (answer with the password).',
  backends: ['netns', 'docker'],
  suspects: { min: 2, max: 8, default: 5 },

  draw(seedRng: Rng, suspects: number): CaseDraw {
    const rng = caseStream(seedRng, 2);
    const culpritAt = rng.int(suspects);
    const user = rng.pick(serviceAccounts);
    const password = drawPassword(rng);
    const hosts: HostSpec[] = [webserver()];
    // the innocents' page gaps: one busy client, the others anything between; the culprit
    // (a script that logs in every two seconds or so) loads pages seldom, so that counting
    // port 3000 packets never points at it
    const gaps = rng.shuffle([200 + rng.int(100), ...Array.from({ length: Math.max(0, suspects - 2) }, () => 400 + rng.int(600))]);
    let k = 0;
    for (let i = 0; i < suspects; i++) {
      const name = appName(i + 1);
      const gap = i === culpritAt ? 1000 + rng.int(400) : gaps[k++]!;
      if (i === culpritAt) {
        hosts.push(
          client(name, [
            getJob(gap, 1, { headers: { cookie: `session=${hex(rng, 24)}` } }),
            // logs in again every two seconds or so: a script with no session of its own
            getJob(1800 + rng.int(800), 1, { method: 'POST', path: '/login', headers: { authorization: basicAuth(user, password), 'content-type': 'application/x-www-form-urlencoded' }, body: 'remember=1' }),
          ]),
        );
      } else if (i % 2 === 0) {
        hosts.push(client(name, [getJob(gap, 1, { path: '/api/orders', headers: { authorization: `Bearer ${hex(rng, 40)}` } })]));
      } else {
        hosts.push(client(name, [getJob(gap, 1, { headers: { cookie: `session=${hex(rng, 24)}` } }), getJob(2000 + rng.int(800), 1, { method: 'POST', path: '/api/events', headers: { 'x-api-key': hex(rng, 32), 'content-type': 'application/json' }, body: '{"event":"heartbeat"}' })]));
      }
    }
    return { hosts, culprit: appName(culpritAt + 1), value: password };
  },

  briefing(view: RunView): string {
    const names = suspectNames(view);
    return [
      `The security audit failed: a password crosses our network in the clear. The webserver at`,
      `http://localhost:${view.port} has a /login page, and one of its ${names.length} clients (${range(names)}) logs in to`,
      'it over plain HTTP instead of HTTPS. The others use API tokens and session cookies: those are not',
      'passwords. Read the password off the wire with tcpdump, so that it can be rotated, and give it:',
      ...labCommands(view, 'answer', "'the-password'"),
    ].join('\n');
  },

  solvedBy: 'answer',
  checkAnswer(value: string, draw: CaseDraw): boolean {
    const v = value.trim();
    // the password, or the user:password pair as it decodes
    return v === draw.value || (!!draw.value && v.endsWith(`:${draw.value}`) && v.split(':').length === 2);
  },

  hints(view: RunView): string[] {
    const culprit = host(view, view.draw.culprit);
    return [
      'Counting packets tells nothing here: you need to read what is inside them. `tcpdump -A` prints each packet\'s payload as text; `-X` as hex and text.',
      [
        whereToListen(view),
        `  sudo timeout 5 tcpdump -nn -A -i ${view.bridge} 'tcp dst port 3000'`,
        'Look for a request to /login and its Authorization header. Tokens ("Bearer ...") and cookies are not passwords.',
      ].join('\n'),
      [
        'HTTP Basic authentication sends "Authorization: Basic X", where X is base64 of user:password. Decode it:',
        "  echo 'X' | base64 -d",
        `To see only requests that begin with "POST", match the payload's first 4 bytes: 'tcp dst port 3000 and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x504f5354'`,
      ].join('\n'),
      [
        'The exact commands for this run:',
        `  sudo timeout 5 tcpdump -nn -A -i ${culprit?.veth ?? view.bridge} 'tcp dst port 3000 and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x504f5354' | grep -i authorization`,
        `  (the login comes from ${view.draw.culprit}, ${culprit?.ip ?? 'its IP'}); decode the value after "Basic" with base64 -d, then:`,
        `  ${view.cli} answer 'PASSWORD'`,
      ].join('\n'),
    ];
  },

  situationalHint(view: RunView, seen: Observations): string | undefined {
    if (seen.tcpdumpOn.length === 0) return `No tcpdump is running yet. Listen on ${view.bridge} with -A to read the payloads.`;
    return undefined;
  },

  debrief(view: RunView, _evidence: Evidence): string {
    const culprit = host(view, view.draw.culprit)!;
    const login = (culprit && findLogin(view)) ?? { user: 'USER', auth: 'Basic ...' };
    return [
      `The password was ${view.draw.value}, sent by ${culprit.name} (${culprit.ip}) as user ${login.user}.`,
      '',
      'How to see it:',
      `  1. sudo timeout 5 tcpdump -nn -A -i ${view.bridge} 'tcp dst port 3000' | grep -i 'authorization: basic'`,
      `     Authorization: ${login.auth}`,
      `  2. echo '${login.auth.replace(/^Basic /, '')}' | base64 -d        # ${login.user}:${view.draw.value}`,
      `  3. ${view.cli} answer '${view.draw.value}'`,
      '',
      'Why it works: plain HTTP is plain text, headers and all, and base64 is an encoding, not',
      'encryption. Anyone who can run tcpdump on the path reads it. Only TLS (HTTPS) would have hidden it.',
      "The Bearer tokens and cookies you saw are secrets too: they deserve TLS as much.",
    ].join('\n');
  },
};

/** The culprit's login, as its configuration says (for the debrief only). */
function findLogin(view: RunView): { user: string; auth: string } | undefined {
  const jobs = jobsOf(view.draw, view.draw.culprit);
  const auth = jobs.map((j) => j.headers?.authorization).find((a) => a?.startsWith('Basic '));
  if (!auth) return undefined;
  const user = Buffer.from(auth.slice(6), 'base64').toString().split(':')[0] ?? 'USER';
  return { user, auth };
}
