// Stock aedes 1.x as a reference broker for `npm run bench -- broker --brokers aedes,...`: aedes'
// defaults (no authentication, no ACL, in-memory persistence, no hooks), with the two settings the
// gateway also uses so that the comparison isolates what Wattproof adds on top of aedes:
// TCP_NODELAY on every socket, and `concurrency: 0` (with aedes' default of 100, stock aedes crashed
// here at 10k msg/s QoS 0 with a RangeError, mcollina/mqemitter#204; see docs/PERFORMANCE.md).
// Plain JavaScript, run by `node` directly, so no TypeScript loader is in the profile.
// Usage: node bench/lib/stock-aedes.mjs <port>
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: node bench/lib/stock-aedes.mjs <port>\n');
  process.exit(2);
}
const broker = await Aedes.createBroker({ concurrency: 0 });
const server = createServer((socket) => {
  socket.setNoDelay(true);
  broker.handle(socket);
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`stock aedes listening on 127.0.0.1:${port}\n`));
process.on('SIGTERM', () => {
  server.close();
  broker.close(() => process.exit(0));
});
