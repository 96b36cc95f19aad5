/**
 * A lab of several networks as the docker backend renders it: the compose file (a network per
 * network with the plan's /24, each container with the plan's addresses, routers forwarding,
 * interface sysctls left for inside), and what cannot be built there said before anything is made.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caseCompose, dockerNetworkName, isInterfaceSysctl } from '../../src/backends/docker/docker.js';
import { composeTopology, isTopology, topologyRefusal } from '../../src/backends/docker/topology.js';
import { findCase } from '../../src/cases/index.js';
import { planLab, resolveConfig } from '../../src/core/model.js';
import { seededRng } from '../../src/core/random.js';

function planned(caseId: string, seed: string) {
  const c = findCase(caseId);
  const draw = c.draw(seededRng(seed), c.suspects.default);
  const nets = draw.networks?.length ?? 1;
  const plan = planLab({ lab: 'dt1', caseId, seed, suspects: c.suspects.default, backend: 'docker', port: 3900, subnetBase: '10.210.1', moreSubnetBases: Array.from({ length: nets - 1 }, (_, i) => `10.210.${i + 2}`), draw });
  return { draw, plan };
}

type Compose = {
  services: Record<string, { networks: Record<string, { ipv4_address: string }> | string[]; sysctls?: Record<string, string>; environment: Record<string, string> }>;
  networks: Record<string, { name: string; ipam?: { config: Array<{ subnet: string; gateway: string }> }; driver_opts?: Record<string, string> }>;
};

for (const caseId of ['vanishing-packet', 'routing-loop', 'mtu-blackhole']) {
  test(`${caseId} on Docker: a network per network with the plan's /24, every container at the plan's addresses`, () => {
    const { draw, plan } = planned(caseId, 'dt-seed');
    assert.ok(isTopology(draw));
    assert.equal(topologyRefusal(draw), undefined, 'nothing in it that Docker cannot build');
    const hosts = draw.hosts.map((h) => ({ ...h, config: resolveConfig(h.config, plan) }));
    const file = caseCompose({ lab: 'dt1', port: 3900, hosts, baseImage: 'local/node:20', topology: composeTopology(plan, draw) }) as unknown as Compose;
    assert.deepEqual(Object.keys(file.networks).sort(), (plan.networks ?? []).map((n) => n.name).sort());
    for (const n of plan.networks ?? []) {
      const net = file.networks[n.name]!;
      assert.equal(net.name, dockerNetworkName('dt1', n.name));
      assert.deepEqual(net.ipam?.config, [{ subnet: n.subnet, gateway: n.subnet.replace(/\.0\/24$/, '.1') }]);
    }
    for (const h of plan.hosts) {
      const nets = file.services[h.name]!.networks as Record<string, { ipv4_address: string }>;
      assert.deepEqual(
        Object.entries(nets).map(([n, v]) => [n, v.ipv4_address]).sort(),
        (h.interfaces ?? []).map((i) => [i.network, i.ip]).sort(),
        `${h.name} is where the plan puts it`,
      );
      const sysctls = file.services[h.name]!.sysctls ?? {};
      if (h.role === 'router') assert.equal(sysctls['net.ipv4.ip_forward'], '1', `${h.name} forwards`);
      for (const k of Object.keys(sysctls)) assert.ok(!isInterfaceSysctl(k), `${h.name}: ${k} waits for the interface's name`);
      // Docker's DNS answers only on a network both share: the configuration holds addresses
      assert.doesNotMatch(file.services[h.name]!.environment.MYSTERY_CONFIG!, /\/\/webserver[:/]/);
    }
  });
}

test('a one-network case keeps Docker\'s own network; an impairment is refused before anything is made', () => {
  const { draw } = planned('password-in-clear', 'dt-2');
  assert.equal(isTopology(draw), false);
  const file = caseCompose({ lab: 'dt2', port: 3901, hosts: draw.hosts, baseImage: 'local/node:20' }) as unknown as Compose;
  assert.deepEqual(Object.keys(file.networks), ['lab']);
  assert.equal(file.networks.lab!.ipam, undefined);
  const lossy = planned('lossy-link', 'dt-3').draw;
  assert.match(topologyRefusal(lossy) ?? '', /impaired \(tc netem\)/);
  assert.equal(isInterfaceSysctl('net.ipv4.conf.eth1.rp_filter'), true);
  assert.equal(isInterfaceSysctl('net.ipv4.neigh.eth0.retrans_time_ms'), true);
  assert.equal(isInterfaceSysctl('net.ipv4.conf.all.rp_filter'), false);
  assert.equal(isInterfaceSysctl('net.ipv4.tcp_rmem'), false);
});
