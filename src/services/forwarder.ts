/**
 * What docker-proxy does: listens on the host's localhost and pipes each connection to
 * the webserver inside the lab.
 */
import { connect, createServer } from 'node:net';
import { envInt, readConfig, report } from './service-io.js';

export interface ForwarderConfig {
  listenHosts: string[];
  port: number;
  targetHost: string;
  targetPort: number;
}


// the case model checks a host's config against this program's (type only: nothing is imported at run time)
declare module '../cases/case.js' {
  interface ServiceConfigs {
    forwarder: ForwarderConfig;
  }
}
const config = await readConfig<ForwarderConfig>((env) => ({
  listenHosts: (env.LISTEN_HOSTS ?? '127.0.0.1').split(','),
  port: envInt(env, 'PORT', 3000),
  targetHost: env.TARGET_HOST ?? '127.0.0.1',
  targetPort: envInt(env, 'TARGET_PORT', 3000),
}));

function serve(host: string): Promise<boolean> {
  const server = createServer((client) => {
    const upstream = connect({ host: config.targetHost, port: config.targetPort });
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      // ::1 may not exist on this host (no IPv6); taken by someone else, it would answer
      // `localhost` in our place: then the site is not published at all
      if (host.includes(':') && (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT')) return resolve(false);
      console.error(`cannot listen on ${host}:${config.port}: ${err.message}`);
      process.exit(1);
    });
    server.listen({ host, port: config.port, ipv6Only: host.includes(':') }, () => resolve(true));
  });
}

await Promise.all(config.listenHosts.map(serve));
report('listening');
process.on('SIGTERM', () => process.exit(143));
