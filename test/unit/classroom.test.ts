/**
 * deploy/kubernetes/classroom.yaml against what the lab in a box needs (the root Dockerfile and
 * docker/box/entry.sh) and against the figures docs/classroom.md gives. No cluster runs here:
 * this checks the manifests as data.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

interface K8s {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any;
}

const docs = parseAllDocuments(read('deploy/kubernetes/classroom.yaml')).map((d) => {
  assert.deepEqual(d.errors, [], 'the manifest is valid YAML');
  return d.toJS() as K8s;
});

/** "500m" -> 0.5, "1" -> 1 */
const cpu = (q: string | number): number => (String(q).endsWith('m') ? Number(String(q).slice(0, -1)) / 1000 : Number(q));
/** "192Mi" -> 192, "1Gi" -> 1024 (MiB) */
const mib = (q: string): number => {
  const m = /^(\d+(?:\.\d+)?)(Mi|Gi)$/.exec(q);
  assert.ok(m, `memory quantity ${q} in Mi or Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};
/** A figure docs/classroom.md states on a line `<!-- figure NAME -->` ... the number on that line. */
function figure(name: string): number {
  const line = read('docs/classroom.md').split('\n').find((l) => l.includes(`<!-- figure ${name} -->`));
  assert.ok(line, `docs/classroom.md states the figure ${name}`);
  const n = /(\d+(?:\.\d+)?)/.exec(line.replace(/<!--.*?-->/g, ''));
  assert.ok(n, `a number on the line of ${name}: ${line}`);
  return Number(n[1]);
}

const ns = docs.find((d) => d.kind === 'Namespace');
const set = docs.find((d) => d.kind === 'StatefulSet');
const pod = set?.spec?.template?.spec;
const box = pod?.containers?.[0];

test('classroom: a namespace that admits privileged pods, and one StatefulSet of boxes', () => {
  assert.ok(ns && set && box, 'a Namespace and a StatefulSet with a container');
  assert.equal(set.metadata.namespace, ns.metadata.name);
  assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
  assert.deepEqual(set.spec.selector.matchLabels, set.spec.template.metadata.labels, 'the selector picks its own pods');
  assert.equal(pod.containers.length, 1, 'one box a pod: one learner a pod');
});

test('classroom: the pod gives the box what `docker run --privileged` does, and no more of the node', () => {
  assert.equal(box.securityContext?.privileged, true, 'namespaces, veths, mounts, iptables, tcpdump need it');
  assert.ok(box.securityContext?.runAsUser === undefined || box.securityContext.runAsUser === 0, 'the lab runs as root in the box');
  assert.notEqual(pod.hostNetwork, true, "the lab lives in the pod's own network namespace, never the node's");
  assert.notEqual(pod.hostPID, true);
  assert.notEqual(pod.hostIPC, true);
  assert.equal(pod.automountServiceAccountToken, false, 'a learner with a root shell gets no API token');
  assert.equal((box.volumeMounts ?? []).filter((v: { mountPath: string }) => v.mountPath.startsWith('/var/run/docker')).length, 0);
});

test('classroom: the container runs the image the way its entry point expects', () => {
  const dockerfile = read('Dockerfile');
  const entry = read('docker/box/entry.sh');
  assert.match(dockerfile, /ENTRYPOINT \["\/opt\/tcpdump-mystery\/docker\/box\/entry\.sh"\]/);
  assert.equal(box.command, undefined, "the image's entry point (it starts the case) is kept");
  assert.ok(Array.isArray(box.args) && box.args.length > 0, 'a command that keeps the pod up after the case starts');
  assert.match(entry, /exec "\$@"/, 'the entry point runs the command it is given');
  assert.deepEqual(box.args, ['sleep', 'infinity']);
  const exposed = Number(/^EXPOSE (\d+)/m.exec(dockerfile)?.[1]);
  assert.deepEqual(box.ports.map((p: { containerPort: number }) => p.containerPort), [exposed], 'the site: the port the box publishes');
  const probe = box.readinessProbe?.exec?.command as string[] | undefined;
  assert.equal(probe?.[0], 'mystery', 'ready when the lab answers `mystery status`');
  assert.match(dockerfile, /\/usr\/local\/bin\/mystery/, 'the image puts mystery on PATH');
  assert.ok(box.readinessProbe.timeoutSeconds >= 5, 'status measures the sluggish site (about 2 s)');
});

test("classroom: requests and limits come from the box's measured cgroup figures, and the node sizes add up", () => {
  const req = box.resources?.requests;
  const lim = box.resources?.limits;
  assert.ok(req && lim, 'requests and limits');
  const memMeasured = figure('memory-mib');
  const cpuMeasured = figure('cpu-cores');
  assert.ok(mib(req.memory) >= memMeasured, `memory request ${req.memory} covers the measured ${memMeasured} MiB`);
  assert.ok(mib(lim.memory) >= 2 * memMeasured, `memory limit ${lim.memory}: at least twice the measured ${memMeasured} MiB`);
  assert.ok(cpu(req.cpu) >= cpuMeasured, `cpu request ${req.cpu} covers the measured ${cpuMeasured} cores`);
  assert.ok(cpu(lim.cpu) >= cpu(req.cpu) && mib(lim.memory) >= mib(req.memory), 'limits at least the requests');
  // learners a node holds: 90 % of it allocatable, by whichever of CPU and memory runs out first
  const nodeCpu = figure('node-cpus');
  const nodeMem = figure('node-gib') * 1024;
  const perNode = Math.min(Math.floor((0.9 * nodeCpu) / cpu(req.cpu)), Math.floor((0.9 * nodeMem) / mib(req.memory)));
  assert.equal(figure('learners-per-node'), perNode, 'docs/classroom.md says how many learners such a node holds');
});
