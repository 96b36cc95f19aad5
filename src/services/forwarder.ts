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
      // ::1 may not exist on this host; 127.0.0.1 must
      if (host !== '127.0.0.1') return resolve(false);
      console.error(`cannot listen on ${host}:${config.port}: ${err.message}`);
      process.exit(1);
    });
    server.listen({ host, port: config.port }, () => resolve(true));
  });
}

await Promise.all(config.listenHosts.map(serve));
report('listening');
process.on('SIGTERM', () => process.exit(143));
