/** Real sockets on 127.0.0.1 port 0 for tests; nothing here mocks the code under test. */
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** Listens on 127.0.0.1:0 and resolves with the port. */
export async function listen0(server: net.Server | import('node:http').Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** A TCP echo server. */
export async function echoServer(): Promise<{ port: number; server: net.Server; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  const port = await listen0(server);
  return { port, server, sockets, close: () => closeServer(server, sockets) };
}

/** A TCP target on port 0 whose connections go to `onConn` (errors ignored), closed after the test. */
export async function tcpTarget(t: { after(fn: () => unknown): void }, onConn: (s: net.Socket) => void): Promise<{ port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    onConn(s);
  });
  const port = await listen0(server);
  t.after(() => closeServer(server, sockets));
  return { port, sockets };
}

/** Closes a server and destroys its remaining sockets. */
export function closeServer(server: net.Server | import('node:http').Server, sockets?: Iterable<net.Socket>): Promise<void> {
  for (const s of sockets ?? []) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A WebSocket server that answers like Cumulocity: `Sec-WebSocket-Protocol: binary` always.
 * `verify` may refuse an upgrade with a status.
 */
export async function cloudLikeWss(opts: { verify?: (req: import('node:http').IncomingMessage) => number | true; maxPayload?: number } = {}): Promise<{
  port: number;
  url: (path?: string) => string;
  wss: WebSocketServer;
  connections: WebSocket[];
  next(): Promise<WebSocket>;
  close(): Promise<void>;
}> {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: false,
    maxPayload: opts.maxPayload ?? 64 * 1024 * 1024,
    handleProtocols: () => 'binary',
    verifyClient: opts.verify
      ? (info, cb) => {
          const r = opts.verify!(info.req);
          if (r === true) cb(true);
          else cb(false, r);
        }
      : undefined,
  });
  // ws omits the header when the client offered none; Cumulocity sends it anyway.
  wss.on('headers', (headers) => {
    if (!headers.some((h) => /^sec-websocket-protocol:/i.test(h))) headers.push('Sec-WebSocket-Protocol: binary');
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as AddressInfo).port;
  const connections: WebSocket[] = [];
  const waiters: Array<(ws: WebSocket) => void> = [];
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    connections.push(ws);
    const w = waiters.shift();
    if (w) w(ws);
  });
  let taken = 0;
  return {
    port,
    wss,
    connections,
    url: (path = '/service/remoteaccess/device/test-key') => `ws://127.0.0.1:${port}${path}`,
    next: () =>
      new Promise<WebSocket>((resolve) => {
        if (connections.length > taken) resolve(connections[taken++]!);
        else
          waiters.push((ws) => {
            taken++;
            resolve(ws);
          });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** Deterministic pseudo-random bytes (fast; not for crypto). */
export function randomBytesSeeded(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export const sha256 = (b: Buffer | Buffer[]): string => {
  const h = createHash('sha256');
  for (const x of Array.isArray(b) ? b : [b]) h.update(x);
  return h.digest('hex');
};

/** Rejects after `ms` with a clear message; use around every await that could hang. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** Polls `cond` (sync or async) every 10 ms until true; fails with `what` at the deadline. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string | (() => string)): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Collects everything a socket sends until it ends or closes. */
export function collect(s: net.Socket | import('node:stream').Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  return new Promise((resolve) => {
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('close', () => resolve(Buffer.concat(parts)));
  });
}
