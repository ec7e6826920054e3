/** A TCP echo service (what the demo's `echo` configuration points at): every byte comes back unchanged. */
import net from 'node:net';
import { listenOn } from '../../net/listen.js';

/** A running echo service. */
export interface EchoService {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on host:port (0 = any free port). */
export async function startEchoService(host = '127.0.0.1', port = 0): Promise<EchoService> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  const addr = await listenOn(server, host, port);
  return {
    host: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
