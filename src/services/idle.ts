/**
 * The program of a host that runs no service of its own: a router, whose work is the
 * kernel's (forwarding, NAT, filtering inside its namespace). It only keeps the host up,
 * so that the supervisor and `mystery ps` see it running like any other.
 */
import { readConfig, report } from './service-io.js';

export type IdleConfig = Record<string, never>;


// the case model checks a host's config against this program's (type only: nothing is imported at run time)
declare module '../cases/case.js' {
  interface ServiceConfigs {
    idle: IdleConfig;
  }
}
await readConfig<IdleConfig>(() => ({}));
report('listening');
setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => process.exit(143));
