/** The supervisor's control socket: one JSON request line, one JSON reply line. */
import { connect } from 'node:net';
import { socketFile } from '../../core/paths.js';
import type { Outcomes } from '../../core/outcomes.js';

/** The unprivileged user the lab's services (and the check's probes) run as, inside the namespaces. */
export const serviceUid = 65534; // nobody
export const serviceGid = 65534; // nogroup

export type HostRunState = 'running' | 'stopped' | 'restarting' | 'starting';

export interface HostStatus {
  name: string;
  state: HostRunState;
  pid?: number;
  ready: boolean;
  restarts: number;
}

export interface LatencySample {
  at: number;
  ms: number | null;
}

export type ControlRequest =
  | { op: 'status' }
  | { op: 'stop'; host: string }
  | { op: 'start'; host: string }
  | { op: 'shutdown' };

export interface ControlReply {
  ok: boolean;
  error?: string;
  hosts?: HostStatus[];
  latency?: LatencySample[];
  pid?: number;
  /** the site answered through the forwarder before the suspects were started */
  siteOk?: boolean;
  /** what the clients' requests came to over the last outcomeWindowMs (services that report outcomes) */
  outcomes?: Outcomes;
}

export function control(lab: string, req: ControlRequest, timeoutMs = 5000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketFile(lab));
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('the lab supervisor did not answer'));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        sock.end();
        try {
          resolve(JSON.parse(buf.slice(0, nl)) as ControlReply);
        } catch (err) {
          reject(err as Error);
        }
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
