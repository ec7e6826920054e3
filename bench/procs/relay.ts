/**
 * The plain Node TCP relay baseline: accept, dial the next hop, `pipe()` both ways. One process can
 * carry several listeners (one per downstream port).
 */
import net from 'node:net';
import { serve } from '../lib/ipc.js';

let open = 0;

serve({
  async listen(a: { toPort: number; toHost?: string }) {
    const server = net.createServer({ noDelay: true }, (inbound) => {
      open++;
      const outbound = net.connect({ host: a.toHost ?? '127.0.0.1', port: a.toPort, noDelay: true });
      const done = (): void => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', done);
      outbound.on('error', done);
      inbound.once('close', () => open--);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    server.maxConnections = 30_000;
    await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r));
    return { port: (server.address() as net.AddressInfo).port };
  },
  conns: () => open,
});
