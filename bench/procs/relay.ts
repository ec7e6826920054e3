/**
 * The plain Node TCP relay baseline: accept, dial the next hop, `pipe()` both ways. One process can
 * carry several listeners (one per downstream port). For the TCP-to-TLS baseline one leg is TLS: `tlsIn`
 * accepts TLS (certificate and key files), `tlsOut` dials the next hop over TLS (trusting the CA file).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { serve } from '../lib/ipc.js';

let open = 0;

serve({
  async listen(a: { toPort: number; toHost?: string; tlsIn?: { certFile: string; keyFile: string }; tlsOut?: { caFile: string } }) {
    const host = a.toHost ?? '127.0.0.1';
    const ca = a.tlsOut ? readFileSync(a.tlsOut.caFile) : undefined;
    const onInbound = (inbound: net.Socket): void => {
      open++;
      inbound.setNoDelay(true);
      const outbound = ca ? tls.connect({ host, port: a.toPort, ca, noDelay: true } as tls.ConnectionOptions) : net.connect({ host, port: a.toPort, noDelay: true });
      const done = (): void => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', done);
      outbound.on('error', done);
      inbound.once('close', () => open--);
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    };
    const server = a.tlsIn ? tls.createServer({ cert: readFileSync(a.tlsIn.certFile), key: readFileSync(a.tlsIn.keyFile) }, onInbound) : net.createServer({ noDelay: true }, onInbound);
    server.on('tlsClientError', () => {});
    server.maxConnections = 30_000;
    await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r));
    return { port: (server.address() as net.AddressInfo).port };
  },
  conns: () => open,
});
