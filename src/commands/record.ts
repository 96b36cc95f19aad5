import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Ctx } from '../cli/context.js';
import { defaultCaseId, findCase } from '../cases/index.js';
import { checkPortFree, downLab, loadLab, requireRoot, runView, startLab } from '../core/lab.js';
import { ExitCode, Interrupted, UserError } from '../core/errors.js';
import { hostInterfaces, planNetworks } from '../core/model.js';
import { randomHex } from '../core/random.js';
import { manifestName, recordingFormat, type RecordedCapture, type RecordingManifest } from '../core/recording.js';
import { sealDraw } from '../core/seal.js';
import { safeEnv, trustedPath } from '../core/run.js';
import { invokingUser, writeUserFile, type Owner } from '../core/userfs.js';
import { sleep } from '../core/procs.js';
import { firstFreePort } from './start.js';
import { intOption } from './options.js';

interface RecordOpts {
  output: string;
  seed?: string;
  suspects?: number;
  seconds: number;
  warmup: number;
}

export function registerRecord(program: Command, ctx: Ctx): void {
  program
    .command('record')
    .description('record a case: run it in a lab of its own, capture every bridge and veth (one pcap file each), write the briefing beside them; the recording is then solved with tcpdump -r, no root, no lab')
    .argument('[case]', 'the case to record (see `mystery cases`)', defaultCaseId)
    .requiredOption('-o, --output <dir>', 'the folder to write (it must not exist yet)')
    .option('--seed <seed>', 'draw the run from this seed')
    .option('--suspects <n>', 'how many suspects', intOption('--suspects', 1, 99))
    .option('--seconds <n>', 'how long to capture', intOption('--seconds', 1, 300), 12)
    .option('--warmup <n>', 'seconds to let the incident start before capturing', intOption('--warmup', 0, 300), 3)
    .action(async (caseId: string, opts: RecordOpts) => {
      requireRoot('record');
      const c = findCase(caseId);
      if (!c.backends.includes('netns')) throw new UserError(`The case ${c.id} cannot be recorded: it runs on ${c.backends.join(', ')} only.`, 'Record a case of the netns backend (`mystery cases`).', ExitCode.usage);
      const out = resolve(opts.output);
      if (await exists(out)) throw new UserError(`${out} exists already.`, 'Give a folder that does not exist yet: the recording makes it.', ExitCode.conflict);
      if (!(await exists(dirname(out)))) throw new UserError(`The folder ${dirname(out)} does not exist.`, 'Give a path inside a folder that exists: the recording makes only its own folder.', ExitCode.usage);
      const owner = invokingUser();
      const lab = `rec${randomHex(4)}`;
      const port = await firstFreePort(39000, 500, async (p) => checkPortFree(p).then(() => true, () => false));
      if (port === undefined) throw new UserError('No free localhost port from 39000 to 39499 for the recording\'s lab.', 'Free one, then record again.', ExitCode.conflict);
      let interrupted = false;
      let stopCaptures = (): void => {};
      const onSignal = (): void => {
        interrupted = true;
        stopCaptures();
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let made = false;
      try {
        ctx.io.err(`  starting ${c.id} in a lab of its own (${lab}) ...`);
        await startLab({ caseId: c.id, lab, backend: 'netns', seed: opts.seed, suspects: opts.suspects, port }, (msg) => ctx.io.err(`  ${msg} ...`));
        const loaded = await loadLab(lab);
        const { plan } = loaded.state;
        // the commands as anyone would type them, not as this machine ran them
        const view = { ...runView(loaded), cli: 'mystery' };
        const captures: RecordedCapture[] = [
          ...planNetworks(plan).map((n) => ({ file: `${n.bridge}.pcap`, interface: n.bridge, what: `the bridge of network ${n.name} (${n.subnet}): every host on it` })),
          ...[...plan.hosts].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })).flatMap((h) => hostInterfaces(plan, h).map((i) => ({ file: `${i.veth}.pcap`, interface: i.veth, what: `${h.name}'s veth (its ${i.ifname}, on ${i.network})` }))),
        ];
        await writeUserFile(dirname(out), join(out, 'BRIEFING.txt'), `${c.title}\n\n${c.briefing(view)}\n`, owner);
        made = true;
        if (opts.warmup) await sleepUnless(opts.warmup * 1000, () => interrupted);
        if (interrupted) throw new Interrupted();
        ctx.io.err(`  capturing ${captures.length} interfaces for ${opts.seconds} s ...`);
        const running = captures.map((cap) => captureTo(cap.interface, join(out, cap.file), owner));
        stopCaptures = () => running.forEach((r) => r.stop());
        await sleepUnless(opts.seconds * 1000, () => interrupted);
        stopCaptures();
        const results = await Promise.all(running.map((r) => r.done));
        if (interrupted) throw new Interrupted();
        const failed = results.map((r, i) => ({ r, cap: captures[i]! })).filter(({ r }) => !r.ok);
        if (failed.length) throw new Error(`tcpdump could not record ${failed.map(({ cap, r }) => `${cap.interface} (${r.why})`).join(', ')}`);
        const manifest: RecordingManifest = {
          format: recordingFormat,
          version: 1,
          caseId: c.id,
          title: c.title,
          recordedAt: new Date().toISOString(),
          seconds: opts.seconds,
          briefing: c.briefing(view),
          hosts: plan.hosts.map((h) => ({ name: h.name, role: h.role, ...(h.infrastructure ? { infrastructure: true } : {}), interfaces: hostInterfaces(plan, h).map((i) => ({ ifname: i.ifname, network: i.network, ip: i.ip })) })),
          networks: planNetworks(plan).map((n) => ({ name: n.name, subnet: n.subnet, bridge: n.bridge })),
          captures,
          seal: sealDraw({ caseId: c.id, seed: plan.seed, suspects: plan.suspects }),
        };
        // written last: a folder with a manifest is a whole recording
        await writeUserFile(dirname(out), join(out, manifestName), `${JSON.stringify(manifest, null, 2)}\n`, owner);
        await asOwner('chmod', ['-R', 'a+rX', '--', out], owner); // a recording is made to be shared
        ctx.io.out(`Recorded ${c.title} into ${out}: ${captures.length} captures of ${opts.seconds} s.\nRead it with \`mystery recording ${out}\` (no root needed); answer with \`mystery answer --recording ${out} VALUE\`.`);
      } catch (err) {
        if (made) await removeAs(out, owner);
        throw err;
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
        await downLab(lab).catch(() => false);
      }
    });
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  for (let left = ms; left > 0 && !stop(); left -= 200) await sleep(Math.min(200, left));
}

/**
 * tcpdump (root, to open the interface) writes pcap to a pipe; `tee`, run as the learner,
 * writes the file: the learner's own rights decide where a file can go, not root's.
 */
function captureTo(iface: string, file: string, owner: Owner | undefined): { stop: () => void; done: Promise<{ ok: boolean; why: string }> } {
  const env = safeEnv({ PATH: trustedPath() });
  const dump = spawn('tcpdump', ['-i', iface, '-nn', '-U', '-w', '-'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const writer = spawn('tee', ['--', file], { env, cwd: '/', stdio: ['pipe', 'ignore', 'pipe'], ...(owner ? { uid: owner.uid, gid: owner.gid } : {}) });
  dump.stdout.pipe(writer.stdin);
  writer.stdin.on('error', () => {});
  let why = '';
  dump.stderr.setEncoding('utf8').on('data', (d: string) => (why += d));
  writer.stderr.setEncoding('utf8').on('data', (d: string) => (why += d));
  const ended = (p: ReturnType<typeof spawn>): Promise<number | null> => new Promise((res) => p.on('close', (code) => res(code)));
  const done = Promise.all([ended(dump), ended(writer)]).then(([d, w]) => {
    const captured = /packets? captured/.test(why);
    return { ok: captured && w === 0, why: d === 0 || captured ? why.trim().split('\n').pop() ?? '' : why.trim() };
  });
  return { stop: () => dump.exitCode === null && dump.kill('SIGINT'), done };
}

function removeAs(dir: string, owner: Owner | undefined): Promise<void> {
  return asOwner('rm', ['-rf', '--', dir], owner);
}

/** A tool run as the learner (root's own run: as root), on what the learner owns. */
async function asOwner(cmd: string, args: string[], owner: Owner | undefined): Promise<void> {
  await new Promise<void>((res) => {
    const p = spawn(cmd, args, { env: safeEnv({ PATH: trustedPath() }), cwd: '/', stdio: 'ignore', ...(owner ? { uid: owner.uid, gid: owner.gid } : {}) });
    p.on('close', () => res());
    p.on('error', () => res());
  });
}
