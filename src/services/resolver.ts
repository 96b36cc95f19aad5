/**
 * The lab's DNS resolver: UDP port 53, one A record for every name of the lab's zone
 * (`.lab`: the address of `site`), NXDOMAIN for the rest of the world (the lab has no way
 * out). Garbage is dropped, or answered FORMERR when it has a query's header. Binding port
 * 53 as `nobody` works because the backend lowers net.ipv4.ip_unprivileged_port_start in
 * this host's namespace (HostSpec.lowPorts; on Docker, the container's sysctls).
 */
import { createSocket } from 'node:dgram';
import { answer, formErr, parseQuery } from './dns.js';
import { envInt, ipv4Of, readConfig, report } from './service-io.js';

export interface ResolverConfig {
  port: number;
  zone: string;
  /** A URL whose host is the address every name of the zone resolves to (the supervisor resolves lab names in it). */
  site: string;
}


// the case model checks a host's config against this program's (type only: nothing is imported at run time)
declare module '../cases/case.js' {
  interface ServiceConfigs {
    resolver: ResolverConfig;
  }
}
const config = await readConfig<ResolverConfig>((env) => ({
  port: envInt(env, 'PORT', 53),
  zone: env.ZONE ?? 'lab',
  site: env.SITE ?? 'http://127.0.0.1/',
}));

const zone = { zone: config.zone.replace(/^\.|\.$/g, '').toLowerCase(), address: await ipv4Of(new URL(config.site).hostname) };
const sock = createSocket('udp4');
sock.on('message', (msg, from) => {
  try {
    const q = parseQuery(msg);
    const reply = q ? answer(q, zone) : formErr(msg);
    if (reply) sock.send(reply, from.port, from.address, () => {});
  } catch {
    /* garbage, or a source port of 0: nothing to answer */
  }
});
sock.on('error', (err) => {
  console.error(`resolver: ${err.message}`);
  process.exit(1); // a crash: the supervisor restarts it
});
sock.bind(config.port, () => report('listening'));
process.on('SIGTERM', () => process.exit(143));
