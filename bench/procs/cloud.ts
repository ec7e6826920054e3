/**
 * The bench's cloud endpoint, in its own process: a WebSocket server on the CRA device path that answers
 * `binary` like Cumulocity and, per connection key, either relays to a TCP port on this host (the way the
 * cloud relays to the user's client; websockify works the same way) or holds the session and discards
 * what arrives. Key `r<port>-<n>` relays to 127.0.0.1:<port>; `r<port>m<size>-<n>` does the same but
 * sends what the load generator writes as WebSocket messages of exactly <size> bytes (the way a client such
 * as go-c8y-cli sends one message per 1 KiB read); any other key holds. `listen({ tls })` serves wss.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { serve } from '../lib/ipc.js';

const HWM = 256 * 1024;
let open = 0;
let received = 0;

function relay(ws: WebSocket, port: number, msgSize: number): void {
  const tcp = net.connect({ host: '127.0.0.1', port, noDelay: true });
  let wsPaused = false;
  let tcpPaused = false;
  const done = (): void => {
    tcp.destroy();
    ws.terminate();
  };
  tcp.on('error', done);
  tcp.on('close', () => ws.close());
  ws.on('close', () => tcp.end());
  ws.on('message', (d: Buffer) => {
    if (!tcp.write(d) && !wsPaused) {
      wsPaused = true;
      ws.pause();
    }
  });
  tcp.on('drain', () => {
    if (wsPaused) {
      wsPaused = false;
      ws.resume();
    }
  });
  const send = (d: Buffer): void => {
    if (ws.bufferedAmount + d.length > HWM && !tcpPaused) {
      tcpPaused = true;
      tcp.pause();
      ws.send(d, { binary: true }, () => {
        tcpPaused = false;
        tcp.resume();
      });
    } else {
      ws.send(d, { binary: true });
    }
  };
  if (!msgSize) {
    tcp.on('data', send);
    return;
  }
  // Exact-size messages: whole messages are sent from each read as slices, a partial one is carried over.
  let carry: Buffer[] = [];
  let carried = 0;
  tcp.on('data', (d: Buffer) => {
    let off = 0;
    if (carried > 0) {
      const need = msgSize - carried;
      if (d.length < need) {
        carry.push(d);
        carried += d.length;
        return;
      }
      carry.push(d.subarray(0, need));
      send(Buffer.concat(carry, msgSize));
      carry = [];
      carried = 0;
      off = need;
    }
    for (; d.length - off >= msgSize; off += msgSize) send(d.subarray(off, off + msgSize));
    if (off < d.length) {
      carry.push(d.subarray(off));
      carried = d.length - off;
    }
  });
  tcp.on('end', () => {
    if (carried > 0) send(Buffer.concat(carry, carried));
    carry = [];
    carried = 0;
  });
}

serve({
  /** `tls`: PEM files of the certificate and key; the server then speaks wss. */
  async listen(a: { maxPayload?: number; tls?: { certFile: string; keyFile: string } }) {
    const server = a.tls ? https.createServer({ cert: readFileSync(a.tls.certFile), key: readFileSync(a.tls.keyFile) }) : null;
    server?.on('tlsClientError', () => {});
    const wss = new WebSocketServer({
      ...(server ? { server } : { port: 0, host: '127.0.0.1', backlog: 4096 }),
      perMessageDeflate: false,
      maxPayload: a.maxPayload ?? 64 * 1024 * 1024,
      clientTracking: false,
      handleProtocols: () => 'binary',
    });
    wss.on('headers', (headers) => {
      if (!headers.some((h) => /^sec-websocket-protocol:/i.test(h))) headers.push('Sec-WebSocket-Protocol: binary');
    });
    wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      open++;
      ws.on('error', () => {});
      ws.once('close', () => open--);
      const key = (req.url ?? '').split('/').pop() ?? '';
      const m = /^r(\d+)(?:m(\d+))?-/.exec(key);
      if (m) relay(ws, Number(m[1]), Number(m[2] ?? 0));
      else ws.on('message', (d: Buffer) => (received += d.length));
    });
    if (server) await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r));
    else await new Promise<void>((r) => wss.once('listening', () => r()));
    return { port: ((server ?? wss).address() as net.AddressInfo).port };
  },
  conns: () => open,
  received: () => received,
});
