/** Listening on a local address: the one idiom the demo's echo service and `connect --listen` share. */
import type net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * Listens on host:port (0 = any free port) and resolves with the bound address. A listen error rejects
 * (the caller says what it means); errors after that are ignored, as each accepted socket has its own.
 */
export async function listenOn(server: net.Server, host: string, port: number): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  return server.address() as AddressInfo;
}
