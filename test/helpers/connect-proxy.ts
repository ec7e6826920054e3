/**
 * A tiny HTTP CONNECT proxy for tests: tunnels CONNECTs to their target, and on request holds them back,
 * refuses them with a status, or demands Basic proxy credentials. Records the request line of each.
 */
import http from 'node:http';
import type net from 'node:net';
import { connect } from 'node:net';
import { closeServer, listen0 } from './net.js';

export interface ConnectProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The URL with `user:password` userinfo. */
  withAuth(userinfo: string): string;
  /** CONNECTs received. */
  readonly connects: number;
  /** CONNECTs answered with a refusal. */
  readonly refused: number;
  /** Bytes carried through the tunnels: client to target (`up`) and back (`down`). */
  readonly carried: { up: number; down: number };
  /** Request lines, e.g. `CONNECT host:443 HTTP/1.1`. */
  readonly requests: string[];
  /** Answer the next CONNECTs with this status (0 = tunnel again). */
  refuse(status: number): void;
  /** Hold the next CONNECTs until release(). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

export async function connectProxy(opts: { requireAuth?: string; refuse?: number } = {}): Promise<ConnectProxy> {
  const sockets = new Set<net.Socket>();
  const requests: string[] = [];
  let held: Array<() => void> = [];
  let holding = false;
  let refuseWith = opts.refuse ?? 0;
  let connects = 0;
  let refused = 0;
  const carried = { up: 0, down: 0 };
  const expected = opts.requireAuth === undefined ? undefined : `Basic ${Buffer.from(opts.requireAuth).toString('base64')}`;
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    connects++;
    requests.push(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
    sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => sockets.delete(client));
    const status = expected !== undefined && req.headers['proxy-authorization'] !== expected ? 407 : refuseWith;
    if (status) {
      refused++;
      client.end(`HTTP/1.1 ${status} Refused\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const go = (): void => {
      const [host, port] = (req.url ?? '').split(':');
      const up = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (head.length) up.write(head);
        carried.up += head.length;
        up.on('data', (d: Buffer) => (carried.down += d.length));
        client.on('data', (d: Buffer) => (carried.up += d.length));
        up.pipe(client);
        client.pipe(up);
      });
      sockets.add(up);
      up.on('error', () => client.destroy());
      up.on('close', () => {
        sockets.delete(up);
        client.destroy();
      });
      client.on('close', () => up.destroy());
    };
    if (holding) held.push(go);
    else go();
  });
  const port = await listen0(server);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    withAuth: (userinfo) => `http://${userinfo}@127.0.0.1:${port}`,
    get connects() {
      return connects;
    },
    get refused() {
      return refused;
    },
    carried,
    requests,
    refuse: (s) => (refuseWith = s),
    hold: () => (holding = true),
    release() {
      holding = false;
      const h = held;
      held = [];
      for (const go of h) go();
    },
    close: () => closeServer(server, sockets),
  };
}
