// The lab in a box publishes the site on the container's own addresses: the lab listens on
// 127.0.0.1 only (as it does on a machine), which `docker run -p` cannot reach. This relays
// TCP from each of the container's non-loopback IPv4 addresses (eth0, not the lab's bridge)
// on port LISTEN to 127.0.0.1:TARGET.
//   node publish.js LISTEN TARGET
import { createConnection, createServer } from 'node:net';
import { networkInterfaces } from 'node:os';

const listen = Number(process.argv[2] ?? 3000);
const target = Number(process.argv[3] ?? 3000);
const lab = /^(br-|veth|tmys)/; // the lab's own interfaces
for (const [name, addrs] of Object.entries(networkInterfaces())) {
  if (lab.test(name)) continue;
  for (const a of addrs ?? []) {
    if (a.family !== 'IPv4' || a.internal || a.address.startsWith('10.200.')) continue;
    createServer((inbound) => {
      const outbound = createConnection({ host: '127.0.0.1', port: target });
      inbound.pipe(outbound).pipe(inbound);
      const end = () => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', end);
      outbound.on('error', end);
    })
      .on('error', (err) => console.error(`publish: ${a.address}:${listen}: ${err.message}`))
      .listen(listen, a.address, () => console.log(`publish: ${a.address}:${listen} -> 127.0.0.1:${target}`));
  }
}
